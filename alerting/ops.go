package alerting

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/store"
)

// This file holds what operators do through the API: silences and
// escalations. Each writes the store at once (the answer says it is kept)
// and the audit trail.

// Escalation statuses and severities.
const (
	EscalationOpen     = "open"
	EscalationResolved = "resolved"
)

// Bounds of operator input.
const (
	MaxHandle  = 100
	MaxSummary = 500
	MaxDetails = 10_000
	MaxComment = 1000
	MaxMatcher = 256 // length of a matcher's name or value
)

// ErrInvalid is the class of InvalidError: a request the engine refuses.
var ErrInvalid = errors.New("invalid request")

// ErrLimit is returned when a bound (open escalations, silences) is
// reached.
var ErrLimit = errors.New("limit reached")

// InvalidError is input the engine refuses: Field names the offending
// field (severity, handle, matchers, endsAt, ...), Code is the API's error
// code (invalid_request, or invalid_severity for an unknown severity).
type InvalidError struct {
	Field string
	Code  string
	Msg   string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Msg }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, a ...any) error {
	return &InvalidError{Field: field, Code: "invalid_request", Msg: fmt.Sprintf(format, a...)}
}

// EscalationSeverity maps an escalation's severity (LOW, MEDIUM, HIGH, any
// letter case) to the alert's: INFO, WARN, CRITICAL.
func EscalationSeverity(s string) (check.Severity, bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "LOW":
		return check.Info, true
	case "MEDIUM":
		return check.Warn, true
	case "HIGH":
		return check.Critical, true
	}
	return "", false
}

// printable reports whether s is valid UTF-8 without control characters
// (newlines and tabs allowed when multiline).
func printable(s string, multiline bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t' || r == '\r')) {
			return false
		}
	}
	return true
}

// Escalate opens an operator escalation: it is saved, written to the audit
// trail (escalation.created by by), and fires an alert of kind escalation
// at once (no threshold) with labels handle and severity (LOW, MEDIUM,
// HIGH → INFO, WARN, CRITICAL), routed like any other alert. ID, Status,
// CreatedAt and CreatedBy are set here. An invalid field is an
// *InvalidError; more than MaxOpenEscalations open is ErrLimit.
func (e *Engine) Escalate(ctx context.Context, esc store.Escalation, by Actor) (store.Escalation, error) {
	esc.Handle = strings.TrimSpace(esc.Handle)
	switch {
	case esc.Handle == "":
		return store.Escalation{}, invalid("handle", "is required")
	case len(esc.Handle) > MaxHandle || !printable(esc.Handle, false):
		return store.Escalation{}, invalid("handle", "must be printable and at most %d bytes", MaxHandle)
	}
	if _, ok := EscalationSeverity(esc.Severity); !ok {
		return store.Escalation{}, &InvalidError{Field: "severity", Code: "invalid_severity",
			Msg: fmt.Sprintf("unknown severity %q (want LOW, MEDIUM or HIGH)", esc.Severity)}
	}
	esc.Severity = strings.ToUpper(strings.TrimSpace(esc.Severity))
	if strings.TrimSpace(esc.Summary) == "" {
		return store.Escalation{}, invalid("summary", "is required")
	}
	if len(esc.Summary) > MaxSummary || !printable(esc.Summary, false) {
		return store.Escalation{}, invalid("summary", "must be one printable line of at most %d bytes", MaxSummary)
	}
	if len(esc.Details) > MaxDetails || !printable(esc.Details, true) {
		return store.Escalation{}, invalid("details", "must be printable text of at most %d bytes", MaxDetails)
	}
	now := e.now()
	e.mu.Lock()
	n := len(e.escalations)
	e.mu.Unlock()
	if n >= MaxOpenEscalations {
		return store.Escalation{}, fmt.Errorf("%w: %d escalations open; resolve some first", ErrLimit, n)
	}
	esc.ID, esc.Status, esc.CreatedAt, esc.CreatedBy = uuid.NewString(), EscalationOpen, now, by
	esc.ResolvedAt, esc.ResolvedBy = time.Time{}, ""
	if err := e.st.SaveEscalation(ctx, esc); err != nil {
		return store.Escalation{}, fmt.Errorf("save escalation: %w", err)
	}
	ev := store.AuditEvent{At: now, Actor: by, Action: ActionEscalationCreated, Target: esc.ID,
		Details: map[string]any{"handle": esc.Handle, "severity": esc.Severity, "summary": esc.Summary}}
	e.writeAudit(ctx, ev)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.escalations[esc.ID] = esc
	e.bump()
	e.fireEscalation(esc, now)
	e.wake()
	return esc, nil
}

