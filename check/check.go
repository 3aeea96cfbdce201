// Package check holds the words every package of the monitor shares: the
// status and severity of a result, the result itself, and the specification
// of a check as the probes and the scheduler see it. It imports nothing of ours.
package check

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Status is the outcome of one observation.
type Status string

// The three statuses, in the contract's words.
const (
	Pass    Status = "PASS"
	Fail    Status = "FAIL"
	Unknown Status = "UNKNOWN"
)

// Statuses lists every status, in the order metrics expose them.
var Statuses = []Status{Pass, Fail, Unknown}

// Rank orders statuses for the overall verdict: FAIL > UNKNOWN > PASS.
func (s Status) Rank() int {
	switch s {
	case Fail:
		return 2
	case Unknown:
		return 1
	default:
		return 0
	}
}

// Valid reports whether s is one of the three statuses.
func (s Status) Valid() bool { return s == Pass || s == Fail || s == Unknown }

// Kind is the kind of a check: which probe observes it. The kinds are
// declared by package probes, one file each (probes.KindDB, …), with what
// each means outside its probe (Behaviour).
type Kind string

// Severity is how loud a result is.
type Severity string

// The three severities.
const (
	Info     Severity = "INFO"
	Warn     Severity = "WARN"
	Critical Severity = "CRITICAL"
)

// Severities lists every severity, in the order metrics expose them.
var Severities = []Severity{Info, Warn, Critical}

// Rank orders severities: CRITICAL > WARN > INFO.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 2
	case Warn:
		return 1
	default:
		return 0
	}
}

// Valid reports whether s is one of the three severities.
func (s Severity) Valid() bool { return s == Info || s == Warn || s == Critical }

// ParseSeverity accepts a severity in any letter case.
func ParseSeverity(s string) (Severity, error) {
	v := Severity(strings.ToUpper(strings.TrimSpace(s)))
	if !v.Valid() {
		return "", fmt.Errorf("unknown severity %q (want INFO, WARN or CRITICAL)", s)
	}
	return v, nil
}

// MaxMessage bounds a result's message; longer ones are cut with an ellipsis.
const MaxMessage = 512

// Result is one observation of one check. Probes fill Status, Severity,
// Message and the observed value; the scheduler fills the rest.
type Result struct {
	Check         string        `json:"name"`
	Kind          Kind          `json:"kind"`
	Status        Status        `json:"status"`
	Severity      Severity      `json:"severity"`
	Message       string        `json:"message"`
	ObservedValue *float64      `json:"observedValue,omitempty"`
	ObservedUnit  string        `json:"observedUnit,omitempty"`
	CheckedAt     time.Time     `json:"checkedAt"`
	Duration      time.Duration `json:"-"`

	// NewestAt is, for freshness checks, the time of the newest record seen.
	NewestAt time.Time `json:"-"`

	// CertNotAfter is, for kinds that see a TLS certificate (http, tls),
	// when the server's leaf certificate expires.
	CertNotAfter time.Time `json:"-"`

	// Links are, for link checks, the result of every link.
	Links []LinkResult `json:"-"`
	// LinksTotal, when above len(Links), is how many links the run
	// checked: Links holds only part of them, the failing first (a result
	// another replica ran, whose per-link results were over the store's
	// size bound). Zero otherwise.
	LinksTotal int `json:"-"`

	// Connections are, for db checks with headroom, what the server said of
	// its connections (metrics export them).
	Connections *DBConnections `json:"-"`

	// Reason is why the result is not PASS; empty on PASS. Internal: the
	// contract's health answer does not carry it.
	Reason Reason `json:"-"`
}

// LinkResult is the outcome of checking one link.
type LinkResult struct {
	URL        string  `json:"url"`
	Status     Status  `json:"status"`
	StatusCode int     `json:"statusCode"`
	Method     string  `json:"method"`
	FinalURL   string  `json:"finalUrl"`
	DurationMs float64 `json:"durationMs"` // milliseconds, to the microsecond
	// Error is the kind of failure: dns, connect, tls, timeout, http_status,
	// too_many_redirects, blocked (or invalid_url); empty on success.
	Error Reason `json:"error"`
	// ErrorMessage says what happened, in a short redacted line.
	ErrorMessage string `json:"errorMessage,omitempty"`
	// Redirects lists each hop that answered with a redirect.
	Redirects []Hop `json:"redirects,omitempty"`

	// Set for scheduled checks and SQL link sources.
	Check     string    `json:"check,omitempty"`
	Handle    string    `json:"handle,omitempty"`
	Slug      string    `json:"slug,omitempty"`
	CheckedAt time.Time `json:"checkedAt,omitzero"`

	// Locations are, for a link check with quorum > 1 (cluster mode),
	// what each location saw of this link, by location; the fields above
	// are the combined result. Absent otherwise.
	Locations map[string]LinkLocation `json:"locations,omitempty"`
}

// LinkLocation is what one location saw of a link (LinkResult.Locations).
type LinkLocation struct {
	Status       Status `json:"status"`
	StatusCode   int    `json:"statusCode"`
	Error        Reason `json:"error"`
	ErrorMessage string `json:"errorMessage,omitempty"`
}

