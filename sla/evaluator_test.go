package sla

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/monitor-dev/monitor/check"
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

// TestObserveMatchesCompute: monitor_slo_events_total judges every run as
// the evaluator's figures do, for both SLIs (the Prometheus rules build on
// it), and its series pass the metric linter.
func TestObserveMatchesCompute(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var recs []store.Record
	for i := range 500 {
		status := check.Pass
		switch {
		case i%7 == 0:
			status = check.Fail
		case i%11 == 0:
			status = check.Unknown
		}
		recs = append(recs, store.Record{
			Result:      check.Result{Check: "c", Status: status, CheckedAt: start.Add(time.Duration(i) * time.Minute)},
			Maintenance: i%13 == 0,
			WithinSLA:   status != check.Unknown && i%3 != 0, // past max_age often, past critical_age less
		})
	}
	for _, sli := range []SLI{Availability, WithinSLA} {
		t.Run(string(sli), func(t *testing.T) {
			o := Objective{Check: "c", Target: 0.99, Window: 30 * 24 * time.Hour, SLI: sli}
			if sli == Availability {
				o.SLI = "" // unset means availability
			}
			ev := NewEvaluator(nil, []Objective{o, {Check: "other", Target: 0.9, Window: time.Hour}}, nil, nil)
			for _, r := range recs {
				ev.Observe(r)
			}
			f := Compute(o, Tally(recs, start, start.Add(24*time.Hour)), 24*time.Hour)
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(ev)
			good := testutil.ToFloat64(eventsOf(t, reg, "c", string(sli), "good"))
			bad := testutil.ToFloat64(eventsOf(t, reg, "c", string(sli), "bad"))
			if int64(good+bad) != f.Known || int64(bad) != f.Bad {
				t.Fatalf("events good %v bad %v; Compute: known %d bad %d", good, bad, f.Known, f.Bad)
			}
			if f.Bad == 0 || f.Known == f.Bad {
				t.Fatalf("fixture too plain: known %d bad %d", f.Known, f.Bad)
			}
			// A configured SLO without runs has its series at zero.
			if v := testutil.ToFloat64(eventsOf(t, reg, "other", "availability", "bad")); v != 0 {
				t.Errorf("other's bad events = %v, want 0", v)
			}
			if probs, err := testutil.GatherAndLint(reg, "monitor_slo_events_total"); err != nil || len(probs) != 0 {
				t.Errorf("lint: %v %v", probs, err)
			}
		})
	}
}

// eventsOf is one series of monitor_slo_events_total, as a collector.
func eventsOf(t *testing.T, g prometheus.Gatherer, check, sli, outcome string) prometheus.Collector {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "monitor_slo_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["check"] == check && l["sli"] == sli && l["outcome"] == outcome {
				return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x", Help: "x"},
					func() float64 { return m.GetCounter().GetValue() })
			}
		}
	}
	t.Fatalf("no monitor_slo_events_total{check=%q,sli=%q,outcome=%q}", check, sli, outcome)
	return nil
}

// TestEvaluatorStoreUnavailable: while the history store is not up, the
// evaluation says "history store unavailable" once, not once per SLO, and
// Run leaves the WARN to the store's own retries.
func TestEvaluatorStoreUnavailable(t *testing.T) {
	lazy := store.NewLazy("postgres://monitor@127.0.0.1:1/db", store.Options{}, nil) // never opened
	objs := []Objective{
		{Check: "a", Target: 0.99, Window: 30 * 24 * time.Hour},
		{Check: "b", Target: 0.999, Window: 30 * 24 * time.Hour},
	}
	var logs bytes.Buffer
	ev := NewEvaluator(lazy, objs, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	err := ev.Evaluate(context.Background())
	if !errors.Is(err, store.ErrUnavailable) || err.Error() != "history store unavailable" {
		t.Fatalf("Evaluate = %q, want \"history store unavailable\" once", err)
	}
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { ev.Run(ctx, 30*time.Second); close(done) }()
		time.Sleep(time.Minute)
		synctest.Wait()
		cancel()
		<-done
	})
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("Run warns while the store is down (its retries already do):\n%s", logs.String())
	}
}
