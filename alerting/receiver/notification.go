package receiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// Alert statuses, as notifications carry them.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Notices: what a notification tells besides firing and resolved.
const (
	NoticeNone     = ""         // an ordinary firing or resolved notification
	NoticeRepeat   = "repeat"   // a firing alert re-notified after repeat_interval
	NoticeSeverity = "severity" // a firing alert whose severity changed
	NoticeFlapping = "flapping" // the alert flaps: one notice, then quiet until stable
	NoticeTest     = "test"     // `monitor alert test`: a sample
)

// Alert is one alert as receivers get it (CONTRACT §6: the webhook body's
// alerts[] is exactly this, JSON-encoded).
type Alert struct {
	// ID is stable for the alert's life: "check:<name>", "slo:<check>:<signal>",
	// "escalation:<id>". PagerDuty's dedup_key and Alertmanager's
	// identity are derived from it.
	ID       string            `json:"id"`
	Check    string            `json:"check"` // the check (or "" for an escalation)
	Kind     string            `json:"kind"`  // check kind, "slo_burn" or "escalation"
	Status   string            `json:"status"`
	Severity check.Severity    `json:"severity"`
	Labels   map[string]string `json:"labels"` // check, kind, severity, component, handle, and route labels
	// Summary is one line for humans: the check's message, the escalation's
	// summary, the burn-rate condition.
	Summary string `json:"summary,omitempty"`
	// Details is longer text (an escalation's details); may be empty.
	Details string `json:"details,omitempty"`
	// Result is the check's effective result that fired or resolved the
	// alert (nil for escalations), in the health shape.
	Result   *check.Result `json:"result,omitempty"`
	StartsAt time.Time     `json:"startsAt"`
	EndsAt   *time.Time    `json:"endsAt"`        // nil while firing
	URL      string        `json:"url,omitempty"` // public_url link to the alert's page in the monitor
	// RunbookURL is what to do about it: the section of the runbook page
	// (alerting.runbook_url, default the monitor's docs/runbooks.md) for
	// the alert's kind, or the check's own runbook_url.
	RunbookURL string `json:"runbookUrl,omitempty"`
}

// Notification is one message to one receiver: the alerts of one group
// (one alert when the route has no group_by).
type Notification struct {
	// ID is the idempotency key: the same on every retry of this
	// notification (webhook-id, the mail's Message-Id, ...).
	ID string `json:"id"`
	// Status is firing while any alert of it fires, else resolved.
	Status   string  `json:"status"`
	Notice   string  `json:"notice,omitempty"`
	GroupKey string  `json:"groupKey"`
	Receiver string  `json:"receiver"`
	Alerts   []Alert `json:"alerts"`
	// TruncatedAlerts counts the alerts of the group left out of Alerts
	// (the engine lists at most alerting.MaxNotificationAlerts), as
	// Alertmanager's webhook says it.
	TruncatedAlerts int `json:"truncatedAlerts,omitempty"`
	// URL is the monitor's public_url (its alerts page), "" when unset.
	URL string `json:"url,omitempty"`
	// CreatedAt is when the notification became due.
	CreatedAt time.Time `json:"createdAt"`
}

// Sender delivers notifications to one configured receiver. Send makes one
// attempt (the outbox owns retries) and must honour ctx's deadline. It
// returns nil when the receiver accepted the notification, else an error;
// a *SendError says what the receiver answered.
type Sender interface {
	Send(ctx context.Context, n Notification) error
}

// SendError is a failed attempt as the receiver answered it. Its message
// never holds a secret (no URL with a token, no key).
type SendError struct {
	StatusCode int           // the HTTP status (or SMTP reply code); 0 when none
	RetryAfter time.Duration // the receiver's Retry-After (429, 503); 0 when none
	// Permanent means retrying cannot help (400 for a malformed payload, a
	// 401/403, a 404 or an SMTP 5xx): the delivery is dead-lettered at once.
	Permanent bool
	Err       error
}

func (e *SendError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("status %d: %v", e.StatusCode, e.Err)
	}
	return e.Err.Error()
}

func (e *SendError) Unwrap() error { return e.Err }

// AsSendError returns err's *SendError, or one wrapping err.
func AsSendError(err error) *SendError {
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
	return &SendError{Err: err}
}

// Deps is what senders share, given by the daemon.
type Deps struct {
	// HTTP is the client of the HTTP receivers (its timeout bounds one
	// attempt). Never nil.
	HTTP *http.Client
	// PublicURL is server.public_url, for links back to the monitor; may
	// be "".
	PublicURL string
	Now       func() time.Time
	Logger    *slog.Logger
}

// NewSender returns the sender of a receiver with configuration c, of the
// type that c belongs to. name is the receiver's name.
type NewSender func(name string, c Config, d Deps) (Sender, error)
