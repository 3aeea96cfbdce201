package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/internal/testenv"
	"github.com/prometheus/client_golang/prometheus"
)

// Timings of the cluster tests: rounds every TTL/3, leases TTL − TTL/5.
const (
	testTTL      = time.Second
	testInterval = testTTL / 3
	// slack covers a statement's time and the polling of waitFor on a
	// loaded machine (2 shared cores, -race).
	slack = 300 * time.Millisecond
)

// testNode is a Node running its loop in a goroutine.
type testNode struct {
	*Node
	name   string
	cancel context.CancelFunc
	done   chan struct{}
}

// startNode starts a node named name on d (through proxy when not nil),
// sharing out checks; its loop stops and it leaves when t ends, unless
// killed before.
func startNode(t *testing.T, d, name string, checks []string, proxy *testenv.TCPProxy, log *testenv.SyncBuffer) *testNode {
	t.Helper()
	host := ""
	if proxy != nil {
		host = proxy.Addr()
	}
	opts := Options{ID: name + "-" + NewID(), Location: "test", Listen: "127.0.0.1:0", TTL: testTTL}
	if log != nil {
		opts.Logger = slog.New(slog.NewTextHandler(log, nil))
	}
	n := New(openDB(t, d, host, nil), opts)
	n.SetChecks(checks)
	ctx, cancel := context.WithCancel(context.Background())
	tn := &testNode{Node: n, name: name, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(tn.done)
		_ = n.Run(ctx)
	}()
	t.Cleanup(func() {
		select {
		case <-tn.done:
			return // killed
		default:
		}
		tn.kill()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Errorf("close %s: %v", name, err)
		}
	})
	return tn
}

// kill stops the node's loop without leaving the cluster, as kill -9 does
// (its leases lapse locally and by the server's clock).
func (n *testNode) kill() {
	n.cancel()
	<-n.done
}

// sampler asks every node, name by name, whether it holds the name, in a
// loop for the whole test, and remembers any instant two nodes held one
// name, or two nodes were leaders.
type sampler struct {
	checks []string
	mu     sync.Mutex
	nodes  []*testNode

	// steady is set while the cluster is settled: then exactly one node
	// must lead at every sample (at most one at any time).
	steady     atomic.Bool
	sweeps     atomic.Int64
	violations atomic.Int64
	first      atomic.Pointer[string]
	stop, done chan struct{}
}

func startSampler(checks []string) *sampler {
	s := &sampler{checks: checks, stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *sampler) add(n *testNode) {
	s.mu.Lock()
	s.nodes = append(s.nodes, n)
	s.mu.Unlock()
}

func (s *sampler) violate(msg string) {
	s.violations.Add(1)
	s.first.CompareAndSwap(nil, &msg)
}

func (s *sampler) run() {
	defer close(s.done)
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		s.mu.Lock()
		nodes := s.nodes
		s.mu.Unlock()
		for _, name := range s.checks {
			var holders []string
			for _, n := range nodes {
				if n.Holds(name) {
					holders = append(holders, n.name)
				}
			}
			if len(holders) > 1 {
				s.violate(fmt.Sprintf("%s held by %v at once", name, holders))
			}
		}
		var leaders []string
		for _, n := range nodes {
			if n.IsLeader() {
				leaders = append(leaders, n.name)
			}
		}
		if len(leaders) > 1 {
			s.violate(fmt.Sprintf("two leaders at once: %v", leaders))
		}
		if s.steady.Load() && len(leaders) != 1 {
			s.violate(fmt.Sprintf("leaders %v in a settled cluster, want one", leaders))
		}
		s.sweeps.Add(1)
		time.Sleep(time.Millisecond) // leave the nodes some CPU
	}
}

// finish stops the sampler and fails t on any overlap it saw.
func (s *sampler) finish(t *testing.T) {
	t.Helper()
	close(s.stop)
	<-s.done
	t.Logf("sampler: %d sweeps of %d names", s.sweeps.Load(), len(s.checks))
	if v := s.violations.Load(); v > 0 {
		t.Errorf("%d overlapping samples; first: %s", v, *s.first.Load())
	}
	if s.sweeps.Load() < 100 {
		t.Errorf("sampler made only %d sweeps", s.sweeps.Load())
	}
}

