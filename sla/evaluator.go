package sla

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/store"
)

// Status is the state of one objective at one instant.
type Status struct {
	Objective Objective
	At        time.Time
	// Own are the figures over the objective's window; Windows over every
	// window of Windows(objective), shortest first.
	Own     Figures
	Windows []Figures
	Signals []Signal
}

// Figure returns the figures over window w.
func (s Status) Figure(w time.Duration) (Figures, bool) {
	for _, f := range s.Windows {
		if f.Window == w {
			return f, true
		}
	}
	return Figures{}, false
}

// Evaluator recomputes every objective's figures from the store on a
// period, and serves the latest ones to metrics, the API and alerting.
type Evaluator struct {
	store  store.Store
	now    func() time.Time
	logger *slog.Logger

	mu       sync.RWMutex
	objs     []Objective
	statuses []Status

	// events counts each SLO's good and bad runs as results arrive, for
	// monitor_slo_events_total, which `monitor rules` builds on.
	emu    sync.Mutex
	events map[sliKey]*[2]float64 // [good, bad]

	// onEvaluate gets every burn-rate signal, firing or not, after each
	// evaluation (the alerting engine's SLOSignals).
	onEvaluate atomic.Pointer[func([]Signal)]
}

// OnEvaluate makes f get every burn-rate signal of the objectives
// evaluated, firing or not, after each evaluation; an objective whose
// figures could not be read is left out.
func (e *Evaluator) OnEvaluate(f func([]Signal)) { e.onEvaluate.Store(&f) }

// sliKey names one SLI of one check: the series of monitor_slo_events_total.
type sliKey struct {
	check string
	sli   SLI
}

// SLIOf is the objective's SLI, Availability when unset.
func SLIOf(o Objective) SLI {
	if o.SLI == "" {
		return Availability
	}
	return o.SLI
}

// Good tells how a stored result counts for an SLI: known is false for the
// runs left out of both sides (UNKNOWN, or in a maintenance window), good
// whether it counts as good. It is the per-run form of Compute.
func Good(sli SLI, r store.Record) (good, known bool) {
	if r.Maintenance || (r.Status != check.Pass && r.Status != check.Fail) {
		return false, false
	}
	if sli == WithinSLA {
		return r.WithinSLA, true
	}
	return r.Status == check.Pass, true
}

// NewEvaluator returns an evaluator of objs over st.
func NewEvaluator(st store.Store, objs []Objective, now func() time.Time, logger *slog.Logger) *Evaluator {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Evaluator{store: st, objs: objs, now: now, logger: logger, events: map[sliKey]*[2]float64{}}
	e.setEventSeries(objs)
	return e
}

// setEventSeries keeps one event series pair per SLI of objs, at zero for
// a new one (so that increase() works from the first run), and drops the
// others.
func (e *Evaluator) setEventSeries(objs []Objective) {
	e.emu.Lock()
	defer e.emu.Unlock()
	want := make(map[sliKey]bool, len(objs))
	for _, o := range objs {
		k := sliKey{o.Check, SLIOf(o)}
		want[k] = true
		if e.events[k] == nil {
			e.events[k] = &[2]float64{}
		}
	}
	for k := range e.events {
		if !want[k] {
			delete(e.events, k)
		}
	}
}

// Observe counts one stored result in the event series of every SLI of its
// check: the same runs, judged the same way, as the evaluator's figures.
func (e *Evaluator) Observe(r store.Record) {
	e.emu.Lock()
	defer e.emu.Unlock()
	for _, sli := range []SLI{Availability, WithinSLA} {
		c := e.events[sliKey{r.Check, sli}]
		if c == nil {
			continue
		}
		if good, known := Good(sli, r); known {
			if good {
				c[0]++
			} else {
				c[1]++
			}
		}
	}
}

// SetObjectives replaces the objectives (a reload).
func (e *Evaluator) SetObjectives(objs []Objective) {
	e.setEventSeries(objs)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.objs = objs
	keep := e.statuses[:0]
	for _, s := range e.statuses {
		for _, o := range objs {
			if o == s.Objective {
				keep = append(keep, s)
			}
		}
	}
	e.statuses = keep
}

// Evaluate recomputes every objective now.
func (e *Evaluator) Evaluate(ctx context.Context) error {
	e.mu.RLock()
	objs := e.objs
	e.mu.RUnlock()
	now := e.now()
	var out []Status
	var errs error
	unavailable := false
	for _, o := range objs {
		s, err := Evaluate(ctx, e.store, o, now)
		switch {
		case errors.Is(err, store.ErrUnavailable):
			unavailable = true // said once for all, below
			continue
		case err != nil:
			errs = errors.Join(errs, fmt.Errorf("SLO of %s: %w", o.Check, err))
			continue
		}
		out = append(out, s)
	}
	e.mu.Lock()
	e.statuses = out
	e.mu.Unlock()
	if f := e.onEvaluate.Load(); f != nil {
		var sigs []Signal
		for _, s := range out {
			sigs = append(sigs, s.Signals...)
		}
		(*f)(sigs)
	}
	if unavailable {
		if errs == nil {
			return store.ErrUnavailable
		}
		errs = errors.Join(store.ErrUnavailable, errs)
	}
	return errs
}

