package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/internal/testenv"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/store"
)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, name, got)
}

// TestSLAReportGolden is `monitor sla report --month 2026-10` in its three
// formats, on two checks with hourly history written through the store
// API: api_db (99 %, two outages of 2h and 1h, 3 UNKNOWN runs, 2 FAIL runs
// in a maintenance window) and orders_fresh (within_sla 99.9 %, within its
// age limit except for 1 run while still PASS). A calendar month is a fixed
// range: the output does not depend on the day the test runs.
func TestSLAReportGolden(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "monitor.db")
	cfgPath := filepath.Join(dir, "config.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`storage:
  dsn: "sqlite://%s"
  retention: 400d
databases:
  app: { dsn: "sqlite://%s" }
checks:
  - name: api_db
    kind: db
    database: app
  - name: orders_fresh
    kind: freshness
    source: { heartbeat: true }
    max_age: 1h
slos:
  - check: api_db
    objective: 99
    window: 30d
  - check: orders_fresh
    objective: 99.9
    window: 30d
    sli: within_sla
`, dbPath, filepath.Join(dir, "app.db")))

	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+dbPath, store.Options{Retention: 400 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	var recs []store.Record
	for i := range 31 * 24 {
		at := start.Add(time.Duration(i) * time.Hour)
		r := store.Record{Result: check.Result{Check: "api_db", Kind: "db", Status: check.Pass,
			Severity: check.Info, CheckedAt: at, Message: "ok", Duration: 10 * time.Millisecond}}
		switch {
		case i >= 50 && i < 52, i == 400:
			r.Status, r.Severity, r.Message = check.Fail, check.Critical, "connect: connection refused"
		case i >= 600 && i < 603:
			r.Status, r.Severity, r.Message = check.Unknown, check.Warn, "timeout"
		case i >= 700 && i < 702:
			r.Status, r.Severity, r.Maintenance = check.Fail, check.Critical, true
		}
		r.WithinSLA = r.Status == check.Pass
		r.Down = sla.Down(r)
		recs = append(recs, r)

		age := 60.0
		f := store.Record{Result: check.Result{Check: "orders_fresh", Kind: "freshness", Status: check.Pass,
			Severity: check.Info, CheckedAt: at, Message: "fresh", ObservedValue: &age, ObservedUnit: "s"}, WithinSLA: true}
		if i == 300 {
			f.WithinSLA = false
		}
		recs = append(recs, f)
	}
	if err := st.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ format, file string }{
		{"table", "sla-report.golden.txt"},
		{"json", "sla-report.golden.json"},
		{"csv", "sla-report.golden.csv"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			code, out, errOut := runMain(t, "sla", "report", "--config", cfgPath, "--month", "2026-10", "--format", tc.format)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden(t, tc.file, []byte(out))
		})
	}
}
