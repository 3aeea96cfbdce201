package check

import "time"

// Spec is one configured check, as the scheduler and the probes see it. The
// config package builds it; defaults are already applied.
type Spec struct {
	Name     string
	Kind     Kind
	Interval time.Duration
	Cron     string // when set, runs on this cron expression instead of Interval
	Timeout  time.Duration
	Severity Severity // severity of a FAIL (escalations aside); default WARN
	// UnknownSeverity is the severity of an UNKNOWN result; default WARN.
	UnknownSeverity Severity
	Component       string // status page component; empty = private
	DependsOn       []string
	// RunbookURL (runbook_url) is the team's own runbook for this check:
	// its alerts (its failures and its SLO burn-rate alerts, in the
	// notifications and in `monitor rules`) link here instead of the
	// section of alerting.runbook_url for its kind. An absolute http(s) URL
	// without a user or password; "" = that section.
	RunbookURL string
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
