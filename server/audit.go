package server

import (
	"net/http"
	"regexp"
	"time"

	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/store"
)

// auditEventJSON is an audit event as the API shows it.
type auditEventJSON struct {
	ID      int64          `json:"id"`
	At      string         `json:"at"`
	Actor   string         `json:"actor"`
	Action  string         `json:"action"`
	Target  string         `json:"target"`
	Details map[string]any `json:"details"`
}

// validAction is the shape of an audit action: silence.created,
// escalation.resolved, delivery.dead_lettered.
var validAction = regexp.MustCompile(`^[a-z_]{1,32}(\.[a-z_]{1,32}){0,2}$`)

// listAuditEvents answers GET /v2/audit-events?limit=50&since=&action=,
// newest first. since is an RFC 3339 time or a duration back from now
// (24h, 7d).
func (s *Server) listAuditEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := parseLimit(w, r)
	if !ok {
		return
	}
	aq := store.AuditQuery{Limit: limit, Action: q.Get("action")}
	if aq.Action != "" && !validAction.MatchString(aq.Action) {
		badField(w, r, "action", "action must be an audit action like silence.created or escalation.created",
			map[string]any{"got": clip(aq.Action)})
		return
	}
	now := s.opts.Now()
	if v := q.Get("since"); v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			aq.Since = t
		} else if d, err := config.ParseDuration(v); err == nil && d > 0 {
			aq.Since = now.Add(-d)
		} else {
			badField(w, r, "since", "since must be an RFC 3339 time like 2026-11-21T10:00:00Z or a duration like 24h or 7d",
				map[string]any{"got": clip(v)})
			return
		}
	}
	rt, ok := s.alertingRT(w, r)
	if !ok {
		return
	}
	events, err := rt.store.AuditEvents(r.Context(), aq)
	if err != nil {
		s.alertingFailed(w, r, "reading the audit trail", err)
		return
	}
	out := struct {
		Events []auditEventJSON `json:"events"`
	}{Events: make([]auditEventJSON, 0, len(events))}
	for _, e := range events[:min(len(events), limit)] {
		d := e.Details
		if d == nil {
			d = map[string]any{}
		}
		out.Events = append(out.Events, auditEventJSON{ID: e.ID, At: rfc3339(e.At), Actor: e.Actor, Action: e.Action,
			Target: e.Target, Details: d})
	}
	writeJSON(w, http.StatusOK, out)
}
