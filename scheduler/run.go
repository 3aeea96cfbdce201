// Package scheduler runs each check on its schedule (an interval check on a
// runtime timer of its own, a cron check with gocron v2): never overlapping
// itself, with a start jitter, under its timeout, and stops gracefully. It
// owns time; a probe owns one observation.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/probes"
)

// hungGrace is how long Run waits past the deadline for a probe that ignores
// its context before it reports the timeout itself and moves on.
const hungGrace = 50 * time.Millisecond

// errCheckTimeout is the cause of a check's deadline.
var errCheckTimeout = errors.New("check timeout reached")

// Run makes one observation of spec under its timeout and fills the fields a
// probe leaves to the caller. A probe that hangs past its deadline yields a
// FAIL (db) or UNKNOWN (freshness: it could not tell) at the deadline; its
// goroutine is left to finish on its own. ok is false when ctx itself was
// cancelled (shutdown): such a result is not an observation and is not
// published.
func Run(ctx context.Context, spec check.Spec, env *probes.Env) (r check.Result, ok bool) {
	return run(ctx, spec, env, nil)
}

// run is Run with an optional in-flight flag: when set, a run whose previous
// probe is still hung does not start another (a check never overlaps
// itself), and reports that instead.
func run(ctx context.Context, spec check.Spec, env *probes.Env, inflight *atomic.Bool) (r check.Result, ok bool) {
	now := time.Now
	if env != nil && env.Now != nil {
		now = env.Now
	}
	started := now()
	t0 := time.Now()
	fn, found := probes.Probe(spec.Kind)
	if !found {
		r = spec.UnknownResult(fmt.Sprintf("no probe for kind %q", spec.Kind))
		return finish(r, spec, started, time.Since(t0)), true
	}
	timeout := spec.RunTimeout()
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if inflight != nil && !inflight.CompareAndSwap(false, true) {
		r = timedOut(spec, timeout)
		r.Message = "previous run still hung; " + r.Message
		return finish(r, spec, started, time.Since(t0)), true
	}
	pctx, cancel := context.WithTimeoutCause(ctx, timeout, errCheckTimeout)
	defer cancel()

	done := make(chan check.Result, 1)
	go func() {
		if inflight != nil {
			defer inflight.Store(false)
		}
		defer func() {
			if p := recover(); p != nil {
				done <- spec.UnknownResult(fmt.Sprintf("probe panicked: %v", p))
			}
		}()
		done <- fn(pctx, spec, env)
	}()

	select {
	case r = <-done:
	case <-pctx.Done():
		grace := time.NewTimer(hungGrace)
		select {
		case r = <-done:
		case <-grace.C:
			r = timedOut(spec, timeout)
		}
		grace.Stop()
	}
	if ctx.Err() != nil {
		return r, false
	}
	return finish(r, spec, started, time.Since(t0)), true
}

// timedOut is what a timeout means for the check's kind (FAIL for db,
// UNKNOWN for freshness: check.Behaviour).
func timedOut(spec check.Spec, timeout time.Duration) check.Result {
	return spec.TimeoutResult(timeout)
}

func finish(r check.Result, spec check.Spec, started time.Time, d time.Duration) check.Result {
	r.Check, r.Kind = spec.Name, spec.Kind
	r.CheckedAt, r.Duration = started, d
	if !r.Status.Valid() {
		r.Status, r.Severity = check.Unknown, spec.UnknownSev()
	}
	if r.Status == check.Pass {
		r.Severity = check.Info
	} else if !r.Severity.Valid() {
		r.Severity = spec.FailSeverity()
	}
	r.Message = check.Truncate(r.Message)
	return r
}
