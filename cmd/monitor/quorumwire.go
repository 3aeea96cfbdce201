package main

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/cluster"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/probes"
)

// This file wires multi-location link checks (quorum > 1, cluster mode;
// issue 14, point 5). See probes.LinkLocations for the flow and
// cluster.LocationLease for the ownership:
//
//   - the scheduler's gate lets a replica run such a check while it holds
//     the check's lease (it combines and publishes) or the lease of the
//     check in its location (it runs the links there and stores them);
//   - publishing drops the result of a run by a replica that does not hold
//     the check's own lease: it only stored its location's links;
//   - monitor_link_location_failures{check,location} is exported by the
//     replica that holds the check, from the combined result's links.

// quorumChecks are the names of cfg's link checks with quorum > 1.
func quorumChecks(cfg *config.Config) []string {
	var names []string
	for _, sp := range cfg.Checks {
		if c, ok := probes.LinkConfigOf(sp); ok && c.Quorum > 1 {
			names = append(names, sp.Name)
		}
	}
	return names
}

// quorumSet holds the names of the running config's quorum checks.
type quorumSet struct{ p atomic.Pointer[[]string] }

func (q *quorumSet) set(names []string) { q.p.Store(&names) }

func (q *quorumSet) has(name string) bool {
	p := q.p.Load()
	return p != nil && slices.Contains(*p, name)
}

func (q *quorumSet) names() []string {
	if p := q.p.Load(); p != nil {
		return *p
	}
	return nil
}

// setQuorumChecks applies cfg's quorum checks (at start and on reload).
func (d *daemon) setQuorumChecks(cfg *config.Config) {
	names := quorumChecks(cfg)
	d.quorum.set(names)
	if d.node != nil {
		d.node.SetLocationChecks(names)
	}
}

// gate is the scheduler's gate in cluster mode: a check runs on the
// replica holding its lease and, for a quorum check, also on the runner
// of each location. The run is bound to every lease that let it start
// (cluster.Node.Bind): it is abandoned as soon as this replica's lease on
// the check, or on its location's runs, lapses.
func (d *daemon) gate(parent context.Context, name string) (context.Context, context.CancelFunc, bool) {
	leases := make([]string, 0, 2)
	if d.node.Holds(name) {
		leases = append(leases, name)
	}
	if d.quorum.has(name) && d.node.RunsHere(name) {
		leases = append(leases, d.node.HereLease(name))
	}
	if len(leases) == 0 {
		return nil, nil, false
	}
	return d.node.Bind(parent, leases...)
}

// publish hands a run's result to the hub, unless it is a quorum check's
// run by a location runner that does not hold the check (it stored its
// location's links; the holder publishes the combination).
func (d *daemon) publish(r check.Result) {
	if d.node != nil && d.quorum.has(r.Check) && !d.node.Holds(r.Check) {
		return
	}
	d.hub.Publish(r)
}

// nodeLocations is probes.LinkLocations on a cluster node.
type nodeLocations struct{ node *cluster.Node }

func (l nodeLocations) RunsHere(name string) bool { return l.node.RunsHere(name) }
func (l nodeLocations) Combines(name string) bool { return l.node.Holds(name) }
func (l nodeLocations) Put(ctx context.Context, name string, links []check.LinkResult) error {
	return l.node.PutLinks(ctx, name, links)
}
func (l nodeLocations) Reports(ctx context.Context, name string, maxAge time.Duration) (map[string][]check.LinkResult, error) {
	return l.node.LinkReports(ctx, name, maxAge)
}

// withLocations gives env the cluster's link locations (cluster mode).
func (d *daemon) withLocations(env *probes.Env) {
	if d.node != nil {
		env.Locations = nodeLocations{d.node}
	}
}

// locationMetrics exports, for the quorum checks this replica holds, how
// many links each location saw failing in the latest combined result.
type locationMetrics struct {
	d    *daemon
	desc *prometheus.Desc
}

func newLocationMetrics(d *daemon) *locationMetrics {
	return &locationMetrics{d: d, desc: prometheus.NewDesc("monitor_link_location_failures",
		"Links a location saw failing in the latest combined result of a link check with quorum > 1 (exported by the replica that holds the check).",
		[]string{"check", "location"}, nil)}
}

// Describe sends the metric's description.
func (m *locationMetrics) Describe(ch chan<- *prometheus.Desc) { ch <- m.desc }

// Collect sends one series per held quorum check and reporting location.
func (m *locationMetrics) Collect(ch chan<- prometheus.Metric) {
	names := m.d.quorum.names()
	if len(names) == 0 || m.d.node == nil {
		return
	}
	v := m.d.snap.View()
	for _, name := range names {
		if !m.d.node.Holds(name) {
			continue
		}
		failing := map[string]int{}
		for _, l := range v.Raw[name].Links {
			for loc, s := range l.Locations {
				n := failing[loc] // 0 for a location seeing none fail
				if s.Status != check.Pass {
					n++
				}
				failing[loc] = n
			}
		}
		for loc, n := range failing {
			ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, float64(n), name, loc)
		}
	}
}

// quorumNeedsCluster returns an error when cfg has a quorum check but the
// running daemon has no cluster (a reload cannot start one).
func quorumNeedsCluster(cfg *config.Config, running config.Cluster) error {
	if running.Enabled && running.Location != "" {
		return nil
	}
	names := quorumChecks(cfg)
	switch {
	case len(names) == 0:
		return nil
	case !running.Enabled:
		return fmt.Errorf("check %q has quorum > 1, which needs cluster mode, and this daemon runs without a cluster (restart with it)", names[0])
	default:
		// cluster.location takes effect on restart only, as the rest of
		// cluster: without one the check would stay UNKNOWN.
		return fmt.Errorf("check %q has quorum > 1, which needs cluster.location, and this daemon runs without a location (restart with it)", names[0])
	}
}
