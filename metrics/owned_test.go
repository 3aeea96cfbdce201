package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/monitor-dev/monitor/check"
)

// In cluster mode a replica exports the state of the checks it owns only,
// and its own run counts of every check (0 for one it never ran).
func TestSetOwnedFiltersState(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)
	specs := []check.Spec{
		{Name: "mine", Kind: "http", Interval: 30 * time.Second, Timeout: 5 * time.Second},
		{Name: "theirs", Kind: "http", Interval: 30 * time.Second, Timeout: 5 * time.Second},
	}
	snap, m := newTestMetrics(now, specs)
	m.SetOwned(func(name string) bool { return name == "mine" })
	m.Observe(snap.Record(check.Result{Check: "mine", Kind: "http", Status: check.Pass, Severity: check.Info, CheckedAt: now}))
	snap.Record(check.Result{Check: "theirs", Kind: "http", Status: check.Fail, Severity: check.Warn, CheckedAt: now}) // fed by another replica
	lint(t, m)
	want := `
# HELP monitor_check_runs_total Check runs by the status they ended with.
# TYPE monitor_check_runs_total counter
monitor_check_runs_total{check="mine",status="FAIL"} 0
monitor_check_runs_total{check="mine",status="PASS"} 1
monitor_check_runs_total{check="mine",status="UNKNOWN"} 0
monitor_check_runs_total{check="theirs",status="FAIL"} 0
monitor_check_runs_total{check="theirs",status="PASS"} 0
monitor_check_runs_total{check="theirs",status="UNKNOWN"} 0
# HELP monitor_check_status Current status of a check: 1 for the current status, 0 for the others.
# TYPE monitor_check_status gauge
monitor_check_status{check="mine",status="FAIL"} 0
monitor_check_status{check="mine",status="PASS"} 1
monitor_check_status{check="mine",status="UNKNOWN"} 0
`
	if err := testutil.GatherAndCompare(m, strings.NewReader(want), "monitor_check_status", "monitor_check_runs_total"); err != nil {
		t.Error(err)
	}
	m.SetOwned(nil)
	if n, err := testutil.GatherAndCount(m, "monitor_check_status"); err != nil || n != 6 {
		t.Errorf("monitor_check_status series without SetOwned = %d (%v), want 6", n, err)
	}
}
