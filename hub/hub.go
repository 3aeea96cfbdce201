// Package hub hands each check result, once, to everything that cares about
// it. It owns the effective result, the one readers see: staleness and
// depends_on applied (Effective, over the latest results its State keeps)
// and maintenance windows marked (SetMaintenance). Subscribers (metrics, the
// history store, the status-change log, and next alerting and the status
// page) get that result and what it changed; adding one is one argument to
// New. With replicas sharing a PostgreSQL store, the results other replicas
// ran come in through PublishRemote (flagged Change.Remote), so that every
// replica presents every check.
package hub

import (
	"sync/atomic"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// Change is what one result changed, as subscribers get it.
type Change struct {
	// Spec is the check's configuration when the result was recorded.
	Spec check.Spec
	// First is true for a check's first result since start (or restore).
	First bool
	// Previous is the check's effective result just before this one.
	Previous check.Result
	// Maintenance is true when the result fell in a maintenance window of
	// its check.
	Maintenance bool
	// Remote is true for a result another replica ran and stored, recorded
	// by PublishRemote: subscribers that present state (health, status
	// page, alerting) take it like any other; those that account for this
	// replica's own runs (the history writer, the run metrics) skip it, as
	// it is stored and counted where it ran.
	Remote bool
}

// StatusChanged reports whether r is a new status for its check (its first
// result counts as one).
func (c Change) StatusChanged(r check.Result) bool {
	return c.First || c.Previous.Status != r.Status
}

// Subscriber gets every effective result. Observe runs on the probe's
// goroutine, so it must not block: queue slow work (as the store writer
// does).
type Subscriber interface {
	Observe(r check.Result, ch Change)
}

// Func is a Subscriber from a function.
type Func func(r check.Result, ch Change)

// Observe calls f.
func (f Func) Observe(r check.Result, ch Change) { f(r, ch) }

// Reloader is a Subscriber that keeps per-check state: SetSpecs tells it the
// checks configured after a reload.
type Reloader interface {
	SetSpecs(specs []check.Spec)
}

// State keeps the latest result of every configured check; the snapshot is
// one. RecordChange stores a raw result and returns its effective result
// (see Effective) and what it changed, with Spec, First and Previous set;
// ok is false for a check not configured (removed by a reload while it ran).
// RecordNewer is RecordChange for a result only newer than the check's
// latest one (a later CheckedAt); ok is false for an older or equal one,
// which changes nothing.
type State interface {
	SetSpecs(specs []check.Spec)
	RecordChange(r check.Result) (eff check.Result, ch Change, ok bool)
	RecordNewer(r check.Result) (eff check.Result, ch Change, ok bool)
}

// InMaintenance reports whether the named check is in a maintenance window
// at the instant at.
type InMaintenance func(check string, at time.Time) bool

// Hub is safe for concurrent use once built.
type Hub struct {
	state State
	subs  []Subscriber
	maint atomic.Pointer[InMaintenance]
}

// New returns a hub recording into state and handing every result to subs,
// in order.
func New(state State, subs ...Subscriber) *Hub {
	return &Hub{state: state, subs: subs}
}

// Publish records one raw result and hands its effective result to every
// subscriber. A result of a check no longer configured is dropped.
func (h *Hub) Publish(r check.Result) {
	eff, ch, ok := h.state.RecordChange(r)
	if !ok {
		return
	}
	h.hand(eff, ch)
}

// PublishRemote records one raw result that another replica ran and
// stored (the results feed brings it) and hands its effective result to
// every subscriber with Change.Remote set. The effective-result rules
// (depends_on, staleness, maintenance) apply as to a local result. A
// result not newer than the check's latest one is dropped, so that this
// replica's own results, which come back through the feed, and a resync's
// are not handed twice; so is a result of a check not configured. It
// reports whether the result was recorded.
func (h *Hub) PublishRemote(r check.Result) bool {
	eff, ch, ok := h.state.RecordNewer(r)
	if !ok {
		return false
	}
	ch.Remote = true
	h.hand(eff, ch)
	return true
}

func (h *Hub) hand(eff check.Result, ch Change) {
	if m := h.maint.Load(); m != nil {
		ch.Maintenance = (*m)(eff.Check, eff.CheckedAt)
	}
	for _, s := range h.subs {
		s.Observe(eff, ch)
	}
}

// SetSpecs applies a reload's checks: to the state (results of removed
// checks are dropped) and to every subscriber that is a Reloader.
func (h *Hub) SetSpecs(specs []check.Spec) {
	h.state.SetSpecs(specs)
	for _, s := range h.subs {
		if r, ok := s.(Reloader); ok {
			r.SetSpecs(specs)
		}
	}
}

// SetMaintenance replaces the maintenance windows; nil means none.
func (h *Hub) SetMaintenance(in InMaintenance) {
	if in == nil {
		h.maint.Store(nil)
		return
	}
	h.maint.Store(&in)
}
