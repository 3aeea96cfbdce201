package sla

import (
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/store"
)

// This file is the one definition of how a result counts: within the SLA
// or not, down or not, and so when an outage starts and ends. The store
// persists what these functions decide (Record.WithinSLA, Record.Down); the
// report, the SLO figures, monitor_slo_events_total and, next, incidents
// and the status page read the same decisions.

// Within is the within-SLA rule. The kind decides (check.Behaviour.Within:
// for a freshness check with an observed age, whether the age is at most
// critical_age, max_age when there is none); for every other result,
// whether it passed.
func Within(r check.Result, sp check.Spec) bool { return sp.Within(r) }

// Down tells whether a result puts its check in an outage: a FAIL outside
// maintenance. PASS, UNKNOWN and any result in a maintenance window end an
// outage.
func Down(r store.Record) bool { return r.Status == check.Fail && !r.Maintenance }

// Stored is a result as the history keeps it, with every judgement of this
// package made once: whether it fell in a maintenance window, whether it
// was within the SLA, whether the check was down.
func Stored(r check.Result, sp check.Spec, maint []Maintenance) store.Record {
	rec := store.Record{Result: r, Maintenance: InMaintenance(maint, r.Check, sp.Component, r.CheckedAt), WithinSLA: Within(r, sp)}
	rec.Down = Down(rec)
	return rec
}

// Outage is the outage state machine of one check, fed its results in time
// order: an outage starts at the first Down result after one that was not
// (or at the first result), and ends at the next result that is not Down.
// The zero value has no outage open.
type Outage struct {
	open  bool
	start time.Time
}

// Open reports whether an outage is open, and since when.
func (o *Outage) Open() (time.Time, bool) { return o.start, o.open }

// Resume continues from an outage open since start (as stored).
func (o *Outage) Resume(start time.Time) { o.open, o.start = true, start }

// Next feeds the next result of the check: started is true when an outage
// starts at it, ended when the open one ends at it.
func (o *Outage) Next(r store.Record) (started, ended bool) {
	down := r.Down
	switch {
	case down && !o.open:
		o.open, o.start = true, r.CheckedAt
		return true, false
	case !down && o.open:
		o.open = false
		return false, true
	}
	return false, false
}

// Outages replays one check's records, in time order, through the state
// machine: the reference the store's outage rows must agree with.
func Outages(recs []store.Record) []store.Outage {
	var (
		m   Outage
		out []store.Outage
	)
	for _, r := range recs {
		started, ended := m.Next(r)
		switch {
		case started:
			out = append(out, store.Outage{Check: r.Check, Start: r.CheckedAt})
		case ended:
			out[len(out)-1].End = r.CheckedAt
		}
	}
	return out
}
