package hub

import (
	"fmt"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// Latest is what the effective result is computed from: the latest raw
// result and the spec of every configured check.
type Latest interface {
	Latest(name string) (check.Result, bool)
	Spec(name string) (check.Spec, bool)
}

// Effective is sp's result as readers see it at now: "not yet run" (UNKNOWN,
// INFO) before its first result, UNKNOWN once the last result is older than
// sp.StaleAfter(), and UNKNOWN ("parent X failing") while a check it depends
// on is FAIL. visiting guards against cycles (validation rejects them, but a
// reload race must not hang); pass an empty map.
func Effective(l Latest, sp check.Spec, now time.Time, visiting map[string]bool) check.Result {
	r, ok := l.Latest(sp.Name)
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
		psp, ok := l.Spec(p)
		if !ok {
			continue
		}
		if pr := Effective(l, psp, now, visiting); pr.Status == check.Fail {
			dep := sp.UnknownResult(fmt.Sprintf("parent %s failing", p))
			dep.CheckedAt, dep.Duration = r.CheckedAt, r.Duration
			return dep
		}
	}
	return r
}