// writeAudit writes an operator's audit event at once, or queues it for
// the next commit when the store refuses.
func (e *Engine) writeAudit(ctx context.Context, ev store.AuditEvent) {
	if err := e.st.Audit(ctx, []store.AuditEvent{ev}); err != nil {
		e.log.Warn("Audit event queued: the store refused it", "action", ev.Action, "err", err)
		e.mu.Lock()
		e.addAudit(ev)
		e.mu.Unlock()
	}
}

// fireEscalation makes the alert of an open escalation fire. Callers hold
// e.mu.
func (e *Engine) fireEscalation(esc store.Escalation, now time.Time) {
	sev, _ := EscalationSeverity(esc.Severity)
	id := prefixEscalation + esc.ID
	a := e.alerts[id]
	if a == nil {
		a = &alert{ID: id}
		e.alerts[id] = a
	}
	before := fp(a)
	a.Kind, a.Severity, a.Summary, a.Details, a.Gone = KindEscalation, sev, esc.Summary, esc.Details, false
	a.Labels, a.silSeen = map[string]string{LabelKind: KindEscalation, LabelSeverity: string(sev), LabelHandle: esc.Handle}, 0
	if !a.Firing {
		a.fire(sev, esc.CreatedAt)
		e.noteTransition(a, fired, now)
	}
	e.update(a, now, before)
}

// ResolveEscalation resolves an open escalation: saved, audited
// (escalation.resolved by by), and its alert resolves (receivers told of it
// hear the resolution). An unknown id is store.ErrNotFound. Resolving a
// resolved escalation changes nothing and returns it as it is (the
// request is idempotent; the audit trail keeps the first resolution).
func (e *Engine) ResolveEscalation(ctx context.Context, id string, by Actor) (store.Escalation, error) {
	e.mu.Lock()
	esc, open := e.escalations[id]
	e.mu.Unlock()
	if !open {
		var err error
		if esc, err = e.st.Escalation(ctx, id); err != nil {
			return store.Escalation{}, err
		}
		if esc.Status != EscalationOpen {
			return esc, nil
		}
	}
	now := e.now()
	esc.Status, esc.ResolvedAt, esc.ResolvedBy = EscalationResolved, now, by
	if err := e.st.SaveEscalation(ctx, esc); err != nil {
		return store.Escalation{}, fmt.Errorf("save escalation: %w", err)
	}
	e.writeAudit(ctx, store.AuditEvent{At: now, Actor: by, Action: ActionEscalationResolved, Target: id,
		Details: map[string]any{"handle": esc.Handle, "severity": esc.Severity}})
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dropEscalation(id, now)
	e.wake()
	return esc, nil
}

