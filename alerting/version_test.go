package alerting

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/store"
)

// TestVersionMovesWithWhatReadersSee walks an alert through pending,
// firing, a severity change, a silence, its resolution and its leaving
// Alerts after the retention, and an escalation through opening and
// resolving: Version moves at each of these and whenever what Alerts and
// OpenEscalations show changed, and stays put on a result that changes
// nothing shown (the status page skips its look then).
func TestVersionMovesWithWhatReadersSee(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, cfgWith(catchAll), []check.Spec{spec("db", check.Warn, "DB")}, Options{})
		ctx := context.Background()
		shown := func() string {
			out := ""
			for _, v := range r.e.Alerts() {
				out += fmt.Sprintf("a %s %s %s %s %t %t|", v.ID, v.Status, v.Severity, v.StartsAt, v.Silenced, v.Maintenance)
			}
			for _, e := range r.e.OpenEscalations() {
				out += fmt.Sprintf("e %s %s|", e.ID, e.Status)
			}
			return out
		}
		step := func(what string, do func(), moves bool) {
			t.Helper()
			before, v := shown(), r.e.Version()
			do()
			r.wait(time.Second)
			after, got := shown(), r.e.Version()
			if after != before && got == v {
				t.Fatalf("%s: Alerts changed but not Version %d:\n  %s\n→ %s", what, v, before, after)
			}
			if (got != v) != moves {
				t.Fatalf("%s: Version %d → %d, want moved=%t\n  %s\n→ %s", what, v, got, moves, before, after)
			}
		}
		step("first result, passing", func() { r.pass("db") }, false)
		step("passing again", func() { r.pass("db") }, false)
		step("failing: pending", func() { r.fail("db") }, true)
		step("failing again: firing", func() { r.fail("db") }, true)
		step("failing the same way", func() { r.fail("db") }, false)
		step("a tick", func() {}, false)
		step("WARN → CRITICAL", func() { r.result("db", check.Fail, check.Critical) }, true)
		var sil store.Silence
		step("silenced", func() {
			var err error
			if sil, err = r.e.AddSilence(ctx, store.Silence{Matchers: map[string]string{"check": "db"},
				EndsAt: time.Now().Add(time.Hour)}, "test"); err != nil {
				t.Fatal(err)
			}
		}, true)
		step("silence expired", func() {
			if err := r.e.ExpireSilence(ctx, sil.ID, "test"); err != nil {
				t.Fatal(err)
			}
		}, true)
		step("passing: resolved", func() { r.pass("db") }, true)
		step("passing again while resolved", func() { r.pass("db") }, false)
		step("past the retention of resolved alerts", func() { time.Sleep(ResolvedRetention) }, true)
		if len(r.e.Alerts()) != 0 {
			t.Fatalf("Alerts after the retention: %+v", r.e.Alerts())
		}
		var esc store.Escalation
		step("escalation opened", func() {
			var err error
			if esc, err = r.e.Escalate(ctx, store.Escalation{Handle: "ops", Severity: "HIGH", Summary: "payments down"}, "test"); err != nil {
				t.Fatal(err)
			}
		}, true)
		step("a tick with an escalation open", func() {}, false)
		step("escalation resolved", func() {
			if _, err := r.e.ResolveEscalation(ctx, esc.ID, "test"); err != nil {
				t.Fatal(err)
			}
		}, true)
		step("the resolved escalation's alert forgotten", func() { time.Sleep(ResolvedRetention) }, true)
	})
}

// TestVersionMovesOnMaintenance: a check's alert entering a maintenance
// window (by the clock alone, at a tick) moves Version.
func TestVersionMovesOnMaintenance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now().Add(time.Minute)
		r := newRig(t, cfgWith(catchAll), []check.Spec{spec("db", check.Warn, "DB")},
			Options{InMaintenance: func(_ string, at time.Time) bool { return !at.Before(start) }})
		r.fail("db")
		r.fail("db")
		r.wait(time.Second)
		v := r.e.Version()
		if a := r.view("check:db"); a.Status != "firing" || a.Maintenance {
			t.Fatalf("before the window: %+v", a)
		}
		r.wait(time.Minute)
		if a := r.view("check:db"); !a.Maintenance {
			t.Fatalf("in the window: %+v", a)
		}
		if r.e.Version() == v {
			t.Fatal("entering a maintenance window left Version")
		}
	})
}
