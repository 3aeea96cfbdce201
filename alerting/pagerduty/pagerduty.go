package pagerduty

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
)

// Limits of the Events API v2 and ours.
const (
	MaxDedupKey = 255  // characters of a dedup_key (PagerDuty)
	MaxSummary  = 1024 // characters of payload.summary (PagerDuty)
	maxDetails  = 4096 // characters of an alert's details in custom_details (ours)
	// maxRemembered bounds the notifications whose accepted events are
	// remembered, so that a retry sends only the others.
	maxRemembered = 1024
)

// Client is the client name PagerDuty shows beside the incident.
const Client = "monitor"

// Notifier sends notifications to one PagerDuty service: one event per
// alert, since PagerDuty deduplicates per dedup_key.
type Notifier struct {
	name string
	conf Config
	deps receiver.Deps
	sent sentEvents
}

var _ receiver.Sender = (*Notifier)(nil)

// New returns the sender of the PagerDuty receiver name.
func New(name string, c *Config, d receiver.Deps) (*Notifier, error) {
	if d.HTTP == nil {
		return nil, errors.New("pagerduty: no HTTP client")
	}
	if c.RoutingKey == "" {
		return nil, fmt.Errorf("pagerduty %s: %w", name, ErrRoutingKeyNotSet)
	}
	return &Notifier{name: name, conf: *c, deps: d}, nil
}

func newSender(name string, c receiver.Config, d receiver.Deps) (receiver.Sender, error) {
	pc, ok := c.(*Config)
	if !ok {
		return nil, fmt.Errorf("pagerduty %s: configuration of type %T", name, c)
	}
	return New(name, pc, d)
}

// Send sends one event per alert of n: trigger for a firing alert,
// resolve for a resolved one. When some are not accepted, it returns an
// error so that the outbox retries; the retry sends only the events not
// accepted yet (they are remembered by n.ID while the process lives; after
// a restart every event is sent again, which PagerDuty's deduplication
// makes harmless). After a 429 the remaining events are not tried: they
// would be refused too. The error is Permanent only when every refusal was.
func (p *Notifier) Send(ctx context.Context, n receiver.Notification) error {
	done := p.sent.get(n.ID)
	var first *receiver.SendError
	failed, permanent, throttled := 0, true, false
	var retryAfter time.Duration
	for i, a := range n.Alerts {
		ev := p.event(n, a)
		mark := ev.EventAction + " " + ev.DedupKey
		if done[mark] {
			continue
		}
		var err error
		if ctx.Err() == nil && !throttled {
			err = p.post(ctx, ev)
		} else {
			err = errNotTried
		}
		if err == nil {
			p.sent.add(n.ID, mark)
			continue
		}
		failed++
		se := receiver.AsSendError(err)
		if errors.Is(err, errNotTried) {
			if first == nil { // ctx was done before the first event
				first = &receiver.SendError{Err: context.Cause(ctx)}
				permanent = false
			}
			continue
		}
		if first == nil {
			first = se
		}
		permanent = permanent && se.Permanent
		throttled = throttled || se.StatusCode == http.StatusTooManyRequests
		retryAfter = max(retryAfter, se.RetryAfter)
		p.log("event not accepted", "alert", a.ID, "index", i, "err", err)
	}
	if failed == 0 {
		p.sent.forget(n.ID)
		return nil
	}
	return &receiver.SendError{
		StatusCode: first.StatusCode, RetryAfter: retryAfter, Permanent: permanent,
		Err: fmt.Errorf("%d of %d events not accepted: %w", failed, len(n.Alerts), first.Err),
	}
}

var errNotTried = errors.New("not tried")

func (p *Notifier) post(ctx context.Context, ev event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return &receiver.SendError{Permanent: true, Err: fmt.Errorf("encoding the event: %w", err)}
	}
	return receiver.PostJSON(ctx, p.deps, receiver.Post{
		URL: p.conf.URL, Body: body, Secrets: []string{p.conf.RoutingKey.Reveal()},
	})
}

func (p *Notifier) log(msg string, args ...any) {
	if p.deps.Logger != nil {
		p.deps.Logger.Debug(msg, append([]any{"receiver", p.name}, args...)...)
	}
}

// event is an Events API v2 event.
type event struct {
	RoutingKey  string   `json:"routing_key"`
	EventAction string   `json:"event_action"` // trigger, resolve
	DedupKey    string   `json:"dedup_key"`
	Payload     *payload `json:"payload,omitempty"` // trigger only
	Links       []link   `json:"links,omitempty"`
	Client      string   `json:"client,omitempty"`
	ClientURL   string   `json:"client_url,omitempty"`
}

type payload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"` // critical, error, warning, info
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