// OpenEscalations returns the open escalations, newest first.
func (e *Engine) OpenEscalations() []store.Escalation {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]store.Escalation, 0, len(e.escalations))
	for _, esc := range e.escalations {
		out = append(out, esc)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// AddSilence adds a silence: matchers on the alert labels (check, kind,
// severity, component, handle and route labels; values are globs, a
// missing label reads ""), from StartsAt (zero: now) until EndsAt (in the
// future). ID, CreatedBy and CreatedAt are set here; it is saved and
// audited (silence.created). Invalid input is an *InvalidError; more than
// MaxSilences active or pending is ErrLimit.
func (e *Engine) AddSilence(ctx context.Context, s store.Silence, by Actor) (store.Silence, error) {
	now := e.now()
	if len(s.Matchers) == 0 {
		return store.Silence{}, invalid("matchers", "at least one matcher is required")
	}
	if len(s.Matchers) > MaxMatchers {
		return store.Silence{}, invalid("matchers", "at most %d matchers", MaxMatchers)
	}
	m := make(map[string]string, len(s.Matchers))
	for k, v := range s.Matchers {
		if k == "" || len(k) > MaxMatcher || len(v) > MaxMatcher || !printable(k, false) || !printable(v, false) {
			return store.Silence{}, invalid("matchers", "names and values must be printable, names non-empty, at most %d bytes", MaxMatcher)
		}
		if _, err := path.Match(v, ""); err != nil {
			return store.Silence{}, invalid("matchers", "%s: malformed glob %q", k, v)
		}
		m[k] = v
	}
	s.Matchers = m
	if s.StartsAt.IsZero() || s.StartsAt.Before(now) {
		s.StartsAt = now
	}
	if s.EndsAt.IsZero() {
		return store.Silence{}, invalid("endsAt", "is required")
	}
	if !s.EndsAt.After(s.StartsAt) {
		return store.Silence{}, invalid("endsAt", "must be after startsAt and in the future")
	}
	if len(s.Comment) > MaxComment || !printable(s.Comment, true) {
		return store.Silence{}, invalid("comment", "must be printable text of at most %d bytes", MaxComment)
	}
	e.mu.Lock()
	n := len(e.silences)
	e.mu.Unlock()
	if n >= MaxSilences {
		return store.Silence{}, fmt.Errorf("%w: %d silences active or pending; expire some first", ErrLimit, n)
	}
	s.ID, s.CreatedBy, s.CreatedAt = uuid.NewString(), by, now
	if err := e.st.SaveSilence(ctx, s); err != nil {
		return store.Silence{}, fmt.Errorf("save silence: %w", err)
	}
	e.writeAudit(ctx, store.AuditEvent{At: now, Actor: by, Action: ActionSilenceCreated, Target: s.ID,
		Details: map[string]any{"matchers": s.Matchers, "endsAt": s.EndsAt.UTC().Format(time.RFC3339), "comment": s.Comment}})
	e.mu.Lock()
	e.silences[s.ID] = s
	e.silVersion++
	e.bump()
	e.mu.Unlock()
	e.wake()
	return s, nil
}

// Silences returns the active and pending silences, by StartsAt then ID.
func (e *Engine) Silences() []store.Silence {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []store.Silence{}
	for _, s := range e.silences {
		if now.Before(s.EndsAt) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartsAt.Equal(out[j].StartsAt) {
			return out[i].StartsAt.Before(out[j].StartsAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// ExpireSilence ends a silence now (saved, audited as silence.expired).
// An id that is not an active or pending silence (unknown, or already
// ended) is store.ErrNotFound. Alerts it muted are told at the next tick
// if they still fire.
func (e *Engine) ExpireSilence(ctx context.Context, id string, by Actor) error {
	now := e.now()
	e.mu.Lock()
	s, ok := e.silences[id]
	e.mu.Unlock()
	if !ok || !now.Before(s.EndsAt) {
		return store.ErrNotFound
	}
	s.EndsAt = now
	if s.StartsAt.After(now) {
		s.StartsAt = now
	}
	if err := e.st.SaveSilence(ctx, s); err != nil {
		return fmt.Errorf("save silence: %w", err)
	}
	e.writeAudit(ctx, store.AuditEvent{At: now, Actor: by, Action: ActionSilenceExpired, Target: id})
	e.mu.Lock()
	delete(e.silences, id)
	delete(e.silActive, id)
	e.silVersion++
	e.bump()
	e.mu.Unlock()
	e.wake()
	return nil
}

// dropEscalation forgets the open escalation id (resolved here or by
// another replica) and resolves its alert. Callers hold e.mu.
func (e *Engine) dropEscalation(id string, now time.Time) {
	delete(e.escalations, id)
	e.bump()
	if a := e.alerts[prefixEscalation+id]; a != nil {
		before := fp(a)
		if a.Firing {
			a.resolve(now)
			e.noteTransition(a, resolved, now)
		}
		a.Gone = true
		e.update(a, now, before)
	}
}
