package snapshot

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// TestStateVersionMovesOnWhatReadersSee: the state version moves on a
// check's first result and on a change of status, severity or reason,
// and stays put on a result that says the same again (a reader such as
// the status page skips its look then).
func TestStateVersionMovesOnWhatReadersSee(t *testing.T) {
	c := newClock()
	sp := spec("a", "db")
	s := New([]check.Spec{sp, spec("b", "db")}, c.now)
	v := s.StateVersion()
	step := func(what string, r check.Result, moves bool) {
		t.Helper()
		s.Record(r)
		got := s.StateVersion()
		if (got != v) != moves {
			t.Errorf("%s: state version %d → %d, want moved=%t", what, v, got, moves)
		}
		v = got
	}
	step("first result", result(sp, check.Pass, check.Info, c.now()), true)
	c.add(10 * time.Second)
	step("the same status again", result(sp, check.Pass, check.Info, c.now()), false)
	c.add(10 * time.Second)
	step("FAIL", result(sp, check.Fail, check.Warn, c.now()), true)
	c.add(10 * time.Second)
	step("FAIL again, another message", check.Result{Check: "a", Kind: "db", Status: check.Fail, Severity: check.Warn,
		Message: "other", CheckedAt: c.now()}, false)
	step("WARN → CRITICAL", result(sp, check.Fail, check.Critical, c.now()), true)
	r := result(sp, check.Fail, check.Critical, c.now())
	r.Reason = check.ReasonTimeout
	step("another reason", r, true)
	step("an unknown check", check.Result{Check: "nope", Status: check.Fail}, false)
	if got := s.StateVersion(); got != v {
		t.Errorf("reading again moved the version %d → %d", v, got)
	}
	s.SetSpecs([]check.Spec{sp})
	if got := s.StateVersion(); got == v {
		t.Error("a reload left the state version")
	}
}

// TestStateVersionMovesWhenResultsGoStale: the clock alone moves it when
// a result goes stale (UNKNOWN), once; a fresh result after moves it
// again.
func TestStateVersionMovesWhenResultsGoStale(t *testing.T) {
	c := newClock()
	sp := spec("a", "db") // stale after 65 s
	s := New([]check.Spec{sp}, c.now)
	s.Record(result(sp, check.Pass, check.Info, c.now()))
	v := s.StateVersion()
	c.add(65 * time.Second)
	if got := s.StateVersion(); got != v {
		t.Fatalf("at 65 s (not stale yet) the version moved %d → %d", v, got)
	}
	c.add(time.Second)
	stale := s.StateVersion()
	if stale == v {
		t.Fatalf("at 66 s (stale: %s) the version did not move", find(t, s.View(), "a").Status)
	}
	c.add(10 * time.Second)
	if got := s.StateVersion(); got != stale {
		t.Errorf("still stale 10 s later, the version moved %d → %d", stale, got)
	}
	s.Record(result(sp, check.Pass, check.Info, c.now()))
	if got := s.StateVersion(); got == stale {
		t.Error("a fresh PASS after a stale one left the version")
	}
}

// TestStateVersionFollowsEffectiveState drives checks with depends_on
// through random results and clock moves: whenever the effective status,
// severity or reason of any check differs from the last look, the state
// version differs too.
func TestStateVersionFollowsEffectiveState(t *testing.T) {
	c := newClock()
	specs := []check.Spec{spec("db", "db"), spec("api", "http"), spec("web", "http"), spec("cron", "db")}
	specs[1].DependsOn = []string{"db"}
	specs[2].DependsOn = []string{"api"}
	specs[3].Interval = 0 // never stale
	s := New(specs, c.now)
	rng := rand.New(rand.NewPCG(1, 2))
	state := func() string {
		out := ""
		for _, r := range s.View().Checks {
			out += fmt.Sprintf("%s %s %s %s|", r.Check, r.Status, r.Severity, r.Reason)
		}
		return out
	}
	lastState, lastV := state(), s.StateVersion()
	moves, stays := 0, 0
	for i := range 5000 {
		switch rng.IntN(4) {
		case 0:
			c.add(time.Duration(rng.IntN(40)) * time.Second)
		default:
			sp := specs[rng.IntN(len(specs))]
			st := []check.Status{check.Pass, check.Fail, check.Unknown}[rng.IntN(3)]
			sev := []check.Severity{check.Info, check.Warn, check.Critical}[rng.IntN(3)]
			r := result(sp, st, sev, c.now().Add(-time.Duration(rng.IntN(3))*time.Second))
			if rng.IntN(4) == 0 {
				r.Reason = check.ReasonTimeout
			}
			s.Record(r)
		}
		now, v := state(), s.StateVersion()
		if now != lastState && v == lastV {
			t.Fatalf("step %d: the state changed but not the version %d:\n  %s\n→ %s", i, v, lastState, now)
		}
		if now == lastState && v == lastV {
			stays++
		} else {
			moves++
		}
		lastState, lastV = now, v
	}
	if stays == 0 || moves == 0 {
		t.Fatalf("the walk never stayed (%d) or never moved (%d)", stays, moves)
	}
}

// TestStaleQueueOrder: through random results, reloads and drains, the
// queue holds exactly the checks not yet stale, earliest first.
func TestStaleQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	specs := map[string]check.Spec{}
	latest := map[string]check.Result{}
	for i := range 200 {
		sp := spec(fmt.Sprintf("c%03d", i), "db")
		sp.Interval = time.Duration(1+rng.IntN(60)) * time.Second
		if i%10 == 0 {
			sp.Interval = 0
		}
		specs[sp.Name] = sp
	}
	q := staleQueue{index: map[string]*staleItem{}}
	now := t0
	for step := range 3000 {
		switch rng.IntN(20) {
		case 0:
			q.reset(specs, latest)
		case 1:
			now = now.Add(time.Duration(rng.IntN(30)) * time.Second)
			q.drain(now)
		default:
			sp := specs[fmt.Sprintf("c%03d", rng.IntN(len(specs)))]
			r := result(sp, check.Pass, check.Info, now.Add(-time.Duration(rng.IntN(10))*time.Second))
			latest[sp.Name] = r
			q.set(sp, r)
		}
		if len(q.items) != len(q.index) {
			t.Fatalf("step %d: %d items, %d indexed", step, len(q.items), len(q.index))
		}
		for i, it := range q.items {
			if it.i != i || q.index[it.name] != it {
				t.Fatalf("step %d: item %s at %d says %d", step, it.name, i, it.i)
			}
			if want := latest[it.name].CheckedAt.Add(specs[it.name].StaleAfter()); !it.at.Equal(want) || specs[it.name].Interval <= 0 {
				t.Fatalf("step %d: %s goes stale at %s, want %s", step, it.name, it.at, want)
			}
			if p := (i - 1) / 2; i > 0 && q.items[i].at.Before(q.items[p].at) {
				t.Fatalf("step %d: heap order broken at %d", step, i)
			}
		}
	}
}

// BenchmarkRecordSame: the cost of recording a result that says the same
// again, at 10,000 checks (the hot path StateVersion adds to).
func BenchmarkRecordSame(b *testing.B) {
	c := newClock()
	var specs []check.Spec
	for i := range 10_000 {
		specs = append(specs, spec(fmt.Sprintf("c%05d", i), "db"))
	}
	s := New(specs, c.now)
	for _, sp := range specs {
		s.Record(result(sp, check.Pass, check.Info, c.now()))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.add(time.Millisecond)
		s.Record(result(specs[i%len(specs)], check.Pass, check.Info, c.now()))
		i++
	}
}
