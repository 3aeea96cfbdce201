package main

import (
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

// record is how a result is stored: judged by sla (maintenance, within the
// SLA, down), without its per-link results, which are not history.
func record(r check.Result, sp check.Spec, maint []sla.Maintenance) store.Record {
	r.Links = nil
	return sla.Stored(r, sp, maint)
}
