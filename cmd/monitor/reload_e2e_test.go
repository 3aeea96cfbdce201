package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// reloadKeepConfig is the daemon of TestE2EReloadKeepsUnchangedChecks:
// kept_fail FAILs (CRITICAL, paged), kept_flip FAILed then recovered,
// removed_db and changed_db PASS. %[1]s is the listen address, %[2]s and
// %[3]s the markers of the freshness checks, %[4]s the webhook's URL,
// %[5]s the checks that differ between the two versions.
const reloadKeepConfig = `server:
  listen: "%[1]s"
  tokens: [{ name: ops, token: "ops-token-123" }]
storage:
  dsn: sqlite://data/monitor.db
databases:
  app: { dsn: "sqlite://app.db" }
checks:
  - { name: kept_fail, kind: freshness, source: { file: %[2]s }, max_age: 1h, interval: 1s, timeout: 500ms, severity: CRITICAL }
  - { name: kept_flip, kind: freshness, source: { file: %[3]s }, max_age: 1h, interval: 1s, timeout: 500ms, severity: CRITICAL }
%[5]sslos:
  - { check: kept_fail, objective: 99, window: 1d }
  - { check: kept_flip, objective: 99, window: 1d }
alerting:
  failure_threshold: 1
  receivers:
    - { name: oncall, type: webhook, url: "%[4]s/hook" }
  routes:
    - { match: { severity: CRITICAL }, receivers: [oncall], group_wait: 0s, group_interval: 1s }
`

const (
	reloadKeepV1Checks = `  - { name: removed_db, kind: db, database: app, interval: 1s, timeout: 500ms }
  - { name: changed_db, kind: db, database: app, interval: 1s, timeout: 500ms }
`
	// changed_db now queries a table that is not there: it FAILs (WARN,
	// routed nowhere).
	reloadKeepV2Checks = `  - { name: changed_db, kind: db, database: app, query: "SELECT n FROM missing", interval: 1s, timeout: 500ms, severity: WARN }
  - { name: added_db, kind: db, database: app, interval: 1s, timeout: 500ms }
`
)

// keptFigures is what a user sees of one check that a reload leaves alone.
type keptFigures struct {
	runs        int64     // GET /v2/checks/{name}/history: runs over the last hour
	reportRuns  int64     // monitor sla report: runs with an outcome in the SLO window
	reportBad   int64     // and bad ones among them
	alertID     string    // GET /v2/alerts
	alertStatus string    // firing or resolved
	startsAt    time.Time // of the alert
}

