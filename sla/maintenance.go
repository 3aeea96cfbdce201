package sla

import (
	"path"
	"slices"
	"strings"
	"time"
)

// Maintenance is a window in which the results of some checks do not count
// against their SLOs, do not start outages and raise no alerts. It is
// one-off, [Start, End), or recurring: Duration long from every activation
// of Cron, [activation, activation+Duration).
//
// It covers the checks named in Checks (names, or globs like targeting_*)
// and every check whose component is in Components; a window with neither
// covers every check.
type Maintenance struct {
	Checks     []string
	Components []string
	Start, End time.Time
	Cron       Schedule // recurring when set; Start and End are not used then
	Duration   time.Duration
}

// Schedule gives the activations of a recurring window: Next returns the
// first activation strictly after t, or the zero time when there is none.
// The scheduler's cron parser (scheduler/cronspec) returns one.
type Schedule interface {
	Next(t time.Time) time.Time
}

// InMaintenance reports whether a result of check (of the given component,
// "" when it has none) taken at t falls in one of the windows. It is the
// one definition of "in maintenance": the hub, the history store and the
// alerting engine all ask it.
func InMaintenance(windows []Maintenance, check, component string, t time.Time) bool {
	for _, w := range windows {
		if w.covers(check, component) && w.on(t) {
			return true
		}
	}
	return false
}

// covers reports whether the window applies to the check.
func (w Maintenance) covers(check, component string) bool {
	if len(w.Checks) == 0 && len(w.Components) == 0 {
		return true
	}
	for _, p := range w.Checks {
		if p == check {
			return true
		}
		if strings.ContainsAny(p, `*?[\`) {
			if ok, _ := path.Match(p, check); ok {
				return true
			}
		}
	}
	return component != "" && slices.Contains(w.Components, component)
}

// on reports whether the window is open at t. A recurring window is open
// when an activation a has a ≤ t < a+Duration, that is when the first
// activation after t−Duration comes no later than t: one step of the
// schedule, however long ago the cron first fired.
func (w Maintenance) on(t time.Time) bool {
	if w.Cron == nil {
		return !t.Before(w.Start) && t.Before(w.End)
	}
	if w.Duration <= 0 {
		return false
	}
	a := w.Cron.Next(t.Add(-w.Duration))
	return !a.IsZero() && !a.After(t)
}
