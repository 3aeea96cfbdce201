package server

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/monitor-dev/monitor/store"
)

// Limits of the escalations API.
const (
	maxEscalationSummary = 200
	maxEscalationDetails = 10000
	defaultListLimit     = 50
	maxListLimit         = 100
)

// escalationSeverities are an escalation's severities, mapped to the alert
// severities INFO, WARN and CRITICAL.
var escalationSeverities = []string{"LOW", "MEDIUM", "HIGH"}

var validHandle = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

type escalationBody struct {
	Handle   string `json:"handle"`
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Details  string `json:"details"`
	Public   bool   `json:"public"`
}

const escalationShape = `{"handle": "acme", "severity": "HIGH", "summary": "...", "details": "..."}`

// escalationJSON is an escalation as the API shows it.
type escalationJSON struct {
	ID         string `json:"id"`
	Handle     string `json:"handle"`
	Severity   string `json:"severity"`
	Summary    string `json:"summary"`
	Details    string `json:"details"`
	Public     bool   `json:"public"`
	Status     string `json:"status"` // open or resolved
	AlertID    string `json:"alertId"`
	CreatedAt  string `json:"createdAt"`
	CreatedBy  string `json:"createdBy"`
	ResolvedAt string `json:"resolvedAt,omitempty"`
	ResolvedBy string `json:"resolvedBy,omitempty"`
}

func toEscalationJSON(e store.Escalation) escalationJSON {
	return escalationJSON{ID: e.ID, Handle: e.Handle, Severity: e.Severity, Summary: e.Summary, Details: e.Details,
		Public: e.Public, Status: e.Status, AlertID: "escalation:" + e.ID, CreatedAt: rfc3339(e.CreatedAt),
		CreatedBy: e.CreatedBy, ResolvedAt: rfc3339(e.ResolvedAt), ResolvedBy: e.ResolvedBy}
}

// parseEscalation checks an escalation body; on a problem it answers 400
// itself.
func parseEscalation(w http.ResponseWriter, r *http.Request, b escalationBody) bool {
	switch {
	case b.Handle == "":
		badField(w, r, "handle", "handle is required: the owner to alert, like acme", nil)
		return false
	case !validHandle.MatchString(b.Handle):
		badField(w, r, "handle", "handle must be 1 to 64 of a-z, 0-9, _ and -", map[string]any{"got": clip(b.Handle)})
		return false
	case b.Severity == "":
		writeError(w, r, CodeInvalidSeverity, "severity is required: LOW, MEDIUM or HIGH",
			map[string]any{"field": "severity", "allowed": escalationSeverities})
		return false
	case !slices.Contains(escalationSeverities, b.Severity):
		writeError(w, r, CodeInvalidSeverity, fmt.Sprintf("severity %q is not one of LOW, MEDIUM, HIGH (upper case)", clip(b.Severity)),
			map[string]any{"field": "severity", "allowed": escalationSeverities, "got": clip(b.Severity)})
		return false
	case strings.TrimSpace(b.Summary) == "":
		badField(w, r, "summary", "summary is required: one line saying what is wrong", nil)
		return false
	case utf8.RuneCountInString(b.Summary) > maxEscalationSummary:
		badField(w, r, "summary", fmt.Sprintf("summary has %d characters, at most %d are allowed (put the rest in details)",
			utf8.RuneCountInString(b.Summary), maxEscalationSummary), map[string]any{"max": maxEscalationSummary})
		return false
	case strings.IndexFunc(b.Summary, unicode.IsControl) >= 0:
		// It becomes a mail subject and a page title: one line.
		badField(w, r, "summary", "summary must be one line, without control characters (put the rest in details)", nil)
		return false
	case utf8.RuneCountInString(b.Details) > maxEscalationDetails:
		badField(w, r, "details", fmt.Sprintf("details has %d characters, at most %d are allowed",
			utf8.RuneCountInString(b.Details), maxEscalationDetails), map[string]any{"max": maxEscalationDetails})
		return false
	}
	return true
}

