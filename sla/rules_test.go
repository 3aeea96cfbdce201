package sla

import (
	"context"
	"github.com/monitor-dev/monitor/internal/testenv"
	"regexp"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/store"
)

const day = 24 * time.Hour

// TestRules30dGolden: the rules of 30-day SLOs are the workbook's, byte
// for byte as before windows scaled with the SLO (the golden file was
// written by the code before that change).
func TestRules30dGolden(t *testing.T) {
	objs := []Objective{
		{Check: "app_db", Target: 0.999, Window: 30 * day},
		{Check: "orders_fresh", Target: 0.99, Window: 30 * day, SLI: WithinSLA},
	}
	got, err := Rules(objs, nil)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Golden(t, "rules-30d.yaml", got)
}

// TestBurnAlertsFor: the workbook's windows scale with the SLO's window
// (factors kept), rounded to whole minutes and at least one; fixtures
// computed by hand: 28d is 28/30 of the table, 7d 7/30, 1d 1/30.
func TestBurnAlertsFor(t *testing.T) {
	m := time.Minute
	type win struct{ long, short time.Duration }
	for _, tc := range []struct {
		name   string
		window time.Duration
		want   [4]win // page 14.4, page 6, ticket 3, ticket 1
	}{
		{"30d", 30 * day, [4]win{{time.Hour, 5 * m}, {6 * time.Hour, 30 * m}, {day, 2 * time.Hour}, {3 * day, 6 * time.Hour}}},
		{"unset is 30d", 0, [4]win{{time.Hour, 5 * m}, {6 * time.Hour, 30 * m}, {day, 2 * time.Hour}, {3 * day, 6 * time.Hour}}},
		// 60m×28/30 = 56m; 5m×28/30 = 4m40s → 5m; 360m → 336m; 30m → 28m;
		// 1440m → 1344m (22h24m); 120m → 112m; 4320m → 4032m (2d19h12m).
		{"28d", 28 * day, [4]win{{56 * m, 5 * m}, {336 * m, 28 * m}, {1344 * m, 112 * m}, {4032 * m, 336 * m}}},
		// 60m×7/30 = 14m; 5m×7/30 = 1m10s → 1m; 360m → 84m; 30m → 7m;
		// 1440m → 336m; 120m → 28m; 4320m → 1008m (16h48m).
		{"7d", 7 * day, [4]win{{14 * m, 1 * m}, {84 * m, 7 * m}, {336 * m, 28 * m}, {1008 * m, 84 * m}}},
		// 60m/30 = 2m; 5m/30 = 10s → 0 → the 1m floor; 360m → 12m;
		// 30m → 1m; 1440m → 48m; 120m → 4m; 4320m → 144m.
		{"1d", day, [4]win{{2 * m, 1 * m}, {12 * m, 1 * m}, {48 * m, 4 * m}, {144 * m, 12 * m}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := BurnAlertsFor(tc.window)
			if len(got) != 4 {
				t.Fatalf("%d conditions, want 4", len(got))
			}
			for i, w := range tc.want {
				b := BurnAlerts[i]
				if g := got[i]; g.Long != w.long || g.Short != w.short || g.Factor != b.Factor || g.Severity != b.Severity {
					t.Errorf("[%d] = %s %s/%s ×%v, want %s %s/%s ×%v", i, g.Severity, FormatWindow(g.Long), FormatWindow(g.Short),
						g.Factor, b.Severity, FormatWindow(w.long), FormatWindow(w.short), b.Factor)
				}
			}
		})
	}
}

// tallyStore answers Totals by tallying its records: the reference the
// real stores agree with.
type tallyStore struct {
	store.Store // only Totals is used
	recs        []store.Record
}

func (s *tallyStore) Totals(_ context.Context, _ string, from, to time.Time) (store.Bucket, error) {
	return Tally(s.recs, from, to), nil
}

// minutely gives one result a minute of check c over [now−span, now), the
// last failing ones FAIL.
func minutely(c string, now time.Time, span, failing time.Duration) []store.Record {
	var recs []store.Record
	for at := now.Add(-span); at.Before(now); at = at.Add(time.Minute) {
		st := check.Pass
		if !at.Before(now.Add(-failing)) {
			st = check.Fail
		}
		recs = append(recs, Stored(check.Result{Check: c, Kind: "db", Status: st, Severity: check.Info, CheckedAt: at},
			check.Spec{Kind: "db"}, nil))
	}
	return recs
}

// TestSevenDaySLOPagesOnItsOwnWindows: a 7-day 99 % SLO whose check has
// failed for the last 7 minutes has spent 7 % of a week's budget in 14
// minutes (the 1h/5m condition scaled by 7/30): it pages. Over the 30-day
// table's hour the same failure is only 11.7× the budget rate, which did
// not page.
func TestSevenDaySLOPagesOnItsOwnWindows(t *testing.T) {
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	st := &tallyStore{recs: minutely("orders_db", now, 8*time.Hour, 7*time.Minute)}
	o := Objective{Check: "orders_db", Target: 0.99, Window: 7 * day}
	e := NewEvaluator(st, []Objective{o}, func() time.Time { return now }, nil)
	if err := e.Evaluate(context.Background()); err != nil {
		t.Fatal(err)
	}
	var pages []string
	for _, sig := range e.Signals() {
		if sig.Alert.Severity == "page" {
			pages = append(pages, FormatWindow(sig.Alert.Long)+"/"+FormatWindow(sig.Alert.Short))
		}
	}
	if len(pages) == 0 || pages[0] != "14m/1m" {
		t.Fatalf("page signals firing = %v, want 14m/1m first", pages)
	}
	s := e.Statuses()[0]
	if f, ok := s.Figure(14 * time.Minute); !ok || !near(f.BurnRate, 50) {
		t.Errorf("burn rate over 14m = %+v, want 50 (7 bad of 14, budget 1 %%)", f)
	}
}

