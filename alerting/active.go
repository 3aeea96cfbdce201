package alerting

import (
	"context"
	"fmt"
	"maps"
	"time"

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

// refresh reads the silences and open escalations from the store and
// applies those that replicas other than this one added, expired, opened
// or resolved (each replica's API writes them to the store): a new
// silence mutes at once, an escalation opened elsewhere fires here, one
// resolved elsewhere resolves. Step calls it every Options.Refresh.
func (e *Engine) refresh(ctx context.Context) error {
	now := e.now()
	sils, escs, err := e.loadMutes(ctx, now)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.restored {
		return nil // Restore reads them all
	}
	stored := make(map[string]bool, len(sils))
	changed := false
	for _, s := range sils {
		stored[s.ID] = true
		if prev, ok := e.silences[s.ID]; (!ok && len(e.silences) < MaxSilences) ||
			ok && (!prev.EndsAt.Equal(s.EndsAt) || !prev.StartsAt.Equal(s.StartsAt) || !maps.Equal(prev.Matchers, s.Matchers)) {
			e.silences[s.ID] = s
			changed = true
		}
	}
	for id, s := range e.silences {
		if !stored[id] && now.Before(s.EndsAt) {
			delete(e.silences, id) // expired elsewhere
			delete(e.silActive, id)
			changed = true
		}
	}
	if changed {
		e.silVersion++
		e.bump()
	}
	open := make(map[string]bool, len(escs))
	for _, esc := range escs {
		open[esc.ID] = true
		if _, ok := e.escalations[esc.ID]; ok {
			continue
		}
		e.escalations[esc.ID] = esc
		e.bump()
		if a := e.alerts[prefixEscalation+esc.ID]; a == nil || !a.Firing {
			e.fireEscalation(esc, now)
		}
	}
	for id := range e.escalations {
		if open[id] {
			continue
		}
		e.dropEscalation(id, now) // resolved elsewhere
	}
	return nil
}

// refreshDue reports whether step should refresh now, and notes it.
func (e *Engine) refreshDue(now time.Time) bool {
	if e.opts.Refresh <= 0 || now.Sub(e.refreshed) < e.opts.Refresh {
		return false
	}
	e.refreshed = now
	return true
}

// loadMutes reads the active silences and the open escalations from the
// store (Restore and refresh).
func (e *Engine) loadMutes(ctx context.Context, now time.Time) ([]store.Silence, []store.Escalation, error) {
	sils, err := e.st.Silences(ctx, now)
	if err != nil {
		return nil, nil, fmt.Errorf("load silences: %w", err)
	}
	escs, err := e.st.Escalations(ctx, EscalationOpen, MaxOpenEscalations)
	if err != nil {
		return nil, nil, fmt.Errorf("load escalations: %w", err)
	}
	return sils, escs, nil
}