// holders returns who holds each check among nodes, and a complaint when a
// check is held by no node, by two, or by another node than its owner by
// rendezvous hashing over nodes.
func holders(nodes []*testNode, checks []string) (map[string]string, string) {
	h := make(map[string]string, len(checks))
	for _, n := range nodes {
		for _, c := range n.Held() {
			if h[c] != "" {
				return h, fmt.Sprintf("%s held by %s and %s", c, h[c], n.name)
			}
			h[c] = n.name
		}
	}
	ids := make([]string, len(nodes))
	byID := map[string]string{}
	for i, n := range nodes {
		ids[i] = n.ID()
		byID[n.ID()] = n.name
	}
	free, misplaced := 0, 0
	for _, c := range checks {
		switch h[c] {
		case "":
			free++
		case byID[Owner(c, ids)]:
		default:
			misplaced++
		}
	}
	if free > 0 || misplaced > 0 {
		return h, fmt.Sprintf("of %d checks %d are held by no node, %d not by their owner", len(checks), free, misplaced)
	}
	return h, ""
}

// leaders returns the names of the nodes that lead.
func leaders(nodes []*testNode) []string {
	var l []string
	for _, n := range nodes {
		if n.IsLeader() {
			l = append(l, n.name)
		}
	}
	return l
}

