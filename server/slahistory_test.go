package server

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/monitor-dev/monitor/internal/testenv"
	"path/filepath"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/store"
)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, name, got)
}

// indent re-indents a JSON body for a readable golden file.
func indent(t *testing.T, body []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, body, "", "  "); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
	return append(b.Bytes(), '\n')
}

// slaFixture is a fixture with a real SQLite store holding two days of
// "conn" runs, one every 10 minutes (288 runs), written through the store
// API: in the last two hours every other run FAILed (6 of 12), the run 3h
// ago FAILed inside a maintenance window, and the run 4h ago was UNKNOWN.
// "conn" has a 99 % availability SLO over 30 days, evaluated at `at`.
func slaFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "h.db"), store.Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var recs []store.Record
	for ts := at.Add(-48 * time.Hour); ts.Before(at); ts = ts.Add(10 * time.Minute) {
		r := store.Record{Result: check.Result{Check: "conn", Kind: "db", Status: check.Pass,
			Severity: check.Info, Message: "ok", CheckedAt: ts, Duration: 20 * time.Millisecond}}
		switch ago := at.Sub(ts); {
		case ago <= 2*time.Hour && ago/(10*time.Minute)%2 == 0:
			r.Status, r.Severity, r.Message = check.Fail, check.Critical, "connect: connection refused"
		case ago == 3*time.Hour:
			r.Status, r.Severity, r.Maintenance = check.Fail, check.Critical, true
		case ago == 4*time.Hour:
			r.Status, r.Severity = check.Unknown, check.Warn
		}
		r.WithinSLA = r.Status == check.Pass
		recs = append(recs, r)
	}
	if err := st.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := st.Compact(ctx, at); err != nil {
		t.Fatal(err)
	}
	ev := sla.NewEvaluator(st, []sla.Objective{{Check: "conn", Target: 0.99, Window: 30 * 24 * time.Hour}},
		func() time.Time { return at }, nil)
	if err := ev.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	f.s.SetHistory(st, ev)
	return f
}

