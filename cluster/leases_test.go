package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/internal/testenv"
)

// TestLeasesExclusive: of two owners wanting the same names, the first
// gets them all and the second none; once the first stops wanting some,
// it stops holding them at once, releases them one interval later (a name
// with a run bound to it only once the run ended), and the second gets
// them.
func TestLeasesExclusive(t *testing.T) {
	d := schema(t)
	db := openDB(t, d, "", nil)
	ctx := context.Background()
	clk := newFakeClock()
	a := NewLeases(db, "a", time.Minute, 10*time.Second, time.Second)
	b := NewLeases(db, "b", time.Minute, 10*time.Second, time.Second)
	a.now, b.now = clk.now, clk.now
	want := []string{"x", "y", "z", LeaderLease}
	if err := a.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got := a.Held(); !slices.Equal(got, []string{LeaderLease, "x", "y", "z"}) {
		t.Errorf("a holds %q, want all", got)
	}
	if got := b.Held(); len(got) != 0 {
		t.Errorf("b holds %q, want none", got)
	}

	// a gives up y and z; a run bound to z is going.
	run, stop, ok := a.Bind(ctx, "z")
	if !ok {
		t.Fatal("a cannot bind a run to z")
	}
	if err := a.Sync(ctx, []string{"x", LeaderLease}); err != nil {
		t.Fatal(err)
	}
	if a.Holds("y") || a.Holds("z") {
		t.Error("a still holds y or z after dropping them")
	}
	if run.Err() != nil {
		t.Error("dropping z cancelled the run bound to it, whose lease has not ended")
	}
	clk.add(2 * time.Second) // y is releasable, z's run goes on
	if err := a.Sync(ctx, []string{"x", LeaderLease}); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got := b.Held(); !slices.Equal(got, []string{"y"}) {
		t.Errorf("b holds %q, want [y] (a run of a is still bound to z)", got)
	}
	stop()
	if err := a.Sync(ctx, []string{"x", LeaderLease}); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got := b.Held(); !slices.Equal(got, []string{"y", "z"}) {
		t.Errorf("b holds %q, want [y z]", got)
	}
	if !a.Holds(LeaderLease) || b.Holds(LeaderLease) {
		t.Error("the leader's lease moved though a renews it")
	}
}

// TestLeasesLapseWithoutDatabase: a lease counts TTL − margin from the
// claim's send; Holds with a need longer than what is left is false; when
// the database is gone, Sync fails and every lease lapses at that instant,
// and the next successful Sync restores them.
func TestLeasesLapseWithoutDatabase(t *testing.T) {
	d := schema(t)
	p := testenv.StartTCPProxy(t, pgHost(t, d))
	db := openDB(t, d, p.Addr(), nil)
	clk := newFakeClock()
	const ttl, margin = time.Minute, 10 * time.Second
	l := NewLeases(db, "a", ttl, margin, time.Second)
	l.now = clk.now
	want := []string{"x", "y"}
	if err := l.Sync(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	clk.add(30 * time.Second)
	// 50 s valid locally (TTL − margin), 30 s gone: 20 s left.
	if !l.Holds("x") {
		t.Error("x not held with 20 s left")
	}

	p.Hang()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := l.Sync(ctx, want)
	cancel()
	if err == nil {
		t.Fatal("Sync succeeded with the database hanging")
	}
	t.Logf("Sync without database: %v", err)
	if !l.Holds("x") {
		t.Error("x dropped before its lease ended")
	}
	clk.add(ttl - margin - 30*time.Second)
	if l.Holds("x") || l.Holds("y") || len(l.Held()) != 0 {
		t.Errorf("still holding %q at TTL − margin after the last successful sync", l.Held())
	}

	p.Heal()
	var ok bool
	for range 50 { // the pool's broken connections fail first
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = l.Sync(ctx, want)
		cancel()
		if err == nil {
			ok = true
			break
		}
	}
	if !ok {
		t.Fatalf("Sync after heal: %v", err)
	}
	if got := l.Held(); !slices.Equal(got, want) {
		t.Errorf("after the database returned, holding %q, want %q", got, want)
	}
}

// TestLeasesConcurrentNoDeadlock: three owners sync overlapping, changing
// sets of 2,000 names at the same time, round after round, releasing what
// they stop wanting at once; no statement fails (PostgreSQL would abort
// one of a deadlock), and no name is ever held by two of them.
func TestLeasesConcurrentNoDeadlock(t *testing.T) {
	d := schema(t)
	ctx := context.Background()
	all := names(2000)
	owners := make([]*Leases, 3)
	for i := range owners {
		owners[i] = NewLeases(openDB(t, d, "", nil), fmt.Sprintf("owner-%d", i), time.Minute, time.Second, 0)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(owners))
	for i, l := range owners {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for range 20 {
				var want []string
				for _, n := range all {
					if rng.IntN(2) == 0 {
						want = append(want, n)
					}
				}
				if err := l.Sync(ctx, want); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent sync: %v", err)
	}
	seen := map[string]int{}
	for i, l := range owners {
		for _, n := range l.Held() {
			if j, ok := seen[n]; ok {
				t.Errorf("%s held by owner-%d and owner-%d", n, j, i)
			}
			seen[n] = i
		}
	}
	t.Logf("%d of %d names held after 20 rounds", len(seen), len(all))
}