// Evaluate computes one objective's status at now.
func Evaluate(ctx context.Context, st store.Store, o Objective, now time.Time) (Status, error) {
	s := Status{Objective: o, At: now}
	for _, w := range Windows(o) {
		b, err := st.Totals(ctx, o.Check, now.Add(-w), now)
		if err != nil {
			return s, err
		}
		f := Compute(o, b, w)
		s.Windows = append(s.Windows, f)
		if w == o.Window {
			s.Own = f
		}
	}
	for _, a := range BurnAlertsFor(o.Window) {
		long, _ := s.Figure(a.Long)
		short, _ := s.Figure(a.Short)
		s.Signals = append(s.Signals, a.Evaluate(o.Check, long, short))
	}
	return s, nil
}

// firstRerun is when Run evaluates a second time after start: by then the
// first results of every check (spread over the scheduler's 5 s jitter)
// are written, so a fresh daemon shows figures without waiting a period.
const firstRerun = 7 * time.Second

// Run evaluates at once, again after firstRerun, then every period until
// ctx ends.
func (e *Evaluator) Run(ctx context.Context, every time.Duration) {
	wait := min(firstRerun, every)
	for {
		if err := e.Evaluate(ctx); err != nil && ctx.Err() == nil {
			if err == store.ErrUnavailable {
				// The store's own retries already say so at WARN.
				e.logger.Debug("SLO figures wait for the history store", "err", err)
			} else {
				e.logger.Warn("SLO evaluation failed", "err", err)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = every
	}
}

// Statuses returns the latest statuses, in objective order.
func (e *Evaluator) Statuses() []Status {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return append([]Status(nil), e.statuses...)
}

// Signals returns the burn-rate conditions firing now.
func (e *Evaluator) Signals() []Signal {
	var out []Signal
	for _, s := range e.Statuses() {
		for _, sig := range s.Signals {
			if sig.Firing {
				out = append(out, sig)
			}
		}
	}
	return out
}

var (
	descAvail = prometheus.NewDesc("monitor_slo_availability_ratio",
		"SLI of a check's SLO over a window: good runs over runs with a known outcome, maintenance left out.",
		[]string{"check", "window"}, nil)
	descBudget = prometheus.NewDesc("monitor_slo_error_budget_remaining_ratio",
		"Share of the error budget left over the SLO window: 1 untouched, 0 spent, negative overspent.",
		[]string{"check"}, nil)
	descBurn = prometheus.NewDesc("monitor_slo_burn_rate",
		"Error rate over the error budget rate; 1 spends the budget exactly over the SLO window.",
		[]string{"check", "window"}, nil)
	descEvents = prometheus.NewDesc("monitor_slo_events_total",
		"Runs of a check with an SLO, by how its SLI judged them (outcome good or bad); UNKNOWN runs and runs in maintenance windows are left out, as in the SLO figures.",
		[]string{"check", "sli", "outcome"}, nil)
	descBurnAlert = prometheus.NewDesc("monitor_slo_burn_alert",
		"1 while a multi-window burn-rate condition holds (for a 30-day SLO, page: 14.4x over 1h and 5m, 6x over 6h and 30m; ticket: 3x over 1d and 2h, 1x over 3d and 6h; the windows scale with the SLO's window).",
		[]string{"check", "severity", "long_window", "short_window"}, nil)
)

// Describe implements prometheus.Collector.
func (e *Evaluator) Describe(ch chan<- *prometheus.Desc) {
	ch <- descAvail
	ch <- descBudget
	ch <- descBurn
	ch <- descBurnAlert
	ch <- descEvents
}

// Collect implements prometheus.Collector.
func (e *Evaluator) Collect(ch chan<- prometheus.Metric) {
	e.emu.Lock()
	for k, c := range e.events {
		ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, c[0], k.check, string(k.sli), "good")
		ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, c[1], k.check, string(k.sli), "bad")
	}
	e.emu.Unlock()
	for _, s := range e.Statuses() {
		c := s.Objective.Check
		for _, f := range s.Windows {
			w := FormatWindow(f.Window)
			if !math.IsNaN(f.Ratio) {
				ch <- prometheus.MustNewConstMetric(descAvail, prometheus.GaugeValue, f.Ratio, c, w)
			}
			ch <- prometheus.MustNewConstMetric(descBurn, prometheus.GaugeValue, f.BurnRate, c, w)
		}
		ch <- prometheus.MustNewConstMetric(descBudget, prometheus.GaugeValue, s.Own.BudgetRemaining, c)
		for _, sig := range s.Signals {
			v := 0.0
			if sig.Firing {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descBurnAlert, prometheus.GaugeValue, v, c, sig.Alert.Severity,
				FormatWindow(sig.Alert.Long), FormatWindow(sig.Alert.Short))
		}
	}
}
