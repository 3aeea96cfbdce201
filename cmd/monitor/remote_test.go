package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/hub"
	"github.com/monitor-dev/monitor/metrics"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/snapshot"
	"github.com/monitor-dev/monitor/store"
)

// A result another replica ran (hub.PublishRemote, from the results feed)
// reaches the snapshot, but neither the history writer (that replica
// stored it), nor the SLO events, nor this replica's run metrics (that
// replica counted it); a local result reaches all three.
func TestRemoteResultSkipsWriterAndMetrics(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://:memory:", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	sp := check.Spec{Name: "db", Kind: "db", Interval: 30 * time.Second, Timeout: 5 * time.Second, Severity: check.Critical}
	snap := snapshot.New([]check.Spec{sp}, time.Now)
	m := metrics.New(snap)
	m.SetChecks([]check.Spec{sp})
	reg := prometheus.NewRegistry()
	w := store.NewWriter(st, store.WriterOptions{Registerer: reg}) // not run: what it got stays queued
	eval := sla.NewEvaluator(st, []sla.Objective{{Check: "db", Target: 0.99, Window: 24 * time.Hour}}, time.Now, nil)
	reg.MustRegister(eval)
	h := hub.New(snap, metricsSub{m}, history{eval: eval, writer: w})

	res := func(at time.Time) check.Result {
		return check.Result{Check: "db", Kind: "db", Status: check.Pass, Severity: check.Info, Message: "ok", CheckedAt: at}
	}
	if !h.PublishRemote(res(now.Add(-time.Second))) {
		t.Fatal("the remote result was not recorded")
	}
	if got := snap.View().Raw["db"].CheckedAt; !got.Equal(now.Add(-time.Second)) {
		t.Fatalf("the snapshot holds db's result of %v, want the remote one", got)
	}
	runs, events := counts(t, m, reg)
	if w.Len() != 0 || runs != 0 || events != 0 {
		t.Fatalf("after a remote result: writer queue %d, runs %v, SLO events %v; want 0, 0, 0", w.Len(), runs, events)
	}

	h.Publish(res(now))
	runs, events = counts(t, m, reg)
	if w.Len() != 1 || runs != 1 || events != 1 {
		t.Fatalf("after a local result: writer queue %d, runs %v, SLO events %v; want 1, 1, 1", w.Len(), runs, events)
	}
}

// counts returns the sum of monitor_check_runs_total and of
// monitor_slo_events_total.
func counts(t *testing.T, m *metrics.Metrics, reg *prometheus.Registry) (runs, events float64) {
	t.Helper()
	var b strings.Builder
	if err := m.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(b.String(), "\n") {
		if strings.HasPrefix(line, "monitor_check_runs_total{") {
			var v float64
			f := strings.Fields(line)
			if _, err := fmt.Sscan(f[len(f)-1], &v); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			runs += v
		}
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "monitor_slo_events_total" {
			for _, mt := range f.GetMetric() {
				events += mt.GetCounter().GetValue()
			}
		}
	}
	return runs, events
}
