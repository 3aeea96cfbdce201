package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/cluster"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/store"
)

// This file wires cluster mode (cluster.enabled, issue 14): N replicas on
// one PostgreSQL store.
//
//   - Each check runs on the one replica that holds its lease
//     (scheduler.Options.Gate = daemon.gate: cluster.Node.Bind, and for
//     link checks with quorum > 1 also each location's runner, see
//     quorumwire.go); the others skip its due times
//     (monitor_scheduler_not_owner_total). A run goes on under a context
//     bound to the lease, whatever its timeout: when the lease lapses
//     mid-run (this replica lost the database), the run is abandoned, its
//     result neither stored nor published
//     (monitor_scheduler_abandoned_runs_total).
//   - Every replica serves every check's latest result: the results feed
//     (store.Feed, LISTEN/NOTIFY) hands the others' results to the hub as
//     remote results (snapshot, alerting view, status page; not the store
//     writer nor the run counters).
//   - /metrics exports the state of the checks this replica holds
//     (metrics.SetOwned) and its own run counts of all.
//   - The leader (cluster.Node.IsLeader) alone writes: its alerting engine
//     is active (the others' are passive: same view, no writes; see
//     alerting.Engine.SetActive), compacts the history and writes
//     statuspage.out. Every replica runs the outbox dispatcher
//     (dispatchesHere): deliveries are claimed, so each is sent once.
//   - Heartbeats pushed to any replica are stored; the owner of the check
//     reads them back every beatSyncEvery (syncBeats).
//   - A replica that cannot reach PostgreSQL lets its leases lapse (the
//     Node), and says so: logs (the Node), monitor_cluster_* metrics, and
//     /readyz 503 with the reason.

// leadershipPoll is how often the daemon looks whether it became or
// stopped being the leader. Well under the lease's margin (TTL/5 ≥ 600
// ms), so that an engine never stays active after its lease lapsed.
const leadershipPoll = 100 * time.Millisecond

// beatSyncEvery is how often a replica reads the heartbeats the others
// received and stored.
const beatSyncEvery = time.Second

// dispatchesHere reports whether this replica runs the outbox dispatcher,
// given whether it leads: the one switch between "every replica" (true:
// deliveries are claimed with FOR UPDATE SKIP LOCKED, so each is sent by
// one dispatcher; a crashed one's claims lapse and another resends with
// the same idempotency id) and "the leader only" (return leader).
func dispatchesHere(leader bool) bool { return true }

// openCluster joins the cluster of cfg (cluster.enabled): a Node on the
// store's database with a pool of its own. The store must be open (its
// migrations create the tables). listen is registered with the member.
func (d *daemon) openCluster(ctx context.Context, cfg *config.Config, listen string) error {
	node, err := cluster.Open(ctx, cfg.Storage.DSN, cluster.Options{
		Location: cfg.Cluster.Location, Listen: listen, TTL: cfg.Cluster.LeaseTTL,
		Logger: d.logger.With("component", "cluster"), OnAcquire: d.tookOver,
	})
	if err != nil {
		return err
	}
	d.node = node
	node.SetChecks(checkNames(cfg))
	d.setQuorumChecks(cfg)
	d.withLocations(d.env)
	d.reg.MustRegister(node, newLocationMetrics(d))
	d.metrics.SetOwned(node.Holds)
	d.srv.SetUnready(func() string {
		if st := node.State(); !st.OK {
			return "cluster: " + st.String()
		}
		return ""
	})
	d.logger.Info("cluster mode: joining the replicas of the store", "member", node.ID(),
		"location", cfg.Cluster.Location, "lease_ttl", cfg.Cluster.LeaseTTL)
	return nil
}

// takeOverSpread spreads the runs of the checks taken over in one round
// (a dead replica's share: thousands at once) over this long.
const takeOverSpread = time.Second

// tookOver is called with the checks whose lease this replica has just
// gained. Each whose latest result is older than its interval (its owner
// died or lost the database, so the lease lapsed before this replica could
// take it) runs at once, instead of waiting here for its next due time,
// up to another interval: a dead replica's checks run again within about
// lease_ttl and a round of the survivors. A check handed over by a replica
// that left or rebalanced has a recent result and keeps its schedule.
func (d *daemon) tookOver(names []string) {
	if d.sched == nil {
		return
	}
	now := time.Now()
	var due []string
	for _, name := range names {
		sp, ok := d.snap.Spec(name)
		if !ok || sp.Cron != "" || sp.Interval <= 0 {
			continue
		}
		if at, ok := d.snap.CheckedAt(name); ok && now.Sub(at) < sp.Interval {
			continue
		}
		due = append(due, name)
	}
	for i, name := range due {
		time.AfterFunc(takeOverSpread*time.Duration(i)/time.Duration(len(due)), func() { d.sched.RunNow(name) })
	}
	if len(due) > 0 {
		d.logger.Info("cluster: took over checks whose last run is older than their interval; running them now",
			"checks", len(due))
	}
}

