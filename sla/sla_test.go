package sla

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/store"
)

const eps = 1e-9

func near(a, b float64) bool { return math.Abs(a-b) < eps || (math.IsInf(a, 0) && a == b) }

func TestCompute(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		target                 float64
		sli                    SLI
		b                      store.Bucket
		ratio, remaining, burn float64
		known, bad             int64
	}{
		{name: "exactly on budget", target: 0.99,
			b:     store.Bucket{Good: 990, Bad: 10, Unknown: 5, Maintenance: 20},
			ratio: 0.99, remaining: 0, burn: 1, known: 1000, bad: 10},
		{name: "overspent tenfold", target: 0.999,
			b:     store.Bucket{Good: 990, Bad: 10},
			ratio: 0.99, remaining: -9, burn: 10, known: 1000, bad: 10},
		{name: "a quarter spent", target: 0.99,
			b:     store.Bucket{Good: 3990, Bad: 10, Unknown: 400},
			ratio: 0.9975, remaining: 0.75, burn: 0.25, known: 4000, bad: 10},
		{name: "unknown and maintenance only", target: 0.99,
			b:     store.Bucket{Unknown: 7, Maintenance: 3},
			ratio: math.NaN(), remaining: 1, burn: 0},
		{name: "within SLA", target: 0.95, sli: WithinSLA,
			b:     store.Bucket{Good: 80, Bad: 20, WithinSLA: 97},
			ratio: 0.97, remaining: 0.4, burn: 0.6, known: 100, bad: 3},
		{name: "100 % objective broken", target: 1,
			b:     store.Bucket{Good: 99, Bad: 1},
			ratio: 0.99, remaining: math.Inf(-1), burn: math.Inf(1), known: 100, bad: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := Compute(Objective{Target: tc.target, SLI: tc.sli}, tc.b, time.Hour)
			if math.IsNaN(tc.ratio) != math.IsNaN(f.Ratio) || (!math.IsNaN(tc.ratio) && !near(f.Ratio, tc.ratio)) {
				t.Errorf("ratio = %v, want %v", f.Ratio, tc.ratio)
			}
			if !near(f.BudgetRemaining, tc.remaining) {
				t.Errorf("budget remaining = %v, want %v", f.BudgetRemaining, tc.remaining)
			}
			if !near(f.BurnRate, tc.burn) {
				t.Errorf("burn rate = %v, want %v", f.BurnRate, tc.burn)
			}
			if f.Known != tc.known || f.Bad != tc.bad {
				t.Errorf("known/bad = %d/%d, want %d/%d", f.Known, f.Bad, tc.known, tc.bad)
			}
		})
	}
}

func TestBurnAlerts(t *testing.T) {
	page := BurnAlerts[0] // 14.4 over 1h and 5m
	fig := func(burn float64) Figures { return Figures{BurnRate: burn} }
	for _, tc := range []struct {
		long, short float64
		firing      bool
	}{
		{15, 20, true},
		{15, 10, false}, // the short window has recovered: no page
		{10, 20, false}, // a blip: not enough budget spent over the hour
		{14.4, 14.4, false},
	} {
		if s := page.Evaluate("c", fig(tc.long), fig(tc.short)); s.Firing != tc.firing {
			t.Errorf("long %v short %v: firing = %v, want %v", tc.long, tc.short, s.Firing, tc.firing)
		}
	}
	want := []struct {
		sev         string
		long, short time.Duration
		factor      float64
	}{
		{"page", time.Hour, 5 * time.Minute, 14.4}, {"page", 6 * time.Hour, 30 * time.Minute, 6},
		{"ticket", 24 * time.Hour, 2 * time.Hour, 3}, {"ticket", 72 * time.Hour, 6 * time.Hour, 1},
	}
	for i, w := range want {
		a := BurnAlerts[i]
		if a.Severity != w.sev || a.Long != w.long || a.Short != w.short || a.Factor != w.factor {
			t.Errorf("BurnAlerts[%d] = %+v, want %+v", i, a, w)
		}
	}
}

// TestWindows: an objective gets figures over its burn-rate windows, scaled
// with its own window, the report windows and its own window.
func TestWindows(t *testing.T) {
	for _, tc := range []struct {
		window time.Duration
		want   string
	}{
		{30 * 24 * time.Hour, "5m 30m 1h 2h 6h 1d 3d 7d 30d"},
		{28 * 24 * time.Hour, "5m 28m 56m 1h 112m 336m 6h 1344m 1d 4032m 3d 7d 28d 30d"},
		{7 * 24 * time.Hour, "1m 7m 14m 28m 1h 84m 336m 6h 1008m 1d 3d 7d 30d"},
	} {
		var s []string
		for _, w := range Windows(Objective{Window: tc.window}) {
			s = append(s, FormatWindow(w))
		}
		if j := strings.Join(s, " "); j != tc.want {
			t.Errorf("%s: Windows = %s, want %s", FormatWindow(tc.window), j, tc.want)
		}
	}
}

// TestTallyEdgesAndMaintenance builds two hours of one-minute results by
// hand and counts them as an operator would.
func TestTallyEdgesAndMaintenance(t *testing.T) {
	t0 := time.Date(2026, 10, 1, 10, 0, 0, 0, time.UTC)
	maint := []Maintenance{{Checks: []string{"api"}, Start: t0.Add(60 * time.Minute), End: t0.Add(75 * time.Minute)}}
	var recs []store.Record
	for i := range 120 {
		at := t0.Add(time.Duration(i) * time.Minute)
		st := check.Pass
		switch {
		case i >= 30 && i < 40: // a 10-minute outage
			st = check.Fail
		case i >= 60 && i < 75: // failing, but during maintenance
			st = check.Fail
		case i == 50 || i == 51:
			st = check.Unknown
		}
		v := float64(i)
		recs = append(recs, store.Record{
			Result:      check.Result{Check: "api", Status: st, CheckedAt: at, ObservedValue: &v},
			Maintenance: InMaintenance(maint, "api", "", at),
			WithinSLA:   st == check.Pass,
		})
	}
	first := Tally(recs, t0, t0.Add(time.Hour)) // [10:00, 11:00)
	if first.Runs != 60 || first.Good != 48 || first.Bad != 10 || first.Unknown != 2 || first.Maintenance != 0 {
		t.Fatalf("first hour = %+v", first)
	}
	if first.Min != 0 || first.Max != 59 || !near(first.Avg, 29.5) {
		t.Fatalf("first hour values min/avg/max = %v/%v/%v", first.Min, first.Avg, first.Max)
	}
	second := Tally(recs, t0.Add(time.Hour), t0.Add(2*time.Hour)) // 11:00 is in, 12:00 is not
	if second.Runs != 60 || second.Maintenance != 15 || second.Bad != 0 || second.Good != 45 {
		t.Fatalf("second hour = %+v", second)
	}
	// 99 % over both hours: 10 bad of 103 known.
	f := Compute(Objective{Target: 0.99}, Tally(recs, t0, t0.Add(2*time.Hour)), 2*time.Hour)
	if f.Known != 103 || f.Bad != 10 || !near(f.Ratio, 93.0/103) {
		t.Fatalf("two hours: %+v", f)
	}
}
