package check

import "time"

// Spec is one configured check, as the scheduler and the probes see it. The
// config package builds it; defaults are already applied.
//
// The yaml tags name the configuration keys (docs/config.md is generated
// from them and from these comments).
type Spec struct {
	// Name names the check in metrics, alerts and the API: [a-z0-9_]+,
	// unique.
	Name string `yaml:"name"`
	// Kind is the kind of check; each kind takes keys of its own (below).
	Kind Kind `yaml:"kind"`
	// Interval is how often the check runs; > 0 and longer than its
	// timeout. Default: defaults.interval.
	Interval time.Duration `yaml:"interval"`
	// Cron, when set, runs the check on this cron expression instead of
	// every interval: 5 fields (6 with seconds first), @hourly or @every 90s,
	// with an optional CRON_TZ=Zone prefix (else UTC); a date that never
	// comes (0 0 30 2 *) is an error.
	Cron string `yaml:"cron"`
	// Timeout bounds one run (a link check: one link); shorter than the
	// interval. Default: defaults.timeout (4s for link checks).
	Timeout time.Duration `yaml:"timeout"`
	// Severity is the severity of a FAIL (thresholds such as critical_age
	// escalate it).
	Severity Severity `yaml:"severity"`
	// UnknownSeverity is the severity of an UNKNOWN result.
	UnknownSeverity Severity `yaml:"unknown_severity"`
	// Component is the status page component the check feeds; empty =
	// private (the check never shows on the public page). At most 100
	// characters, no leading or trailing spaces, no control characters.
	Component string `yaml:"component"`
	// DependsOn names parent checks: while a parent FAILs this check is
	// UNKNOWN ("parent X failing") and does not page. A cycle is an error.
	DependsOn []string `yaml:"depends_on"`
	// RunbookURL is the team's own runbook for this check: its alerts (its
	// failures and its SLO burn-rate alerts, in the notifications and in
	// `monitor rules`) link here instead of the section of
	// alerting.runbook_url for its kind. An absolute http(s) URL without a
	// user or password, at most 2048 bytes, with " < > \ ^ { | } and the backquote
	// %-encoded; empty = that section.
	RunbookURL string `yaml:"runbook_url"`
	// Guarded means the SSRF guard applies to the check's own connections
	// (server.guard_checks): kinds that dial what the configuration names
	// (http, tls) refuse loopback, private and metadata addresses.
	Guarded bool

	// Config is the configuration of the check's kind: the keys only that
	// kind takes, decoded by the kind (probes: one file per kind), e.g.
	// probes.DBConfig. Nil for a kind with none.
	Config any
}

// TakesHeartbeats tells whether the check is fed by POST
// /v2/heartbeats/{check}: its kind's configuration says so.
func (s Spec) TakesHeartbeats() bool {
	h, ok := s.Config.(interface{ TakesHeartbeats() bool })
	return ok && h.TakesHeartbeats()
}

// PerItemMetrics tells whether the check exports one series per item (a
// link check with per_link_metrics: true): its kind's configuration says so.
func (s Spec) PerItemMetrics() bool {
	p, ok := s.Config.(interface{ PerItemMetrics() bool })
	return ok && p.PerItemMetrics()
}

// FailSeverity is the severity of a FAIL of this check before escalation.
func (s Spec) FailSeverity() Severity {
	if s.Severity == "" {
		return Warn
	}
	return s.Severity
}

// UnknownSev is the severity of an UNKNOWN result of this check.
func (s Spec) UnknownSev() Severity {
	if s.UnknownSeverity == "" {
		return Warn
	}
	return s.UnknownSeverity
}

// StaleAfter is how long a result stays current: 2×interval + timeout.
func (s Spec) StaleAfter() time.Duration { return 2*s.Interval + s.RunTimeout() }

// RunTimeout bounds one whole run. It is the timeout, except for kinds
// whose timeout bounds each item (link checks: a run of thousands of links
// may take up to the interval).
func (s Spec) RunTimeout() time.Duration {
	if s.Kind.Behaviour().Items {
		if s.Interval > 0 {
			return s.Interval
		}
		return 10 * time.Minute
	}
	return s.Timeout
}

// PassResult builds a PASS/INFO result for this check.
func (s Spec) PassResult(msg string) Result {
	return Result{Check: s.Name, Kind: s.Kind, Status: Pass, Severity: Info, Message: Truncate(msg)}
}

// FailResult builds a FAIL result with the check's configured severity.
func (s Spec) FailResult(msg string) Result {
	return Result{Check: s.Name, Kind: s.Kind, Status: Fail, Severity: s.FailSeverity(), Message: Truncate(msg)}
}

// UnknownResult builds an UNKNOWN result with the check's unknown severity.
func (s Spec) UnknownResult(msg string) Result {
	return Result{Check: s.Name, Kind: s.Kind, Status: Unknown, Severity: s.UnknownSev(), Message: Truncate(msg)}
}

// NotRun is the result of a check that has not run yet: UNKNOWN/INFO.
func (s Spec) NotRun() Result {
	return Result{Check: s.Name, Kind: s.Kind, Status: Unknown, Severity: Info, Message: "not yet run", Reason: ReasonNotRun}
}
