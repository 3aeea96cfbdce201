package main

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/monitor-dev/monitor/internal/testenv"
)

const runbookRulesConfig = `databases:
  app: { dsn: "sqlite://data/app.db" }
checks:
  - name: app_db
    kind: db
    database: app
  - name: events_freshness
    kind: freshness
    source: { database: app, query: "SELECT max(at) FROM events" }
    max_age: 15m
    runbook_url: https://wiki.example.com/teams/data/events-freshness
slos:
  - { check: app_db, objective: 99.9 }
  - { check: events_freshness, objective: 99, sli: within_sla, window: 7d }
%s`

// ruleRunbookURLs runs monitor rules on config and returns the
// runbook_url annotation of every alerting rule, by check.
func ruleRunbookURLs(t *testing.T, config string) map[string][]string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, path, config)
	code, out, stderr := runMain(t, "rules", "--config", path)
	if code != 0 {
		t.Fatalf("monitor rules: exit %d: %s", code, stderr)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal([]byte(out), &f); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				got[r.Labels["check"]] = append(got[r.Labels["check"]], r.Annotations["runbook_url"])
			}
		}
	}
	if len(got["app_db"]) == 0 || len(got["events_freshness"]) == 0 {
		t.Fatalf("alerts by check: %v, want both SLOs' burn-rate alerts", got)
	}
	return got
}

// TestRulesRunbookURL: every alerting rule of `monitor rules` links to
// its runbook: the MonitorSLOErrorBudgetBurn section of docs/runbooks.md
// by default, of alerting.runbook_url when set, and a check's own
// runbook_url for that check's alerts.
func TestRulesRunbookURL(t *testing.T) {
	own := "https://wiki.example.com/teams/data/events-freshness"
	for _, tc := range []struct{ name, alerting, base string }{
		{"default page", "", ""},
		{"alerting.runbook_url", "alerting:\n  runbook_url: https://wiki.example.com/monitor/runbooks\n", "https://wiki.example.com/monitor/runbooks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ruleRunbookURLs(t, strings.Replace(runbookRulesConfig, "%s", tc.alerting, 1))
			for _, u := range got["app_db"] {
				if anchor := testenv.RunbookURL(t, tc.base, u); anchor != "monitorsloerrorbudgetburn" {
					t.Errorf("app_db: runbook_url %q, want the MonitorSLOErrorBudgetBurn section", u)
				}
			}
			for _, u := range got["events_freshness"] {
				if u != own {
					t.Errorf("events_freshness: runbook_url %q, want the check's own %q", u, own)
				}
			}
		})
	}
}

// TestE2EAlertRunbookURL: the daemon's webhook notifications link each
// alert to its runbook: a check's own runbook_url, else its kind's section
// of the page alerting.runbook_url names.
func TestE2EAlertRunbookURL(t *testing.T) {
	t.Parallel()
	hooks := &hookLog{}
	rcv := httptest.NewServer(hooks)
	defer rcv.Close()
	dir := t.TempDir()
	marker := staleMarker(t, dir)
	cfgPath := filepath.Join(dir, "config.yaml")
	own := "https://wiki.example.com/teams/data/pipeline"
	base := "https://wiki.example.com/monitor/runbooks"
	other := strings.ReplaceAll(pipelineCheck, "pipeline_freshness", "export_freshness")
	cfg := `server:
  listen: "%s"
storage:
  dsn: sqlite://data/monitor.db
checks:
` + pipelineCheck + "    runbook_url: " + own + "\n" + other + `alerting:
  failure_threshold: 1
  runbook_url: ` + base + `
  receivers:
    - name: oncall
      type: webhook
      url: %s/hook
  routes:
    - match: { severity: CRITICAL }
      receivers: [oncall]
      group_wait: 0s
      group_interval: 1s
`
	p := startMonitor(t, dir, func(listen string) (string, string) {
		return cfgPath, fmt.Sprintf(cfg, listen, marker, marker, rcv.URL)
	}, []string{"--config", cfgPath})
	defer p.kill()
	hooks.waitFor(t, "firing", 2, 20*time.Second)
	got := map[string]string{}
	hooks.mu.Lock()
	for _, n := range hooks.got {
		for _, a := range n.Alerts {
			got[a.ID] = a.RunbookURL
		}
	}
	hooks.mu.Unlock()
	if got["check:pipeline_freshness"] != own {
		t.Errorf("pipeline_freshness: runbookUrl %q, want its own %q", got["check:pipeline_freshness"], own)
	}
	if a := testenv.RunbookURL(t, base, got["check:export_freshness"]); a != "check-freshness" {
		t.Errorf("export_freshness: runbookUrl %q, want the freshness section of %s", got["check:export_freshness"], base)
	}
}
