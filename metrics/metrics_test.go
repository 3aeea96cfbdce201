package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/snapshot"
)

func TestStateSetsAndLint(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)
	specs := []check.Spec{
		{Name: "conn", Kind: "db", Interval: 30 * time.Second, Timeout: 5 * time.Second},
		{Name: "fresh", Kind: "freshness", Interval: 30 * time.Second, Timeout: 5 * time.Second,
			DependsOn: []string{"conn"}},
		{Name: "later", Kind: "db", Interval: 30 * time.Second, Timeout: 5 * time.Second},
	}
	snap, m := newTestMetrics(now, specs)

	conn := snap.Record(check.Result{Check: "conn", Kind: "db", Status: check.Fail, Severity: check.Critical,
		CheckedAt: now.Add(-10 * time.Second), Duration: 30 * time.Millisecond})
	m.Observe(conn)
	fresh := snap.Record(check.Result{Check: "fresh", Kind: "freshness", Status: check.Pass, Severity: check.Info,
		CheckedAt: now.Add(-10 * time.Second), NewestAt: now.Add(-17 * time.Minute)})
	m.Observe(fresh)

	lint(t, m)

	want := `
# HELP monitor_check_status Current status of a check: 1 for the current status, 0 for the others.
# TYPE monitor_check_status gauge
monitor_check_status{check="conn",status="FAIL"} 1
monitor_check_status{check="conn",status="PASS"} 0
monitor_check_status{check="conn",status="UNKNOWN"} 0
monitor_check_status{check="fresh",status="FAIL"} 0
monitor_check_status{check="fresh",status="PASS"} 0
monitor_check_status{check="fresh",status="UNKNOWN"} 1
monitor_check_status{check="later",status="FAIL"} 0
monitor_check_status{check="later",status="PASS"} 0
monitor_check_status{check="later",status="UNKNOWN"} 1
# HELP monitor_freshness_age_seconds Age of the newest record a freshness check saw, as of this scrape.
# TYPE monitor_freshness_age_seconds gauge
monitor_freshness_age_seconds{check="fresh"} 1020
# HELP monitor_check_runs_total Check runs by the status they ended with.
# TYPE monitor_check_runs_total counter
monitor_check_runs_total{check="conn",status="FAIL"} 1
monitor_check_runs_total{check="conn",status="PASS"} 0
monitor_check_runs_total{check="conn",status="UNKNOWN"} 0
monitor_check_runs_total{check="fresh",status="FAIL"} 0
monitor_check_runs_total{check="fresh",status="PASS"} 0
monitor_check_runs_total{check="fresh",status="UNKNOWN"} 1
monitor_check_runs_total{check="later",status="FAIL"} 0
monitor_check_runs_total{check="later",status="PASS"} 0
monitor_check_runs_total{check="later",status="UNKNOWN"} 0
`
	// fresh saw a fresh row, but its parent is failing: it reads and
	// counts as UNKNOWN; its age is still exported.
	if err := testutil.GatherAndCompare(m, strings.NewReader(want),
		"monitor_check_status", "monitor_freshness_age_seconds", "monitor_check_runs_total"); err != nil {
		t.Error(err)
	}
}

// newTestMetrics returns a snapshot of specs whose clock stands at now, and
// the Metrics (a prometheus.Gatherer) that declares them.
func newTestMetrics(now time.Time, specs []check.Spec) (*snapshot.Snapshot, *Metrics) {
	snap := snapshot.New(specs, func() time.Time { return now })
	m := New(snap)
	m.SetChecks(specs)
	return snap, m
}

// lint fails t with every problem Prometheus' metrics linter finds in what
// m exports.
func lint(t *testing.T, m *Metrics) {
	t.Helper()
	problems, err := testutil.GatherAndLint(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
