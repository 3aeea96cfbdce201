package main

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/internal/testenv"
)

// grafanaClusterConfig is one replica's config for TestE2EGrafanaCluster:
// the shared PostgreSQL store, cluster mode with the shortest lease, and
// grafanaClusterChecks db checks every second on the same database.
const grafanaClusterConfig = `server:
  listen: "%s"
storage:
  dsn: "%s"
cluster:
  enabled: true
  lease_ttl: 3s
databases:
  pg: { dsn: "%s" }
defaults: { interval: 1s, timeout: 500ms }
checks:
%s`

// grafanaClusterChecks is how many checks TestE2EGrafanaCluster's
// replicas share.
const grafanaClusterChecks = 8

// clusterTarget reports whether a dashboard target reads the cluster
// families (monitor_cluster_*), which only replicas in cluster mode export.
func clusterTarget(expr string) bool { return strings.Contains(expr, "monitor_cluster_") }

// TestE2EGrafanaCluster runs two replicas in cluster mode on one
// PostgreSQL store, scraped by a real Prometheus, and reads the
// dashboards as a user of a multi-replica deployment would: every target
// of the cluster panels returns a value (2 members, one leader, the owned
// checks adding up to every check), the status grid shows each check once
// although both replicas export state series over time, and a check's
// runs by status count each run once (one run a second, not one per
// replica).
func TestE2EGrafanaCluster(t *testing.T) {
	t.Parallel()
	needTool(t, "prometheus", "prometheus")
	dsn := testenv.PostgresSchema(t)
	var checkLines strings.Builder
	var checks []string
	for i := range grafanaClusterChecks {
		name := fmt.Sprintf("g%02d", i)
		checks = append(checks, name)
		fmt.Fprintf(&checkLines, "  - { name: %s, kind: db, database: pg, query: SELECT 1 }\n", name)
	}
	var targets []string
	for range 2 {
		dir := t.TempDir()
		cfgPath := filepath.Join(dir, "config.yaml")
		p := startMonitor(t, dir, func(listen string) (string, string) {
			return cfgPath, fmt.Sprintf(grafanaClusterConfig, listen, dsn, dsn, checkLines.String())
		}, []string{"--config", cfgPath})
		targets = append(targets, strings.TrimPrefix(p.base, "http://"))
	}
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "rules.yml")
	writeFile(t, rulesPath, "groups: []\n")
	query, promLog := startPrometheus(t, dir, rulesPath, targets...)

	// Ownership settles as Prometheus sees it: both replicas hear each
	// other and hold every check between them.
	waitQuery(t, query, promLog, fmt.Sprintf(`min(monitor_cluster_members) == 2 and sum(monitor_cluster_owned_checks) == %d and min(monitor_cluster_owned_checks) > 0`, grafanaClusterChecks), 60*time.Second)

	// Every target of the cluster panels returns a value.
	var n int
	for name := range dashboardFiles {
		for _, panel := range readDashboard(t, name).queryPanels() {
			for _, tg := range panel.Targets {
				if !clusterTarget(tg.Expr) {
					continue
				}
				n++
				q, err := substitute(tg.Expr, checks[0])
				if err != nil {
					t.Fatalf("%s, panel %q, target %s: %v", name, panel.Title, tg.RefID, err)
				}
				res := waitQuery(t, query, promLog, q, 30*time.Second)
				if slices.ContainsFunc(res, func(s promSample) bool { return math.IsNaN(s.float()) }) {
					t.Errorf("%s, panel %q, target %s: NaN in %v", name, panel.Title, tg.RefID, res)
				}
				if panel.Title == "Leader" && len(res) != 1 {
					t.Errorf("panel Leader shows %d replicas, want 1: %v", len(res), res)
				}
			}
		}
	}
	if n < 3 {
		t.Fatalf("only %d cluster targets in the dashboards: want members, owned checks per replica, leader", n)
	}
	if res := waitQuery(t, query, promLog, "min(monitor_cluster_members)", 5*time.Second); res[0].float() != 2 {
		t.Errorf("members = %v, want 2", res[0].float())
	}

	// The status grid lists each check once, across the two replicas.
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
	var shown []string
	for _, s := range res {
		shown = append(shown, s.Metric["check"])
	}
	slices.Sort(shown)
	if !slices.Equal(shown, checks) {
		t.Errorf("status grid shows %v, want each of %v once", shown, checks)
	}

	// A check's runs by status: about one run a second (interval 1s), not
	// one per replica.
	var runs string
	for _, p := range readDashboard(t, "check.json").queryPanels() {
		if p.Title == "Runs by status" {
			runs = p.Targets[0].Expr
		}
	}
	q, err := substitute(strings.ReplaceAll(runs, "[$__rate_interval]", "[15s]"), checks[0])
	if err != nil {
		t.Fatal(err)
	}
	q = "sum(" + q + ")"
	var got float64
	for deadline := time.Now().Add(60 * time.Second); ; {
		res, err := query(q)
		if err == nil && len(res) == 1 {
			got = res[0].float()
			if got > 0.6 && got < 1.4 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v runs/s (%v), want ≈ 1: each run counted once\nprometheus log:\n%s", q, got, err, promLog)
		}
		time.Sleep(time.Second)
	}
}
