package hub_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/hub"
	"github.com/monitor-dev/monitor/snapshot"
)

var t0 = time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)

func spec(name string, deps ...string) check.Spec {
	return check.Spec{Name: name, Kind: "db", Interval: 30 * time.Second, Timeout: 5 * time.Second,
		Severity: check.Critical, DependsOn: deps}
}

func result(name string, st check.Status, at time.Time) check.Result {
	sev := check.Info
	if st != check.Pass {
		sev = check.Critical
	}
	return check.Result{Check: name, Kind: "db", Status: st, Severity: sev, Message: "m", CheckedAt: at}
}

type seen struct {
	r  check.Result
	ch hub.Change
}

// recorder is a subscriber that keeps what it got, and the specs of the
// last reload.
type recorder struct {
	got   []seen
	specs []check.Spec
}

func (r *recorder) Observe(res check.Result, ch hub.Change) { r.got = append(r.got, seen{res, ch}) }
func (r *recorder) SetSpecs(specs []check.Spec)             { r.specs = specs }

func TestPublishHandsTheEffectiveResultToEverySubscriber(t *testing.T) {
	now := t0
	snap := snapshot.New([]check.Spec{spec("db"), spec("api", "db")}, func() time.Time { return now })
	var order []string
	a, b := &recorder{}, &recorder{}
	h := hub.New(snap,
		a, hub.Func(func(check.Result, hub.Change) { order = append(order, "func") }),
		b, hub.Func(func(check.Result, hub.Change) { order = append(order, "last") }))

	h.Publish(result("db", check.Fail, now))
	h.Publish(result("api", check.Pass, now))  // its parent fails: UNKNOWN for everyone
	h.Publish(result("gone", check.Pass, now)) // not configured: dropped

	for _, rec := range []*recorder{a, b} {
		if len(rec.got) != 2 {
			t.Fatalf("subscriber got %d results, want 2 (the unconfigured check's is dropped)", len(rec.got))
		}
		api := rec.got[1]
		if api.r.Status != check.Unknown || api.r.Message != "parent db failing" {
			t.Errorf("api reached a subscriber as %s %q, want UNKNOWN \"parent db failing\"", api.r.Status, api.r.Message)
		}
		// Before its first run, api already read UNKNOWN: its parent was failing.
		if !api.ch.First || api.ch.Spec.Name != "api" || api.ch.Previous.Message != "parent db failing" {
			t.Errorf("api's change: first %v, spec %q, previous %q; want first, api, \"parent db failing\"",
				api.ch.First, api.ch.Spec.Name, api.ch.Previous.Message)
		}
		if db := rec.got[0]; db.ch.Previous.Message != "not yet run" || db.r.Status != check.Fail {
			t.Errorf("db reached a subscriber as %s after %q, want FAIL after \"not yet run\"", db.r.Status, db.ch.Previous.Message)
		}
	}
	if strings.Join(order, ",") != "func,last,func,last" {
		t.Errorf("subscribers ran in order %v, want the order given to New", order)
	}
}

func TestMaintenanceIsMarked(t *testing.T) {
	now := t0
	snap := snapshot.New([]check.Spec{spec("db"), spec("api")}, func() time.Time { return now })
	rec := &recorder{}
	h := hub.New(snap, rec)
	h.SetMaintenance(func(name string, at time.Time) bool { return name == "db" && !at.Before(t0) })

	h.Publish(result("db", check.Fail, now))
	h.Publish(result("api", check.Fail, now))
	h.Publish(result("db", check.Fail, now.Add(-time.Minute))) // before the window
	h.SetMaintenance(nil)
	h.Publish(result("db", check.Fail, now))

	want := []bool{true, false, false, false}
	for i, w := range want {
		if got := rec.got[i].ch.Maintenance; got != w {
			t.Errorf("result %d (%s at %s): Maintenance = %v, want %v", i, rec.got[i].r.Check,
				rec.got[i].r.CheckedAt.Format(time.TimeOnly), got, w)
		}
	}
}

