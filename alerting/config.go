// Package alerting will hold the alert state machine, routes and grouping,
// silences, the outbox and its retries. For now it holds the alerting
// configuration: the `alerting:` section as the config package decodes and
// validates it (with line and column), for the engine to come. Each receiver
// type is its own package below this one (webhook, slack, pagerduty, email,
// alertmanager) with its own Config; see alerting/receiver.
package alerting

import (
	"time"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
)

// Config is the `alerting:` section.
//
// The yaml tags name the configuration keys (docs/config.md is generated
// from them and from these comments).
type Config struct {
	// Receivers are where notifications go; each has a name, a type and
	// the keys of its type. At most 1000.
	Receivers []Receiver `yaml:"receivers"`
	// Routes send alerts to receivers: the first route whose match fits
	// takes an alert, unless it has continue. At most 1000.
	Routes []Route `yaml:"routes"`
	// FailureThreshold is how many consecutive FAIL runs fire an alert; 1
	// to 1000.
	FailureThreshold int `yaml:"failure_threshold"`
	// SuccessThreshold is how many consecutive PASS runs resolve it; 1 to
	// 1000.
	SuccessThreshold int `yaml:"success_threshold"`
	// RepeatInterval is how often a firing alert is notified again; at
	// most 30d.
	RepeatInterval time.Duration `yaml:"repeat_interval"`
	Flapping       Flapping      `yaml:"flapping"`
	// Retry lists the waits between delivery attempts after the first try
	// (with jitter; Retry-After on 429/503 is honoured); one entry per
	// retry, at most 20 of at most 24h each, then the delivery is
	// dead-lettered. An empty list: no retries.
	Retry []time.Duration `yaml:"retry"`
	// RunbookURL is the runbook page every alert links to
	// (alerts[].runbookUrl in notifications, the runbook_url annotation of
	// Alertmanager and of `monitor rules`), each alert at its section:
	// the page, then "#" and the anchor of docs/runbooks.md (#check-db,
	// #check-freshness, #slo-burn, #escalation, ...). Set it to your own
	// copy of docs/runbooks.md (a wiki, an internal mirror) that keeps those
	// anchors. An absolute http(s) URL without a user, password or
	// #fragment, at most 2048 bytes, with " < > \ ^ { | } and the backquote %-encoded;
	// empty = the docs/runbooks.md of the monitor's repository
	// on GitHub. A check's runbook_url takes its place for that check's
	// alerts.
	RunbookURL string `yaml:"runbook_url"`
}

// Flapping is `alerting: flapping:`: more than `changes` state changes
// within `window` send one "flapping" notice, then stay quiet until it
// settles.
type Flapping struct {
	// Changes is the number of state changes within window above which a
	// check is flapping; 0 turns flap detection off; at most 1000.
	Changes int `yaml:"changes"`
	// Window is the window changes are counted over; at most 24h.
	Window time.Duration `yaml:"window"`
}

// DefaultConfig is the alerting configuration when the file sets none.
var DefaultConfig = Config{
	FailureThreshold: 2,
	SuccessThreshold: 1,
	RepeatInterval:   4 * time.Hour,
	Flapping:         Flapping{Changes: 6, Window: 30 * time.Minute},
	Retry:            []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second},
}

// DefaultRoute holds the grouping of a route that sets none.
var DefaultRoute = Route{GroupWait: 30 * time.Second, GroupInterval: 5 * time.Minute}

// Bounds of the settings.
const (
	MaxThreshold      = 1000
	MaxRetries        = 20
	MaxRetryWait      = 24 * time.Hour
	MaxRepeatInterval = 30 * 24 * time.Hour
	MaxFlapChanges    = 1000
	MaxFlapWindow     = 24 * time.Hour
	MaxGroupWait      = time.Hour
	MaxGroupInterval  = 24 * time.Hour
	MaxGroupBy        = 10
	MaxLabels         = 20
	MaxRoutes         = 1000
	MaxReceivers      = 1000
)

// KindEscalation is the alert kind of an operator escalation
// (POST /v2/operator/escalations); check kinds are the others.
const KindEscalation = "escalation"

// Receiver is one entry of `alerting: receivers:`.
type Receiver struct {
	// Name names the receiver in routes, metrics and the API; unique.
	Name string `yaml:"name"`
	// Type is the receiver's type; each type takes keys of its own
	// (below).
	Type string `yaml:"type" ref:"webhook | slack | pagerduty | email | alertmanager"`

	// Config is the type's configuration: *webhook.Config, *slack.Config,
	// *pagerduty.Config, *email.Config or *alertmanager.Config.
	Config receiver.Config `yaml:"-"`
}

// Route is one entry of `alerting: routes:`. Routes are tried in order; the
// first whose Match fits an alert takes it, unless it has Continue, in
// which case the next ones are tried as well.
type Route struct {
	// Match selects the alerts of the route; empty or absent: every alert.
	Match Match `yaml:"match"`
	// Receivers are the names of the receivers the route notifies, at
	// least one.
	Receivers []string `yaml:"receivers"`
	// GroupBy lists alert labels (check, kind, severity, component, handle
	// or a label name; at most 10); alerts that share them go out in one
	// notification. Empty: one notification per alert.
	GroupBy []string `yaml:"group_by"`
	// GroupWait is how long a new group waits for more alerts before its
	// first notification; at most 1h.
	GroupWait time.Duration `yaml:"group_wait"`
	// GroupInterval is the wait between two notifications of a group; at
	// most 24h.
	GroupInterval time.Duration `yaml:"group_interval"`
	// Continue tries the next routes too when this one matched.
	Continue bool `yaml:"continue"`
	// Unknown is what an UNKNOWN result means to the alerts of this route:
	// keep (neither fires nor resolves; the default), fire (counts as a
	// failure) or resolve (counts as a success).
	Unknown string `yaml:"unknown" ref:"keep | fire | resolve"`
}

// Values of Route.Unknown.
const (
	UnknownKeep    = "keep"
	UnknownFire    = "fire"
	UnknownResolve = "resolve"
)

// Match is a route's `match:`. Every set field must fit; an empty Match
// fits every alert.
type Match struct {
	// Severity matches alerts of this severity.
	Severity check.Severity `yaml:"severity"`
	// Check is a check name or a glob (targeting_*).
	Check string `yaml:"check"`
	// Kind is a check kind, or escalation (operator escalations).
	Kind string `yaml:"kind"`
	// Component matches the checks of this status page component.
	Component string `yaml:"component"`
	// Handle is the handle label of escalations.
	Handle string `yaml:"handle"`
	// Labels are more labels, each of which must be equal (at most 20).
	Labels map[string]string `yaml:"labels" ref:"mapping of label → value"`
}
