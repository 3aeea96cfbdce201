package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
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

// grafanaE2EExtra is what the test adds to the shipped config: a private
// link check with a broken and an unreachable link, a receiver that
// answers and one that never does (short retries, so it dead-letters
// within seconds), and a route sending every alert to both.
const grafanaE2EExtra = `  - name: site_links
    kind: link
    allow_private: true
    interval: 1s
    timeout: 500ms
    urls: ["%[1]s/ok", "%[1]s/missing", "http://%[2]s/refused"]

`

const grafanaE2EAlerting = `
alerting:
  failure_threshold: 1
  retry: [1s]
  receivers:
    - { name: ops, type: webhook, url: "%s/hook" }
    - { name: broken, type: webhook, url: "%s/hook" }
  routes:
    - { match: {}, receivers: [ops, broken], group_wait: 0s, group_interval: 1s }
`

// TestE2EGrafanaDashboards runs the monitor on the shipped config and its
// demo data (its rollup lags past max_age: that check fails), with checks
// every second plus a failing link check and two receivers, and a real
// Prometheus scraping it every second with the `monitor rules` output
// loaded. Every target of every panel of both dashboards, read from the
// committed JSON with its variables substituted, must return a value (not
// NaN). A drill-down target may be of one kind (freshness, links, SLO): it
// must return a value for at least one check. Then the figures a user reads
// on the overview are checked against what the monitor did. The cluster
// panels' targets (clusterTarget) have no data from a single daemon:
// TestE2EGrafanaCluster runs them against two replicas.
func TestE2EGrafanaDashboards(t *testing.T) {
	t.Parallel()
	promtool := needTool(t, "promtool", "prometheus")
	needTool(t, "prometheus", "prometheus")
	dir := t.TempDir()

	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ok" {
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(site.Close)
	ops := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(ops.Close)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(broken.Close)

	shipped, err := os.ReadFile(filepath.Join("..", "..", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(shipped)
	for _, r := range [][2]string{
		{"interval: 30s", "interval: 1s"}, {"timeout: 5s", "timeout: 500ms"},
		{"\nslos:\n", "\n" + fmt.Sprintf(grafanaE2EExtra, site.URL, freeAddr(t)) + "slos:\n"},
	} {
		if !strings.Contains(cfg, r[0]) {
			t.Fatalf("the shipped config.yaml no longer has %q", r[0])
		}
		cfg = strings.ReplaceAll(cfg, r[0], r[1])
	}
	cfg += fmt.Sprintf(grafanaE2EAlerting, ops.URL, broken.URL)
	cfgPath := filepath.Join(dir, "config.yaml")
	p := startMonitor(t, dir, func(string) (string, string) { return cfgPath, cfg }, []string{"--config", cfgPath})

	rulesPath, _ := promRules(t, dir, promtool, cfgPath)
	query, promLog := startPrometheus(t, dir, rulesPath, strings.TrimPrefix(p.base, "http://"))

	// Deliveries the first scrape saw already are not a rate: once
	// Prometheus has the series, an operator escalation (routed to both
	// receivers like any alert) makes new ones.
	waitQuery(t, query, promLog, `monitor_notifications_total{receiver="ops", outcome="sent"}`, 30*time.Second)
	if resp, body := p.do(http.MethodPost, "/v2/operator/escalations", http.Header{"Content-Type": {"application/json"}},
		`{"handle": "acme", "severity": "HIGH", "summary": "Checkout fails for acme"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v2/operator/escalations = %d %s", resp.StatusCode, body)
	}

	var checks []string
	for _, line := range strings.Split(cfg, "\n") {
		if name, ok := strings.CutPrefix(line, "  - name: "); ok {
			checks = append(checks, strings.TrimSpace(name))
		}
	}
	if len(checks) < 6 {
		t.Fatalf("checks %v", checks)
	}
	// The drill-down's check variable, label_values(monitor_check_status,
	// check), offers every configured check.
	for deadline := time.Now().Add(30 * time.Second); ; {
		res, err := query("group by (check) (monitor_check_status)")
		var offered []string
		for _, s := range res {
			offered = append(offered, s.Metric["check"])
		}
		slices.Sort(offered)
		want := slices.Sorted(slices.Values(checks))
		if err == nil && slices.Equal(offered, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the check variable would offer %v (%v), want %v", offered, err, want)
		}
		time.Sleep(250 * time.Millisecond)
	}

	type pending struct{ dash, panel, ref, expr string }
	var todo []pending
	for name := range dashboardFiles {
		d := readDashboard(t, name)
		for _, panel := range d.queryPanels() {
			for _, tg := range panel.Targets {
				if clusterTarget(tg.Expr) {
					continue // empty without cluster mode: TestE2EGrafanaCluster
				}
				todo = append(todo, pending{name, panel.Title, tg.RefID, tg.Expr})
			}
		}
	}
	// answered reports whether expr, with $check set to some check, gives
	// a value, and for which check.
	answered := func(expr string) (bool, string, error) {
		candidates := []string{""}
		if strings.Contains(expr, "$check") {
			candidates = checks
		}
		var lastErr error
		for _, c := range candidates {
			q, err := substitute(expr, c)
			if err != nil {
				return false, "", err
			}
			res, err := query(q)
			if err != nil {
				lastErr = err
				continue
			}
			if slices.ContainsFunc(res, func(s promSample) bool { return !math.IsNaN(s.float()) }) {
				return true, c, nil
			}
		}
		return false, "", lastErr
	}
	start := time.Now()
	deadline := start.Add(90 * time.Second)
	total := len(todo)
	for len(todo) > 0 && time.Now().Before(deadline) {
		var left []pending
		for _, x := range todo {
			ok, c, err := answered(x.expr)
			if err != nil && strings.Contains(err.Error(), "unknown variables") {
				t.Fatalf("%s, panel %q, target %s: %v", x.dash, x.panel, x.ref, err)
			}
			if !ok {
				left = append(left, x)
				continue
			}
			if c != "" {
				t.Logf("%s %q %s: a value (check %s) after %s", x.dash, x.panel, x.ref, c, time.Since(start).Round(time.Second))
			}
		}
		todo = left
		if len(todo) > 0 {
			time.Sleep(time.Second)
		}
	}
	for _, x := range todo {
		t.Errorf("%s, panel %q, target %s: no value after 90s from\n%s", x.dash, x.panel, x.ref, x.expr)
	}
	t.Logf("%d targets of 2 dashboards answered within %s", total-len(todo), time.Since(start).Round(time.Second))
	if t.Failed() {
		t.Logf("prometheus log:\n%s", promLog.String())
		return
	}

	// What the overview shows agrees with what happened: the status grid
	// names each check's component (private ones as such) and its status;
	// the link failures are counted by kind; the broken receiver's
	// deliveries were retried and dead-lettered; the other's were sent.
	overview := readDashboard(t, "overview.json")
	grid := ""
	for _, p := range overview.queryPanels() {
		if p.Title == "Status by component" {
			grid = p.Targets[0].Expr
		}
	}
	res, err := query(grid)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range res {
		got[s.Metric["check"]] = fmt.Sprintf("%s=%v", s.Metric["component"], s.float())
	}
	for check, want := range map[string]string{
		"usage_meters_connectivity":  "Usage metering=0",
		"targeting_rollup_freshness": "Targeting=2",
		"site_links":                 "(private)=2",
	} {
		if got[check] != want {
			t.Errorf("status grid: %s is %q, want %q (all: %v)", check, got[check], want, got)
		}
	}
	for q, want := range map[string]float64{
		`monitor_link_failures{check="site_links", reason="http_status"}`:              1,
		`monitor_link_failures{check="site_links", reason="connect"}`:                  1,
		`monitor_freshness_critical_age_seconds{check="redirect_analytics_freshness"}`: 3600,
		`monitor_freshness_max_age_seconds{check="targeting_rollup_freshness"}`:        900,
	} {
		if res := waitQuery(t, query, promLog, q, 10*time.Second); res[0].float() != want {
			t.Errorf("%s = %v, want %v", q, res[0].float(), want)
		}
	}
	for _, q := range []string{
		`monitor_notifications_dead_letters{receiver="broken"} >= 1`,
		`monitor_notifications_total{receiver="broken", outcome="retried"} >= 1`,
		`monitor_notifications_total{receiver="ops", outcome="sent"} >= 1`,
		`monitor_notifications_dead_letters{receiver="ops"} == 0`,
		`monitor_escalations_open{severity="HIGH"} == 1`,
	} {
		waitQuery(t, query, promLog, q, 30*time.Second)
	}

	// And /metrics, new series included, passes promtool.
	resp, err := http.Get(p.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