func TestSetSpecsReachesStateAndReloaders(t *testing.T) {
	now := t0
	snap := snapshot.New([]check.Spec{spec("db"), spec("api")}, func() time.Time { return now })
	rec := &recorder{}
	h := hub.New(snap, rec)
	h.Publish(result("api", check.Pass, now))

	h.SetSpecs([]check.Spec{spec("db")})
	if len(rec.specs) != 1 || rec.specs[0].Name != "db" {
		t.Fatalf("reloader got %v, want the new specs", rec.specs)
	}
	h.Publish(result("api", check.Pass, now)) // removed by the reload while it ran
	if len(rec.got) != 1 {
		t.Fatalf("a removed check's result reached subscribers (%d results)", len(rec.got))
	}
	if _, ok := snap.Spec("api"); ok {
		t.Fatal("the snapshot still has the removed check")
	}
}

func TestStatusLogOnlyOnChange(t *testing.T) {
	now := t0
	snap := snapshot.New([]check.Spec{spec("db")}, func() time.Time { return now })
	var buf bytes.Buffer
	h := hub.New(snap, hub.StatusLog(slog.New(slog.NewTextHandler(&buf, nil))))
	for _, st := range []check.Status{check.Pass, check.Pass, check.Fail, check.Fail, check.Pass} {
		h.Publish(result("db", st, now))
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("logged %d lines, want 3 (first, to FAIL, back to PASS):\n%s", len(lines), buf.String())
	}
	for i, want := range []string{"level=INFO", "level=WARN", "level=INFO"} {
		if !strings.Contains(lines[i], want) || !strings.Contains(lines[i], `msg="check status changed" check=db`) {
			t.Errorf("line %d = %s, want %s and the check", i, lines[i], want)
		}
	}
}

// With replicas, each status change is logged once, by the replica that
// ran the check: another's result (PublishRemote) changes the state but
// logs nothing.
func TestStatusLogSkipsRemoteResults(t *testing.T) {
	now := t0
	snap := snapshot.New([]check.Spec{spec("db")}, func() time.Time { return now })
	var buf bytes.Buffer
	h := hub.New(snap, hub.StatusLog(slog.New(slog.NewTextHandler(&buf, nil))))
	h.PublishRemote(result("db", check.Pass, now))
	now = now.Add(time.Second)
	h.PublishRemote(result("db", check.Fail, now))
	if buf.Len() != 0 {
		t.Fatalf("remote results were logged:\n%s", buf.String())
	}
	if got := snap.View().Raw["db"].Status; got != check.Fail {
		t.Fatalf("snapshot has %s, want the remote FAIL", got)
	}
	now = now.Add(time.Second)
	h.Publish(result("db", check.Pass, now))
	if !strings.Contains(buf.String(), `level=INFO msg="check status changed" check=db`) {
		t.Fatalf("a local change was not logged:\n%s", buf.String())
	}
}

func TestEffectiveStaleAndCycle(t *testing.T) {
	a, b := spec("a", "b"), spec("b", "a") // a cycle: validation rejects it; must not hang
	l := latest{specs: map[string]check.Spec{"a": a, "b": b},
		results: map[string]check.Result{"a": result("a", check.Pass, t0), "b": result("b", check.Pass, t0)}}
	if r := hub.Effective(l, a, t0.Add(65*time.Second), map[string]bool{}); r.Status != check.Pass {
		t.Fatalf("at 65s (2×interval + timeout) got %s, want PASS", r.Status)
	}
	r := hub.Effective(l, a, t0.Add(66*time.Second), map[string]bool{})
	if r.Status != check.Unknown || !strings.HasPrefix(r.Message, "stale: last result is 1m6s old (PASS: m)") ||
		!r.CheckedAt.Equal(t0) {
		t.Fatalf("at 66s got %s %q at %s, want UNKNOWN stale, checked at the last run", r.Status, r.Message, r.CheckedAt)
	}
}

