package alerting

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// Checks that pass keep no alert in memory (issue 13: 1.3 KiB per check at
// 10,000 checks), and what an alert remembers is still there when one is
// needed: the pass before a first failure counts as a change for flap
// detection, and an alert is forgotten only once resolved past retention.
func TestPassingChecksKeepNoAlert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := cfgWith(catchAll)
		cfg.FailureThreshold = 1
		cfg.Flapping = Flapping{Changes: 2, Window: 30 * time.Minute}
		var specs []check.Spec
		for i := range 100 {
			specs = append(specs, spec(fmt.Sprintf("c%03d", i), check.Warn, ""))
		}
		specs = append(specs, spec("db", check.Warn, ""))
		r := newRig(t, cfg, specs, Options{})
		for range 3 {
			for _, sp := range specs {
				r.pass(sp.Name)
			}
			r.wait(time.Minute)
		}
		r.e.mu.Lock()
		n := len(r.e.alerts)
		r.e.mu.Unlock()
		if n != 0 {
			t.Fatalf("%d alerts kept for 101 passing checks, want 0", n)
		}
		// pass→fail (1), fail→pass (2), pass→fail (3): more than 2 changes
		// in the window: flapping at the second failure, as it was when
		// every check kept its alert.
		r.fail("db")
		r.wait(time.Minute)
		r.pass("db")
		r.wait(time.Minute)
		r.fail("db")
		r.wait(time.Minute)
		r.expect("oncall firing check:db=firing", "oncall resolved check:db=resolved",
			"oncall firing/flapping check:db=firing")
		// It settles and resolves; an hour past its resolution and the
		// flapping window, a pass forgets it.
		r.pass("db")
		r.wait(2 * time.Hour)
		r.pass("db")
		r.wait(time.Minute)
		if got := r.e.Alerts(); len(got) != 0 {
			t.Fatalf("alerts %+v, want none", got)
		}
		r.e.mu.Lock()
		n = len(r.e.alerts)
		r.e.mu.Unlock()
		if n != 0 {
			t.Fatalf("%d alerts kept after the resolution's retention, want 0", n)
		}
		// And the next failure pages again.
		r.fail("db")
		r.wait(time.Minute)
		r.expect("oncall firing check:db=firing", "oncall resolved check:db=resolved",
			"oncall firing/flapping check:db=firing", "oncall resolved check:db=resolved",
			"oncall firing check:db=firing")
	})
}
