package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/monitor-dev/monitor/check"
)

// A db check with headroom exports the connections it read, by state, and
// the limit; a db check without headroom, or one whose last run read none
// (the database was down), exports neither.
func TestDBConnectionSeries(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)
	specs := []check.Spec{
		{Name: "pg", Kind: "db", Interval: 30 * time.Second, Timeout: 5 * time.Second},
		{Name: "maria", Kind: "db", Interval: 30 * time.Second, Timeout: 5 * time.Second},
		{Name: "plain", Kind: "db", Interval: 30 * time.Second, Timeout: 5 * time.Second},
		{Name: "down", Kind: "db", Interval: 30 * time.Second, Timeout: 5 * time.Second},
	}
	snap, m := newTestMetrics(now, specs)
	at := now.Add(-5 * time.Second)
	for _, r := range []check.Result{
		{Check: "pg", Kind: "db", Status: check.Fail, Severity: check.Warn, CheckedAt: at,
			Message: "connections 172/197 in use (87%), warn at 80%", Reason: check.ReasonHeadroom,
			Connections: &check.DBConnections{Max: 197, ByState: map[string]int{
				"active": 12, "idle": 150, "idle in transaction": 10, "idle in transaction (aborted)": 0}}},
		{Check: "maria", Kind: "db", Status: check.Pass, Severity: check.Info, CheckedAt: at,
			Connections: &check.DBConnections{Max: 151, ByState: map[string]int{"running": 2, "idle": 9}}},
		{Check: "plain", Kind: "db", Status: check.Pass, Severity: check.Info, CheckedAt: at},
		{Check: "down", Kind: "db", Status: check.Fail, Severity: check.Critical, CheckedAt: at,
			Message: "connect: connection refused"},
	} {
		m.Observe(snap.Record(r))
	}

	lint(t, m)
	want := `
# HELP monitor_db_connections Connections in use on the server of a db check with headroom, by state.
# TYPE monitor_db_connections gauge
monitor_db_connections{check="maria",state="idle"} 9
monitor_db_connections{check="maria",state="running"} 2
monitor_db_connections{check="pg",state="active"} 12
monitor_db_connections{check="pg",state="idle"} 150
monitor_db_connections{check="pg",state="idle in transaction"} 10
monitor_db_connections{check="pg",state="idle in transaction (aborted)"} 0
# HELP monitor_db_max_connections Connection limit a db check's headroom is measured against (the slots ordinary roles may use, or the check's override).
# TYPE monitor_db_max_connections gauge
monitor_db_max_connections{check="maria"} 151
monitor_db_max_connections{check="pg"} 197
`
	if err := testutil.GatherAndCompare(m, strings.NewReader(want),
		"monitor_db_connections", "monitor_db_max_connections"); err != nil {
		t.Error(err)
	}
}
