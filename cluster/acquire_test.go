package cluster

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// recorder keeps what OnAcquire was called with.
type recorder struct {
	mu    sync.Mutex
	calls [][]string
}

func (r *recorder) on(checks []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, slices.Clone(checks))
}

func (r *recorder) take() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

// OnAcquire names, once, the checks whose lease a node gained in a round:
// all of its share at the first, none while it keeps them, and a dead
// member's share when it takes it over (a location runner's lease by its
// check's name, the leader's lease never), so that the daemon can run
// the overdue ones at once.
func TestOnAcquire(t *testing.T) {
	t.Parallel()
	d := schema(t)
	ctx := context.Background()
	checks := []string{"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"}
	var ra, rb recorder
	a := New(openDB(t, d, "", nil), Options{ID: "a-" + NewID(), Location: "eu", TTL: testTTL, OnAcquire: ra.on})
	b := New(openDB(t, d, "", nil), Options{ID: "b-" + NewID(), Location: "eu", TTL: testTTL, OnAcquire: rb.on})
	for _, n := range []*Node{a, b} {
		n.SetChecks(checks)
		n.SetLocationChecks([]string{"c1"})
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })

	if err := a.Round(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ra.take(); len(got) != 1 || !slices.Equal(got[0], checks) {
		t.Fatalf("a's first round: OnAcquire %v, want once with every check (c1 once, for its lease and its location's)", got)
	}
	if err := a.Round(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ra.take(); len(got) != 0 {
		t.Fatalf("a's second round: OnAcquire %v, want no call (nothing gained)", got)
	}

	// b joins while a holds everything: it gains nothing it could not
	// claim. Then a dies (no more rounds, no Close): once its leases have
	// lapsed, b takes every check over.
	if err := b.Round(ctx); err != nil {
		t.Fatal(err)
	}
	gained := map[string]bool{}
	for _, c := range rb.take() {
		for _, name := range c {
			gained[name] = true
		}
	}
	if len(gained) != 0 {
		t.Fatalf("b gained %v while a held every lease", gained)
	}
	time.Sleep(testTTL + 100*time.Millisecond)
	deadline := time.Now().Add(5 * testTTL)
	for len(gained) < len(checks) && time.Now().Before(deadline) {
		if err := b.Round(ctx); err != nil {
			t.Fatal(err)
		}
		for _, c := range rb.take() {
			for _, name := range c {
				if gained[name] {
					t.Fatalf("b was told twice of %s", name)
				}
				gained[name] = true
			}
		}
		time.Sleep(b.opts.Interval)
	}
	for _, c := range checks {
		if !gained[c] || !b.Holds(c) {
			t.Fatalf("after a died, b gained %v and holds %s: %v; want every check", gained, c, b.Holds(c))
		}
	}
	if gained[LeaderLease] {
		t.Fatal("the leader's lease was named as a check")
	}
}