// settle waits until every check is held by its owner among nodes and one
// of them leads; it returns the holders and how long it took.
func settle(t *testing.T, nodes []*testNode, checks []string, timeout time.Duration) (map[string]string, time.Duration) {
	t.Helper()
	start := time.Now()
	var why string
	for time.Since(start) < timeout {
		var h map[string]string
		h, why = holders(nodes, checks)
		if why == "" {
			if l := leaders(nodes); len(l) != 1 {
				why = fmt.Sprintf("leaders %v, want one", l)
			} else {
				return h, time.Since(start)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("not settled after %v: %s", timeout, why)
	return nil, 0
}

// metric returns the value of a metric the node collects.
func metric(t *testing.T, n *Node, name string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(n)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestCluster runs the life of a cluster against the real PostgreSQL with
// a 1 s TTL and 1,000 checks, while a sampler checks, the whole time, that
// no two nodes hold one check (or lead) at the same instant: three nodes
// share the checks; a fourth joins and takes about a quarter; the leader is
// killed and its checks and the lead are taken over within TTL + a round;
// one is cut
// off PostgreSQL, stops holding anything within the TTL, says so, and
// rejoins when the network heals.
func TestCluster(t *testing.T) {
	d := schema(t)
	checks := names(1000)
	proxy := testenv.StartTCPProxy(t, pgHost(t, d))
	cLog := &testenv.SyncBuffer{}
	s := startSampler(checks)
	defer s.finish(t)

	a := startNode(t, d, "a", checks, nil, nil)
	b := startNode(t, d, "b", checks, nil, nil)
	c := startNode(t, d, "c", checks, proxy, cLog)
	for _, n := range []*testNode{a, b, c} {
		s.add(n)
	}
	three, took := settle(t, []*testNode{a, b, c}, checks, 10*time.Second)
	s.steady.Store(true)
	t.Logf("3 nodes settled in %v", took.Round(time.Millisecond))
	for _, n := range []*testNode{a, b, c} {
		if got := metric(t, n.Node, "monitor_cluster_members"); got != 3 {
			t.Errorf("%s: monitor_cluster_members = %v, want 3", n.name, got)
		}
		if got, want := metric(t, n.Node, "monitor_cluster_owned_checks"), float64(len(n.Held())); got != want {
			t.Errorf("%s: monitor_cluster_owned_checks = %v, want %v", n.name, got, want)
		}
	}

	// A fourth node joins: it takes about a quarter, from the others only.
	dn := startNode(t, d, "d", checks, nil, nil)
	s.add(dn)
	four, took := settle(t, []*testNode{a, b, c, dn}, checks, 10*time.Second)
	moved := 0
	for _, name := range checks {
		if four[name] != three[name] {
			moved++
			if four[name] != "d" {
				t.Errorf("%s moved from %s to %s on d's join", name, three[name], four[name])
			}
		}
	}
	t.Logf("d joined: %d of %d checks moved, settled in %v", moved, len(checks), took.Round(time.Millisecond))
	if moved < 200 || moved > 300 {
		t.Errorf("d's join moved %d of %d checks, want 20-30 %%", moved, len(checks))
	}
	var leaderSum float64
	for _, n := range []*testNode{a, b, c, dn} {
		leaderSum += metric(t, n.Node, "monitor_cluster_leader")
	}
	if leaderSum != 1 {
		t.Errorf("monitor_cluster_leader sums to %v over the nodes, want 1", leaderSum)
	}

	// kill -9 the leader (or b when c leads: c's cut below moves the
	// lead then): its checks and the lead move within TTL + a round.
	victim, rest := b, []*testNode{a, c, dn}
	leader := leaders([]*testNode{a, b, c, dn})[0]
	t.Logf("leader: %s", leader)
	switch leader {
	case "a":
		victim, rest = a, []*testNode{b, c, dn}
	case "d":
		victim, rest = dn, []*testNode{a, b, c}
	}
	s.steady.Store(false)
	victim.kill()
	_, took = settle(t, rest, checks, 5*time.Second)
	s.steady.Store(true)
	t.Logf("%s killed: its checks taken over in %v (TTL %v, round %v)", victim.name, took.Round(time.Millisecond), testTTL, testInterval)
	if took > testTTL+testInterval+slack {
		t.Errorf("takeover took %v, want within TTL + a round (%v, + %v slack)", took, testTTL+testInterval, slack)
	}
	if len(victim.Held()) != 0 || victim.IsLeader() {
		t.Errorf("killed %s still holds checks after the takeover", victim.name)
	}
	var others []*testNode // the nodes besides c
	for _, n := range rest {
		if n != c {
			others = append(others, n)
		}
	}

	// Cut c off PostgreSQL: it stops holding anything within the TTL,
	// says so, and the others take over.
	errsBefore := metric(t, c.Node, "monitor_cluster_sync_errors_total")
	s.steady.Store(false)
	proxy.Hang()
	cut := time.Now()
	for len(c.Held()) > 0 || c.IsLeader() {
		if time.Since(cut) > testTTL {
			t.Fatalf("cut off c still holds %d checks after %v", len(c.Held()), time.Since(cut))
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("c cut off: holds nothing after %v", time.Since(cut).Round(time.Millisecond))
	settle(t, others, checks, 5*time.Second)
	s.steady.Store(true)
	t.Logf("c cut off: its checks taken over in %v after the cut", time.Since(cut).Round(time.Millisecond))
	if st := c.State(); st.OK || !strings.HasPrefix(st.String(), "no database since ") {
		t.Errorf("cut off c's state is %q, want \"no database since …\"", st)
	}
	if got := metric(t, c.Node, "monitor_cluster_sync_errors_total"); got <= errsBefore {
		t.Errorf("monitor_cluster_sync_errors_total of cut off c = %v, was %v", got, errsBefore)
	}
	if got := metric(t, c.Node, "monitor_cluster_members"); got != 0 {
		t.Errorf("monitor_cluster_members of cut off c = %v, want 0", got)
	}
	if !strings.Contains(cLog.String(), "lost the database") {
		t.Errorf("c's log does not say it lost the database:\n%s", cLog.String())
	}

	// The network heals: c rejoins by itself.
	proxy.Heal()
	healed := time.Now()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h, why := holders(rest, checks)
		n := 0
		for _, who := range h {
			if who == "c" {
				n++
			}
		}
		if why == "" && n > 200 && c.State().OK && len(leaders(rest)) == 1 {
			t.Logf("c rejoined after %v, holding %d checks", time.Since(healed).Round(time.Millisecond), n)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("c did not rejoin within 10 s: %s; c holds %d, state %q", why, n, c.State())
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, n := range []*testNode{a, b, c, dn} {
		t.Logf("%s: %v failed rounds", n.name, metric(t, n.Node, "monitor_cluster_sync_errors_total"))
	}
	if !strings.Contains(cLog.String(), "database reached again") {
		t.Errorf("c's log does not say it reached the database again:\n%s", cLog.String())
	}
}
