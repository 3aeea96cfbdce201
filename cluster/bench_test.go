package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkClusterRound measures one Node round (heartbeat and member
// list, lease sync) at 10,000 checks against the real PostgreSQL, alone
// (the node renews all 10,000 leases) and as one of three (about 3,333).
// The TTL is long, so that the other members stay live and ownership
// stays put during the run. It reports statements per round.
//
//	go test -run x -bench Cluster ./cluster/
func BenchmarkClusterRound(b *testing.B) {
	checks := names(10000)
	for _, members := range []int{1, 3} {
		b.Run(fmt.Sprintf("checks=10000/members=%d", members), func(b *testing.B) {
			d := schema(b)
			ctx := context.Background()
			var c counter
			opts := Options{TTL: time.Minute}
			n := New(openDB(b, d, "", &c), opts)
			n.SetChecks(checks)
			nodes := []*Node{n}
			for range members - 1 {
				other := New(openDB(b, d, "", nil), opts)
				other.SetChecks(checks)
				nodes = append(nodes, other)
			}
			// All register first, so that each claims only its share.
			for _, x := range nodes {
				if _, err := x.members.Heartbeat(ctx); err != nil {
					b.Fatal(err)
				}
			}
			for _, x := range nodes {
				if err := x.Round(ctx); err != nil {
					b.Fatal(err)
				}
			}
			held := len(n.Held())
			c.n.Store(0)
			b.ResetTimer()
			for b.Loop() {
				if err := n.Round(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.n.Load())/float64(b.N), "stmts/round")
			b.ReportMetric(float64(held), "leases")
		})
	}
}

// BenchmarkClusterClaim measures the claim statement alone taking over
// 10,000 leases that another owner let expire, the worst case of a sync
// (a failover of a single node holding everything).
func BenchmarkClusterClaim(b *testing.B) {
	checks := names(10000)
	d := schema(b)
	db := openDB(b, d, "", nil)
	ctx := context.Background()
	owners := []*Leases{
		NewLeases(db, "x", time.Microsecond, 0, time.Second),
		NewLeases(db, "y", time.Microsecond, 0, time.Second),
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := owners[i%2].Sync(ctx, checks); err != nil {
			b.Fatal(err)
		}
	}
}
