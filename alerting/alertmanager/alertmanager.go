package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
)

// Path is where alerts are POSTed, below an Alertmanager's base URL.
const Path = "/api/v2/alerts"

// TestResolveTimeout is the endsAt margin of a `monitor alert test`
// sample: it shows in Alertmanager, then ends by itself.
const TestResolveTimeout = 5 * time.Minute

// Bounds of what is sent and read.
const (
	maxSummary     = 4 << 10
	maxDescription = 16 << 10
	maxErrorBody   = 200      // bytes of an error answer quoted in the error
	maxDrain       = 64 << 10 // bytes of an answer read to reuse the connection
)

// Severities, for resolving the other severities of an alert whose
// severity changed: Alertmanager tells alerts apart by their labels.
var severities = []check.Severity{check.Info, check.Warn, check.Critical}

// Notifier posts the alerts of one Alertmanager receiver.
type Notifier struct {
	name           string
	urls           []string // the Alertmanagers' base URLs (secrets)
	resolveTimeout time.Duration
	client         *http.Client
	redactor       *check.Redactor
	now            func() time.Time
	logger         *slog.Logger
}

var _ receiver.Sender = (*Notifier)(nil)

// New returns the sender of the Alertmanager receiver called name. c must
// be valid (Validate).
func New(name string, c *Config, d receiver.Deps) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("alertmanager receiver %q: %w", name, err)
	}
	n := &Notifier{
		name:           name,
		resolveTimeout: c.ResolveTimeout,
		client:         d.HTTP,
		redactor:       check.NewRedactor(),
		now:            d.Now,
		logger:         d.Logger,
	}
	for _, u := range c.All() {
		n.urls = append(n.urls, u.Reveal())
		n.redactor.Add(u.Reveal())
		n.redactor.Add(strings.TrimRight(u.Reveal(), "/") + Path)
	}
	if n.resolveTimeout == 0 {
		n.resolveTimeout = DefaultResolveTimeout
	}
	if n.client == nil {
		n.client = http.DefaultClient
	}
	if n.now == nil {
		n.now = time.Now
	}
	if n.logger == nil {
		n.logger = slog.New(slog.DiscardHandler)
	}
	n.logger = n.logger.With("receiver", name)
	return n, nil
}

func newSender(name string, c receiver.Config, d receiver.Deps) (receiver.Sender, error) {
	conf, ok := c.(*Config)
	if !ok {
		return nil, fmt.Errorf("alertmanager receiver %q: configuration of type %T", name, c)
	}
	return New(name, conf, d)
}

// postableAlert is an alert as Alertmanager's API v2 takes it.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Send posts notif's alerts to every Alertmanager at once, in one attempt
// each. It succeeds when at least one of them accepted them: members of a
// cluster deduplicate notifications between them, and the alerts reach a
// member that missed them with the alert's next notification. A member's
// failure is logged (by its index in url + urls, never its URL). When all
// failed, the error is permanent only if every answer was (a 4xx other
// than 408 and 429), and carries the longest Retry-After.
func (n *Notifier) Send(ctx context.Context, notif receiver.Notification) error {
	body, err := json.Marshal(n.alerts(notif))
	if err != nil {
		return &receiver.SendError{Permanent: true, Err: fmt.Errorf("alertmanager: %w", err)}
	}
	errs := make([]*receiver.SendError, len(n.urls))
	var wg sync.WaitGroup
	for i, u := range n.urls {
		wg.Go(func() { errs[i] = n.post(ctx, i, u, body) })
	}
	wg.Wait()

	var failed []*receiver.SendError
	for i, se := range errs {
		if se != nil {
			failed = append(failed, se)
			if len(n.urls) > 1 {
				n.logger.Warn("alertmanager post failed", "alertmanager", i, "notification", notif.ID, "err", se)
			}
		}
	}
	if len(failed) < len(n.urls) {
		return nil
	}
	if len(failed) == 1 {
		return failed[0]
	}
	all := &receiver.SendError{Permanent: true}
	msgs := make([]string, len(failed))
	for i, se := range failed {
		all.Permanent = all.Permanent && se.Permanent
		all.RetryAfter = max(all.RetryAfter, se.RetryAfter)
		if se.StatusCode != 0 {
			all.StatusCode = se.StatusCode
		}
		msgs[i] = se.Error()
	}
	all.Err = fmt.Errorf("all %d alertmanagers failed: %s", len(failed), strings.Join(msgs, "; "))
	return all
}

