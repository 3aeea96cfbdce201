// Package snapshot keeps the latest result of every check in memory and
// turns them into what readers see: staleness and depends_on applied, the
// overall verdict, and the /v2/system/health bodies, rendered once and
// served to every request until something changes.
package snapshot

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// Snapshot is safe for concurrent use.
type Snapshot struct {
	now func() time.Time

	mu      sync.RWMutex
	specs   map[string]check.Spec
	names   []string // sorted
	latest  map[string]check.Result
	version uint64 // bumped on every change of specs or results

	cache renderCache
}

// New returns a Snapshot of these checks, none of which has run yet.
func New(specs []check.Spec, now func() time.Time) *Snapshot {
	if now == nil {
		now = time.Now
	}
	s := &Snapshot{now: now, latest: map[string]check.Result{}}
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
}

// Spec returns the named check's spec.
func (s *Snapshot) Spec(name string) (check.Spec, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sp, ok := s.specs[name]
	return sp, ok
}

// Record stores a fresh result and returns it as readers will see it: a
// check whose parent is failing reads UNKNOWN ("parent X failing"). The
// returned result is what metrics, history and alerting should get.
func (s *Snapshot) Record(r check.Result) check.Result {
	eff, _, _ := s.RecordChange(r)
	return eff
}

// Change is what a new result changed.
type Change struct {
	// Configured is false for a check removed by a reload while it ran: its
	// result is dropped.
	Configured bool
	// First is true for a check's first result since start (or restore).
	First bool
	// Previous is the check's result as readers saw it just before.
	Previous check.Result
}

// RecordChange is Record, also telling what the result changed.
func (s *Snapshot) RecordChange(r check.Result) (check.Result, Change, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.specs[r.Check]
	if !ok {
		return r, Change{}, false
	}
	now := s.now()
	_, ran := s.latest[r.Check]
	ch := Change{Configured: true, First: !ran, Previous: s.effectiveLocked(sp, now, map[string]bool{})}
	s.latest[r.Check] = r
	s.version++
	return s.effectiveLocked(sp, now, map[string]bool{}), ch, true
}

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
}

// View computes the current state of every check.
func (s *Snapshot) View() View { return s.view(true) }

// view computes the state; withRaw also fills View.Raw.
func (s *Snapshot) view(withRaw bool) View {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.now()
	v := View{GeneratedAt: now, Version: s.version, Checks: make([]check.Result, 0, len(s.names))}
	if withRaw {
		v.Raw = make(map[string]check.Result, len(s.latest))
	}
	visiting := make(map[string]bool, 4)
	for _, name := range s.names {
		sp := s.specs[name]
		r := s.effectiveLocked(sp, now, visiting)
		v.Checks = append(v.Checks, r)
		if raw, ok := s.latest[name]; ok {
			if withRaw {
				v.Raw[name] = raw
			}
			if at := raw.CheckedAt.Add(sp.StaleAfter()); at.After(now) &&
				(v.NextChange.IsZero() || at.Before(v.NextChange)) {
				v.NextChange = at
			}
		}
	}
	v.Status, v.Severity = check.Worst(v.Checks)
	return v
}

// effectiveLocked is the named check's result as readers see it: not yet
// run, stale, or overridden by a failing parent. visiting guards against
// cycles (validation rejects them, but a reload race must not hang).
func (s *Snapshot) effectiveLocked(sp check.Spec, now time.Time, visiting map[string]bool) check.Result {
	r, ok := s.latest[sp.Name]
	if !ok {
		r = sp.NotRun()
	} else if age := now.Sub(r.CheckedAt); sp.Interval > 0 && age > sp.StaleAfter() {
		stale := sp.UnknownResult(fmt.Sprintf("stale: last result is %s old (%s: %s)",
			age.Round(time.Second), r.Status, r.Message))
		stale.CheckedAt, stale.Duration = r.CheckedAt, r.Duration
		stale.ObservedValue, stale.ObservedUnit = r.ObservedValue, r.ObservedUnit
		r = stale
	}
	if visiting[sp.Name] {
		return r
	}
	visiting[sp.Name] = true
	defer delete(visiting, sp.Name)
	for _, p := range sp.DependsOn {
		psp, ok := s.specs[p]
		if !ok {
			continue
		}
		if pr := s.effectiveLocked(psp, now, visiting); pr.Status == check.Fail {
			dep := sp.UnknownResult(fmt.Sprintf("parent %s failing", p))
			dep.CheckedAt, dep.Duration = r.CheckedAt, r.Duration
			return dep
		}
	}
	return r
}

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
