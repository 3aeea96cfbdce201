// Package snapshot keeps the latest result of every check in memory (the
// hub's State) and turns them into what readers see: the effective results
// (hub.Effective: staleness and depends_on applied), the overall verdict,
// and the /v2/system/health bodies, rendered once and served to every
// request until something changes.
package snapshot

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/hub"
)

// Snapshot is safe for concurrent use.
type Snapshot struct {
	now func() time.Time

	mu      sync.RWMutex
	specs   map[string]check.Spec
	names   []string // sorted
	latest  map[string]check.Result
	version uint64 // bumped on every change of specs or results
	// state is bumped only when what readers see of a check may have
	// changed (StateVersion); stale holds, for every check whose result
	// is not stale yet, when it goes stale. Both change under s.mu; state
	// is read without it.
	state atomic.Uint64
	stale staleQueue

	cache renderCache
}

// New returns a Snapshot of these checks, none of which has run yet.
func New(specs []check.Spec, now func() time.Time) *Snapshot {
	if now == nil {
		now = time.Now
	}
	s := &Snapshot{now: now, latest: map[string]check.Result{}, stale: staleQueue{index: map[string]*staleItem{}}}
	s.SetSpecs(specs)
	return s
}

// SetSpecs replaces the set of checks (a reload). Results of checks that
// keep their name are kept; results of removed checks are dropped.
func (s *Snapshot) SetSpecs(specs []check.Spec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.specs = make(map[string]check.Spec, len(specs))
	s.names = s.names[:0]
	for _, sp := range specs {
		s.specs[sp.Name] = sp
		s.names = append(s.names, sp.Name)
	}
	slices.Sort(s.names)
	for name, r := range s.latest {
		sp, ok := s.specs[name]
		if !ok || sp.Kind != r.Kind {
			delete(s.latest, name)
		}
	}
	s.version++
	s.resetStaleLocked()
	s.state.Add(1)
}

// Spec returns the named check's spec.
func (s *Snapshot) Spec(name string) (check.Spec, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sp, ok := s.specs[name]
	return sp, ok
}

// CheckedAt returns when the named check's latest result was checked
// (its own run's or, with replicas, another's), and false before any.
func (s *Snapshot) CheckedAt(name string) (time.Time, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.latest[name]
	return r.CheckedAt, ok
}

// Record stores a fresh result and returns it as readers will see it: a
// check whose parent is failing reads UNKNOWN ("parent X failing"). The
// returned result is what metrics, history and alerting should get.
func (s *Snapshot) Record(r check.Result) check.Result {
	eff, _, _ := s.RecordChange(r)
	return eff
}

// RecordChange is Record, also telling what the result changed (the
// hub's State): ch has Spec, First and Previous set.
func (s *Snapshot) RecordChange(r check.Result) (check.Result, hub.Change, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.specs[r.Check]
	if !ok {
		return r, hub.Change{}, false
	}
	return s.recordLocked(sp, r)
}

// RecordNewer is RecordChange for a result another replica ran (the
// hub's State): it is recorded only when it is newer than the check's
// latest result, and of the kind configured here (replicas may briefly
// run different configurations during a rollout).
func (s *Snapshot) RecordNewer(r check.Result) (check.Result, hub.Change, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.specs[r.Check]
	if !ok || sp.Kind != r.Kind {
		return r, hub.Change{}, false
	}
	if old, ran := s.latest[r.Check]; ran && !r.CheckedAt.After(old.CheckedAt) {
		return r, hub.Change{}, false
	}
	return s.recordLocked(sp, r)
}

func (s *Snapshot) recordLocked(sp check.Spec, r check.Result) (check.Result, hub.Change, bool) {
	now := s.now()
	old, ran := s.latest[r.Check]
	ch := hub.Change{Spec: sp, First: !ran, Previous: s.effectiveLocked(sp, now, map[string]bool{})}
	s.latest[r.Check] = r
	s.version++
	eff := s.effectiveLocked(sp, now, map[string]bool{})
	s.stale.set(sp, r)
	// What readers see of this check, or of a check depending on it, may
	// have changed: its first result, its own status (stale or not), or
	// its effective one (a failing parent makes it UNKNOWN).
	if !ran || stateOf(old) != stateOf(r) || stateOf(ch.Previous) != stateOf(eff) ||
		isStale(sp, old, now) || isStale(sp, r, now) {
		s.state.Add(1)
	}
	return eff, ch, true
}

// StateVersion changes whenever what readers see of a check may have
// changed: its status, severity or reason, its own or as depends_on and
// staleness make it (hub.Effective), including by the clock alone (a
// result going stale), and the set of checks (SetSpecs, Restore). A
// result that changes none of these (the same status again) leaves it as
// it is, so that a reader can skip View when it has not moved. Cheap: no
// copy, and the lock only when a result went stale.
func (s *Snapshot) StateVersion() uint64 {
	now := s.now()
	s.mu.RLock()
	due := s.stale.due(now)
	s.mu.RUnlock()
	if due {
		s.mu.Lock()
		if s.stale.drain(now) {
			s.state.Add(1)
		}
		s.mu.Unlock()
	}
	return s.state.Load()
}