// DBConnections is the connection use a db check with headroom read.
type DBConnections struct {
	// ByState counts the connections in use by state (PostgreSQL's
	// pg_stat_activity.state, MySQL's running or idle); they add up to the
	// connections in use.
	ByState map[string]int `json:"byState"`
	// Max is the limit they are measured against: the server's usable
	// max_connections, or the check's max_connections override.
	Max int `json:"max"`
}

// Hop is one redirect: the URL asked and the status it answered.
type Hop struct {
	URL        string `json:"url"`
	StatusCode int    `json:"statusCode"`
}

// Reason is why a result is not PASS, in one word: set by the code that saw
// the failure happen (from typed errors, never from an error's text). It is
// a link's `error` in the link API and metrics; it is not part of the
// /v2/system/health answer.
type Reason string

// The reasons.
const (
	ReasonDNS           Reason = "dns"                // the name does not resolve
	ReasonConnect       Reason = "connect"            // refused, reset, unreachable
	ReasonTLS           Reason = "tls"                // handshake or certificate
	ReasonTimeout       Reason = "timeout"            // the run's deadline
	ReasonHTTPStatus    Reason = "http_status"        // an answer with an unwanted status
	ReasonRedirects     Reason = "too_many_redirects" // a redirect loop or chain too long
	ReasonBlocked       Reason = "blocked"            // the SSRF guard refused the destination
	ReasonInvalidURL    Reason = "invalid_url"        // a URL or redirect Location that does not parse
	ReasonAuth          Reason = "auth"               // the server refused the credentials
	ReasonQuery         Reason = "query"              // the query or command failed
	ReasonStale         Reason = "stale"              // the data is older than max_age
	ReasonClockSkew     Reason = "clock_skew"         // a timestamp in the future
	ReasonHeadroom      Reason = "headroom"           // connections in use past a headroom threshold
	ReasonNoData        Reason = "no_data"            // nothing to read a timestamp from
	ReasonAssertion     Reason = "assertion"          // an answer that does not say what the check wants
	ReasonSlow          Reason = "slow"               // an answer slower than the latency threshold
	ReasonCertExpiry    Reason = "cert_expiry"        // a certificate close to (or past) its expiry
	ReasonParentFailing Reason = "parent_failing"     // a check it depends on fails
	ReasonNotRun        Reason = "not_run"            // the check has not run yet
	ReasonCanceled      Reason = "canceled"           // the run was given up (shutdown, reload)
	ReasonError         Reason = "error"              // any other failure
)

// Link error kinds: the reasons a link can fail for.
const (
	LinkErrDNS        = ReasonDNS
	LinkErrConnect    = ReasonConnect
	LinkErrTLS        = ReasonTLS
	LinkErrTimeout    = ReasonTimeout
	LinkErrHTTPStatus = ReasonHTTPStatus
	LinkErrRedirects  = ReasonRedirects
	LinkErrBlocked    = ReasonBlocked
	LinkErrInvalidURL = ReasonInvalidURL
)

// MarshalJSON writes the contract's shape: durationMs, RFC 3339 times in UTC,
// and no checkedAt for a check that has not run yet.
func (r Result) MarshalJSON() ([]byte, error) {
	type wire struct {
		Name          string   `json:"name"`
		Kind          Kind     `json:"kind"`
		Status        Status   `json:"status"`
		Severity      Severity `json:"severity"`
		Message       string   `json:"message"`
		ObservedValue *float64 `json:"observedValue,omitempty"`
		ObservedUnit  string   `json:"observedUnit,omitempty"`
		CheckedAt     *string  `json:"checkedAt,omitempty"`
		DurationMs    *float64 `json:"durationMs,omitempty"`
	}
	w := wire{Name: r.Check, Kind: r.Kind, Status: r.Status, Severity: r.Severity,
		Message: r.Message, ObservedValue: r.ObservedValue, ObservedUnit: r.ObservedUnit}
	if !r.CheckedAt.IsZero() {
		s := r.CheckedAt.UTC().Format(time.RFC3339)
		ms := Millis(r.Duration)
		w.CheckedAt, w.DurationMs = &s, &ms
	}
	return json.Marshal(w)
}

// Millis is d in milliseconds, to the microsecond: 0.42 for 420µs, so that
// fast probes do not all read 0.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Value returns a pointer to v, for ObservedValue.
func Value(v float64) *float64 { return &v }

// Truncate cuts msg to MaxMessage bytes on a rune boundary.
func Truncate(msg string) string {
	if len(msg) <= MaxMessage {
		return msg
	}
	cut := MaxMessage - len("…")
	for cut > 0 && !isRuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// Worst folds results into the overall verdict: the worst status and the
// highest severity. No results at all is PASS/INFO.
func Worst(results []Result) (Status, Severity) {
	st, sev := Pass, Info
	for _, r := range results {
		if r.Status.Rank() > st.Rank() {
			st = r.Status
		}
		if r.Severity.Rank() > sev.Rank() {
			sev = r.Severity
		}
	}
	return st, sev
}
