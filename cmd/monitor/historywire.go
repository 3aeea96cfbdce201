package main

import (
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/store"
)

// maintenance turns the config's maintenance windows into sla's.
func maintenance(cfg *config.Config) []sla.Maintenance {
	out := make([]sla.Maintenance, 0, len(cfg.Maintenance))
	for _, m := range cfg.Maintenance {
		out = append(out, sla.Maintenance{Checks: m.Checks, Start: m.Start, End: m.End})
	}
	return out
}

// record is how a result is stored: flagged when it fell in a maintenance
// window, and whether it was within the SLA (freshness: the age at most
// critical_age, or max_age when there is none; other kinds: PASS).
func record(r check.Result, sp check.Spec, maint []sla.Maintenance) store.Record {
	rec := store.Record{Result: r, Maintenance: sla.InMaintenance(maint, r.Check, r.CheckedAt)}
	rec.Links = nil // per-link results are not history
	switch {
	case sp.Kind == check.KindFreshness && r.Status != check.Unknown && r.ObservedValue != nil:
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