// TestRulesAgreeWithEvaluator: for 30, 28, 7 and 1-day SLOs, `monitor
// rules` alerts over exactly the windows and thresholds the evaluator
// signals on, and records every window it reads.
func TestRulesAgreeWithEvaluator(t *testing.T) {
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	var objs []Objective
	for i, w := range []time.Duration{30 * day, 28 * day, 7 * day, day} {
		objs = append(objs, Objective{Check: "c" + FormatWindow(w), Target: []float64{0.999, 0.99, 0.995, 0.9}[i], Window: w})
	}
	out, err := Rules(objs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var file ruleFile
	if err := yaml.Unmarshal(out, &file); err != nil {
		t.Fatal(err)
	}
	recorded := map[string]bool{}
	for _, r := range file.Groups[0].Rules {
		recorded[r.Record] = true
	}
	ref := regexp.MustCompile(`monitor_slo:error_ratio:rate\w+`)
	st := &tallyStore{}
	for _, o := range objs {
		s, err := Evaluate(context.Background(), st, o, now)
		if err != nil {
			t.Fatal(err)
		}
		var alerts []rule
		for _, g := range file.Groups[1:] {
			if g.Name == "monitor-slo-"+o.Check {
				for _, r := range g.Rules {
					if r.Alert != "" {
						alerts = append(alerts, r)
					}
				}
			}
		}
		if len(alerts) != len(s.Signals) {
			t.Fatalf("%s: %d alert rules, %d evaluator signals", o.Check, len(alerts), len(s.Signals))
		}
		for i, sig := range s.Signals {
			a := alerts[i]
			long, short := FormatWindow(sig.Alert.Long), FormatWindow(sig.Alert.Short)
			if a.Labels["severity"] != sig.Alert.Severity || a.Labels["long_window"] != long || a.Labels["short_window"] != short {
				t.Errorf("%s: rule %v, evaluator %s %s/%s", o.Check, a.Labels, sig.Alert.Severity, long, short)
			}
			want := "monitor_slo:error_ratio:rate" + long + `{check="` + o.Check + `", sli="availability"} > ` + num(sig.Alert.Factor*(1-o.Target)) +
				"\nand\nmonitor_slo:error_ratio:rate" + short + `{check="` + o.Check + `", sli="availability"} > ` + num(sig.Alert.Factor*(1-o.Target)) + "\n"
			if a.Expr != want {
				t.Errorf("%s: expr\n%s\nwant\n%s", o.Check, a.Expr, want)
			}
			for _, name := range ref.FindAllString(a.Expr, -1) {
				if !recorded[name] {
					t.Errorf("%s: %s is read but not recorded", o.Check, name)
				}
			}
			if hold := min(map[string]time.Duration{"page": 2 * time.Minute, "ticket": 15 * time.Minute}[sig.Alert.Severity], sig.Alert.Short); a.For != FormatWindow(hold) {
				t.Errorf("%s: for %s over a %s short window, want %s", o.Check, a.For, short, FormatWindow(hold))
			}
			if _, ok := s.Figure(sig.Alert.Long); !ok {
				t.Errorf("%s: the evaluator has no figures over %s", o.Check, long)
			}
		}
	}
}

// TestRulesRunbooks: every alerting rule carries the annotation
// runbook_url: by default the MonitorSLOErrorBudgetBurn section of
// docs/runbooks.md (an anchor the document has), else what the caller
// gives for the check (a check's own runbook_url).
func TestRulesRunbooks(t *testing.T) {
	objs := []Objective{
		{Check: "app_db", Target: 0.999, Window: 30 * day},
		{Check: "orders_fresh", Target: 0.99, Window: 7 * day, SLI: WithinSLA},
	}
	alerts := func(b []byte) map[string][]string {
		var f ruleFile
		if err := yaml.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					out[r.Labels["check"]] = append(out[r.Labels["check"]], r.Annotations["runbook_url"])
				}
			}
		}
		return out
	}
	b, err := Rules(objs, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := alerts(b)
	if len(got["app_db"]) != 4 || len(got["orders_fresh"]) != 4 {
		t.Fatalf("alerts per check: %v, want 4 each", got)
	}
	for check, urls := range got {
		for _, u := range urls {
			if a := testenv.RunbookURL(t, "", u); a != "monitorsloerrorbudgetburn" {
				t.Errorf("%s: runbook_url %q, want the MonitorSLOErrorBudgetBurn section", check, u)
			}
		}
	}

	own := "https://wiki.example.com/teams/orders/freshness"
	b, err = Rules(objs, func(check string) string {
		if check == "orders_fresh" {
			return own
		}
		return "https://wiki.example.com/runbooks#monitorsloerrorbudgetburn"
	})
	if err != nil {
		t.Fatal(err)
	}
	got = alerts(b)
	for _, u := range got["orders_fresh"] {
		if u != own {
			t.Errorf("orders_fresh: runbook_url %q, want %q", u, own)
		}
	}
	for _, u := range got["app_db"] {
		testenv.RunbookURL(t, "https://wiki.example.com/runbooks", u)
	}
}