type latest struct {
	specs   map[string]check.Spec
	results map[string]check.Result
}

func (l latest) Latest(n string) (check.Result, bool) { r, ok := l.results[n]; return r, ok }
func (l latest) Spec(n string) (check.Spec, bool)     { s, ok := l.specs[n]; return s, ok }

// BenchmarkPublish is the per-result hot path: the snapshot and three
// subscribers, none of which allocates.
func BenchmarkPublish(b *testing.B) {
	now := t0
	snap := snapshot.New([]check.Spec{spec("db"), spec("api", "db")}, func() time.Time { return now })
	var n int
	count := hub.Func(func(check.Result, hub.Change) { n++ })
	h := hub.New(snap, count, count, count)
	h.SetMaintenance(func(string, time.Time) bool { return false })
	r := result("api", check.Pass, now)
	b.ReportAllocs()
	for b.Loop() {
		h.Publish(r)
	}
}

// A result another replica ran reaches the snapshot and every subscriber,
// flagged Remote, with the effective-result rules applied as to a local
// one; one not newer than the check's latest (this replica's own, come
// back through the results feed) changes nothing.
func TestPublishRemote(t *testing.T) {
	now := t0
	snap := snapshot.New([]check.Spec{spec("db"), spec("api", "db")}, func() time.Time { return now })
	rec := &recorder{}
	h := hub.New(snap, rec)
	h.SetMaintenance(func(name string, at time.Time) bool { return name == "db" && at.Equal(t0.Add(time.Second)) })

	h.Publish(result("db", check.Fail, now)) // local
	if !h.PublishRemote(result("api", check.Pass, now)) {
		t.Fatal("a remote result of a configured check was not recorded")
	}
	if h.PublishRemote(result("db", check.Pass, now)) {
		t.Error("a remote result as old as the check's latest was recorded")
	}
	if h.PublishRemote(result("db", check.Pass, now.Add(-time.Second))) {
		t.Error("a remote result older than the check's latest was recorded")
	}
	if h.PublishRemote(result("gone", check.Pass, now)) {
		t.Error("a remote result of a check not configured was recorded")
	}
	other := result("db", check.Pass, now.Add(time.Minute))
	other.Kind = "http" // configured otherwise on the replica that ran it
	if h.PublishRemote(other) {
		t.Error("a remote result of another kind than configured was recorded")
	}
	if !h.PublishRemote(result("db", check.Pass, now.Add(time.Second))) {
		t.Fatal("a newer remote result was not recorded")
	}

	if len(rec.got) != 3 {
		t.Fatalf("subscriber got %d results, want 3 (local db, remote api, remote db)", len(rec.got))
	}
	if rec.got[0].ch.Remote {
		t.Error("a local result reached the subscriber flagged Remote")
	}
	api := rec.got[1]
	if !api.ch.Remote || api.r.Status != check.Unknown || api.r.Message != "parent db failing" {
		t.Errorf("remote api reached the subscriber as %s %q remote=%v, want UNKNOWN \"parent db failing\", remote",
			api.r.Status, api.r.Message, api.ch.Remote)
	}
	db := rec.got[2]
	if !db.ch.Remote || !db.ch.Maintenance || db.ch.Previous.Status != check.Fail || db.r.Status != check.Pass {
		t.Errorf("remote db: remote=%v maintenance=%v, %s after %s; want remote, in maintenance, PASS after FAIL",
			db.ch.Remote, db.ch.Maintenance, db.r.Status, db.ch.Previous.Status)
	}
	v := snap.View()
	for _, r := range v.Checks {
		if r.Status != check.Pass {
			t.Errorf("snapshot: %s reads %s %q, want PASS (db's remote PASS is newest)", r.Check, r.Status, r.Message)
		}
	}
	if got := v.Raw["db"].CheckedAt; !got.Equal(now.Add(time.Second)) {
		t.Errorf("snapshot keeps db's result of %s, want the newest remote one", got.Format(time.TimeOnly))
	}
}
