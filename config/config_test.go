package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/alerting"
	"github.com/monitor-dev/monitor/alerting/email"
	"github.com/monitor-dev/monitor/alerting/webhook"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/incidents"
	"github.com/monitor-dev/monitor/probes"
)

const (
	day = 24 * time.Hour

	password      = "s3cr3t-pa55"
	webhookToken  = "T0KEN-abc123"
	apiToken      = "api-token-0123456789"
	webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

// env builds a lookup function from a map.
func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// parseFile parses testdata/name, naming it name in errors.
func parseFile(t *testing.T, name string, vars map[string]string) (*config.Config, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return config.Parse(name, data, env(vars))
}

func TestContractExample(t *testing.T) {
	t.Setenv("MONITOR_API_TOKEN", apiToken)
	t.Setenv("WEBHOOK_SECRET", webhookSecret)
	t.Setenv("SMTP_PASSWORD", smtpPassword)
	// APP_DATABASE_URL has a default in the file: leave it unset.
	os.Unsetenv("APP_DATABASE_URL")

	cfg, err := config.Load("testdata/contract.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	want := &config.Config{
		File: "testdata/contract.yaml",
		Server: config.Server{
			Listen:     "127.0.0.1:8080",
			PublicURL:  "https://status.example.com",
			Tokens:     []string{apiToken},
			TokenNames: []string{"token-1"},
			RateLimits: config.DefaultRateLimits,
		},
		// relative sqlite:// paths are the config file's neighbours
		Storage:   config.Storage{DSN: "sqlite://testdata/data/monitor.db", Retention: 90 * day},
		Cluster:   config.Cluster{LeaseTTL: 15 * time.Second},
		Databases: map[string]config.Database{"app": {DSN: "sqlite://testdata/data/app.db"}},
		Defaults:  config.Defaults{Interval: 60 * time.Second, Timeout: 10 * time.Second},
		Checks: []check.Spec{
			{
				Name: "usage_meters_connectivity", Kind: "db",
				Interval: 30 * time.Second, Timeout: 5 * time.Second,
				Severity: check.Critical, UnknownSeverity: check.Warn,
				Component: "Usage metering",
				Config:    probes.DBConfig{Database: "app", Query: "SELECT 1"},
			},
			{
				Name: "redirect_analytics_freshness", Kind: "freshness",
				Interval: 60 * time.Second, Timeout: 10 * time.Second,
				Severity: check.Warn, UnknownSeverity: check.Warn,
				DependsOn: []string{"usage_meters_connectivity"},
				Component: "Redirect analytics",
				Config: probes.FreshnessConfig{
					Source: probes.SQLSource{Database: "app", Query: "SELECT max(received_at) FROM redirect_events"},
					MaxAge: 15 * time.Minute, CriticalAge: 60 * time.Minute, Skew: time.Minute,
				},
			},
			{
				Name: "destination_links", Kind: "link",
				Interval: 60 * time.Second, Timeout: 4 * time.Second,
				Severity: check.Warn, UnknownSeverity: check.Warn,
				Component: "Redirects",
				Config: probes.LinkConfig{
					URLs:   []string{"https://example.com/a", "https://example.com/b"},
					Method: "HEAD", Concurrency: 32, PerHost: 4, FailRatio: 0, Quorum: 1,
				},
			},
		},
		SLOs: []config.SLO{{Check: "usage_meters_connectivity", Objective: 99.9, Window: 30 * day, SLI: "availability"}},
		Alerting: config.Alerting{
			Receivers: []config.Receiver{{
				Name: "oncall", Type: "webhook",
				Config: &webhook.Config{URL: "https://hooks.example.com/monitor", Secret: webhookSecret},
			}, {
				Name: "acme_owner", Type: "email",
				Config: &email.Config{To: []string{"owner@acme.example"}, SMTP: email.SMTP{
					Host: "smtp.example.com", Port: 587, Username: "monitor", Password: smtpPassword,
					TLS: email.StartTLS}},
			}},
			Routes: []config.Route{{
				Match:     alerting.Match{Kind: alerting.KindEscalation, Handle: "acme"},
				Receivers: []string{"acme_owner", "oncall"},
				GroupWait: 30 * time.Second, GroupInterval: 5 * time.Minute, Unknown: alerting.UnknownKeep,
			}, {
				Match:     alerting.Match{Severity: check.Critical},
				Receivers: []string{"oncall"},
				GroupBy:   []string{"component"},
				GroupWait: 30 * time.Second, GroupInterval: 5 * time.Minute, Unknown: alerting.UnknownKeep,
			}},
			FailureThreshold: 2, SuccessThreshold: 1, RepeatInterval: 4 * time.Hour,
			Flapping: alerting.Flapping{Changes: 6, Window: 30 * time.Minute},
			Retry:    []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second},
		},
		Maintenance: []config.Maintenance{{
			Checks: []string{"destination_links"},
			Start:  time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC),
			End:    time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC),
		}, {
			Checks: []string{"redirect_*"}, Cron: "0 3 * * SUN", Duration: 30 * time.Minute,
		}},
		Audit: config.Audit{Retention: 90 * day},
		StatusPage: config.StatusPage{
			Title: "Acme status", LogoURL: "https://acme.example/logo.svg", HomeURL: "https://acme.example",
			Out: "/var/www/status",
			Components: []config.PageComponent{
				{Name: "Redirects", Group: "Core"},
				{Name: "Redirect analytics", Group: "Analytics"},
				{Name: "Usage metering"}, // not listed: after the listed ones
			},
		},
		Incidents: []config.Incident{{
			ID: "20261121-1000-delayed-analytics", Title: "Delayed analytics",
			Components: []string{"Redirect analytics"}, Impact: incidents.Minor,
			Updates: []config.IncidentUpdate{{
				ID: "20261121-1000-delayed-analytics-1", At: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC),
				Status: incidents.Investigating, Body: "Dashboards lag by ~40 minutes.",
				HTML: "<p>Dashboards lag by ~40 minutes.</p>\n",
			}},
		}},
		Secrets: []string{smtpPassword, apiToken, "https://hooks.example.com/monitor", webhookSecret},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Load(contract.yaml) =\n%+v\nwant\n%+v", cfg, want)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := config.Parse("min.yml", []byte("checks:\n  - { name: x, kind: link, urls: [\"https://example.com/\"] }\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := &config.Config{
		File:       "min.yml",
		Server:     config.Server{Listen: "127.0.0.1:8080", RateLimits: config.DefaultRateLimits},
		Storage:    config.Storage{DSN: "sqlite://data/monitor.db", Retention: 90 * day},
		Cluster:    config.Cluster{LeaseTTL: 15 * time.Second},
		Databases:  map[string]config.Database{},
		Defaults:   config.Defaults{Interval: time.Minute, Timeout: 10 * time.Second},
		Alerting:   alerting.DefaultConfig,
		Audit:      config.Audit{Retention: 90 * day},
		StatusPage: config.StatusPage{Title: "Status"},
		Checks: []check.Spec{{Name: "x", Kind: "link", Interval: time.Minute, Timeout: 4 * time.Second,
			Severity: check.Warn, UnknownSeverity: check.Warn,
			Config: probes.LinkConfig{URLs: []string{"https://example.com/"}, Method: "HEAD", Concurrency: 32, PerHost: 4, Quorum: 1}}},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Parse(one link check) =\n%+v\nwant\n%+v", cfg, want)
	}
}