// TestE2EReloadKeepsUnchangedChecks: POST /-/reload with a config that
// adds a check, removes one and changes a third leaves the two unchanged
// checks as they were: their history keeps its runs and grows, their SLO
// figures (monitor sla report) go on from where they were, a firing alert
// stays firing with the same id and start and pages nobody again, and a
// resolved one stays resolved. The reload is audited under the token's name.
func TestE2EReloadKeepsUnchangedChecks(t *testing.T) {
	t.Parallel()
	hooks := &hookLog{}
	rcv := httptest.NewServer(hooks)
	defer rcv.Close()
	dir := t.TempDir()
	failing := staleMarker(t, dir)
	flipDir := filepath.Join(dir, "flip")
	if err := os.Mkdir(flipDir, 0o755); err != nil {
		t.Fatal(err)
	}
	flipping := staleMarker(t, flipDir)
	cfgPath := filepath.Join(dir, "config.yaml")
	var listen string
	text := func(checks string) string {
		return fmt.Sprintf(reloadKeepConfig, listen, failing, flipping, rcv.URL, checks)
	}
	p := startMonitor(t, dir, func(l string) (string, string) {
		listen = l
		return cfgPath, text(reloadKeepV1Checks)
	}, []string{"--config", cfgPath})
	auth := http.Header{"Authorization": {"Bearer ops-token-123"}}

	// Both freshness checks page; kept_flip then recovers.
	hooks.waitFor(t, "firing", 1, 20*time.Second)
	waitAlerts(t, p, auth, func(a map[string]alertJSON) bool {
		return a["kept_fail"].Status == "firing" && a["kept_flip"].Status == "firing"
	})
	touch(t, flipping)
	hooks.waitFor(t, "resolved", 1, 20*time.Second)
	alerts := waitAlerts(t, p, auth, func(a map[string]alertJSON) bool { return a["kept_flip"].Status == "resolved" })
	p.waitHealth(10*time.Second, "every check run", allRan("kept_fail", "kept_flip", "removed_db", "changed_db"))
	// A few runs stored, for history and SLO figures to go on from.
	var before map[string]keptFigures
	waitKept(t, func() bool {
		before = map[string]keptFigures{}
		for _, name := range []string{"kept_fail", "kept_flip"} {
			before[name] = readKept(t, p, auth, cfgPath, name, alerts)
		}
		f := before["kept_flip"]
		return before["kept_fail"].runs >= 3 && before["kept_fail"].reportRuns >= 3 &&
			f.runs >= 3 && f.reportBad > 0 && f.reportRuns > f.reportBad
	}, func() string {
		return fmt.Sprintf("before the reload: %+v, want runs stored, and good and bad ones of kept_flip", before)
	})
	firing, resolved := checkNotes(hooks, "firing"), checkNotes(hooks, "resolved")
	// The reload: removed_db goes, changed_db FAILs on its new query,
	// added_db comes.
	writeFile(t, cfgPath, text(reloadKeepV2Checks))
	reloaded := time.Now()
	resp, body := p.do(http.MethodPost, "/-/reload", auth, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"status":"reloaded"`) ||
		!strings.Contains(string(body), `"checks":4`) {
		t.Fatalf("POST /-/reload = %d %s, want 200 reloaded with 4 checks", resp.StatusCode, body)
	}
	h := p.waitHealth(10*time.Second, "the new checks run", func(h healthBody) bool {
		c, ok := h.find("changed_db")
		_, added := h.find("added_db")
		return ok && c.Status == "FAIL" && added && ranSince(h, reloaded, "kept_fail", "kept_flip", "added_db")
	})
	if got := h.names(); !slices.Equal(got, []string{"added_db", "changed_db", "kept_fail", "kept_flip"}) {
		t.Errorf("checks after the reload = %v, want removed_db gone and added_db there", got)
	}
	wantCheck(t, h, "changed_db", "FAIL", "WARN")
	wantCheck(t, h, "kept_fail", "FAIL", "CRITICAL")
	wantCheck(t, h, "kept_flip", "PASS", "INFO")
	// Three new runs of the unchanged checks stored under the new config
	// (three seconds at least: time for a page the reload caused to come).
	after := map[string]keptFigures{}
	waitKept(t, func() bool {
		alerts = waitAlerts(t, p, auth, func(map[string]alertJSON) bool { return true })
		for name, b := range before {
			after[name] = readKept(t, p, auth, cfgPath, name, alerts)
			if a := after[name]; a.runs < b.runs+3 || a.reportRuns < b.reportRuns+3 || a.reportBad < b.reportBad {
				return false
			}
		}
		return true
	}, func() string {
		return fmt.Sprintf("after the reload: %+v; before: %+v; want the history and the SLO report's runs kept and growing", after, before)
	})
	for name, b := range before {
		a := after[name]
		if a.alertID != b.alertID || a.alertStatus != b.alertStatus || !a.startsAt.Equal(b.startsAt) {
			t.Errorf("%s: alert after the reload %s %s since %s; before %s %s since %s", name,
				a.alertID, a.alertStatus, a.startsAt, b.alertID, b.alertStatus, b.startsAt)
		}
	}
	if a, b := after["kept_flip"], before["kept_flip"]; a.reportBad != b.reportBad {
		t.Errorf("kept_flip, passing, has %d bad runs after the reload, %d before", a.reportBad, b.reportBad)
	}
	if n := checkNotes(hooks, "firing"); n != firing {
		t.Errorf("%d firing notifications of the checks after the reload, %d before: the reload paged again", n, firing)
	}
	if n := checkNotes(hooks, "resolved"); n != resolved {
		t.Errorf("%d resolved notifications of the checks after the reload, %d before", n, resolved)
	}

	// The audit trail names the token.
	_, body = p.do(http.MethodGet, "/v2/audit-events?action=config.reloaded", auth, "")
	var events struct {
		Events []struct {
			Actor   string         `json:"actor"`
			Details map[string]any `json:"details"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &events); err != nil || len(events.Events) != 1 ||
		events.Events[0].Actor != "ops" || events.Events[0].Details["via"] != "POST /-/reload" {
		t.Errorf("audit events of the reload: %s, want one config.reloaded by ops via POST /-/reload", body)
	}
	p.stop()
}

