package alerting

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/store"
)

// TestFailoverToPassiveEngine: two replicas' engines on one store see the
// same results; only the active one (the leader) writes. The follower
// shows the same alerts, pages nothing, and when the leader dies and it
// becomes active it restores the stored state: the firing alert is not
// paged again and its resolution is told once.
func TestFailoverToPassiveEngine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := cfgWith(catchAll)
		specs := []check.Spec{spec("db", check.Critical, "")}
		st := newMemStore()
		leader := newRig(t, cfg, specs, Options{Store: st})
		follower := newRig(t, cfg, specs, Options{Store: st, Passive: true})
		both := func(f func(r *rig)) { f(leader); f(follower) }
		expect := func(want ...string) {
			t.Helper()
			if got := summaries(st.sent(t)); !equal(got, want) {
				t.Fatalf("notifications:\n got %q\nwant %q", got, want)
			}
		}

		both(func(r *rig) { r.fail("db"); r.fail("db") })
		follower.wait(5 * time.Second)
		expect("oncall firing check:db=firing")
		if v := follower.view("check:db"); v.Status != "firing" {
			t.Fatalf("follower shows db %+v, want firing", v)
		}
		follower.e.Audit(store.AuditEvent{Actor: ActorConfig, Action: "config.reloaded", Target: "follower.yaml"})
		follower.wait(2 * time.Second)
		if got := st.actions(); !equal(got, []string{"alert.firing check:db by system", "config.reloaded follower.yaml by config"}) {
			t.Fatalf("audit trail %q, want the leader's alert.fired then the follower's reload only", got)
		}

		st.mu.Lock()
		rowsBefore := len(st.alerts)
		st.mu.Unlock()
		leader.stop() // kill -9: the leader writes nothing more
		follower.fail("db")
		follower.e.SetActive(true)
		follower.wait(5 * time.Second)
		expect("oncall firing check:db=firing") // no second page
		if v := follower.view("check:db"); v.Status != "firing" {
			t.Fatalf("new leader shows db %+v, want still firing", v)
		}
		st.mu.Lock()
		rowsAfter := len(st.alerts)
		st.mu.Unlock()
		if rowsBefore != 1 || rowsAfter != 1 {
			t.Fatalf("stored alerts %d before, %d after the failover, want 1", rowsBefore, rowsAfter)
		}
		follower.pass("db")
		follower.wait(5 * time.Second)
		expect("oncall firing check:db=firing", "oncall resolved check:db=resolved")
		follower.wait(time.Minute)
		expect("oncall firing check:db=firing", "oncall resolved check:db=resolved")
	})
}

// TestRefreshAppliesOtherReplicasOps: a silence and an escalation made
// through a follower's API reach the leader's engine within Refresh: the
// silence mutes the leader's notification, the escalation pages once from
// the leader and its resolution is told once.
func TestRefreshAppliesOtherReplicasOps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		cfg := cfgWith(catchAll)
		specs := []check.Spec{spec("db", check.Critical, "")}
		st := newMemStore()
		leader := newRig(t, cfg, specs, Options{Store: st, Refresh: 2 * time.Second})
		follower := newRig(t, cfg, specs, Options{Store: st, Passive: true, Refresh: 2 * time.Second})
		expect := func(want ...string) {
			t.Helper()
			if got := summaries(st.sent(t)); !equal(got, want) {
				t.Fatalf("notifications:\n got %q\nwant %q", got, want)
			}
		}
		if _, err := follower.e.AddSilence(ctx, store.Silence{Matchers: map[string]string{"check": "db"},
			EndsAt: time.Now().Add(time.Hour)}, "ops"); err != nil {
			t.Fatal(err)
		}
		leader.wait(3 * time.Second)
		if n := len(leader.e.Silences()); n != 1 {
			t.Fatalf("leader knows %d silences, want the follower's", n)
		}
		leader.fail("db")
		follower.fail("db")
		leader.wait(5 * time.Second)
		expect() // silenced

		esc, err := follower.e.Escalate(ctx, store.Escalation{Handle: "acme", Severity: "HIGH", Summary: "Links broken"}, "ops")
		if err != nil {
			t.Fatal(err)
		}
		leader.wait(3 * time.Second)
		expect("oncall firing escalation:" + esc.ID + "=firing")
		if _, err := follower.e.ResolveEscalation(ctx, esc.ID, "ops"); err != nil {
			t.Fatal(err)
		}
		leader.wait(3 * time.Second)
		expect("oncall firing escalation:"+esc.ID+"=firing", "oncall resolved escalation:"+esc.ID+"=resolved")
		if n := len(leader.e.OpenEscalations()); n != 0 {
			t.Fatalf("leader has %d open escalations, want 0", n)
		}
	})
}