// checkState is what StateVersion follows of one result.
type checkState struct {
	status   check.Status
	severity check.Severity
	reason   check.Reason
}

func stateOf(r check.Result) checkState { return checkState{r.Status, r.Severity, r.Reason} }

// isStale reports whether r reads stale at now (as hub.Effective says).
func isStale(sp check.Spec, r check.Result, now time.Time) bool {
	return sp.Interval > 0 && !r.CheckedAt.IsZero() && now.Sub(r.CheckedAt) > sp.StaleAfter()
}

// resetStaleLocked rebuilds the stale queue from the results (specs or
// results replaced); s.mu is held.
func (s *Snapshot) resetStaleLocked() { s.stale.reset(s.specs, s.latest) }

// Restore puts back results read from history at startup, without
// overriding anything recorded since.
func (s *Snapshot) Restore(results []check.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range results {
		if _, ok := s.specs[r.Check]; !ok {
			continue
		}
		if cur, ok := s.latest[r.Check]; ok && !cur.CheckedAt.Before(r.CheckedAt) {
			continue
		}
		s.latest[r.Check] = r
	}
	s.version++
	s.resetStaleLocked()
	s.state.Add(1)
}

// View is the state of every check at one instant.
type View struct {
	GeneratedAt time.Time
	Status      check.Status
	Severity    check.Severity
	Checks      []check.Result // sorted by name
	// Raw are the results as probes returned them (no staleness or
	// depends_on applied), keyed by check; absent for checks not yet run.
	Raw map[string]check.Result
	// NextChange is the earliest instant at which the view changes by the
	// clock alone (a result going stale); zero when none will.
	NextChange time.Time
	Version    uint64

	components []string // Checks[i]'s spec.Component; for rendering only
}

// View computes the current state of every check.
func (s *Snapshot) View() View { return s.view(true) }

// view computes the state; withRaw also fills View.Raw, else
// View.components (what a rendering needs).
func (s *Snapshot) view(withRaw bool) View {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.now()
	v := View{GeneratedAt: now, Version: s.version, Checks: make([]check.Result, 0, len(s.names))}
	if withRaw {
		v.Raw = make(map[string]check.Result, len(s.latest))
	} else {
		v.components = make([]string, 0, len(s.names))
	}
	visiting := make(map[string]bool, 4)
	for _, name := range s.names {
		sp := s.specs[name]
		r := s.effectiveLocked(sp, now, visiting)
		v.Checks = append(v.Checks, r)
		if !withRaw {
			v.components = append(v.components, sp.Component)
		}
		if raw, ok := s.latest[name]; ok {
			if withRaw {
				v.Raw[name] = raw
			}
			if at := nextChange(sp, raw, now); !at.IsZero() && (v.NextChange.IsZero() || at.Before(v.NextChange)) {
				v.NextChange = at
			}
		}
	}
	v.Status, v.Severity = check.Worst(v.Checks)
	return v
}

// nextChange is the first instant after now at which the clock alone
// changes how raw reads (hub.Effective): when it goes stale (just after
// StaleAfter), and once stale, when its message's age, in whole seconds,
// moves on. Zero when never.
func nextChange(sp check.Spec, raw check.Result, now time.Time) time.Time {
	if sp.Interval <= 0 {
		return time.Time{}
	}
	staleAt := raw.CheckedAt.Add(sp.StaleAfter())
	if !now.After(staleAt) {
		return staleAt.Add(time.Nanosecond)
	}
	age := now.Sub(raw.CheckedAt).Round(time.Second) // rounds x.5 s up
	return raw.CheckedAt.Add(age + time.Second/2)
}

// effectiveLocked is the named check's result as readers see it
// (hub.Effective); s.mu is held.
func (s *Snapshot) effectiveLocked(sp check.Spec, now time.Time, visiting map[string]bool) check.Result {
	return hub.Effective(locked{s}, sp, now, visiting)
}

// locked reads a Snapshot whose mutex is held.
type locked struct{ s *Snapshot }

func (l locked) Latest(name string) (check.Result, bool) { r, ok := l.s.latest[name]; return r, ok }
func (l locked) Spec(name string) (check.Spec, bool)     { sp, ok := l.s.specs[name]; return sp, ok }

// Specs returns the configured checks, sorted by name.
func (s *Snapshot) Specs() []check.Spec {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]check.Spec, 0, len(s.names))
	for _, n := range s.names {
		out = append(out, s.specs[n])
	}
	return out
}
