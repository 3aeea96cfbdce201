package alerting

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/store"
)

// restartScenario runs a daemon on first's store, "kills" it (kill makes
// sure nothing more reaches the store) and restores a new one on second's
// (the same data): a firing alert told before stays told (no second page),
// a notification due but not yet written is written once, and resolutions
// are told. sent lists the notifications written, in order.
func restartScenario(t *testing.T, first, second func(t *testing.T) store.AlertStore, sent func(t *testing.T) []string, kill func()) {
	cfg := cfgWith(Route{Receivers: []string{"oncall"}, GroupWait: 30 * time.Second, GroupInterval: time.Minute})
	specs := []check.Spec{spec("db", check.Critical, ""), spec("web", check.Warn, "")}

	r := newRig(t, cfg, specs, Options{Store: first(t)})
	r.fail("db")
	r.fail("db")
	r.wait(time.Minute) // db fired and was notified
	r.fail("web")
	r.fail("web")
	r.wait(10 * time.Second) // web fired; its group still waits
	if got := sent(t); len(got) != 1 || got[0] != "oncall firing check:db=firing" {
		t.Fatalf("before the kill: %q", got)
	}
	kill() // kill -9: nothing more reaches the store
	r.stop()

	r2 := newRig(t, cfg, specs, Options{Store: second(t)})
	if v := r2.view("check:db"); v.Status != "firing" {
		t.Fatalf("after restart db is %+v, want still firing", v)
	}
	r2.fail("db", "web")
	r2.wait(time.Minute)
	// web's firing was due but not sent: sent once now; db: no second page.
	want := []string{"oncall firing check:db=firing", "oncall firing check:web=firing"}
	if got := sent(t); !equal(got, want) {
		t.Fatalf("after restart:\n got %q\nwant %q", got, want)
	}
	r2.pass("db", "web")
	r2.wait(2 * time.Minute)
	want = append(want, "oncall resolved check:db=resolved", "oncall resolved check:web=resolved")
	if got := sent(t); !equal(got, want) {
		t.Fatalf("resolutions after restart:\n got %q\nwant %q", got, want)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRestartMemStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		restartScenario(t,
			func(*testing.T) store.AlertStore { return st },
			func(*testing.T) store.AlertStore { st.setDown(false); return st },
			func(t *testing.T) []string { return summaries(st.sent(t)) },
			func() { st.setDown(true) })
	})
}

// TestRestoreWaitsForStore: a daemon started while its store is down
// ignores results until Run restored the state, so a firing alert told
// before the restart is not paged again.
func TestRestoreWaitsForStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		cfg := cfgWith(catchAll)
		specs := []check.Spec{spec("db", check.Critical, "")}
		r := newRig(t, cfg, specs, Options{Store: st})
		r.fail("db")
		r.fail("db")
		r.wait(time.Second)
		r.stop()
		st.setDown(true)
		e := New(cfg, Options{Store: st})
		e.SetSpecs(specs)
		if err := e.Restore(context.Background()); err == nil {
			t.Fatal("Restore succeeded on a store that is down")
		}
		r2 := &rig{t: t, e: e, st: st, specs: r.specs}
		r2.start()
		defer r2.stop()
		r2.fail("db", "db", "db")
		r2.wait(5 * time.Second)
		st.setDown(false)
		r2.wait(time.Second)
		r2.fail("db", "db", "db")
		r2.wait(time.Second)
		r2.expect("oncall firing check:db=firing")
		r2.pass("db")
		r2.wait(time.Second)
		r2.expect("oncall firing check:db=firing", "oncall resolved check:db=resolved")
	})
}
