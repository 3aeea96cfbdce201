package main

import (
	"path/filepath"
	"strings"
	"testing"

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
