// Package sla turns stored results into SLIs, error budgets and burn rates:
// pure functions over counts, the multi-window multi-burn-rate conditions
// of the Google SRE workbook (scaled to each SLO's window), reports, and
// Prometheus rules that compute the same from monitor_slo_events_total. It
// is also the one definition of how a result counts (outage.go): within the
// SLA, down, and when an outage starts and ends.
package sla

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/store"
)

// SLI names which runs count as good.
type SLI string

const (
	// Availability: good runs are PASS; UNKNOWN runs and runs in
	// maintenance are left out of both sides.
	Availability SLI = "availability"
	// WithinSLA, for freshness checks: good runs saw the data younger than
	// the SLA threshold (the share of time the age was under it, as runs
	// are evenly spaced).
	WithinSLA SLI = "within_sla"
)

// Objective is one configured SLO.
type Objective struct {
	Check  string
	Target float64 // a ratio: 0.999 for 99.9 %
	Window time.Duration
	SLI    SLI
}

// Figures are the SLI, budget and burn rate of one objective over one window.
type Figures struct {
	Window time.Duration
	// Known counts the runs with a known outcome; Bad the bad ones among
	// them. Unknown and Maintenance are the runs left out.
	Known, Bad, Unknown, Maintenance int64
	// Ratio is good/known; NaN when nothing is known.
	Ratio float64
	// BudgetRemaining is 1 − bad / allowed bad, where allowed bad is
	// (1 − target) × known: 1 untouched, 0 spent, negative overspent. It is
	// 1 when nothing is known.
	BudgetRemaining float64
	// BurnRate is the error rate over the error budget rate: (bad/known) /
	// (1 − target). 1 spends the budget exactly over the SLO window. 0 when
	// nothing is known.
	BurnRate float64
}

// Compute derives the figures of an objective from one bucket of totals.
func Compute(o Objective, b store.Bucket, window time.Duration) Figures {
	f := Figures{Window: window, Unknown: b.Unknown, Maintenance: b.Maintenance}
	f.Known = b.Good + b.Bad
	switch o.SLI {
	case WithinSLA:
		f.Bad = f.Known - min(b.WithinSLA, f.Known)
	default:
		f.Bad = b.Bad
	}
	if f.Known == 0 {
		f.Ratio, f.BudgetRemaining, f.BurnRate = math.NaN(), 1, 0
		return f
	}
	errRate := float64(f.Bad) / float64(f.Known)
	f.Ratio = 1 - errRate
	allowed := 1 - o.Target
	if allowed <= 0 { // a 100 % objective: any bad run spends it all
		if f.Bad == 0 {
			f.BudgetRemaining, f.BurnRate = 1, 0
		} else {
			f.BudgetRemaining, f.BurnRate = math.Inf(-1), math.Inf(1)
		}
		return f
	}
	f.BudgetRemaining = 1 - errRate/allowed
	f.BurnRate = errRate / allowed
	return f
}

// BurnAlert is one multi-window burn-rate condition: the burn rate over
// both the long and the short window is above Factor.
type BurnAlert struct {
	Severity    string // page or ticket
	Long, Short time.Duration
	Factor      float64
}

// BurnAlerts are the Google SRE workbook's conditions for a 30-day SLO:
// 2 % of the budget in an hour or 5 % in six hours pages; 10 % in a day or
// in three days makes a ticket. BurnAlertsFor scales them to other windows.
var BurnAlerts = []BurnAlert{
	{Severity: "page", Long: time.Hour, Short: 5 * time.Minute, Factor: 14.4},
	{Severity: "page", Long: 6 * time.Hour, Short: 30 * time.Minute, Factor: 6},
	{Severity: "ticket", Long: 24 * time.Hour, Short: 2 * time.Hour, Factor: 3},
	{Severity: "ticket", Long: 72 * time.Hour, Short: 6 * time.Hour, Factor: 1},
}

// burnBase is the SLO window BurnAlerts are written for.
const burnBase = 30 * 24 * time.Hour