func TestEnvExpansion(t *testing.T) {
	cfg, err := parseFile(t, "env.yml", map[string]string{
		"MONITOR_API_TOKEN": apiToken,
		"CACHE_URL":         "",
	})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	for _, tc := range []struct {
		name, got, want string
	}{
		{"unset with default", cfg.Databases["app"].DSN, "sqlite://data/app.db"},
		{"empty with default", cfg.Databases["cache"].DSN, "redis://localhost:6379/0"},
		{"set", strings.Join(cfg.Server.Tokens, ","), apiToken},
		{"$$ escape, comment not expanded", cfg.Checks[1].Config.(probes.DBConfig).Query, "SELECT '$5' -- costs $5, x"},
		{"lone $ kept", cfg.Checks[0].Config.(probes.FreshnessConfig).Source.(probes.HTTPSource).JSONPath, "$.lastEventAt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
	if got := cfg.Checks[0].Config.(probes.FreshnessConfig).MaxAge; got != 90*day {
		t.Errorf("max_age: 90d = %v, want %v", got, 90*day)
	}
}

// TestBadConfigs pairs each testdata/invalid-*.yml with every problem it
// must report, in order, exactly.
func TestBadConfigs(t *testing.T) {
	vars := map[string]string{"DB_PASSWORD": password, "WEBHOOK_TOKEN": webhookToken}
	for _, tc := range []struct {
		file string
		env  map[string]string
		want []string
	}{
		{
			file: "invalid-unknown-key.yml",
			want: []string{
				`invalid-unknown-key.yml:12:5: unknown key "intervl" in check "x" (did you mean "interval"?)`,
				`invalid-unknown-key.yml:15:3: unknown key "retension" in storage (did you mean "retention"?)`,
			},
		},
		{
			file: "invalid-slo-sli.yml",
			want: []string{
				`invalid-slo-sli.yml:10:10: sli within_sla in slo #1 needs a freshness check, and "conn" is of kind db`,
				`invalid-slo-sli.yml:11:12: duplicate slo for check "conn" (first at line 8)`,
				`invalid-slo-sli.yml:13:10: invalid sli "uptime" in slo #2 (want availability or within_sla)`,
			},
		},
		{
			file: "invalid-duration.yml",
			want: []string{
				`invalid-duration.yml:3:36: invalid timeout "10" in defaults (want a duration like 30s, 15m or 1d)`,
				`invalid-duration.yml:8:15: invalid interval "5x" in check "x" (want a duration like 30s, 15m or 1d)`,
			},
		},
		{
			file: "invalid-duplicate-name.yml",
			want: []string{`invalid-duplicate-name.yml:10:11: duplicate check name "x" (first at line 4)`},
		},
		{
			file: "invalid-name.yml",
			want: []string{
				`invalid-name.yml:4:11: invalid check name "Usage-Meters" (want lowercase letters, digits and _)`,
				`invalid-name.yml:7:5: missing name in check #2`,
			},
		},
		{
			file: "invalid-kind.yml",
			want: []string{
				`invalid-kind.yml:5:11: unknown kind "snmp" in check "x" (want db, freshness, http, link, tcp or tls)`,
				`invalid-kind.yml:7:5: missing kind in check "y"`,
			},
		},
		{
			file: "invalid-undefined-database.yml",
			want: []string{
				`invalid-undefined-database.yml:7:15: undefined database "ap" in check "x"`,
				`invalid-undefined-database.yml:10:25: undefined database "nope" in source of check "y"`,
				`invalid-undefined-database.yml:14:22: database "cache" is not a redis:// database in source of check "z"`,
			},
		},
		{
			file: "invalid-cycle.yml",
			want: []string{
				`invalid-cycle.yml:11:18: depends_on cycle: a -> b -> a`,
				`invalid-cycle.yml:15:18: check "c" depends on itself`,
				`invalid-cycle.yml:15:21: undefined check "missing" in depends_on of check "c"`,
			},
		},
		{
			file: "invalid-missing-query.yml",
			want: []string{`invalid-missing-query.yml:7:7: missing query in source of check "x"`},
		},
		{
			file: "invalid-max-age.yml",
			want: []string{
				`invalid-max-age.yml:7:14: max_age must be > 0 in check "zero"`,
				`invalid-max-age.yml:11:14: max_age must be > 0 in check "negative"`,
				`invalid-max-age.yml:12:5: missing max_age in check "missing"`,
				`invalid-max-age.yml:18:14: invalid max_age "5x" in check "typo" (want a duration like 30s, 15m or 1d)`,
			},
		},
		{
			file: "invalid-critical-age.yml",
			want: []string{
				`invalid-critical-age.yml:8:19: critical_age 30m < max_age 1h in check "x"`,
				`invalid-critical-age.yml:13:19: invalid critical_age "2hh" in check "typo" (want a duration like 30s, 15m or 1d)`,
			},
		},
		{
			file: "invalid-timeout.yml",
			want: []string{
				`invalid-timeout.yml:9:14: timeout 30s ≥ interval 30s in check "equal"`,
				`invalid-timeout.yml:13:15: timeout 10s (the default) ≥ interval 5s in check "shorter_interval" (set a shorter timeout)`,
			},
		},
		{
			file: "invalid-unset-env.yml",
			want: []string{
				`invalid-unset-env.yml:2:13: environment variable "MONITOR_API_TOKEN" is not set`,
				`invalid-unset-env.yml:4:16: environment variable "APP_DATABASE_URL" is not set`,
			},
		},
		{
			file: "invalid-env-columns.yml",
			env:  map[string]string{"APP_DATABASE_URL": "postgres://localhost/app?sslmode=disable", "B_URL": "sqlite://b.db", "INTERVAL": "5x", "COMPONENT": "a\nb"},
			want: []string{
				`invalid-env-columns.yml:2:60: unknown key "pool" in database "app"`,
				`invalid-env-columns.yml:3:34: invalid variable reference "${BAD NAME}" (want ${NAME} or ${NAME:-default})`,
				`invalid-env-columns.yml:8:15: invalid interval "5x" in check "x" (want a duration like 30s, 15m or 1d)`,
				`invalid-env-columns.yml:9:20: unterminated variable reference (missing })`,
				`invalid-env-columns.yml:10:17: environment variable "COMPONENT" contains a line break`,
			},
		},
		{
			file: "invalid-many.yml",
			want: []string{
				`invalid-many.yml:7:14: timeout 1d ≥ interval 1m in check "x"`,
				`invalid-many.yml:8:15: invalid severity "LOUD" in check "x" (want INFO, WARN or CRITICAL)`,
				`invalid-many.yml:9:11: duplicate check name "x" (first at line 4)`,
				`invalid-many.yml:11:13: source in check "x" mixes database and http (want only one)`,
				`invalid-many.yml:13:5: unknown key "unknown" in check "x"`,
				`invalid-many.yml:15:12: undefined check "nope" in slo #1`,
				`invalid-many.yml:16:16: invalid objective 100 in slo #1 (want a percentage between 0 and 100, like 99.9)`,
				`invalid-many.yml:20:13: unknown type "pager" in receiver "oncall" (want webhook, slack, pagerduty, email or alertmanager)`,
				`invalid-many.yml:22:26: invalid severity "urgent" in match of route #1 (want INFO, WARN or CRITICAL)`,
				`invalid-many.yml:23:19: undefined receiver "oncal" in route #1`,
				`invalid-many.yml:27:10: end is not after start in maintenance #1`,
			},
		},
		{
			file: "invalid-secrets.yml",
			want: []string{
				`invalid-secrets.yml:2:8: invalid DSN for storage: unsupported scheme "mysql" in "mysql://monitor:***@db.internal/monitor" (want sqlite, postgres or postgresql)`,
				`invalid-secrets.yml:4:15: invalid DSN for database "app": unsupported scheme "mongodb" in "mongodb://monitor:***@db.internal/app" (want postgres, postgresql, mysql, sqlite, redis or rediss)`,
				`invalid-secrets.yml:5:18: invalid DSN for database "broken": not a URL (want scheme://...)`,
				`invalid-secrets.yml:10:12: invalid url in receiver "hook" (want an absolute http(s) URL)`,
				`invalid-secrets.yml:11:15: invalid secret in receiver "hook" (want whsec_ followed by the base64 of 24 to 64 random bytes)`,
				// A link URL written in the file is redacted like everywhere else.
				`invalid-secrets.yml:14:35: invalid URL "ftp://u:***@links.example/a?token=***" in check "l" (want an absolute http(s) URL)`,
				// One that does not parse: its query goes, whatever it holds.
				`invalid-secrets.yml:15:36: invalid URL "http://[::1:80/a?***" in check "l2" (want an absolute http(s) URL)`,
			},
		},
		{
			file: "invalid-cron.yml",
			want: []string{
				`invalid-cron.yml:4:58: invalid cron "99 99 99 99 99" in check "out_of_range": end of range (99) above maximum (59): 99`,
				`invalid-cron.yml:5:55: invalid cron "*/0 * * * *" in check "step_zero": step of range should be a positive number: */0`,
				`invalid-cron.yml:6:57: cron "0 0 30 2 *" in check "february_30" never fires (no matching time in the next 5 years)`,
				`invalid-cron.yml:7:55: invalid cron "60 * * * * *" in check "second_60": end of range (60) above maximum (59): 60`,
				`invalid-cron.yml:8:50: invalid cron "CRON_TZ=Mars/Olympus 0 3 * * *" in check "mars": provided bad location Mars/Olympus: unknown time zone Mars/Olympus`,
				`invalid-cron.yml:9:55: invalid cron "CRON_TZ=UTC" in check "zone_only": missing schedule after CRON_TZ=UTC`,
				`invalid-cron.yml:10:57: invalid cron "* * * *" in check "four_fields": expected exactly 5 fields, found 4: [* * * *] (want 5 fields, or 6 with seconds first, like "*/5 * * * *")`,
			},
		},
		{
			file: "invalid-tokens.yml",
			want: []string{
				`invalid-tokens.yml:5:15: invalid name "Ops!" in server.tokens #3 (want 1 to 64 lowercase letters, digits, _ . or -, like ops)`,
				`invalid-tokens.yml:6:7: missing name in server.tokens #4`,
				`invalid-tokens.yml:7:15: duplicate token name "ops" in server.tokens #5 (first at line 4)`,
				`invalid-tokens.yml:8:7: missing token in server.tokens #6 (or token_file)`,
				`invalid-tokens.yml:9:15: duplicate token name "token-1" in server.tokens #7 (first at line 3)`,
				`invalid-tokens.yml:9:31: the token of server.tokens #7 is the same as that of server.tokens #1 (each token names one actor)`,
				`invalid-tokens.yml:10:44: token and token_file are both set in server.tokens #8 (want one of them)`,
				`invalid-tokens.yml:11:33: token_file "secrets/missing" in server.tokens #9 does not exist`,
				`invalid-tokens.yml:12:7: tokens in server must be a list of tokens: strings, or mappings {name, token}`,
				`invalid-tokens.yml:13:7: tokens in server must be a list of tokens: strings, or mappings {name, token}`,
				`invalid-tokens.yml:14:26: the token of server.tokens #12 is the same as that of server.tokens #2 (each token names one actor)`,
				`invalid-tokens.yml:14:44: unknown key "tokn" in server.tokens #12 (did you mean "token"?)`,
			},
		},
		{
			file: "invalid-maintenance.yml",
			want: []string{
				`invalid-maintenance.yml:5:14: undefined check "nope" in maintenance #1`,
				`invalid-maintenance.yml:5:20: pattern "targetting_*" in maintenance #1 matches no check`,
				`invalid-maintenance.yml:5:36: invalid pattern "targeting_[" in maintenance #1 (want a check name or a glob like targeting_*)`,
				`invalid-maintenance.yml:8:18: unknown component "Targetting" in maintenance #2 (no check has it)`,
				`invalid-maintenance.yml:10:15: duration must be between 1s and 7d in maintenance #2`,
				`invalid-maintenance.yml:13:5: start and cron are both set in maintenance #3 (want start and end for one window, or cron and duration for a recurring one)`,
				`invalid-maintenance.yml:15:11: cron "@every 1h" in maintenance #4 has no fixed start time (want a cron expression like "0 3 * * SUN")`,
				`invalid-maintenance.yml:16:15: duration must be between 1s and 7d in maintenance #4`,
				`invalid-maintenance.yml:18:11: cron "0 0 30 2 *" in maintenance #5 never fires (no matching time in the next 5 years)`,
				`invalid-maintenance.yml:19:15: invalid duration "soon" in maintenance #5 (want a duration like 30s, 15m or 1d)`,
				`invalid-maintenance.yml:20:5: missing cron in maintenance #6`,
				`invalid-maintenance.yml:22:5: missing duration in maintenance #7`,
				`invalid-maintenance.yml:24:5: missing checks or components in maintenance #8`,
				`invalid-maintenance.yml:24:5: missing start and end, or cron and duration, in maintenance #8`,
				`invalid-maintenance.yml:25:5: missing start in maintenance #9`,
				`invalid-maintenance.yml:28:11: invalid cron "61 3 * * *" in maintenance #10: end of range (61) above maximum (59): 61`,
				`invalid-maintenance.yml:30:5: unknown key "until" in maintenance #10`,
			},
		},
		{
			file: "invalid-statuspage.yml",
			want: []string{
				`invalid-statuspage.yml:6:10: title in statuspage must be one line of text`,
				`invalid-statuspage.yml:7:13: invalid logo_url "/logo.svg" in statuspage (want an absolute http(s) URL)`,
				`invalid-statuspage.yml:8:13: home_url in statuspage holds a user or password (it is shown on the public page)`,
				`invalid-statuspage.yml:9:8: out "." in statuspage holds the config file (want a directory of its own: each rebuild replaces it)`,
				`invalid-statuspage.yml:11:15: unknown component "redirects" in statuspage.components #1 (no check has it; did you mean "Redirects"?)`,
				`invalid-statuspage.yml:12:15: unknown component "Redirect analytcs" in statuspage.components #2 (no check has it; did you mean "Redirect analytics"?)`,
				`invalid-statuspage.yml:13:15: unknown component "Billing" in statuspage.components #3 (no check has it)`,
				`invalid-statuspage.yml:15:7: missing name in statuspage.components #5`,
				`invalid-statuspage.yml:16:42: group is longer than 100 characters in statuspage.components #6`,
				`invalid-statuspage.yml:17:15: duplicate component "Redirect analytics" in statuspage.components #7 (first at line 16)`,
				`invalid-statuspage.yml:17:35: unknown key "grup" in statuspage.components #7 (did you mean "group"?)`,
			},
		},
		{
			file: "invalid-incidents.yml",
			want: []string{
				`invalid-incidents.yml:4:5: missing title in incident #1`,
				`invalid-incidents.yml:4:18: unknown component "Redirect" in incident #1 (no check has it; did you mean "Redirects"?)`,
				`invalid-incidents.yml:5:13: invalid impact "huge" in incident #1 (want none, minor, major or critical)`,
				`invalid-incidents.yml:6:14: missing updates in incident #1 (want at least one, like {at: 2026-11-21T10:00:00Z, status: investigating, body: ...})`,
				`invalid-incidents.yml:8:9: invalid id "Slow_Redirects" in incident "Slow redirects" (want 1 to 64 lowercase letters, digits and single inner dashes, like delayed-analytics)`,
				`invalid-incidents.yml:9:29: duplicate component "Redirects" in incident "Slow redirects"`,
				`invalid-incidents.yml:9:40: unknown component "Billing" in incident "Slow redirects" (no check has it)`,
				`invalid-incidents.yml:12:15: at 2026-11-21T09:00:00Z in update #2 of incident "Slow redirects" is not after the update before it (2026-11-21T10:00:00Z): list updates oldest first`,
				`invalid-incidents.yml:12:45: invalid status "fixed" in update #2 of incident "Slow redirects" (want investigating, identified, monitoring or resolved)`,
				`invalid-incidents.yml:12:58: missing body in update #2 of incident "Slow redirects"`,
				`invalid-incidents.yml:13:15: invalid at "yesterday" in update #3 of incident "Slow redirects" (want an RFC 3339 time like 2026-12-01T02:00:00Z)`,
				`invalid-incidents.yml:14:9: missing at in update #4 of incident "Slow redirects"`,
				`invalid-incidents.yml:14:44: unknown key "by" in update #4 of incident "Slow redirects"`,
				`invalid-incidents.yml:17:12: duplicate incident id "20261121-1000-same" in incident "Same" (first at line 15; set id: to tell them apart)`,
				`invalid-incidents.yml:19:5: missing updates in incident "Nothing" (want at least one, like {at: 2026-11-21T10:00:00Z, status: investigating, body: ...})`,
				`invalid-incidents.yml:20:5: incident #6 must be a mapping`,
			},
		},
		{
			file: "invalid-audit.yml",
			want: []string{
				`invalid-audit.yml:4:14: retention must be between 1h and 3650d in audit`,
				`invalid-audit.yml:5:3: unknown key "keep" in audit`,
			},
		},
		{
			file: "invalid-cluster.yml",
			want: []string{
				`invalid-cluster.yml:4:12: cluster.enabled needs storage.dsn on PostgreSQL (postgres://...): the replicas share the store and coordinate through it; storage.dsn is sqlite://`,
				`invalid-cluster.yml:5:13: invalid location "eu west/1" in cluster (want up to 64 characters of A-Z, a-z, 0-9, _, . and -)`,
				`invalid-cluster.yml:6:14: lease_ttl must be between 3s and 5m in cluster`,
				`invalid-cluster.yml:7:3: unknown key "peers" in cluster`,
			},
		},
		{
			file: "invalid-cluster-demo.yml",
			want: []string{
				`invalid-cluster-demo.yml:5:19: demo.database cannot be used with cluster.enabled (the demo keeps its history apart, in SQLite)`,
			},
		},
		{
			file: "invalid-quorum.yml",
			want: []string{
				`invalid-quorum.yml:3:70: quorum 2 in check "two" needs cluster mode (cluster.enabled: true, replicas in at least 2 locations); without it, use 1`,
				`invalid-quorum.yml:4:71: quorum must be ≥ 1 in check "zero"`,
				`invalid-quorum.yml:5:71: quorum 17 in check "many" is more than 16 locations`,
			},
		},
		{
			file: "invalid-quorum-location.yml",
			want: []string{
				`invalid-quorum-location.yml:4:70: quorum 2 in check "two" needs cluster.location on this replica (the quorum counts locations)`,
			},
		},
		{
			file: "invalid-two-documents.yml",
			want: []string{
				`invalid-two-documents.yml:5:1: a second YAML document is not read (want one document: remove this --- and merge what follows into the first)`,
			},
		},
		{
			file: "invalid-empty.yml",
			want: []string{`invalid-empty.yml: no checks configured (the file is empty)`},
		},
		{
			file: "invalid-no-checks.yml",
			want: []string{`invalid-no-checks.yml:1:1: no checks configured (want at least one entry under checks:)`},
		},
		{
			file: "invalid-dsn.yml",
			want: []string{
				`invalid-dsn.yml:2:8: invalid DSN for storage: failed to configure TLS (sslmode is invalid) in "postgres://monitor:***@db.internal/monitor?sslmode=bogus"`,
				`invalid-dsn.yml:4:19: invalid DSN for database "pg_port": invalid port "99999" in "postgres://monitor:***@db.internal:99999/app" (want 1 to 65535)`,
				`invalid-dsn.yml:5:24: invalid DSN for database "pg_port_word": invalid port ":abc" after host (want a port from 1 to 65535)`,
				`invalid-dsn.yml:6:22: invalid DSN for database "pg_timeout": invalid connect_timeout (strconv.ParseInt: parsing "soon": invalid syntax) in "postgres://monitor:***@db.internal/app?connect_timeout=soon"`,
				`invalid-dsn.yml:7:18: invalid DSN for database "my_tls": invalid or unknown parameter value "bogus" in "mysql://monitor:***@db.internal:3306/app?tls=bogus"`,
				`invalid-dsn.yml:8:22: invalid DSN for database "my_timeout": time: invalid duration "zz" in "mysql://monitor:***@db.internal/app?timeout=zz"`,
				`invalid-dsn.yml:9:17: invalid DSN for database "cache": invalid database number: "abc" in "redis://:***@cache.internal:6379/abc"`,
				`invalid-dsn.yml:10:25: invalid DSN for database "cache_timeout": invalid dial_timeout duration: time: invalid duration "xx" in "rediss://cache.internal:6379/0?dial_timeout=xx"`,
				`invalid-dsn.yml:11:16: invalid DSN for database "file": invalid URL escape "%zz" in "sqlite://data/app.db?%zz"`,
			},
		},
		{
			// A runbook link goes to every receiver: an absolute http(s) URL,
			// no credentials (never echoed), and no #fragment on the page
			// the anchors are appended to; a check's own may have one.
			file: "invalid-runbook-url.yml",
			want: []string{
				`invalid-runbook-url.yml:5:18: invalid runbook_url in check "a" (want an absolute http(s) URL)`,
				`invalid-runbook-url.yml:9:18: runbook_url in check "b" holds a user or password (the link goes to every receiver; want a URL without credentials)`,
				`invalid-runbook-url.yml:13:18: runbook_url in check "c" must be a single value, not a list`,
				`invalid-runbook-url.yml:21:16: runbook_url in alerting has a #fragment (each alert's section anchor is appended to it; want the page's URL)`,
			},
		},
		{
			file: "invalid-yaml.yml",
			want: []string{`invalid-yaml.yml:2: invalid YAML: did not find expected '-' indicator`},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			if tc.env == nil {
				tc.env = vars
			}
			cfg, err := parseFile(t, tc.file, tc.env)
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", cfg)
			}
			if cfg != nil {
				t.Errorf("Parse returned a config with its error")
			}
			var got []string
			for _, p := range config.Problems(err) {
				got = append(got, p.Error())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if err.Error() != strings.Join(tc.want, "\n") {
				t.Errorf("err.Error() =\n%s\nwant the problems one per line", err)
			}
			for _, secret := range []string{password, webhookToken, "pw-literal-77", "QTOKEN-literal-9", "QTOKEN-broken-9",
				"another-secret-value", "x-secret-value", "hunter2-pw"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error text holds the secret %q:\n%s", secret, err)
				}
			}
		})
	}
}

