package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/monitor-dev/monitor/alerting"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/store"
)

// AlertingAPI is what the alerting endpoints need from the alerting engine
// (alerting.Engine): its alerts, silences and escalations. Reads of the
// audit trail and of past escalations go to the store.
type AlertingAPI interface {
	// Alerts returns the firing, pending and recently resolved alerts.
	Alerts() []alerting.View
	// AddSilence starts a silence (its ID assigned) and audits it.
	AddSilence(ctx context.Context, s store.Silence, by alerting.Actor) (store.Silence, error)
	// Silences returns the active and pending silences.
	Silences() []store.Silence
	// ExpireSilence ends a silence now (store.ErrNotFound: no such
	// active or pending silence) and audits it.
	ExpireSilence(ctx context.Context, id string, by alerting.Actor) error
	// Escalate opens an escalation (its ID assigned), fires its alert and
	// audits it.
	Escalate(ctx context.Context, e store.Escalation, by alerting.Actor) (store.Escalation, error)
	// ResolveEscalation resolves an escalation (store.ErrNotFound) and
	// audits it.
	ResolveEscalation(ctx context.Context, id string, by alerting.Actor) (store.Escalation, error)
}

// Limits of the alerting API.
const (
	// maxSilences bounds the active and pending silences (the engine's
	// bound, kept exact by alertingAPI.addMu): each is matched against
	// every alert, so a script creating them in a loop meets a clear
	// refusal instead of slowing every alert down.
	maxSilences       = alerting.MaxSilences
	maxMatchers       = alerting.MaxMatchers
	maxMatcherValue   = 256
	maxSilenceAhead   = 90 * 24 * time.Hour
	maxSilenceComment = 1000
	// expiredSilencesShown is how far back ?expired=true reaches, and
	// maxSilencesListed how many silences it lists at most: the active and
	// pending ones, then the most recently ended.
	expiredSilencesShown = 7 * 24 * time.Hour
	maxSilencesListed    = 2 * maxSilences
)

type alertingAPI struct {
	rt atomic.Pointer[alertingRuntime]
	// addMu serializes adding silences and escalations, so that
	// concurrent requests cannot pass the engine's bounds together.
	addMu sync.Mutex
}

type alertingRuntime struct {
	engine AlertingAPI
	store  store.AlertStore
}

// SetAlerting gives the alerting endpoints the engine and the store (at
// start, once both are there). Until then they answer 503 unavailable.
func (s *Server) SetAlerting(e AlertingAPI, st store.AlertStore) {
	s.alerting.rt.Store(&alertingRuntime{engine: e, store: st})
}

func (s *Server) routeAlerting() {
	for pattern, h := range map[string]http.HandlerFunc{
		"GET /v2/alerts":                             s.listAlerts,
		"POST /v2/silences":                          s.createSilence,
		"GET /v2/silences":                           s.listSilences,
		"DELETE /v2/silences/{id}":                   s.expireSilence,
		"POST /v2/operator/escalations":              s.createEscalation,
		"GET /v2/operator/escalations":               s.listEscalations,
		"GET /v2/operator/escalations/{id}":          s.getEscalation,
		"POST /v2/operator/escalations/{id}/resolve": s.resolveEscalation,
		"GET /v2/audit-events":                       s.listAuditEvents,
	} {
		s.mux.Handle(pattern, s.private(h))
	}
}

// alertingRT returns the engine and store, or answers 503 when alerting is
// not running (yet).
func (s *Server) alertingRT(w http.ResponseWriter, r *http.Request) (*alertingRuntime, bool) {
	rt := s.alerting.rt.Load()
	if rt == nil || rt.engine == nil || rt.store == nil {
		w.Header().Set("Retry-After", "5")
		writeError(w, r, CodeUnavailable, "Alerting is not running (yet): the daemon starts it once its store is open", nil)
		return nil, false
	}
	return rt, true
}

// alertingFailed answers an error of the engine or the store: the
// engine's refusals as 400 naming the field (invalid_severity for a
// severity), its bounds as 400 saying what to do, 503 while the store is
// down, else 500 (logged; the answer says nothing of the cause).
func (s *Server) alertingFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	var inv *alerting.InvalidError
	switch {
	case errors.As(err, &inv):
		code := inv.Code
		if _, ok := codeStatus[code]; !ok || codeStatus[code] != http.StatusBadRequest {
			code = CodeInvalidRequest
		}
		details := map[string]any{"field": inv.Field}
		if code == CodeInvalidSeverity {
			details["allowed"] = escalationSeverities
		}
		writeError(w, r, code, inv.Field+" "+inv.Msg, details)
	case errors.Is(err, alerting.ErrLimit):
		msg := err.Error()
		if _, after, ok := strings.Cut(msg, alerting.ErrLimit.Error()+": "); ok {
			msg = after
		}
		writeError(w, r, CodeInvalidRequest, "Refused, a bound is reached: "+msg, nil)
	case errors.Is(err, store.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		writeError(w, r, CodeUnavailable, "The store is unavailable for now; the monitor keeps retrying it (GET /readyz says why)", nil)
	default:
		s.opts.Logger.Error("alerting request failed", "what", what, "request_id", requestID(r), "err", err)
		writeError(w, r, CodeInternal, "Internal error: "+what+" failed", nil)
	}
}