// createEscalation answers POST /v2/operator/escalations.
func (s *Server) createEscalation(w http.ResponseWriter, r *http.Request) {
	var b escalationBody
	if !decodeJSON(w, r, &b, escalationShape) || !parseEscalation(w, r, b) {
		return
	}
	rt, ok := s.alertingRT(w, r)
	if !ok {
		return
	}
	actor := actorOf(r)
	s.alerting.addMu.Lock() // the engine's bound of open escalations stays exact
	e, err := rt.engine.Escalate(r.Context(), store.Escalation{Handle: b.Handle, Severity: b.Severity,
		Summary: strings.TrimSpace(b.Summary), Details: b.Details, Public: b.Public, Status: "open",
		CreatedAt: s.opts.Now().UTC(), CreatedBy: actor}, actor)
	s.alerting.addMu.Unlock()
	if err != nil {
		s.alertingFailed(w, r, "opening the escalation", err)
		return
	}
	writeJSON(w, http.StatusCreated, toEscalationJSON(e))
}

// resolveEscalation answers POST /v2/operator/escalations/{id}/resolve.
func (s *Server) resolveEscalation(w http.ResponseWriter, r *http.Request) {
	s.oneEscalation(w, r, "resolving the escalation", func(rt *alertingRuntime, id string) (store.Escalation, error) {
		return rt.engine.ResolveEscalation(r.Context(), id, actorOf(r))
	})
}

// getEscalation answers GET /v2/operator/escalations/{id}.
func (s *Server) getEscalation(w http.ResponseWriter, r *http.Request) {
	s.oneEscalation(w, r, "reading the escalation", func(rt *alertingRuntime, id string) (store.Escalation, error) {
		return rt.store.Escalation(r.Context(), id)
	})
}

// oneEscalation answers a request about the escalation {id} with what do
// returns: 200 and the escalation, 404 for an id that names none.
func (s *Server) oneEscalation(w http.ResponseWriter, r *http.Request, doing string,
	do func(rt *alertingRuntime, id string) (store.Escalation, error)) {
	id := r.PathValue("id")
	rt, ok := s.alertingRT(w, r)
	if !ok {
		return
	}
	notFound := func() {
		writeError(w, r, CodeNotFound, "No escalation "+clip(id), map[string]any{"id": clip(id)})
	}
	if !plausibleID(id) {
		notFound()
		return
	}
	e, err := do(rt, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		notFound()
	case err != nil:
		s.alertingFailed(w, r, doing, err)
	default:
		writeJSON(w, http.StatusOK, toEscalationJSON(e))
	}
}

// listEscalations answers GET /v2/operator/escalations?status=open&limit=50,
// newest first.
func (s *Server) listEscalations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && status != "open" && status != "resolved" {
		badField(w, r, "status", "status must be open or resolved", map[string]any{"allowed": []string{"open", "resolved"}, "got": clip(status)})
		return
	}
	limit, ok := parseLimit(w, r)
	if !ok {
		return
	}
	rt, ok := s.alertingRT(w, r)
	if !ok {
		return
	}
	list, err := rt.store.Escalations(r.Context(), status, limit)
	if err != nil {
		s.alertingFailed(w, r, "reading the escalations", err)
		return
	}
	out := struct {
		Escalations []escalationJSON `json:"escalations"`
	}{Escalations: make([]escalationJSON, 0, len(list))}
	for _, e := range list[:min(len(list), limit)] {
		out.Escalations = append(out.Escalations, toEscalationJSON(e))
	}
	writeJSON(w, http.StatusOK, out)
}

// parseLimit reads ?limit= (default 50, 1 to 100); on a problem it answers
// 400 itself.
func parseLimit(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultListLimit, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxListLimit {
		badField(w, r, "limit", fmt.Sprintf("limit must be a whole number from 1 to %d", maxListLimit),
			map[string]any{"got": clip(v), "max": maxListLimit})
		return 0, false
	}
	return n, true
}