// BurnAlertsFor gives the burn-rate conditions of an SLO over sloWindow:
// the workbook's table, with every long and short window scaled by
// sloWindow / 30 days and the factors kept. A factor over a window spends a
// fixed share of the budget (14.4 × 1h / 30d = 2 %), so scaling both windows
// keeps each condition's meaning: a 7-day SLO pages when 2 % of its budget
// went in 14 minutes (and the last minute still burns). This is Pyrra's
// rule (windows scale with the SLO, factors stay), based on the workbook's
// 30 days rather than Pyrra's 28, so that a 30-day SLO gets the workbook's
// windows exactly. Scaled windows are rounded to the nearest whole minute,
// at least one minute, so that they stay valid Prometheus range selectors
// above a scrape interval; a zero window means 30 days. The evaluator and
// `monitor rules` both take their conditions from here.
func BurnAlertsFor(sloWindow time.Duration) []BurnAlert {
	if sloWindow <= 0 || sloWindow == burnBase {
		return slices.Clone(BurnAlerts)
	}
	ratio := float64(sloWindow) / float64(burnBase)
	scale := func(d time.Duration) time.Duration {
		return max(time.Duration(math.Round(d.Minutes()*ratio))*time.Minute, time.Minute)
	}
	out := make([]BurnAlert, len(BurnAlerts))
	for i, a := range BurnAlerts {
		out[i] = BurnAlert{Severity: a.Severity, Long: scale(a.Long), Short: scale(a.Short), Factor: a.Factor}
	}
	return out
}

// ReportWindows are the windows every SLO is reported over, besides its own.
var ReportWindows = []time.Duration{time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}

// Signal is the state of one burn-rate condition of one SLO.
type Signal struct {
	Check     string
	Alert     BurnAlert
	LongBurn  float64
	ShortBurn float64
	Firing    bool
}

// Evaluate checks a burn-rate condition against the figures of its windows.
func (a BurnAlert) Evaluate(check string, long, short Figures) Signal {
	return Signal{Check: check, Alert: a, LongBurn: long.BurnRate, ShortBurn: short.BurnRate,
		Firing: long.BurnRate > a.Factor && short.BurnRate > a.Factor}
}

// Windows lists every window an objective needs figures for: the report
// windows, its own window, and the burn-rate windows, without repeats,
// shortest first.
func Windows(o Objective) []time.Duration {
	seen := map[time.Duration]bool{}
	var out []time.Duration
	add := func(d time.Duration) {
		if d > 0 && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, a := range BurnAlertsFor(o.Window) {
		add(a.Short)
		add(a.Long)
	}
	for _, w := range ReportWindows {
		add(w)
	}
	add(o.Window)
	slices.Sort(out)
	return out
}

// FormatWindow writes a window the way Prometheus does: 5m, 1h, 1d, 30d,
// in the largest unit that divides it (a scaled burn-rate window of 5h36m
// reads 336m).
func FormatWindow(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// Tally sums records of one check taken in [from, to) into a bucket: the
// reference the stores' Totals must agree with.
func Tally(recs []store.Record, from, to time.Time) store.Bucket {
	b := store.Bucket{Start: from, Step: to.Sub(from)}
	var sum float64
	for _, r := range recs {
		if r.CheckedAt.Before(from) || !r.CheckedAt.Before(to) {
			continue
		}
		b.Runs++
		if r.ObservedValue != nil {
			v := *r.ObservedValue
			if b.Values == 0 || v < b.Min {
				b.Min = v
			}
			if b.Values == 0 || v > b.Max {
				b.Max = v
			}
			b.Values++
			sum += v
		}
		if r.Maintenance {
			b.Maintenance++
			continue
		}
		switch r.Status {
		case check.Pass:
			b.Good++
		case check.Fail:
			b.Bad++
		default:
			b.Unknown++
		}
		if r.WithinSLA {
			b.WithinSLA++
		}
	}
	if b.Values > 0 {
		b.Avg = sum / float64(b.Values)
	}
	return b
}
