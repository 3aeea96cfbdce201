package server

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/store"
)

// maxHistoryPoints bounds one history answer (Prometheus bounds a range
// query to 11,000 points the same way: an error naming the limit, not a
// silently coarser answer).
const maxHistoryPoints = 5000

// historyHorizon is how far back history goes: hourly rollups are kept 400
// days, so an earlier since is clamped to it (the answer's from says so).
const historyHorizon = store.DefaultRollupRetention

type historyAPI struct {
	store atomic.Pointer[store.Store]
	eval  atomic.Pointer[sla.Evaluator]
}

// SetHistory gives the API its history store and SLO evaluator.
func (s *Server) SetHistory(st store.Store, ev *sla.Evaluator) {
	s.history.store.Store(&st)
	s.history.eval.Store(ev)
}

func (s *Server) routeHistory() {
	s.mux.Handle("GET /v2/sla", s.private(http.HandlerFunc(s.slaNow)))
	s.mux.Handle("GET /v2/checks/{name}/history", s.private(http.HandlerFunc(s.checkHistory)))
}

type slaWindow struct {
	Window       string   `json:"window"`
	Availability *float64 `json:"availability"` // ratio; null when no run had a known outcome
	BurnRate     float64  `json:"burnRate"`
	Known        int64    `json:"known"`
	Bad          int64    `json:"bad"`
	Unknown      int64    `json:"unknown"`
	Maintenance  int64    `json:"maintenance"`
}

type slaSignal struct {
	Severity    string  `json:"severity"`
	LongWindow  string  `json:"longWindow"`
	ShortWindow string  `json:"shortWindow"`
	Factor      float64 `json:"factor"`
	LongBurn    float64 `json:"longBurnRate"`
	ShortBurn   float64 `json:"shortBurnRate"`
	Firing      bool    `json:"firing"`
}

type slaEntry struct {
	Check           string      `json:"check"`
	SLI             string      `json:"sli"`
	Objective       float64     `json:"objective"` // percent
	Window          string      `json:"window"`
	Availability    *float64    `json:"availability"`
	Met             *bool       `json:"met"` // null when the window has no known outcome, as in `sla report`
	BudgetRemaining float64     `json:"errorBudgetRemaining"`
	BudgetUsed      float64     `json:"errorBudgetUsed"`
	Windows         []slaWindow `json:"windows"`
	Signals         []slaSignal `json:"burnRateAlerts"`
	EvaluatedAt     string      `json:"evaluatedAt"`
}

func ratioPtr(f float64) *float64 {
	if math.IsNaN(f) {
		return nil
	}
	return &f
}

func finite(f float64) float64 {
	switch {
	case math.IsInf(f, 1):
		return math.MaxFloat64
	case math.IsInf(f, -1):
		return -math.MaxFloat64
	}
	return f
}

