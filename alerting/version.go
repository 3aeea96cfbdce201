package alerting

import (
	"sync/atomic"
	"time"
)

// This file holds the engine's change signal: Version moves whenever what
// Alerts and OpenEscalations return may have changed in a way a reader
// such as the status page cares about, so that such a reader can skip
// copying every alert when it has not moved.

// versionState is the engine's change counter (atomic: Version does not
// wait for the engine's mutex).
type versionState struct{ n atomic.Uint64 }

// Version changes whenever an alert appears in or leaves Alerts, or its
// status (firing, pending, resolved), severity, start or end, silenced or
// maintenance flag changes, and whenever an escalation opens or resolves
// or a silence is added or expired. It may also move when nothing a
// reader sees changed; it never stays when something did.
func (e *Engine) Version() uint64 { return e.ver.n.Load() }

// bump moves Version.
func (e *Engine) bump() { e.ver.n.Add(1) }

// viewKey is what Version follows of one alert: the parts of its View
// readers compare, zero while Alerts does not show it.
type viewKey struct {
	shown                 bool
	status                string
	severity              string
	startsAt, endsAt      time.Time
	silenced, maintenance bool
}

// keyOf is a's viewKey at now.
func keyOf(a *alert, now time.Time) viewKey {
	k := viewKey{severity: string(a.Severity), silenced: a.Silenced, maintenance: a.Maintenance}
	switch {
	case a.Firing:
		k.status, k.startsAt = "firing", a.StartsAt
	case a.Fails > 0:
		k.status, k.startsAt = StatusPending, a.PendingSince
	case !a.EndsAt.IsZero() && now.Sub(a.EndsAt) < ResolvedRetention:
		k.status, k.startsAt, k.endsAt = "resolved", a.StartsAt, a.EndsAt
	default:
		return viewKey{}
	}
	k.shown = true
	return k
}

// noteView moves Version when a's view changed since it was last noted.
// Callers hold e.mu.
func (e *Engine) noteView(a *alert, now time.Time) {
	if k := keyOf(a, now); k != a.seen {
		a.seen = k
		e.bump()
	}
}

// forgetView moves Version when an alert Alerts showed is forgotten.
// Callers hold e.mu.
func (e *Engine) forgetView(a *alert) {
	if a.seen.shown {
		a.seen = viewKey{}
		e.bump()
	}
}