// maxID bounds the silence and escalation ids the API looks up (they are
// UUIDs): a longer one, or one that is not text, is unknown without asking
// the store.
const maxID = 128

// plausibleID reports whether id could name a silence or escalation.
func plausibleID(id string) bool {
	return id != "" && len(id) <= maxID && utf8.ValidString(id) && strings.IndexFunc(id, unicode.IsControl) < 0
}

// Alert statuses (alerting.View.Status).
var alertStatuses = []string{"firing", "pending", "resolved"}

// listAlerts answers GET /v2/alerts?status=firing&check=glob.
func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && !slices.Contains(alertStatuses, status) {
		writeError(w, r, CodeInvalidRequest, "status must be one of firing, pending, resolved",
			map[string]any{"field": "status", "allowed": alertStatuses, "got": clip(status)})
		return
	}
	glob := q.Get("check")
	if glob != "" {
		if err := validGlob(glob); err != "" {
			writeError(w, r, CodeInvalidRequest, "check must be a check name or a glob like targeting_*: "+err,
				map[string]any{"field": "check", "got": clip(glob)})
			return
		}
	}
	rt, ok := s.alertingRT(w, r)
	if !ok {
		return
	}
	out := struct {
		Alerts []alerting.View `json:"alerts"`
	}{Alerts: []alerting.View{}}
	for _, v := range rt.engine.Alerts() {
		if status != "" && v.Status != status {
			continue
		}
		if glob != "" {
			if m, _ := path.Match(glob, v.Check); !m {
				continue
			}
		}
		v.StartsAt = v.StartsAt.UTC()
		if v.EndsAt != nil {
			e := v.EndsAt.UTC()
			v.EndsAt = &e
		}
		if v.Labels == nil {
			v.Labels = map[string]string{}
		}
		if v.InhibitedBy == nil {
			v.InhibitedBy = []string{}
		}
		if v.Receivers == nil {
			v.Receivers = []string{}
		}
		out.Alerts = append(out.Alerts, v)
	}
	writeJSON(w, http.StatusOK, out)
}