// checkNotes counts the notifications of status st that carry an alert of
// kept_fail or kept_flip (the SLOs' burn-rate alerts page on their own).
func checkNotes(h *hookLog, st string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, x := range h.got {
		if x.Status != st {
			continue
		}
		for _, a := range x.Alerts {
			if a.ID == "check:kept_fail" || a.ID == "check:kept_flip" {
				n++
				break
			}
		}
	}
	return n
}

// waitKept polls ok for 30 s at most; then the test fails saying what().
func waitKept(t *testing.T, ok func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal(what())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// alertJSON is one alert of GET /v2/alerts.
type alertJSON struct {
	ID       string    `json:"id"`
	Check    string    `json:"check"`
	Status   string    `json:"status"`
	StartsAt time.Time `json:"startsAt"`
}

// waitAlerts polls GET /v2/alerts until ok holds of the check alerts (by
// check), and returns them.
func waitAlerts(t *testing.T, p *proc, auth http.Header, ok func(map[string]alertJSON) bool) map[string]alertJSON {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := p.do(http.MethodGet, "/v2/alerts", auth, "")
		var got struct {
			Alerts []alertJSON `json:"alerts"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("GET /v2/alerts: %v: %s", err, body)
		}
		by := map[string]alertJSON{}
		for _, a := range got.Alerts {
			if strings.HasPrefix(a.ID, "check:") { // not the SLOs' burn-rate alerts
				by[a.Check] = a
			}
		}
		if ok(by) {
			return by
		}
		if time.Now().After(deadline) {
			t.Fatalf("alerts stay %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readKept reads what a user sees of check name: its history, its SLO
// report (the CLI, beside the daemon) and its alert among alerts.
func readKept(t *testing.T, p *proc, auth http.Header, cfgPath, name string, alerts map[string]alertJSON) keptFigures {
	t.Helper()
	var f keptFigures
	_, body := p.do(http.MethodGet, "/v2/checks/"+name+"/history?since=1h&step=1h", auth, "")
	var hist struct {
		Points []struct {
			Runs int64 `json:"runs"`
		} `json:"points"`
	}
	if err := json.Unmarshal(body, &hist); err != nil {
		t.Fatalf("history of %s: %v: %s", name, err, body)
	}
	for _, pt := range hist.Points {
		f.runs += pt.Runs
	}
	cmd := exec.Command(monitorBinary(t), "sla", "report", "--config", cfgPath, "--format", "json")
	cmd.Dir, cmd.Env = p.dir, daemonEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("monitor sla report: %v\n%s", err, out)
	}
	var rep struct {
		SLOs []struct {
			Check     string `json:"check"`
			Good, Bad int64
		} `json:"slos"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("monitor sla report: %v\n%s", err, out)
	}
	for _, s := range rep.SLOs {
		if s.Check == name {
			f.reportRuns, f.reportBad = s.Good+s.Bad, s.Bad
		}
	}
	a, ok := alerts[name]
	if !ok {
		t.Fatalf("no alert of %s in %+v", name, alerts)
	}
	f.alertID, f.alertStatus, f.startsAt = a.ID, a.Status, a.StartsAt
	return f
}

// ranSince tells whether every named check has a result newer than at.
func ranSince(h healthBody, at time.Time, names ...string) bool {
	for _, n := range names {
		c, ok := h.find(n)
		if !ok {
			return false
		}
		ts, err := time.Parse(time.RFC3339, c.CheckedAt)
		if err != nil || !ts.After(at) {
			return false
		}
	}
	return true
}
