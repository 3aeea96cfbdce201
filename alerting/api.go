package alerting

// This file is the engine's outside API (what cmd/monitor and server use).
// The engine is in engine.go (state, Run, Restore), machine.go (one
// alert's state machine), route.go and group.go (routes and groups), ops.go
// (silences and escalations) and metrics.go.

import (
	"context"
	"log/slog"
	"time"

	"github.com/monitor-dev/monitor/store"
)

// Alert kinds besides the check kinds.
const (
	KindSLOBurn = "slo_burn"
)

// Options are the engine's dependencies.
type Options struct {
	Store store.AlertStore
	// Now is the clock (default time.Now). Timers use package time, so
	// tests run the engine inside a testing/synctest bubble.
	Now    func() time.Time
	Logger *slog.Logger
	// PublicURL is server.public_url, for links in notifications.
	PublicURL string
	// Wake is called after deliveries were committed to the store (the
	// dispatcher's Wake); may be nil.
	Wake func()
	// InMaintenance reports whether a check is in a maintenance window at
	// an instant; nil means never.
	InMaintenance func(check string, at time.Time) bool
	// Passive starts the engine passive (see SetActive): a replica of a
	// cluster that is not (yet) the leader.
	Passive bool
	// Refresh is how often Run reads the silences and open escalations
	// back from the store, to apply those other replicas' APIs added or
	// ended (0: never, a single daemon: its own API is the only one).
	Refresh time.Duration
}

// View is one alert as GET /v2/alerts shows it.
type View struct {
	ID          string            `json:"id"`
	Check       string            `json:"check"`
	Kind        string            `json:"kind"`
	Status      string            `json:"status"` // firing, resolved, pending (counting to failure_threshold)
	Severity    string            `json:"severity"`
	Summary     string            `json:"summary,omitempty"`
	Labels      map[string]string `json:"labels"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      *time.Time        `json:"endsAt"`
	Silenced    bool              `json:"silenced"`
	Maintenance bool              `json:"maintenance"`
	Flapping    bool              `json:"flapping"`
	InhibitedBy []string          `json:"inhibitedBy"`
	Receivers   []string          `json:"receivers"`
}

// Actor is who did something, for the audit trail: a token's name,
// "system" (the daemon itself) or "config" (a reload).
type Actor = string

// The engine's API, implemented in engine.go, ops.go and metrics.go:
//
//	func New(cfg Config, opts Options) *Engine
//	func (e *Engine) Restore(ctx context.Context) error       // alerts, silences and open escalations from the store
//	func (e *Engine) Run(ctx context.Context)                 // group timers, repeats, expiry, flushing to the store
//	func (e *Engine) Observe(r check.Result, ch hub.Change)   // hub.Subscriber: never blocks
//	func (e *Engine) SetSpecs(specs []check.Spec)             // hub.Reloader
//	func (e *Engine) SetConfig(cfg Config)                    // a reload's alerting section
//	func (e *Engine) SLOSignals(sigs []sla.Signal)            // the evaluator's burn-rate conditions, all of them, each evaluation
//	func (e *Engine) Alerts() []View                          // firing, pending and recently resolved, sorted by ID
//	func (e *Engine) AddSilence(ctx context.Context, s store.Silence, by Actor) (store.Silence, error)
//	func (e *Engine) Silences() []store.Silence               // active and pending
//	func (e *Engine) ExpireSilence(ctx context.Context, id string, by Actor) error   // store.ErrNotFound
//	func (e *Engine) Escalate(ctx context.Context, esc store.Escalation, by Actor) (store.Escalation, error)
//	func (e *Engine) ResolveEscalation(ctx context.Context, id string, by Actor) (store.Escalation, error)
//	func (e *Engine) Collector() prometheus.Collector         // monitor_alerts_firing, monitor_escalations_open
//	func (e *Engine) OpenEscalations() []store.Escalation     // newest first
//	func ViewOfRow(row store.AlertRow, now time.Time) (View, bool, error) // a stored alert, without an engine
//
// Errors: *InvalidError (errors.Is ErrInvalid; Field and Code for the
// API's details and invalid_severity), ErrLimit (too many open
// escalations or silences), store.ErrNotFound, store.ErrUnavailable.
//
// and the dispatcher (package alerting/outbox):
//
//	func New(st store.AlertStore, senders map[string]receiver.Sender, opts Options) *Dispatcher
//	func (d *Dispatcher) Run(ctx context.Context)             // resumes pending deliveries from the store
//	func (d *Dispatcher) Wake()
//	func (d *Dispatcher) SetSenders(senders map[string]receiver.Sender, retry []time.Duration)
//	func (d *Dispatcher) Replay(ctx context.Context, id int64, by Actor) (store.Delivery, error)
//	func (d *Dispatcher) Collector() prometheus.Collector     // monitor_notifications_*
var _ = context.Background
