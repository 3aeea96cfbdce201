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
type Config struct {
	Receivers        []Receiver
	Routes           []Route
	FailureThreshold int           // failure_threshold: consecutive FAIL runs before firing; default 2
	SuccessThreshold int           // success_threshold: consecutive PASS runs before resolving; default 1
	RepeatInterval   time.Duration // repeat_interval: re-notify a firing alert this often; default 4h
	Flapping         Flapping      // flapping
	// retry: the waits between delivery attempts after the first try; one
	// entry per retry, then the delivery is dead-lettered. Default
	// 5s, 10s, 20s, 40s, 80s. An empty list: no retries.
	Retry []time.Duration
	// RunbookURL (runbook_url) is the runbook page every alert links to
	// (alerts[].runbookUrl in notifications, the runbook_url annotation of
	// Alertmanager and of `monitor rules`), each alert at its section:
	// the page, then "#" and the anchor of docs/runbooks.md (#check-db,
	// #check-freshness, #slo-burn, #escalation, ...). Set it to your own
	// copy of docs/runbooks.md (a wiki, an internal mirror) that keeps those
	// anchors. An absolute http(s) URL without a user, password or
	// #fragment; "" = runbook.DefaultBase, the docs/runbooks.md of the
	// monitor's repository on GitHub. A check's runbook_url takes its place
	// for that check's alerts.
	RunbookURL string
}

// Flapping is `alerting: flapping:`: more than Changes state changes within
// Window send one "flapping" notice, then stay quiet until it settles.
type Flapping struct {
	Changes int           // changes; default 6; 0 turns flap detection off
	Window  time.Duration // window; default 30m
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
	Name string // name, unique
	Type string // type: webhook, slack, pagerduty, email or alertmanager

	// Config is the type's configuration: *webhook.Config, *slack.Config,
	// *pagerduty.Config, *email.Config or *alertmanager.Config.
	Config receiver.Config
}

// Route is one entry of `alerting: routes:`. Routes are tried in order; the
// first whose Match fits an alert takes it, unless it has Continue, in
// which case the next ones are tried as well.
type Route struct {
	Match     Match
	Receivers []string // receivers: names of receivers, at least one
	// group_by: alert labels (check, kind, severity, component, handle or a
	// label name); alerts that share them go out in one notification.
	// Empty: one notification per alert.
	GroupBy       []string
	GroupWait     time.Duration // group_wait: wait for more alerts of a new group; default 30s
	GroupInterval time.Duration // group_interval: wait between notifications of a group; default 5m
	Continue      bool          // continue: try the next routes too
	// unknown: what an UNKNOWN result means to the alerts of this route:
	// UnknownKeep (default: neither fires nor resolves), UnknownFire
	// (counts as a failure) or UnknownResolve (counts as a success).
	Unknown string
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
	Severity  check.Severity    // severity: INFO, WARN or CRITICAL
	Check     string            // check: a check name or a glob (targeting_*)
	Kind      string            // kind: a check kind, or escalation
	Component string            // component
	Handle    string            // handle: the handle label (escalations)
	Labels    map[string]string // labels: more labels, each equal
}
