package main

import (
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/hub"
	"github.com/monitor-dev/monitor/metrics"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/store"
)

// maintenance turns the config's maintenance windows into the hub's rule.
func maintenance(cfg *config.Config) hub.InMaintenance {
	windows := make([]sla.Maintenance, 0, len(cfg.Maintenance))
	for _, m := range cfg.Maintenance {
		windows = append(windows, sla.Maintenance{Checks: m.Checks, Start: m.Start, End: m.End})
	}
	return func(name string, at time.Time) bool { return sla.InMaintenance(windows, name, at) }
}

// history is the hub's subscriber for the SLO events and the history store.
type history struct {
	eval   *sla.Evaluator
	writer *store.Writer
}

func (h history) Observe(r check.Result, ch hub.Change) {
	rec := record(r, ch)
	h.eval.Observe(rec) // monitor_slo_events_total: what `monitor rules` reads
	h.writer.Enqueue(rec)
}

// record is how a result is stored: flagged when it fell in a maintenance
// window, and whether it was within the SLA (freshness: the age at most
// critical_age, or max_age when there is none; other kinds: PASS).
func record(r check.Result, ch hub.Change) store.Record {
	sp := ch.Spec
	rec := store.Record{Result: r, Maintenance: ch.Maintenance}
	rec.Links = nil // per-link results are not history
	switch {
	case sp.Kind == "freshness" && r.Status != check.Unknown && r.ObservedValue != nil:
		limit := sp.CriticalAge
		if limit <= 0 {
			limit = sp.MaxAge
		}
		rec.WithinSLA = time.Duration(*r.ObservedValue*float64(time.Second)) <= limit
	default:
		rec.WithinSLA = r.Status == check.Pass
	}
	return rec
}

// metricsSub is the hub's subscriber for the run counters and durations.
type metricsSub struct{ m *metrics.Metrics }

func (s metricsSub) Observe(r check.Result, _ hub.Change) { s.m.Observe(r) }
func (s metricsSub) SetSpecs(specs []check.Spec)          { s.m.SetChecks(specs) }
