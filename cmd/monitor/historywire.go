package main

import (
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/hub"
	"github.com/monitor-dev/monitor/metrics"
	"github.com/monitor-dev/monitor/scheduler/cronspec"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/store"
)

// maintenance turns the config's maintenance windows into the one rule
// (sla.InMaintenance) that the hub, the history store and alerting use: a
// check is in maintenance when a window covers its name, a glob matching it
// or its component, and is open at that time.
func maintenance(cfg *config.Config) hub.InMaintenance {
	windows := make([]sla.Maintenance, 0, len(cfg.Maintenance))
	for _, m := range cfg.Maintenance {
		w := sla.Maintenance{Checks: m.Checks, Components: m.Components, Start: m.Start, End: m.End, Duration: m.Duration}
		if m.Cron != "" {
			// config validated it with the same parser: it cannot fail.
			sched, err := cronspec.Parse(m.Cron, time.UTC, time.Now())
			if err != nil {
				continue
			}
			w.Cron = sched
		}
		windows = append(windows, w)
	}
	component := make(map[string]string, len(cfg.Checks))
	for _, sp := range cfg.Checks {
		component[sp.Name] = sp.Component
	}
	return func(name string, at time.Time) bool { return sla.InMaintenance(windows, name, component[name], at) }
}

// history is the hub's subscriber for the SLO events and the history store.
// A remote result (another replica's, brought by the results feed) is
// skipped: that replica stored it and counted its SLO event.
type history struct {
	eval   *sla.Evaluator
	writer *store.Writer
}

func (h history) Observe(r check.Result, ch hub.Change) {
	if ch.Remote {
		return
	}
	rec := record(r, ch)
	h.eval.Observe(rec) // monitor_slo_events_total: what `monitor rules` reads
	h.writer.Enqueue(rec)
}

// record is how a result is stored: judged by sla (within the SLA, down),
// with the hub's maintenance decision. Its per-link results are not
// history: the writer drops them, except in cluster mode, where the store
// keeps each link check's latest ones for the other replicas
// (store.Options.ShareLinks, see storeOptions).
func record(r check.Result, ch hub.Change) store.Record {
	rec := store.Record{Result: r, Maintenance: ch.Maintenance, WithinSLA: sla.Within(r, ch.Spec)}
	rec.Down = sla.Down(rec)
	return rec
}

// metricsSub is the hub's subscriber for the run counters and durations of
// the checks this replica runs: a remote result is skipped (the replica
// that ran it counts it).
type metricsSub struct{ m *metrics.Metrics }

func (s metricsSub) Observe(r check.Result, ch hub.Change) {
	if !ch.Remote {
		s.m.Observe(r)
	}
}
func (s metricsSub) SetSpecs(specs []check.Spec) { s.m.SetChecks(specs) }
