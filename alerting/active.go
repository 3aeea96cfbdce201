package alerting

import (
	"context"

	"github.com/monitor-dev/monitor/store"
)

// This file holds the engine's two modes in a cluster of replicas
// (cluster.enabled): every replica runs an engine on the same results (its
// own and those the results feed brings), so that GET /v2/alerts and the
// status page's incidents are the same on each, but only the leader's
// engine is active and writes to the store.

// SetActive switches the engine between active (the default: it writes
// the alerts' state, the deliveries due and its audit events to the store,
// as a single daemon does) and passive (a replica that is not the leader).
//
// A passive engine observes results and SLO signals and keeps its alerts
// in memory, as GET /v2/alerts shows them, but writes nothing of its own:
// each step's state changes, deliveries and audit events are dropped, so
// that it never pages or records what the leader pages and records. Only
// the events given to Audit (a reload of this replica's config) are
// written, alone. Operator actions (silences, escalations) write to the
// store as always.
//
// Going active (this replica became the leader) forgets everything in
// memory and restores it from the store at the next step, before any
// write: the alerts the previous leader stored stay firing and told (no
// second page) and their resolution is still told once; a page the
// previous leader had not yet committed is sent by this one when its
// check fails failure_threshold more times. Going passive keeps memory as
// it is (the next leader restores from the store).
func (e *Engine) SetActive(active bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if active != e.passive {
		return
	}
	e.passive = !active
	if active {
		e.reset()
		e.audit = append(e.audit, e.external...)
		e.external = nil
	}
	e.wake()
}

// Active reports whether the engine writes to the store (see SetActive).
func (e *Engine) Active() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.passive
}

// reset forgets the alerts, groups, silences, escalations and everything
// queued for the store, and makes the next step Restore. Callers hold e.mu.
func (e *Engine) reset() {
	for _, a := range e.alerts {
		e.forgetView(a)
	}
	e.alerts, e.groups = map[string]*alert{}, map[string]*group{}
	e.silences, e.silActive = map[string]store.Silence{}, map[string]bool{}
	e.silVersion++
	e.escalations = map[string]store.Escalation{}
	e.dirty, e.deleted = map[string]struct{}{}, map[string]struct{}{}
	e.deliveries, e.audit = nil, nil
	e.passed = map[string]struct{}{}
	e.restored, e.failing = false, false
	e.bump()
}

// writeExternal writes the events given to Audit while passive; those the
// store refuses wait for the next step.
func (e *Engine) writeExternal(ctx context.Context, evs []store.AuditEvent) {
	if len(evs) == 0 {
		return
	}
	if err := e.st.Audit(ctx, evs); err != nil {
		e.mu.Lock()
		e.external = append(evs, e.external...)
		if n := len(e.external) - maxBacklog; n > 0 {
			e.external = e.external[n:]
		}
		e.mu.Unlock()
	}
}
