package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/internal/testenv"
)

// TestBindLapsesWithDatabase: a run bound to a check's lease goes on for
// three TTLs while the node renews the lease, and is cancelled, with the
// cause ErrLeaseLapsed, within the lease's local length (TTL − TTL/5 from
// the last renewal's send) once the node cannot reach the database; while
// the lease is not held, nothing binds to it.
func TestBindLapsesWithDatabase(t *testing.T) {
	d := schema(t)
	proxy := testenv.StartTCPProxy(t, pgHost(t, d))
	n := startNode(t, d, "a", []string{"c1"}, proxy, nil)
	waitHeld(t, n, "c1")

	ctx, stop, ok := n.Bind(context.Background(), "c1")
	if !ok {
		t.Fatal("Bind refused a held lease")
	}
	select {
	case <-ctx.Done():
		t.Fatalf("run cancelled (%v) while the lease was renewed", context.Cause(ctx))
	case <-time.After(3 * testTTL):
	}

	cut := time.Now()
	proxy.Hang()
	select {
	case <-ctx.Done():
	case <-time.After(testTTL + slack):
		t.Fatalf("run still going %v after the database went away (lease TTL %v)", time.Since(cut), testTTL)
	}
	took := time.Since(cut)
	if !errors.Is(context.Cause(ctx), ErrLeaseLapsed) {
		t.Errorf("cause %v, want %v", context.Cause(ctx), ErrLeaseLapsed)
	}
	// The last renewal was sent at most a round (TTL/3) before the cut.
	if limit := testTTL - testTTL/5 + slack; took > limit {
		t.Errorf("cancelled %v after the cut, want within %v", took, limit)
	}
	t.Logf("run cancelled %v after the database went away", took)
	if n.Holds("c1") {
		t.Error("lease still held after the run's context lapsed")
	}
	if _, _, ok := n.Bind(context.Background(), "c1"); ok {
		t.Error("Bind allowed a run on a lapsed lease")
	}

	proxy.Heal()
	waitHeld(t, n, "c1")
	ctx2, stop2, ok := n.Bind(context.Background(), "c1")
	if !ok {
		t.Fatal("Bind refused once the lease was back")
	}
	stop2()
	if !errors.Is(context.Cause(ctx2), context.Canceled) || errors.Is(context.Cause(ctx2), ErrLeaseLapsed) {
		t.Errorf("stopped run's cause %v, want context.Canceled", context.Cause(ctx2))
	}
	// Once no run is bound, a lease costs no timer.
	stop()
	n.leases.mu.Lock()
	left := len(n.leases.bound)
	n.leases.mu.Unlock()
	if left != 0 {
		t.Errorf("%d leases still have a binding with no run going", left)
	}
}

// waitHeld waits up to 20 TTLs for n to hold name.
func waitHeld(t *testing.T, n *testNode, name string) {
	t.Helper()
	deadline := time.Now().Add(20 * testTTL)
	for !n.Holds(name) {
		if time.Now().After(deadline) {
			t.Fatalf("%s does not hold %s", n.name, name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBindLostAndReleased: a run bound to a lease that a Sync finds held
// by another member is cancelled at that Sync, and so is one bound when
// the leases are released (Close); a run bound to several leases needs
// them all, and ends when any of them lapses.
func TestBindLostAndReleased(t *testing.T) {
	d := schema(t)
	db := openDB(t, d, "", nil)
	ctx := context.Background()
	clk := newFakeClock()
	a := NewLeases(db, "a", time.Minute, 10*time.Second, time.Second)
	b := NewLeases(db, "b", time.Minute, 10*time.Second, time.Second)
	a.now, b.now = clk.now, clk.now
	if err := a.Sync(ctx, []string{"x", "y"}); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := a.Bind(ctx, "x", "z"); ok {
		t.Error("Bind allowed a run on x and z, z not held")
	}
	both, stopBoth, ok := a.Bind(ctx, "x", "y")
	if !ok {
		t.Fatal("Bind refused x and y, both held")
	}
	defer stopBoth()
	onlyY, stopY, ok := a.Bind(ctx, "y")
	if !ok {
		t.Fatal("Bind refused y")
	}
	defer stopY()

	// Something else took x (its row gone, b claims it): a's next Sync
	// loses it, and the runs bound to x end at once.
	if _, err := db.ExecContext(ctx, `DELETE FROM cluster_leases WHERE name = 'x'`); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(ctx, []string{"x", "y"}); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(context.Cause(both), ErrLeaseLapsed) {
		t.Errorf("run on x and y: cause %v after x was lost, want %v", context.Cause(both), ErrLeaseLapsed)
	}
	if onlyY.Err() != nil {
		t.Errorf("run on y cancelled (%v) though y is still held", context.Cause(onlyY))
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(context.Cause(onlyY), ErrLeaseLapsed) {
		t.Errorf("run on y: cause %v after Release, want %v", context.Cause(onlyY), ErrLeaseLapsed)
	}
	a.mu.Lock()
	left := len(a.bound)
	a.mu.Unlock()
	if left != 0 {
		t.Errorf("%d bindings left after Release", left)
	}
}