func TestSecretsCollected(t *testing.T) {
	yml := `
server:
  tokens: ["${TOKEN}"]
databases:
  app: { dsn: "postgres://monitor:${DB_PASSWORD}@db.internal:5432/app" }
  plain: { dsn: "sqlite://data/app.db" }
alerting:
  receivers:
    - { name: pd, type: pagerduty, routing_key: "${ROUTING_KEY}" }
checks:
  - { name: x, kind: db, database: plain }
`
	cfg, err := config.Parse("s.yml", []byte(yml), env(map[string]string{
		"TOKEN": apiToken, "DB_PASSWORD": password, "ROUTING_KEY": "R0UTING-KEY-42"}))
	if err != nil {
		t.Fatal(err)
	}
	r := check.NewRedactor(cfg.Secrets...)
	for _, secret := range []string{apiToken, password, "R0UTING-KEY-42",
		"postgres://monitor:" + password + "@db.internal:5432/app"} {
		if got := r.Redact("x " + secret + " y"); strings.Contains(got, secret) {
			t.Errorf("Secrets does not cover %q: %q", secret, got)
		}
	}
	if got := r.Redact("sqlite://data/app.db"); got != "sqlite://data/app.db" {
		t.Errorf("a DSN without a password is not a secret, got %q", got)
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90d", 90 * day, true},
		{"1d12h", 36 * time.Hour, true},
		{"30s", 30 * time.Second, true},
		{"1h30m", 90 * time.Minute, true},
		{"0", 0, true},
		{"-1d", -day, true},
		{"", 0, false},
		{"d", 0, false},
		{"1.5d", 0, false},
		{"10", 0, false},
		{"1w", 0, false},
		{"1d-1h", 0, false},
		{"+1d", 0, false},
		{"999999999d", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := config.ParseDuration(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v (ok=%v)", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestProblems(t *testing.T) {
	a := &config.Error{File: "c.yml", Line: 9, Col: 1, Msg: "a"}
	b := &config.Error{File: "c.yml", Line: 2, Col: 7, Msg: "b"}
	c := &config.Error{File: "c.yml", Line: 2, Col: 3, Msg: "c"}
	got := config.Problems(errors.Join(a, errors.Join(b, errors.New("other")), c))
	if want := []*config.Error{c, b, a}; !reflect.DeepEqual(got, want) {
		t.Errorf("Problems = %v, want %v", got, want)
	}
	if got := config.Problems(nil); got != nil {
		t.Errorf("Problems(nil) = %v", got)
	}
	for _, tc := range []struct {
		err  *config.Error
		want string
	}{
		{&config.Error{File: "c.yml", Line: 12, Col: 5, Msg: "m"}, "c.yml:12:5: m"},
		{&config.Error{File: "c.yml", Line: 12, Msg: "m"}, "c.yml:12: m"},
		{&config.Error{File: "c.yml", Msg: "m"}, "c.yml: m"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := config.Load("testdata/does-not-exist.yml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want an error wrapping os.ErrNotExist", err)
	}
}

func TestRateLimits(t *testing.T) {
	cfg, err := config.Parse("r.yml", []byte(`
server:
  rate_limits:
    requests_per_second: 2.5
    burst: 5
    failed_auth_per_minute: 0
    max_clients: 100
    link_checks: 2
    link_connections: 50
    queue_timeout: 500ms
checks:
  - { name: c, kind: freshness, source: { heartbeat: true }, max_age: 1m }
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := config.RateLimits{RequestsPerSecond: 2.5, Burst: 5, FailedAuthPerMinute: 0,
		FailedAuthBurst: config.DefaultRateLimits.FailedAuthBurst, MaxClients: 100, LinkChecks: 2,
		LinkConnections: 50, QueueTimeout: 500 * time.Millisecond}
	if cfg.Server.RateLimits != want {
		t.Fatalf("rate_limits = %+v, want %+v", cfg.Server.RateLimits, want)
	}
	if cfg, err := config.Parse("d.yml", []byte("server: {}\nchecks: [{name: c, kind: freshness, source: {heartbeat: true}, max_age: 1m}]\n"), env(nil)); err != nil || cfg.Server.RateLimits != config.DefaultRateLimits {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}

	_, err = config.Parse("bad.yml", []byte(`server:
  rate_limits:
    requests_per_second: -1
    burst: 0
    max_clients: 100000000
    link_checks: many
    link_connections: 0
    queue_timeout: 2h
    per_ip: 3
`), env(nil))
	if err == nil {
		t.Fatal("bad rate_limits accepted")
	}
	for _, want := range []string{
		"bad.yml:3:26: requests_per_second must be between 0 (off) and 1e+06 in server.rate_limits",
		"bad.yml:4:12: burst must be between 1 and 1000000 in server.rate_limits",
		"bad.yml:5:18: max_clients must be between 1 and 1000000 in server.rate_limits",
		`bad.yml:6:18: invalid link_checks "many" in server.rate_limits (want a whole number)`,
		"bad.yml:7:23: link_connections must be between 1 and 100000 in server.rate_limits",
		"bad.yml:8:20: queue_timeout must be between 0s and 1m in server.rate_limits",
		"bad.yml:9:5: ",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
}

// TestUnknownKeySuggests: a key one or two edits from a known one names it;
// a key far from every known one does not guess.
func TestUnknownKeySuggests(t *testing.T) {
	_, err := config.Parse("s.yml", []byte(`server: { listn: 127.0.0.1:8080 }
databases:
  app: { dsn: "sqlite://a.db", pool: 3 }
check:
  - { name: a, kind: db, databse: app }
`), env(nil))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`s.yml:1:11: unknown key "listn" in server (did you mean "listen"?)`,
		`s.yml:3:32: unknown key "pool" in database "app"` + "\n",
		`s.yml:4:1: unknown key "check" (did you mean "checks"?)`,
	} {
		if !strings.Contains(err.Error()+"\n", want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
}

// TestTabIndentNamed: a tab used for indentation is named as such, not
// only "found character that cannot start any token".
func TestTabIndentNamed(t *testing.T) {
	_, err := config.Parse("tab.yml", []byte("checks:\n\t- { name: a, kind: link, urls: [\"https://example.com/\"] }\n"), env(nil))
	want := "tab.yml:2: invalid YAML: found character that cannot start any token (a tab: YAML indents with spaces only)"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// TestTokens: tokens may be plain strings, named by their position in the
// list, or {name, token} / {name, token_file}; an empty one is left out
// without renumbering the others, so names stay put when a variable is
// unset.
func TestTokens(t *testing.T) {
	cfg, err := config.Parse("t.yml", []byte(`
server:
  tokens:
    - "${EMPTY:-}"
    - "${API_TOKEN}"
    - { name: ops, token: "${OPS_TOKEN}" }
    - { name: ci.deploy-1, token_file: testdata/secrets/routing-key }
    - { name: off, token: "${OFF:-}" }
    - "   "
checks:
  - { name: x, kind: link, urls: ["https://example.com/"] }
`), env(map[string]string{"API_TOKEN": apiToken, "OPS_TOKEN": "ops-token-9876543210"}))
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := os.ReadFile("testdata/secrets/routing-key")
	if err != nil {
		t.Fatal(err)
	}
	wantTokens := []string{apiToken, "ops-token-9876543210", strings.TrimSpace(string(fromFile))}
	if !reflect.DeepEqual(cfg.Server.Tokens, wantTokens) {
		t.Errorf("Tokens = %q, want %q", cfg.Server.Tokens, wantTokens)
	}
	if want := []string{"token-2", "ops", "ci.deploy-1"}; !reflect.DeepEqual(cfg.Server.TokenNames, want) {
		t.Errorf("TokenNames = %q, want %q", cfg.Server.TokenNames, want)
	}
	r := check.NewRedactor(cfg.Secrets...)
	for _, tok := range wantTokens {
		if got := r.Redact("x " + tok + " y"); strings.Contains(got, tok) {
			t.Errorf("Secrets does not cover the token %q", tok)
		}
	}
}

// TestMaintenanceDecoded: checks (names and globs), components, one-off
// and recurring windows and reasons come through as written.
func TestMaintenanceDecoded(t *testing.T) {
	cfg, err := config.Parse("m.yml", []byte(`
checks:
  - { name: targeting_profile, kind: link, urls: ["https://example.com/"], component: Targeting }
  - { name: api, kind: link, urls: ["https://example.com/"] }
maintenance:
  - { checks: [api, "targeting_*"], start: 2026-12-01T02:00:00Z, end: 2026-12-01T03:00:00Z, reason: DB upgrade }
  - { components: [Targeting], cron: "CRON_TZ=Europe/Paris 0 3 * * SUN", duration: 30m }
  - { checks: [api], components: [Targeting], cron: "@daily", duration: 7d }
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []config.Maintenance{
		{Checks: []string{"api", "targeting_*"}, Start: time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC),
			End: time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC), Reason: "DB upgrade"},
		{Components: []string{"Targeting"}, Cron: "CRON_TZ=Europe/Paris 0 3 * * SUN", Duration: 30 * time.Minute},
		{Checks: []string{"api"}, Components: []string{"Targeting"}, Cron: "@daily", Duration: 7 * day},
	}
	if !reflect.DeepEqual(cfg.Maintenance, want) {
		t.Errorf("maintenance =\n%+v\nwant\n%+v", cfg.Maintenance, want)
	}
	if cfg.Audit.Retention != 90*day {
		t.Errorf("audit retention default = %v, want 90d", cfg.Audit.Retention)
	}
}

// TestRunbookURLs: alerting.runbook_url and a check's runbook_url reach
// the configuration as written; unset, both are empty (the default page).
func TestRunbookURLs(t *testing.T) {
	yml := `
databases:
  app: { dsn: "sqlite://data/app.db" }
checks:
  - { name: a, kind: db, database: app, runbook_url: "https://wiki.example.com/teams/db#connections" }
  - { name: b, kind: db, database: app }
alerting:
  runbook_url: https://wiki.example.com/monitor/runbooks
`
	cfg, err := config.Parse("r.yml", []byte(yml), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Alerting.RunbookURL; got != "https://wiki.example.com/monitor/runbooks" {
		t.Errorf("alerting.runbook_url = %q", got)
	}
	if got := cfg.Checks[0].RunbookURL; got != "https://wiki.example.com/teams/db#connections" {
		t.Errorf("check a runbook_url = %q", got)
	}
	if got := cfg.Checks[1].RunbookURL; got != "" {
		t.Errorf("check b runbook_url = %q, want none", got)
	}
	cfg, err = config.Parse("r.yml", []byte("checks: [{name: a, kind: tcp, address: \"127.0.0.1:1\"}]\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Alerting.RunbookURL != "" {
		t.Errorf("alerting.runbook_url = %q by default, want empty (runbook.DefaultBase)", cfg.Alerting.RunbookURL)
	}
}

func TestCluster(t *testing.T) {
	cfg, err := config.Parse("c.yml", []byte(`storage: { dsn: "postgres://monitor@127.0.0.1/monitor" }
cluster: { enabled: true, location: eu-west-1.a_b, lease_ttl: 5s }
databases: { app: { dsn: "postgres://monitor@127.0.0.1/app" } }
checks:
  - { name: x, kind: db, database: app, timeout: 2s }
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Cluster{Enabled: true, Location: "eu-west-1.a_b", LeaseTTL: 5 * time.Second}
	if cfg.Cluster != want {
		t.Errorf("Cluster = %+v, want %+v", cfg.Cluster, want)
	}
	// An empty location is none (a variable left unset on a replica
	// without one), as when the key is absent.
	cfg, err = config.Parse("c.yml", []byte(`storage: { dsn: "postgres://monitor@127.0.0.1/monitor" }
cluster: { enabled: true, location: "${MONITOR_LOCATION:-}" }
checks: [{ name: x, kind: tcp, address: "127.0.0.1:1" }]
`), env(nil))
	if err != nil {
		t.Fatalf("an empty location: %v", err)
	}
	if cfg.Cluster.Location != "" {
		t.Errorf("Location = %q, want none", cfg.Cluster.Location)
	}
	// Without lease_ttl, the default is 15s whatever the checks' runs take
	// (a link check's is its interval): runs are bound to their lease, not
	// fitted in it. A lease shorter than a run is accepted too.
	for _, c := range []struct {
		cluster string
		want    time.Duration
	}{
		{`{ enabled: true }`, 15 * time.Second},
		{`{ enabled: true, lease_ttl: 3s }`, 3 * time.Second},
	} {
		cfg, err = config.Parse("c.yml", []byte(`storage: { dsn: "postgres://monitor@127.0.0.1/monitor" }
cluster: `+c.cluster+`
databases: { app: { dsn: "postgres://monitor@127.0.0.1/app" } }
checks:
  - { name: slow, kind: db, database: app, timeout: 10s, interval: 1m }
  - { name: x, kind: link, urls: ["https://example.com/"], interval: 30s }
`), env(nil))
		if err != nil {
			t.Fatalf("cluster %s with a 10s timeout and a 30s link check: %v", c.cluster, err)
		}
		if cfg.Cluster.LeaseTTL != c.want {
			t.Errorf("cluster %s: lease_ttl = %s, want %s", c.cluster, cfg.Cluster.LeaseTTL, c.want)
		}
	}
}