// post sends body to the Alertmanager at base, the i-th of the receiver.
func (n *Notifier) post(ctx context.Context, i int, base string, body []byte) *receiver.SendError {
	fail := func(se *receiver.SendError, format string, args ...any) *receiver.SendError {
		msg := n.redactor.Redact(fmt.Sprintf(format, args...))
		se.Err = fmt.Errorf("alertmanager %d: %s", i, msg)
		return se
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+Path, bytes.NewReader(body))
	if err != nil {
		return fail(&receiver.SendError{Permanent: true}, "invalid url")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "monitor")
	resp, err := n.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return fail(&receiver.SendError{}, "%v", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxDrain))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	se := &receiver.SendError{StatusCode: resp.StatusCode}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		se.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), n.now())
	case code == http.StatusRequestTimeout:
	case code >= 400 && code <= 499:
		se.Permanent = true
	}
	return fail(se, "%s", oneLine(answer))
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// oneLine is the start of an error answer, on one line.
func oneLine(b []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	if s == "" {
		return "empty answer"
	}
	if len(s) > maxErrorBody {
		s = truncate(s, maxErrorBody)
	}
	return s
}

// alerts are notif's alerts as Alertmanager takes them. A firing alert
// ends at now + resolve_timeout (a test sample after
// TestResolveTimeout), a resolved one when it ended. After a severity
// change the alert under its other severities is ended too, since
// Alertmanager would keep it as a second alert.
func (n *Notifier) alerts(notif receiver.Notification) []postableAlert {
	now := n.now().UTC()
	ttl := n.resolveTimeout
	if notif.Notice == receiver.NoticeTest {
		ttl = TestResolveTimeout
	}
	out := make([]postableAlert, 0, len(notif.Alerts))
	for _, a := range notif.Alerts {
		pa := postableAlert{
			Labels:       labels(a),
			Annotations:  annotations(a),
			StartsAt:     a.StartsAt.UTC(),
			GeneratorURL: a.URL,
		}
		if pa.GeneratorURL == "" {
			pa.GeneratorURL = notif.URL
		}
		switch {
		case a.Status != receiver.StatusFiring && a.EndsAt != nil:
			pa.EndsAt = a.EndsAt.UTC()
		case a.Status != receiver.StatusFiring:
			pa.EndsAt = now
		default:
			pa.EndsAt = now.Add(ttl)
		}
		if !pa.StartsAt.IsZero() && pa.EndsAt.Before(pa.StartsAt) {
			pa.EndsAt = pa.StartsAt
		}
		out = append(out, pa)
		if notif.Notice == receiver.NoticeSeverity && a.Status == receiver.StatusFiring {
			for _, sev := range severities {
				if sev == a.Severity {
					continue
				}
				old := pa
				old.Labels = labels(a)
				old.Labels["severity"] = string(sev)
				old.EndsAt = now
				out = append(out, old)
			}
		}
	}
	return out
}

// labels are the Alertmanager labels of a: the alert's own labels (names
// made valid: [a-zA-Z_][a-zA-Z0-9_]*), then alertname (the check, or the
// kind when there is none), check, kind, severity and alert_id (the
// monitor's ID of the alert, which tells apart alerts of one check such as
// SLO burn-rate signals). Empty values are left out.
func labels(a receiver.Alert) map[string]string {
	ls := make(map[string]string, len(a.Labels)+5)
	for k, v := range a.Labels {
		if name := labelName(k); name != "" && v != "" {
			ls[name] = strings.ToValidUTF8(v, "?")
		}
	}
	set := func(k, v string) {
		if v != "" {
			ls[k] = strings.ToValidUTF8(v, "?")
		}
	}
	set("alertname", receiver.AlertName(a))
	set("check", a.Check)
	set("kind", a.Kind)
	set("severity", string(a.Severity))
	set("alert_id", a.ID)
	return ls
}

// labelName makes k a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*,
// Alertmanager before 0.27 takes no other) by replacing every other
// character with '_'; "" when nothing but underscores is left or the name
// is reserved (a leading "__").
func labelName(k string) string {
	var b strings.Builder
	letters := false
	for i, r := range []rune(k) {
		switch {
		case r == '_':
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9':
			letters = true
		default:
			r = '_'
		}
		b.WriteRune(r)
	}
	name := b.String()
	if !letters || strings.HasPrefix(name, "__") {
		return ""
	}
	return name
}

func annotations(a receiver.Alert) map[string]string {
	summary := a.Summary
	if summary == "" && a.Result != nil {
		summary = a.Result.Message
	}
	an := map[string]string{}
	if summary != "" {
		an["summary"] = truncate(strings.ToValidUTF8(summary, "?"), maxSummary)
	}
	if a.Details != "" {
		an["description"] = truncate(strings.ToValidUTF8(a.Details, "?"), maxDescription)
	}
	if a.RunbookURL != "" {
		an["runbook_url"] = a.RunbookURL // as Prometheus alerting rules name it
	}
	if len(an) == 0 {
		return nil
	}
	return an
}

// truncate cuts s to at most max bytes on a rune boundary, with an ellipsis.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