// validGlob says what is wrong with a glob (path.Match syntax), "" when
// nothing is.
func validGlob(g string) string {
	if _, err := path.Match(g, ""); err != nil {
		return "unbalanced [ ] or a trailing \\"
	}
	return ""
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]{0,63}$`)

// alertSeverities are the severities of alerts (a literal severity
// matcher must be one of them; escalations' LOW, MEDIUM and HIGH map to
// them).
var alertSeverities = []string{"INFO", "WARN", "CRITICAL"}

type silenceBody struct {
	Matchers map[string]string `json:"matchers"`
	StartsAt string            `json:"startsAt"`
	EndsAt   string            `json:"endsAt"`
	Duration string            `json:"duration"` // instead of endsAt: how long from startsAt, like 2h
	Comment  string            `json:"comment"`
}

const silenceShape = `{"matchers": {"check": "targeting_*"}, "endsAt": "2026-12-01T03:00:00Z", "comment": "..."}`

// silenceJSON is a silence as the API shows it.
type silenceJSON struct {
	ID        string            `json:"id"`
	Matchers  map[string]string `json:"matchers"`
	StartsAt  string            `json:"startsAt"`
	EndsAt    string            `json:"endsAt"`
	Comment   string            `json:"comment"`
	CreatedBy string            `json:"createdBy"`
	CreatedAt string            `json:"createdAt"`
	Status    string            `json:"status"` // pending, active or expired
}

func toSilenceJSON(sl store.Silence, now time.Time) silenceJSON {
	status := "active"
	switch {
	case !now.Before(sl.EndsAt):
		status = "expired"
	case now.Before(sl.StartsAt):
		status = "pending"
	}
	m := sl.Matchers
	if m == nil {
		m = map[string]string{}
	}
	return silenceJSON{ID: sl.ID, Matchers: m, StartsAt: rfc3339(sl.StartsAt), EndsAt: rfc3339(sl.EndsAt),
		Comment: sl.Comment, CreatedBy: sl.CreatedBy, CreatedAt: rfc3339(sl.CreatedAt), Status: status}
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// badField answers 400 invalid_request naming the field.
func badField(w http.ResponseWriter, r *http.Request, field, desc string, more map[string]any) {
	details := map[string]any{"field": field}
	for k, v := range more {
		details[k] = v
	}
	writeError(w, r, CodeInvalidRequest, desc, details)
}

// parseSilence checks a silence body against now; on a problem it answers
// 400 itself.
func parseSilence(w http.ResponseWriter, r *http.Request, b silenceBody, now time.Time) (store.Silence, bool) {
	if len(b.Matchers) == 0 {
		badField(w, r, "matchers", `matchers must name at least one label, like {"check": "targeting_*"}`, nil)
		return store.Silence{}, false
	}
	if len(b.Matchers) > maxMatchers {
		badField(w, r, "matchers", fmt.Sprintf("matchers has %d entries, at most %d are allowed", len(b.Matchers), maxMatchers),
			map[string]any{"max": maxMatchers})
		return store.Silence{}, false
	}
	keys := make([]string, 0, len(b.Matchers))
	for k := range b.Matchers {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the first problem is the same on every try
	for _, k := range keys {
		v := b.Matchers[k]
		field := "matchers." + clip(k)
		switch {
		case !labelName.MatchString(k):
			badField(w, r, field, fmt.Sprintf("matcher %q is not a label name: check, kind, severity, component, handle or a label ([a-zA-Z_][a-zA-Z0-9_]*, at most 64 characters)", clip(k)), nil)
			return store.Silence{}, false
		case v == "":
			badField(w, r, field, fmt.Sprintf("matcher %q has an empty value; use * to match any value", k), nil)
			return store.Silence{}, false
		case len(v) > maxMatcherValue:
			badField(w, r, field, fmt.Sprintf("matcher %q is longer than %d bytes", k, maxMatcherValue), map[string]any{"max": maxMatcherValue})
			return store.Silence{}, false
		}
		if err := validGlob(v); err != "" {
			badField(w, r, field, fmt.Sprintf("matcher %q is not a valid glob (%s): %s", k, "* ? [a-z] as in path.Match", err), map[string]any{"got": clip(v)})
			return store.Silence{}, false
		}
		if k == "severity" && !strings.ContainsAny(v, `*?[\`) && !slices.Contains(alertSeverities, v) {
			writeError(w, r, CodeInvalidSeverity, fmt.Sprintf("matcher severity %q matches no alert: alerts have severity INFO, WARN or CRITICAL", clip(v)),
				map[string]any{"field": field, "allowed": alertSeverities})
			return store.Silence{}, false
		}
	}
	start := now
	if b.StartsAt != "" {
		t, err := time.Parse(time.RFC3339, b.StartsAt)
		if err != nil {
			badField(w, r, "startsAt", "startsAt must be an RFC 3339 time like 2026-12-01T02:00:00Z", map[string]any{"got": clip(b.StartsAt)})
			return store.Silence{}, false
		}
		if t.After(now) {
			start = t // a start in the past means now, as in Alertmanager
		}
	}
	if b.Duration != "" {
		d, err := config.ParseDuration(b.Duration)
		switch {
		case b.EndsAt != "":
			badField(w, r, "duration", "give endsAt or duration, not both", nil)
			return store.Silence{}, false
		case err != nil || d <= 0:
			badField(w, r, "duration", "duration must be a positive duration like 2h or 7d", map[string]any{"got": clip(b.Duration)})
			return store.Silence{}, false
		case d > maxSilenceAhead:
			badField(w, r, "duration", "duration must be at most 90d", map[string]any{"got": clip(b.Duration)})
			return store.Silence{}, false
		}
		b.EndsAt = start.Add(d).UTC().Format(time.RFC3339)
	}
	if b.EndsAt == "" {
		badField(w, r, "endsAt", "endsAt (or duration) is required: every silence expires (an RFC 3339 time, at most 90 days ahead)", nil)
		return store.Silence{}, false
	}
	end, err := time.Parse(time.RFC3339, b.EndsAt)
	switch {
	case err != nil:
		badField(w, r, "endsAt", "endsAt must be an RFC 3339 time like 2026-12-01T03:00:00Z", map[string]any{"got": clip(b.EndsAt)})
		return store.Silence{}, false
	case !end.After(now):
		badField(w, r, "endsAt", "endsAt must be in the future", map[string]any{"got": clip(b.EndsAt), "now": rfc3339(now)})
		return store.Silence{}, false
	case !end.After(start):
		badField(w, r, "endsAt", "endsAt must be after startsAt", map[string]any{"got": clip(b.EndsAt), "startsAt": rfc3339(start)})
		return store.Silence{}, false
	case end.Sub(now) > maxSilenceAhead:
		badField(w, r, "endsAt", "endsAt must be at most 90 days ahead", map[string]any{"got": clip(b.EndsAt), "max": rfc3339(now.Add(maxSilenceAhead))})
		return store.Silence{}, false
	}
	if n := utf8.RuneCountInString(b.Comment); n > maxSilenceComment {
		badField(w, r, "comment", fmt.Sprintf("comment has %d characters, at most %d are allowed", n, maxSilenceComment), map[string]any{"max": maxSilenceComment})
		return store.Silence{}, false
	}
	return store.Silence{Matchers: b.Matchers, StartsAt: start.UTC(), EndsAt: end.UTC(), Comment: b.Comment}, true
}

// createSilence answers POST /v2/silences.
func (s *Server) createSilence(w http.ResponseWriter, r *http.Request) {
	var b silenceBody
	if !decodeJSON(w, r, &b, silenceShape) {
		return
	}
	now := s.opts.Now()
	sl, ok := parseSilence(w, r, b, now)
	if !ok {
		return
	}
	rt, ok := s.alertingRT(w, r)
	if !ok {
		return
	}
	actor := actorOf(r)
	sl.CreatedBy, sl.CreatedAt = actor, now.UTC()
	// One at a time, so that the engine's bound (MaxSilences) is exact
	// under a flood of concurrent requests.
	s.alerting.addMu.Lock()
	saved, err := rt.engine.AddSilence(r.Context(), sl, actor)
	s.alerting.addMu.Unlock()
	if err != nil {
		s.alertingFailed(w, r, "adding the silence", err)
		return
	}
	// The engine starts a silence asked for "now" at its own clock, read
	// after ours: that silence is active, not pending.
	shownAt := s.opts.Now()
	if !sl.StartsAt.After(now) && saved.StartsAt.After(shownAt) {
		shownAt = saved.StartsAt
	}
	writeJSON(w, http.StatusCreated, toSilenceJSON(saved, shownAt))
}

// listSilences answers GET /v2/silences (active and pending) and
// GET /v2/silences?expired=true (also those ended in the last 7 days).
func (s *Server) listSilences(w http.ResponseWriter, r *http.Request) {
	expired := false
	switch v := r.URL.Query().Get("expired"); v {
	case "", "false":
	case "true":
		expired = true
	default:
		badField(w, r, "expired", "expired must be true or false", map[string]any{"got": clip(v)})
		return
	}
	rt, ok := s.alertingRT(w, r)
	if !ok {
		return
	}
	now := s.opts.Now()
	list := rt.engine.Silences()
	if expired {
		past, err := rt.store.Silences(r.Context(), now.Add(-expiredSilencesShown))
		if err != nil {
			s.alertingFailed(w, r, "reading the silences", err)
			return
		}
		seen := map[string]bool{}
		for _, sl := range list {
			seen[sl.ID] = true
		}
		var ended []store.Silence
		for _, sl := range past {
			if !seen[sl.ID] && !now.Before(sl.EndsAt) {
				ended = append(ended, sl)
			}
		}
		slices.SortStableFunc(ended, func(a, b store.Silence) int { return b.EndsAt.Compare(a.EndsAt) })
		list = append(list, ended[:min(len(ended), max(maxSilencesListed-len(list), 0))]...)
	}
	slices.SortStableFunc(list, func(a, b store.Silence) int {
		if c := a.StartsAt.Compare(b.StartsAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	out := struct {
		Silences []silenceJSON `json:"silences"`
	}{Silences: make([]silenceJSON, 0, min(len(list), maxSilencesListed))}
	for _, sl := range list {
		if len(out.Silences) == maxSilencesListed {
			break
		}
		out.Silences = append(out.Silences, toSilenceJSON(sl, now))
	}
	writeJSON(w, http.StatusOK, out)
}

// expireSilence answers DELETE /v2/silences/{id}: 204, or 404 for a
// silence that is not active or pending.
func (s *Server) expireSilence(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rt, ok := s.alertingRT(w, r)
	if !ok {
		return
	}
	if !plausibleID(id) {
		writeError(w, r, CodeNotFound, "No active or pending silence "+clip(id), map[string]any{"id": clip(id)})
		return
	}
	if err := rt.engine.ExpireSilence(r.Context(), id, actorOf(r)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, r, CodeNotFound, "No active or pending silence "+clip(id), map[string]any{"id": clip(id)})
			return
		}
		s.alertingFailed(w, r, "expiring the silence", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
