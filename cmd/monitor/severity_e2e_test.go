package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestE2ESeverityUpdates: a public component's freshness check fails WARN,
// then CRITICAL (older than critical_age), then WARN again, then passes.
// The daemon writes alert.severity_changed twice (GET
// /v2/audit-events?action= finds them), and the page it serves shows one
// incident updated at each change, dated as the audit trail says, with
// the impact and title of the worst reached, naming the component only.
func TestE2ESeverityUpdates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := staleMarker(t, dir) // 2h old: FAIL WARN
	setAge := func(age time.Duration) {
		t.Helper()
		at := time.Now().Add(-age)
		if err := os.Chtimes(marker, at, at); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	p := startMonitor(t, dir, func(listen string) (string, string) {
		return cfgPath, fmt.Sprintf(`server:
  listen: "%s"
storage:
  dsn: sqlite://data/monitor.db
checks:
  - name: pipeline_freshness
    kind: freshness
    source: { file: %s }
    max_age: 1h
    critical_age: 3h
    interval: 1s
    timeout: 500ms
    severity: WARN
    component: Pipeline
`, listen, marker)
	}, []string{"--config", cfgPath})
	defer p.kill()

	type update struct {
		Status    string    `json:"status"`
		Body      string    `json:"body"`
		CreatedAt time.Time `json:"created_at"`
	}
	type incident struct {
		Name    string   `json:"name"`
		Status  string   `json:"status"`
		Impact  string   `json:"impact"`
		Updates []update `json:"incident_updates"`
	}
	// waitIncident waits for the page's one incident to have n updates.
	waitIncident := func(n int) incident {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		var body []byte
		for {
			var page struct {
				Incidents []incident `json:"incidents"`
			}
			_, body = p.do("GET", "/api/v2/incidents.json", nil, "")
			if err := json.Unmarshal(body, &page); err == nil && len(page.Incidents) == 1 && len(page.Incidents[0].Updates) == n {
				for _, s := range []string{"pipeline_freshness", "last-run", dir} {
					if strings.Contains(string(body), s) {
						t.Errorf("the public incidents contain %q:\n%s", s, body)
					}
				}
				return page.Incidents[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("no incident with %d updates after 45s:\n%s", n, body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	type event struct {
		At      time.Time      `json:"at"`
		Target  string         `json:"target"`
		Details map[string]any `json:"details"`
	}
	changes := func() []event {
		t.Helper()
		var evs struct {
			Events []event `json:"events"`
		}
		resp, body := p.do("GET", "/v2/audit-events?action=alert.severity_changed", nil, "")
		if err := json.Unmarshal(body, &evs); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /v2/audit-events?action=alert.severity_changed = %d %v\n%s", resp.StatusCode, err, body)
		}
		return evs.Events // newest first
	}

	inc := waitIncident(1)
	if inc.Name != "Degraded performance of Pipeline" || inc.Impact != "minor" || inc.Status != "investigating" {
		t.Fatalf("WARN incident %+v", inc)
	}
	setAge(4 * time.Hour) // FAIL CRITICAL: the only check, so a major outage
	inc = waitIncident(2)
	evs := changes()
	if inc.Name != "Major outage of Pipeline" || inc.Impact != "critical" ||
		inc.Updates[0].Body != "The problem has worsened: we are now investigating a major outage affecting Pipeline." {
		t.Fatalf("worsened incident %+v", inc)
	}
	if len(evs) != 1 || evs[0].Target != "check:pipeline_freshness" || evs[0].Details["severity"] != "CRITICAL" ||
		evs[0].Details["previous"] != "WARN" || !inc.Updates[0].CreatedAt.Equal(evs[0].At.Truncate(time.Second)) {
		t.Fatalf("severity changes %+v; the update is dated %s", evs, inc.Updates[0].CreatedAt)
	}
	setAge(2 * time.Hour) // FAIL WARN again
	inc = waitIncident(3)
	if inc.Name != "Partial outage of Pipeline" || inc.Impact != "major" ||
		inc.Updates[0].Body != "The problem has lessened to degraded performance affecting Pipeline. We are still investigating." {
		t.Fatalf("lessened incident %+v", inc)
	}
	touch(t, marker)
	inc = waitIncident(4)
	if inc.Status != "resolved" || inc.Impact != "major" {
		t.Fatalf("resolved incident %+v", inc)
	}
	evs = changes()
	if len(evs) != 2 || evs[0].Details["severity"] != "WARN" || evs[0].Details["previous"] != "CRITICAL" ||
		!inc.Updates[1].CreatedAt.Equal(evs[0].At.Truncate(time.Second)) {
		t.Fatalf("severity changes %+v; the lessened update is dated %s", evs, inc.Updates[1].CreatedAt)
	}
}