// checkNames are the names of cfg's checks.
func checkNames(cfg *config.Config) []string {
	names := make([]string, len(cfg.Checks))
	for i, sp := range cfg.Checks {
		names[i] = sp.Name
	}
	return names
}

// startFeed starts the results feed that brings the other replicas'
// results to the hub.
func (d *daemon) startFeed() error {
	feed, err := store.NewFeed(d.store, func(rs []check.Result) {
		for _, r := range rs {
			d.hub.PublishRemote(r)
		}
	}, store.FeedOptions{Logger: d.logger.With("component", "feed")})
	if err != nil {
		return fmt.Errorf("results feed: %w", err)
	}
	d.feed = feed
	return nil
}

// leads reports whether this daemon does the leader's duties: always
// without a cluster, else while it holds the leader's lease.
func (d *daemon) leads() bool { return d.node == nil || d.node.IsLeader() }

// bind returns the context of a run of check outside the scheduler:
// parent itself without a cluster; else, while this replica holds the
// check's lease, a context that ends when the lease lapses (see gate).
// ok false: another replica runs check.
func (d *daemon) bind(parent context.Context, check string) (ctx context.Context, stop context.CancelFunc, ok bool) {
	if d.node == nil {
		return parent, func() {}, true
	}
	return d.node.Bind(parent, check)
}

// runLeadership follows the leader's lease until ctx ends: on gaining it
// the alerting engine goes active (restoring from the store first), on
// losing it passive; and it runs the outbox dispatcher while
// dispatchesHere.
func (d *daemon) runLeadership(ctx context.Context) {
	var stop context.CancelFunc
	var done sync.WaitGroup
	startDispatch := func() context.CancelFunc {
		dctx, cancel := context.WithCancel(ctx)
		done.Go(func() { d.outbox.Run(dctx) })
		return cancel
	}
	stopDispatch := func() {
		if stop != nil {
			stop()
			done.Wait()
			stop = nil
		}
	}
	defer stopDispatch()
	leader, first := false, true
	t := time.NewTicker(leadershipPoll)
	defer t.Stop()
	for {
		now := d.node.IsLeader()
		if now != leader || first {
			if now != leader {
				d.alerts.SetActive(now)
				if now {
					d.logger.Info("cluster: this replica is the leader: it writes alert state, compacts history, writes statuspage.out",
						"member", d.node.ID())
				} else {
					d.logger.Info("cluster: this replica is no longer the leader", "member", d.node.ID())
				}
			}
			leader, first = now, false
			if dispatchesHere(leader) {
				if stop == nil {
					stop = startDispatch()
				}
			} else {
				stopDispatch()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// syncBeats reads, every beatSyncEvery until ctx ends, the heartbeats
// that any replica received and stored, and evaluates at once the checks
// this replica owns whose heartbeat advanced.
func (d *daemon) syncBeats(ctx context.Context) {
	t := time.NewTicker(beatSyncEvery)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		beats, err := d.store.Beats(ctx)
		if err != nil {
			if !failing && ctx.Err() == nil && !errors.Is(err, store.ErrUnavailable) {
				d.logger.Warn("cluster: heartbeats of the other replicas not read; retrying", "err", err)
			}
			failing = true
			continue
		}
		failing = false
		var advanced []string
		for name, at := range beats {
			if prev, ok := d.beats.LastBeat(name); !ok || at.After(prev) {
				advanced = append(advanced, name)
			}
		}
		d.beats.Restore(beats)
		for _, name := range advanced {
			d.evaluateNow(ctx, name)
		}
	}
}

// closeCluster leaves the cluster (its leases released, so that the
// others take over at their next round) and stops the results feed; the
// scheduler and the background loops must have stopped.
func (d *daemon) closeCluster() {
	if d.feed != nil {
		_ = d.feed.Close()
		d.feed = nil
	}
	if d.node != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := d.node.Close(ctx); err != nil {
			d.logger.Warn("cluster: leaving failed; the others take over after the lease TTL", "err", err)
		}
		d.node = nil
	}
}

// fitsLease returns an error unless cfg can run under running, the
// cluster section the daemon started with (a reload that changes cluster:
// takes effect on restart only): without a running cluster or location,
// cfg must have no quorum check (quorumNeedsCluster). A check's timeout
// needs nothing of the lease: a run is bound to its lease, not fitted in it.
func fitsLease(cfg *config.Config, running config.Cluster) error {
	return quorumNeedsCluster(cfg, running)
}
