package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned for an id the store does not hold (or, for
// Replay, one that is not a dead letter).
var ErrNotFound = errors.New("not found")

// AlertRow is the persisted state of one alert. The alerting engine owns
// the format of Data (JSON); the store keeps it as it is.
type AlertRow struct {
	ID        string // "check:<name>", "slo:<check>:<signal>", "escalation:<id>"
	Firing    bool
	Data      []byte
	UpdatedAt time.Time
}

// Delivery states.
const (
	DeliveryPending = "pending" // due at DueAt
	DeliverySent    = "sent"    // the receiver accepted it
	DeliveryDead    = "dead"    // given up: a dead letter until replayed
)

// Delivery is one notification to one receiver in the outbox.
type Delivery struct {
	ID             int64    // assigned by CommitAlerts
	NotificationID string   // idempotency key: the same on every attempt and replay
	Receiver       string   // receiver name
	AlertIDs       []string // the alerts it carries
	Body           []byte   // the receiver.Notification, JSON
	State          string
	Attempts       int       // attempts made so far
	CreatedAt      time.Time // when it first became due
	DueAt          time.Time // the next attempt (pending)
	LastError      string    // the last failed attempt's error; never a secret
	LastStatus     int       // the last attempt's HTTP/SMTP status; 0 when none
	DoneAt         time.Time // sent or dead-lettered at; zero while pending
}

// Attempt outcomes.
const (
	OutcomeSent  = "sent"
	OutcomeRetry = "retried"
	OutcomeDead  = "dead_lettered"
)

// Attempt is one delivery attempt, as RecordAttempts stores it and
// Attempts lists it.
type Attempt struct {
	DeliveryID     int64
	Receiver       string
	NotificationID string
	AlertIDs       []string
	Attempt        int // 1 for the first try
	At             time.Time
	Duration       time.Duration
	StatusCode     int
	Error          string    // "" when sent
	Outcome        string    // OutcomeSent, OutcomeRetry or OutcomeDead
	NextAt         time.Time // the next attempt (OutcomeRetry), else zero
}

// AlertCommit is what the alerting engine writes in one transaction, so
// that an alert's state and the notifications it made due are stored
// together or not at all (a transactional outbox).
type AlertCommit struct {
	Alerts     []AlertRow // upserted by ID
	Deleted    []string   // alert IDs to forget
	Deliveries []Delivery // enqueued as pending; IDs are assigned
	Audit      []AuditEvent
}

// Silence mutes the alerts whose labels match every matcher (values may
// be globs: targeting_*) from StartsAt until EndsAt.
type Silence struct {
	ID        string
	Matchers  map[string]string
	StartsAt  time.Time
	EndsAt    time.Time
	Comment   string
	CreatedBy string // the token's name
	CreatedAt time.Time
}

// Escalation is an operator escalation (POST /v2/operator/escalations).
type Escalation struct {
	ID         string
	Handle     string
	Severity   string // LOW, MEDIUM or HIGH
	Summary    string
	Details    string
	Status     string // open or resolved
	Public     bool   // shown on the status page as an incident
	CreatedAt  time.Time
	CreatedBy  string
	ResolvedAt time.Time // zero while open
	ResolvedBy string
}

// AuditEvent is one entry of the audit trail.
type AuditEvent struct {
	ID      int64 // assigned by the store
	At      time.Time
	Actor   string // a token's name, "system" or "config"
	Action  string // escalation.created, silence.created, alert.firing, ...
	Target  string // what it acted on: an alert, silence or escalation id
	Details map[string]any
}

// AuditQuery selects audit events, newest first.
type AuditQuery struct {
	Limit  int       // 1 to 100
	Since  time.Time // only events at or after; zero: all
	Action string    // only this action; "": all
}

// AlertStore is the alerting engine's and the outbox's part of the store.
type AlertStore interface {
	// CommitAlerts writes c in one transaction and returns the IDs given
	// to c.Deliveries, in order. Deleted applies after Alerts. A delivery
	// whose (NotificationID, Receiver) is already in the outbox is not
	// enqueued again (its ID is returned), so a commit retried after an
	// unclear failure does not notify twice.
	CommitAlerts(ctx context.Context, c AlertCommit) ([]int64, error)
	// LoadAlerts returns every stored alert.
	LoadAlerts(ctx context.Context) ([]AlertRow, error)

	// PendingDeliveries returns up to limit pending deliveries, by DueAt
	// then ID. The limits of every list are clamped to 1..1000.
	PendingDeliveries(ctx context.Context, limit int) ([]Delivery, error)
	// RecordAttempts stores attempts in one transaction: each updates its
	// delivery (Attempts, State from Outcome, DueAt = NextAt, LastError,
	// LastStatus, DoneAt) and is kept in the attempt log. An attempt
	// counts only for a pending delivery whose Attempts is below its
	// Attempt (a batch recorded twice changes nothing the second time);
	// Receiver, NotificationID and AlertIDs are taken from the delivery.
	RecordAttempts(ctx context.Context, as []Attempt) error
	// Attempts lists the newest attempts (of one receiver, or all when
	// receiver is ""), newest first, at most limit.
	Attempts(ctx context.Context, receiver string, limit int) ([]Attempt, error)
	// DeadLetters lists dead deliveries, newest first, at most limit.
	DeadLetters(ctx context.Context, limit int) ([]Delivery, error)
	// Replay makes dead delivery id pending again, due at now, with its
	// attempts counted from zero and the same NotificationID. ErrNotFound
	// when id is not a dead letter.
	Replay(ctx context.Context, id int64, now time.Time) (Delivery, error)
	// PendingCounts returns the number of pending deliveries per receiver.
	PendingCounts(ctx context.Context) (map[string]int, error)
	// DeadLetterCounts returns the number of dead letters per receiver.
	DeadLetterCounts(ctx context.Context) (map[string]int, error)

	// SaveSilence inserts or replaces a silence (by ID).
	SaveSilence(ctx context.Context, s Silence) error
	// Silences returns the silences that end after since, by StartsAt.
	Silences(ctx context.Context, since time.Time) ([]Silence, error)

	// SaveEscalation inserts or replaces an escalation (by ID).
	SaveEscalation(ctx context.Context, e Escalation) error
	// Escalation returns one escalation, or ErrNotFound.
	Escalation(ctx context.Context, id string) (Escalation, error)
	// Escalations lists escalations with status ("" for all), newest
	// first, at most limit.
	Escalations(ctx context.Context, status string, limit int) ([]Escalation, error)

	// Audit appends events to the trail (IDs are assigned).
	Audit(ctx context.Context, events []AuditEvent) error
	// AuditEvents reads the trail, newest first.
	AuditEvents(ctx context.Context, q AuditQuery) ([]AuditEvent, error)
}