type link struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// event is a's event: a resolve carries only its dedup_key; a trigger
// has the payload (summary, source = the check, severity, timestamp = the
// result's time, component and group = the alert's component and handle
// labels, class = its kind, custom_details = the check's result, labels
// and details) and links back to the monitor.
func (p *Notifier) event(n receiver.Notification, a receiver.Alert) event {
	ev := event{RoutingKey: p.conf.RoutingKey.Reveal(), EventAction: "trigger", DedupKey: DedupKey(a.ID)}
	if a.Status == receiver.StatusResolved {
		ev.EventAction = "resolve"
		return ev
	}
	ts := a.StartsAt
	if a.Result != nil && !a.Result.CheckedAt.IsZero() {
		ts = a.Result.CheckedAt
	}
	details := map[string]any{
		"alert": a.ID, "status": a.Status, "severity": a.Severity, "startsAt": a.StartsAt.UTC(),
		"labels": a.Labels, "notification": n.ID,
	}
	if a.Check != "" {
		details["check"] = a.Check
	}
	if a.Result != nil {
		details["result"] = a.Result
	}
	if a.Details != "" {
		details["details"] = cut(a.Details, maxDetails)
	}
	if a.URL != "" {
		details["url"] = a.URL
	}
	if a.RunbookURL != "" {
		details["runbook_url"] = a.RunbookURL
	}
	if n.Notice != "" {
		details["notice"] = n.Notice
	}
	ev.Payload = &payload{
		Summary: cut(summary(a), MaxSummary), Source: source(a), Severity: Severity(a.Severity),
		Component: a.Labels["component"], Group: a.Labels["handle"], Class: a.Kind,
		CustomDetails: details,
	}
	if !ts.IsZero() {
		ev.Payload.Timestamp = ts.UTC().Format(time.RFC3339)
	}
	if a.URL != "" {
		ev.Links = append(ev.Links, link{Href: a.URL, Text: "This alert in the monitor"})
	}
	if a.RunbookURL != "" {
		ev.Links = append(ev.Links, link{Href: a.RunbookURL, Text: "Runbook"})
	}
	if n.URL != "" && n.URL != a.URL {
		ev.Links = append(ev.Links, link{Href: n.URL, Text: "All alerts"})
	}
	ev.Client = Client
	ev.ClientURL = p.deps.PublicURL
	if ev.ClientURL == "" {
		ev.ClientURL = n.URL
	}
	return ev
}

// Severity is PagerDuty's severity of ours.
func Severity(s check.Severity) string {
	switch s {
	case check.Critical:
		return "critical"
	case check.Info:
		return "info"
	}
	return "warning"
}

// summary is the incident's title: "check: message".
func summary(a receiver.Alert) string {
	msg := a.Summary
	if msg == "" && a.Result != nil {
		msg = a.Result.Message
	}
	if msg == "" {
		msg = "firing (" + string(a.Severity) + ")"
	}
	return source(a) + ": " + msg
}

// source is what fails: the check, an escalation's handle, else the alert.
func source(a receiver.Alert) string {
	switch {
	case a.Check != "":
		return a.Check
	case a.Labels["handle"] != "":
		return a.Kind + " " + a.Labels["handle"]
	}
	return a.ID
}

// DedupKey is the dedup_key of the alert with this id: the id itself
// when it fits in MaxDedupKey characters, else its start and a hash of
// all of it (stable across restarts and processes).
func DedupKey(id string) string {
	if utf8.RuneCountInString(id) <= MaxDedupKey {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	h := hex.EncodeToString(sum[:])
	return string([]rune(id)[:MaxDedupKey-len(h)-1]) + "~" + h
}

// cut shortens s to at most n characters, ending with "…".
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return strings.TrimSpace(string([]rune(s)[:n-1])) + "…"
}

// sentEvents remembers the events PagerDuty accepted per notification,
// for the notifications that failed in part; bounded by maxRemembered
// (the oldest is forgotten first).
type sentEvents struct {
	mu    sync.Mutex
	byID  map[string]map[string]bool
	order []string
}

func (s *sentEvents) get(id string) map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for k := range s.byID[id] {
		out[k] = true
	}
	return out
}

func (s *sentEvents) add(id, mark string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID == nil {
		s.byID = map[string]map[string]bool{}
	}
	if s.byID[id] == nil {
		if len(s.order) >= maxRemembered {
			delete(s.byID, s.order[0])
			s.order = s.order[1:]
		}
		s.order = append(s.order, id)
		s.byID[id] = map[string]bool{}
	}
	s.byID[id][mark] = true
}

func (s *sentEvents) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[id]; !ok {
		return
	}
	delete(s.byID, id)
	for i, v := range s.order {
		if v == id {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}
