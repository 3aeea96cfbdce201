package sla

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/monitor-dev/monitor/store"
)

// countingStore answers Totals with one good run and counts the calls.
type countingStore struct {
	store.Store // only Totals is used
	calls       atomic.Int64
}

func (c *countingStore) Totals(_ context.Context, _ string, from, to time.Time) (store.Bucket, error) {
	c.calls.Add(1)
	return store.Bucket{Start: from, Step: to.Sub(from), Runs: 1, Good: 1}, nil
}

// TestEvaluatorRunsEarlyThenEveryPeriod: a fresh daemon gets figures at
// once, again after firstRerun (when the first results are written), then
// every period.
func TestEvaluatorRunsEarlyThenEveryPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		st := &countingStore{}
		o := Objective{Check: "c", Target: 0.99, Window: 30 * 24 * time.Hour}
		perEval := int64(len(Windows(o)))
		ev := NewEvaluator(st, []Objective{o}, nil, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { ev.Run(ctx, 30*time.Second); close(done) }()

		for _, step := range []struct {
			at    time.Duration
			evals int64
		}{
			{time.Second, 1},
			{firstRerun + time.Second, 2},
			{firstRerun + 29*time.Second, 2},
			{firstRerun + 31*time.Second, 3},
			{firstRerun + 61*time.Second, 4},
		} {
			time.Sleep(step.at - time.Since(start))
			synctest.Wait()
			if got := st.calls.Load() / perEval; got != step.evals {
				t.Fatalf("after %s: %d evaluations, want %d", step.at, got, step.evals)
			}
		}
		if s := ev.Statuses(); len(s) != 1 || s[0].Own.Ratio != 1 {
			t.Fatalf("statuses = %+v", s)
		}
		cancel()
		<-done
	})
}
