package scheduler

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/cluster"
	"github.com/monitor-dev/monitor/internal/testenv"
	"github.com/monitor-dev/monitor/probes"
	"github.com/monitor-dev/monitor/store"
)

// TestLeaseBoundRuns, in cluster mode on real PostgreSQL (Gate = a
// cluster.Node's Bind, lease TTL 1 s): a run lasting 2.5 TTLs publishes
// its result, since its lease is renewed all along; a run during which the
// replica loses the database is cut short once its lease lapses, well
// before its own end, publishes nothing, and is counted as abandoned.
func TestLeaseBoundRuns(t *testing.T) {
	ctx := context.Background()
	d := testenv.PostgresSchema(t)
	st, err := store.Open(ctx, d, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(d)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target = u.Hostname() + ":5432"
	}
	proxy := testenv.StartTCPProxy(t, target)
	u.Host = proxy.Addr()
	const ttl = time.Second
	node, err := cluster.Open(ctx, u.String(), cluster.Options{TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	node.SetChecks([]string{"long"})
	nctx, stopNode := context.WithCancel(ctx)
	nodeDone := make(chan struct{})
	go func() {
		defer close(nodeDone)
		_ = node.Run(nctx)
	}()
	t.Cleanup(func() {
		proxy.Heal()
		stopNode()
		<-nodeDone
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = node.Close(cctx)
	})
	waitUntil(t, 5*time.Second, func() bool { return node.Holds("long") })

	const runFor = 5 * ttl / 2
	started := make(chan struct{}, 4)
	ended := make(chan error, 4) // nil: ran to its end; else why it stopped
	register(t, "t_lease", func(ctx context.Context, sp check.Spec, _ *probes.Env) check.Result {
		started <- struct{}{}
		select {
		case <-time.After(runFor):
			ended <- nil
			return sp.PassResult("ran its whole time")
		case <-ctx.Done():
			ended <- context.Cause(ctx)
			return sp.FailResult("cut short")
		}
	})
	c := &collector{}
	gate := func(parent context.Context, name string) (context.Context, context.CancelFunc, bool) {
		return node.Bind(parent, name)
	}
	s, err := New(Options{Env: &probes.Env{}, Publish: c.publish, MaxJitter: -1, Gate: gate})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply([]check.Spec{{Name: "long", Kind: "t_lease", Interval: 4 * time.Second, Timeout: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })

	// First run: 2.5 TTLs under renewals.
	recv(t, started, 2*time.Second, "first run started")
	if err := recvErr(t, ended, runFor+2*time.Second); err != nil {
		t.Fatalf("the first run was cut short (%v) though its lease was renewed", err)
	}
	waitUntil(t, 2*time.Second, func() bool { return len(c.of("long")) == 1 })
	if r := c.of("long")[0]; r.Status != check.Pass {
		t.Fatalf("first run published %s %q, want PASS", r.Status, r.Message)
	}

	// Second run: the database goes away while it runs.
	recv(t, started, 6*time.Second, "second run started")
	cut := time.Now()
	proxy.Hang()
	err = recvErr(t, ended, runFor+2*time.Second)
	if !errors.Is(err, cluster.ErrLeaseLapsed) {
		t.Fatalf("second run ended with %v, want the cause %v", err, cluster.ErrLeaseLapsed)
	}
	// The lease counts TTL − TTL/5 from the last claim's send, at most
	// one round (TTL/3) before the cut: cancelled within 0.8 s, plus slack.
	if took := time.Since(cut); took > ttl {
		t.Errorf("run cancelled %v after the database went away, want within the lease (%v)", took, ttl-ttl/5)
	}
	waitUntil(t, 2*time.Second, func() bool { return testutil.ToFloat64(s.abandoned) == 1 })
	time.Sleep(100 * time.Millisecond) // a wrongly published result would come at once
	if n := len(c.of("long")); n != 1 {
		t.Fatalf("%d results published, want only the first run's: the second lost its lease", n)
	}
	if n := testutil.ToFloat64(s.notOwner); n != 0 {
		t.Errorf("not_owner_total = %v, want 0", n)
	}
}

func waitUntil(t *testing.T, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func recv(t *testing.T, ch <-chan struct{}, limit time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(limit):
		t.Fatalf("%s: not within %v", what, limit)
	}
}

func recvErr(t *testing.T, ch <-chan error, limit time.Duration) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(limit):
		t.Fatalf("the run did not end within %v", limit)
		return nil
	}
}
