package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/store"
)

// TestSLAReport writes a month of history for one check by hand and reads
// it back through `monitor sla report` as an operator would.
func TestSLAReport(t *testing.T) {
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
slos:
  - check: api_db
    objective: 99
    window: 30d
`, dbPath, filepath.Join(dir, "app.db")))

	// October 2026, one run every 10 minutes (4,464 runs): two outages of
	// 30 and 60 minutes (3 + 6 FAIL runs), 5 UNKNOWN runs.
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+dbPath, store.Options{Retention: 400 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	var recs []store.Record
	for i := range 31 * 24 * 6 {
		at := start.Add(time.Duration(i) * 10 * time.Minute)
		status := check.Pass
		switch {
		case i >= 100 && i < 103, i >= 2000 && i < 2006:
			status = check.Fail
		case i >= 3000 && i < 3005:
			status = check.Unknown
		}
		recs = append(recs, sla.Stored(check.Result{Check: "api_db", Kind: "db", Status: status,
			Severity: check.Info, CheckedAt: at, Message: "m"}, check.Spec{Kind: "db"}, nil))
	}
	if err := st.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runMain(t, "sla", "report", "--config", cfgPath, "--month", "2026-10", "--format", "json")
	if code != 0 {
		t.Fatalf("sla report: exit %d: %s", code, errOut)
	}
	var rep struct {
		SLOs []struct {
			Check                    string
			Objective                float64
			Availability             *float64
			Met                      *bool
			BudgetUsed               float64
			Runs, Good, Bad, Unknown int64
			Incidents                int
			LongestOutageSeconds     float64
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(rep.SLOs) != 1 {
		t.Fatalf("slos = %+v", rep.SLOs)
	}
	r := rep.SLOs[0]
	// 4,464 runs, 9 bad, 5 unknown: availability 4450/4459, a ratio as in
	// GET /v2/sla.
	wantAvail := 4450.0 / 4459.0
	if r.Runs != 4464 || r.Good != 4450 || r.Bad != 9 || r.Unknown != 5 || r.Availability == nil ||
		fmt.Sprintf("%.6f", *r.Availability) != fmt.Sprintf("%.6f", wantAvail) {
		t.Fatalf("report = %+v (availability %v), want 4464 runs, 4450 good, 9 bad, 5 unknown, %.6f", r, deref(r.Availability), wantAvail)
	}
	// Budget: 1 % of 4,459 is 44.59 bad runs allowed; 9 used ≈ 20.2 %.
	if r.Met == nil || !*r.Met || fmt.Sprintf("%.4f", r.BudgetUsed) != fmt.Sprintf("%.4f", 9/44.59) {
		t.Errorf("met %v, budget used %v, want met and %.4f", r.Met, r.BudgetUsed, 9/44.59)
	}
	// Outages: FAIL from run 100 to the PASS at 103 (30m), 2000 → 2006 (60m).
	if r.Incidents != 2 || r.LongestOutageSeconds != 3600 {
		t.Errorf("incidents %d, longest %vs, want 2 and 3600", r.Incidents, r.LongestOutageSeconds)
	}

	code, out, _ = runMain(t, "sla", "report", "--config", cfgPath, "--month", "2026-10", "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(rows) != 2 || rows[0][0] != "check" || rows[1][0] != "api_db" || rows[1][5] != "true" ||
		rows[0][4] != "availability" || rows[1][4] != strconv.FormatFloat(wantAvail, 'f', -1, 64) {
		t.Fatalf("csv (availability as a ratio): exit %d, %v\n%s", code, err, out)
	}
	code, out, _ = runMain(t, "sla", "report", "--config", cfgPath, "--month", "2026-10")
	if code != 0 || !strings.Contains(out, "api_db") || !strings.Contains(out, "1h0m0s") ||
		!regexp.MustCompile(`(?m)^api_db\s+99%\s+99\.798%\s+yes\s`).MatchString(out) {
		t.Fatalf("table (availability in percent): exit %d\n%s", code, out)
	}

	// A month without any run: "no data", and neither met nor missed.
	code, out, _ = runMain(t, "sla", "report", "--config", cfgPath, "--month", "2026-09")
	if code != 0 || !regexp.MustCompile(`(?m)^api_db\s+99%\s+no data\s+-\s+-\s`).MatchString(out) || strings.Contains(out, "yes") {
		t.Errorf("table for a month without data: exit %d, want \"no data\" and met \"-\":\n%s", code, out)
	}
	code, out, _ = runMain(t, "sla", "report", "--config", cfgPath, "--month", "2026-09", "--format", "json")
	if code != 0 || !strings.Contains(out, `"availability": null`) || !strings.Contains(out, `"met": null`) {
		t.Errorf("json for a month without data: exit %d, want availability and met null:\n%s", code, out)
	}
	code, out, _ = runMain(t, "sla", "report", "--config", cfgPath, "--month", "2026-09", "--format", "csv")
	if rows, err := csv.NewReader(strings.NewReader(out)).ReadAll(); code != 0 || err != nil || len(rows) != 2 ||
		rows[1][4] != "" || rows[1][5] != "" {
		t.Errorf("csv for a month without data: exit %d, %v, want availability and met empty:\n%s", code, err, out)
	}
	// A window ending now: from and to in whole seconds, as the CSV and
	// the table print them.
	code, out, _ = runMain(t, "sla", "report", "--config", cfgPath, "--window", "1h", "--format", "json")
	if m := regexp.MustCompile(`"(from|to)": "[^"]*\.[0-9]+Z"`).FindString(out); code != 0 || m != "" {
		t.Errorf("json over --window 1h: exit %d, %s has a fraction of a second:\n%s", code, m, out)
	}
	for _, bad := range [][]string{
		{"sla", "report", "--config", cfgPath, "--month", "2026-13"},
		{"sla", "report", "--config", cfgPath, "--month", "2026-10", "--window", "30d"},
		{"sla", "report", "--config", cfgPath, "--format", "xml"},
		{"sla", "nope"},
	} {
		if code, _, _ := runMain(t, bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