// TestSLAEndpoint reads GET /v2/sla as a user does: the 30-day figures of
// the one SLO, hand-computed from the fixture, then the whole body against
// its golden file.
func TestSLAEndpoint(t *testing.T) {
	f := slaFixture(t)
	resp, body := f.do(t, "GET", "/v2/sla", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v2/sla: %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var out struct {
		SLOs []struct {
			Check           string   `json:"check"`
			SLI             string   `json:"sli"`
			Objective       float64  `json:"objective"`
			Window          string   `json:"window"`
			Availability    *float64 `json:"availability"`
			Met             bool     `json:"met"`
			BudgetRemaining float64  `json:"errorBudgetRemaining"`
			BudgetUsed      float64  `json:"errorBudgetUsed"`
			EvaluatedAt     string   `json:"evaluatedAt"`
			Windows         []struct {
				Window                           string
				Availability                     *float64
				Known, Bad, Unknown, Maintenance int64
			} `json:"windows"`
			Alerts []struct {
				Severity   string `json:"severity"`
				LongWindow string `json:"longWindow"`
				Firing     bool   `json:"firing"`
			} `json:"burnRateAlerts"`
		} `json:"slos"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if len(out.SLOs) != 1 {
		t.Fatalf("%d SLOs, want 1: %s", len(out.SLOs), body)
	}
	s := out.SLOs[0]
	// 288 runs: 1 UNKNOWN and 1 in maintenance left out, 6 of the 286
	// known are bad: availability 280/286, a budget of 1 % of 286 = 2.86
	// bad runs, of which 6 are spent (used 2.098, remaining -1.098).
	const avail = 280.0 / 286
	if s.Check != "conn" || s.SLI != "availability" || s.Objective != 99 || s.Window != "30d" ||
		s.EvaluatedAt != "2026-11-21T10:30:00Z" {
		t.Errorf("SLO = %s %s %v %s at %s, want conn availability 99 30d at 2026-11-21T10:30:00Z",
			s.Check, s.SLI, s.Objective, s.Window, s.EvaluatedAt)
	}
	if s.Availability == nil || !near(*s.Availability, avail) || s.Met {
		t.Errorf("availability %v met %v, want %.6f and not met", s.Availability, s.Met, avail)
	}
	if !near(s.BudgetUsed, (1-avail)/0.01) || !near(s.BudgetRemaining, 1-(1-avail)/0.01) {
		t.Errorf("budget used %v remaining %v, want %.4f and %.4f", s.BudgetUsed, s.BudgetRemaining,
			(1-avail)/0.01, 1-(1-avail)/0.01)
	}
	for _, w := range s.Windows {
		if w.Window == "30d" && (w.Known != 286 || w.Bad != 6 || w.Unknown != 1 || w.Maintenance != 1) {
			t.Errorf("30d window: known %d bad %d unknown %d maintenance %d, want 286 6 1 1",
				w.Known, w.Bad, w.Unknown, w.Maintenance)
		}
		if w.Window == "1h" && (w.Known != 6 || w.Bad != 3) {
			t.Errorf("1h window: known %d bad %d, want 6 and 3", w.Known, w.Bad)
		}
	}
	// 1h/5m: no run in the last 5 minutes, so not firing; 6h/30m: 6 of 34
	// known bad over 6h (burn 17.6 > 6) and 1 of 3 over 30m: firing.
	firing := map[string]bool{}
	for _, a := range s.Alerts {
		firing[a.Severity+" "+a.LongWindow] = a.Firing
	}
	if firing["page 1h"] || !firing["page 6h"] {
		t.Errorf("burn-rate alerts %+v, want page 6h firing and page 1h not (no run in its 5m window)", s.Alerts)
	}
	golden(t, "sla.golden.json", indent(t, body))
}

// TestSLAEndpointWithoutObjectives: no store and no SLOs is an empty list,
// not null and not an error.
func TestSLAEndpointWithoutObjectives(t *testing.T) {
	f := newFixture(t)
	resp, body := f.do(t, "GET", "/v2/sla", nil)
	if resp.StatusCode != 200 || string(body) != "{\"slos\":[]}\n" && string(body) != `{"slos":[]}` {
		t.Fatalf("GET /v2/sla without SLOs: %d %s, want 200 {\"slos\":[]}", resp.StatusCode, body)
	}
}

// TestCheckHistoryEndpoint reads the fixture's last six hours by the hour.
func TestCheckHistoryEndpoint(t *testing.T) {
	f := slaFixture(t)
	resp, body := f.do(t, "GET", "/v2/checks/conn/history?since=6h&step=1h", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("history: %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var out struct {
		Check, From, To, Step string
		Points                []struct {
			Time                                  string
			Runs, Good, Bad, Unknown, Maintenance int64
			Uptime, Min, Avg, Max                 *float64
		}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if out.Check != "conn" || out.From != "2026-11-21T04:00:00Z" || out.To != "2026-11-21T10:30:00Z" || out.Step != "1h" {
		t.Errorf("check %s from %s to %s step %s, want conn from 04:00 (6h back, truncated to the hour) to 10:30 step 1h",
			out.Check, out.From, out.To, out.Step)
	}
	byTime := map[string]int{}
	for i, p := range out.Points {
		byTime[p.Time] = i
	}
	want := []struct {
		at                                    string
		runs, good, bad, unknown, maintenance int64
		uptime                                float64
	}{
		{"2026-11-21T06:00:00Z", 6, 5, 0, 1, 0, 1},       // 06:30 UNKNOWN
		{"2026-11-21T07:00:00Z", 6, 5, 0, 0, 1, 1},       // 07:30 FAIL in maintenance
		{"2026-11-21T08:00:00Z", 6, 4, 2, 0, 0, 4.0 / 6}, // 08:30 and 08:50 FAIL
		{"2026-11-21T09:00:00Z", 6, 3, 3, 0, 0, 0.5},     // 09:10, 09:30, 09:50
		{"2026-11-21T10:00:00Z", 3, 2, 1, 0, 0, 2.0 / 3}, // 10:10 of 10:00, 10:10, 10:20
	}
	for _, w := range want {
		i, ok := byTime[w.at]
		if !ok {
			t.Errorf("no point at %s: %s", w.at, body)
			continue
		}
		p := out.Points[i]
		if p.Runs != w.runs || p.Good != w.good || p.Bad != w.bad || p.Unknown != w.unknown ||
			p.Maintenance != w.maintenance || p.Uptime == nil || !near(*p.Uptime, w.uptime) {
			t.Errorf("point %s = %d runs %d good %d bad %d unknown %d maintenance uptime %v, want %+v",
				w.at, p.Runs, p.Good, p.Bad, p.Unknown, p.Maintenance, p.Uptime, w)
		}
	}
	golden(t, "history.golden.json", indent(t, body))
}

// TestCheckHistoryErrors: bad parameters and unknown checks answer with the
// contract's error envelope.
func TestCheckHistoryErrors(t *testing.T) {
	f := slaFixture(t)
	for _, tc := range []struct {
		name, path string
		status     int
		code       string
		detail     string
	}{
		{"unknown check", "/v2/checks/nope/history", 404, CodeNotFound, ""},
		{"since not a duration", "/v2/checks/conn/history?since=yesterday", 400, CodeInvalidRequest, "since"},
		{"since negative", "/v2/checks/conn/history?since=-1h", 400, CodeInvalidRequest, "since"},
		{"since in the future", "/v2/checks/conn/history?since=2027-01-01T00:00:00Z", 400, CodeInvalidRequest, "since"},
		{"step not a duration", "/v2/checks/conn/history?step=often", 400, CodeInvalidRequest, "step"},
		{"step under a minute", "/v2/checks/conn/history?step=30s", 400, CodeInvalidRequest, "step"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.do(t, "GET", tc.path, nil)
			assertEnvelope(t, resp, body, tc.status, tc.code)
			var env struct {
				Details map[string]any `json:"details"`
			}
			_ = json.Unmarshal(body, &env)
			if tc.detail != "" {
				if _, ok := env.Details[tc.detail]; !ok {
					t.Errorf("details %v do not name %q", env.Details, tc.detail)
				}
			}
		})
	}
	// No history store configured: a 404 envelope, not a panic.
	g := newFixture(t)
	resp, body := g.do(t, "GET", "/v2/checks/conn/history", nil)
	assertEnvelope(t, resp, body, 404, CodeNotFound)
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// TestSLAEndpointNoDataIsNotMet: an SLO whose check has no run in its
// window reads availability null and met null, as `sla report` says "no
// data"; it said met true before.
func TestSLAEndpointNoDataIsNotMet(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "h.db"), store.Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ev := sla.NewEvaluator(st, []sla.Objective{{Check: "conn", Target: 0.99, Window: 30 * 24 * time.Hour}},
		func() time.Time { return at }, nil)
	if err := ev.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	f.s.SetHistory(st, ev)
	resp, body := f.do(t, "GET", "/v2/sla", nil)
	var got struct {
		SLOs []map[string]any `json:"slos"`
	}
	if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 || len(got.SLOs) != 1 {
		t.Fatalf("GET /v2/sla: %d %s (%v)", resp.StatusCode, body, err)
	}
	if m, ok := got.SLOs[0]["met"]; !ok || m != nil {
		t.Errorf("met = %v (present %v), want null for a window without data", m, ok)
	}
	if a, ok := got.SLOs[0]["availability"]; !ok || a != nil {
		t.Errorf("availability = %v, want null", a)
	}
}