func (s *Server) slaNow(w http.ResponseWriter, r *http.Request) {
	ev := s.history.eval.Load()
	out := struct {
		SLOs []slaEntry `json:"slos"`
	}{SLOs: []slaEntry{}}
	if ev != nil {
		for _, st := range ev.Statuses() {
			o := st.Objective
			e := slaEntry{Check: o.Check, SLI: string(o.SLI), Objective: o.Target * 100,
				Window: sla.FormatWindow(o.Window), Availability: ratioPtr(st.Own.Ratio),
				BudgetRemaining: finite(st.Own.BudgetRemaining), BudgetUsed: finite(1 - st.Own.BudgetRemaining),
				Met: metPtr(st.Own.Ratio, o.Target), EvaluatedAt: st.At.UTC().Format(time.RFC3339)}
			if e.SLI == "" {
				e.SLI = string(sla.Availability)
			}
			for _, f := range st.Windows {
				e.Windows = append(e.Windows, slaWindow{Window: sla.FormatWindow(f.Window), Availability: ratioPtr(f.Ratio),
					BurnRate: finite(f.BurnRate), Known: f.Known, Bad: f.Bad, Unknown: f.Unknown, Maintenance: f.Maintenance})
			}
			for _, sig := range st.Signals {
				e.Signals = append(e.Signals, slaSignal{Severity: sig.Alert.Severity, LongWindow: sla.FormatWindow(sig.Alert.Long),
					ShortWindow: sla.FormatWindow(sig.Alert.Short), Factor: sig.Alert.Factor,
					LongBurn: finite(sig.LongBurn), ShortBurn: finite(sig.ShortBurn), Firing: sig.Firing})
			}
			out.SLOs = append(out.SLOs, e)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

type historyPoint struct {
	Time        string   `json:"time"`
	Runs        int64    `json:"runs"`
	Good        int64    `json:"good"`
	Bad         int64    `json:"bad"`
	Unknown     int64    `json:"unknown"`
	Maintenance int64    `json:"maintenance"`
	Uptime      *float64 `json:"uptime"` // good / (good + bad); null when none known
	Min         *float64 `json:"min,omitempty"`
	Avg         *float64 `json:"avg,omitempty"`
	Max         *float64 `json:"max,omitempty"`
}

// checkHistory answers GET /v2/checks/{name}/history?since=24h&step=1h:
// since is a duration back from now or an RFC 3339 time; step a duration.
func (s *Server) checkHistory(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, ok := s.opts.Snapshot.Spec(name); !ok {
		writeError(w, r, CodeNotFound, "No check named "+clip(name), nil)
		return
	}
	stp := s.history.store.Load()
	if stp == nil {
		writeError(w, r, CodeNotFound, "No history store is configured", nil)
		return
	}
	now := s.opts.Now()
	q := r.URL.Query()
	from := now.Add(-24 * time.Hour)
	if v := q.Get("since"); v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			from = t
		} else if d, err := config.ParseDuration(v); err == nil && d > 0 {
			from = now.Add(-d)
		} else {
			writeError(w, r, CodeInvalidRequest, "since must be a duration like 24h or 7d, or an RFC 3339 time", map[string]any{"since": v})
			return
		}
	}
	if h := now.Add(-historyHorizon); from.Before(h) {
		from = h
	}
	span := now.Sub(from)
	step := span / 100
	if v := q.Get("step"); v != "" {
		d, err := config.ParseDuration(v)
		if err != nil || d < time.Minute {
			writeError(w, r, CodeInvalidRequest, "step must be a duration of at least 1m", map[string]any{"step": v})
			return
		}
		if d > historyHorizon {
			writeError(w, r, CodeInvalidRequest, "step must be at most "+sla.FormatWindow(historyHorizon)+
				" (the history kept)", map[string]any{"step": v, "maxStep": sla.FormatWindow(historyHorizon)})
			return
		}
		step = d
	}
	step = max(step.Truncate(time.Minute), time.Minute)
	if span <= 0 {
		writeError(w, r, CodeInvalidRequest, "since must be in the past", map[string]any{"since": q.Get("since")})
		return
	}
	if n := span / step; n > maxHistoryPoints {
		writeError(w, r, CodeInvalidRequest, "since/step give "+strconv.FormatInt(int64(n), 10)+
			" points, more than the maximum of "+strconv.Itoa(maxHistoryPoints)+": use a larger step or a later since",
			map[string]any{"points": int64(n), "maxPoints": maxHistoryPoints, "step": sla.FormatWindow(step)})
		return
	}
	from = from.Truncate(step)
	release, ok := s.acquireHistorySlot(w, r)
	if !ok {
		return
	}
	defer release()
	buckets, err := (*stp).History(r.Context(), name, from, now, step)
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			// Known and retried by the daemon: no ERROR line per request.
			writeError(w, r, CodeInternal, "The history store is unavailable for now; the monitor keeps retrying it (GET /readyz says why)", nil)
			return
		}
		s.opts.Logger.Error("history query failed", "check", name, "err", err)
		writeError(w, r, CodeInternal, "The history store could not be read", nil)
		return
	}
	out := struct {
		Check  string         `json:"check"`
		From   string         `json:"from"`
		To     string         `json:"to"`
		Step   string         `json:"step"`
		Points []historyPoint `json:"points"`
	}{Check: name, From: from.UTC().Format(time.RFC3339), To: now.UTC().Format(time.RFC3339),
		Step: sla.FormatWindow(step), Points: make([]historyPoint, 0, len(buckets))}
	for _, b := range buckets {
		p := historyPoint{Time: b.Start.UTC().Format(time.RFC3339), Runs: b.Runs, Good: b.Good, Bad: b.Bad,
			Unknown: b.Unknown, Maintenance: b.Maintenance}
		if known := b.Good + b.Bad; known > 0 {
			u := float64(b.Good) / float64(known)
			p.Uptime = &u
		}
		if b.Values > 0 {
			p.Min, p.Avg, p.Max = &b.Min, &b.Avg, &b.Max
		}
		out.Points = append(out.Points, p)
	}
	writeJSON(w, http.StatusOK, out)
}

// metPtr is whether the objective is met, nil when nothing is known yet (a
// window without data is not "met").
func metPtr(ratio, target float64) *bool {
	if math.IsNaN(ratio) {
		return nil
	}
	met := ratio >= target
	return &met
}
