// Package receivertest holds what the tests of the receiver packages
// share: a sample notification, a local HTTP server that records what it
// is sent, and the check that an error holds no secret.
package receivertest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
)

// Now is the clock of the samples.
var Now = time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)

// The runbook links of the sample's alerts: the db check's section of the
// monitor's docs/runbooks.md, and the freshness check's own runbook_url.
const (
	RunbookDB  = "https://github.com/monitor-dev/monitor/blob/main/docs/runbooks.md#check-db"
	RunbookOwn = "https://wiki.example.com/teams/analytics/freshness?space=ops&page=42"
)

// Notification is a sample: two alerts of one group, a CRITICAL check
// failing and a WARN freshness check, both firing (status resolved: both
// resolved, with their ends).
func Notification(status string) receiver.Notification {
	v := 1032.0
	started := Now.Add(-17 * time.Minute)
	a := receiver.Alert{
		ID: "check:usage_meters_connectivity", Check: "usage_meters_connectivity", Kind: "db",
		Status: status, Severity: check.Critical,
		Labels: map[string]string{"check": "usage_meters_connectivity", "kind": "db",
			"severity": "CRITICAL", "component": "Usage metering"},
		Summary: "dial tcp 10.0.0.5:5432: connection refused",
		Result: &check.Result{Check: "usage_meters_connectivity", Kind: "db", Status: check.Fail,
			Severity: check.Critical, Message: "dial tcp 10.0.0.5:5432: connection refused",
			CheckedAt: Now.Add(-20 * time.Second)},
		StartsAt:   started,
		URL:        "https://status.example.com/alerts/check:usage_meters_connectivity",
		RunbookURL: RunbookDB,
	}
	b := receiver.Alert{
		ID: "check:redirect_analytics_freshness", Check: "redirect_analytics_freshness", Kind: "freshness",
		Status: status, Severity: check.Warn,
		Labels: map[string]string{"check": "redirect_analytics_freshness", "kind": "freshness",
			"severity": "WARN", "component": "Usage metering"},
		Summary: "newest row is 17m12s old (max 15m)",
		Result: &check.Result{Check: "redirect_analytics_freshness", Kind: "freshness", Status: check.Fail,
			Severity: check.Warn, Message: "newest row is 17m12s old (max 15m)",
			ObservedValue: &v, ObservedUnit: "s", CheckedAt: Now.Add(-19 * time.Second)},
		StartsAt:   started.Add(time.Minute),
		URL:        "https://status.example.com/alerts/check:redirect_analytics_freshness",
		RunbookURL: RunbookOwn,
	}
	if status == receiver.StatusResolved {
		end := Now.Add(-time.Minute)
		a.EndsAt, b.EndsAt = &end, &end
		a.Result.Status, a.Result.Severity, a.Result.Message = check.Pass, check.Info, "ok"
		b.Result.Status, b.Result.Severity, b.Result.Message = check.Pass, check.Info, "newest row is 12s old"
	}
	return receiver.Notification{
		ID: "ntf_01JDQ7Z8K3M4N5P6Q7R8S9T0V1", Status: status,
		GroupKey: `{}/{severity="CRITICAL"}:{component="Usage metering"}`,
		Receiver: "oncall", Alerts: []receiver.Alert{a, b},
		URL: "https://status.example.com/alerts", CreatedAt: Now,
	}
}

// Request is one request a Server got.
type Request struct {
	Method string
	Path   string // with the query
	Header http.Header
	Body   []byte
}

// Server is a local HTTP server that records every request and answers
// with Answer (200 and no body when nil).
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	requests []Request
	// Answer writes the answer to the request numbered n (from 0); set it
	// before the first request.
	Answer func(w http.ResponseWriter, r Request, n int)
}

// NewServer starts a Server, closed when the test ends.
func NewServer(t testing.TB, answer func(w http.ResponseWriter, r Request, n int)) *Server {
	s := &Server{Answer: answer}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			t.Errorf("reading the request: %v", err)
		}
		req := Request{Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body}
		s.mu.Lock()
		n := len(s.requests)
		s.requests = append(s.requests, req)
		s.mu.Unlock()
		if s.Answer != nil {
			s.Answer(w, req, n)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// Requests returns what the server got so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Echo answers 500 with everything the request held (its path and query,
// headers and body): what a careless receiver might send back, to check
// that no secret reaches the error.
func Echo(w http.ResponseWriter, r Request, _ int) {
	w.WriteHeader(http.StatusInternalServerError)
	io.WriteString(w, r.Path+"\n")
	for k, vs := range r.Header {
		io.WriteString(w, k+": "+strings.Join(vs, ",")+"\n")
	}
	w.Write(r.Body)
}

// Deps are the senders' dependencies in tests: a client with a short
// timeout, no keep-alives, and the clock Now.
func Deps() receiver.Deps {
	return receiver.Deps{
		HTTP:      &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
		PublicURL: "https://status.example.com",
		Now:       func() time.Time { return Now },
	}
}

// NoSecret fails the test when err's text holds one of the secrets (or
// their last 12 characters, in case of a partial quote).
func NoSecret(t testing.TB, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, s := range secrets {
		tail := s
		if len(tail) > 12 {
			tail = tail[len(tail)-12:]
		}
		if strings.Contains(msg, s) || strings.Contains(msg, tail) {
			t.Errorf("the error holds a secret (%d bytes): %s", len(s), msg)
		}
	}
}
