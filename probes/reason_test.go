package probes

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// TestFreshnessReasons: a freshness result says why it is not PASS in one
// word, set where the verdict is made.
func TestFreshnessReasons(t *testing.T) {
	t.Parallel()
	beats := fakeBeats{
		"recent": fixedNow.Add(-10 * time.Second),
		"late":   fixedNow.Add(-20 * time.Minute),
		"old":    fixedNow.Add(-2 * time.Hour),
		"future": fixedNow.Add(10 * time.Minute),
	}
	env := &Env{Heartbeats: beats, Now: func() time.Time { return fixedNow }}
	for _, tc := range []struct {
		name   string
		env    *Env
		status check.Status
		reason check.Reason
	}{
		{"recent", env, check.Pass, ""},
		{"late", env, check.Fail, check.ReasonStale},
		{"old", env, check.Fail, check.ReasonStale}, // past critical_age
		{"future", env, check.Unknown, check.ReasonClockSkew},
		{"never", env, check.Unknown, check.ReasonNoData},
		{"no heartbeat store", &Env{}, check.Unknown, check.ReasonError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := freshSpec(HeartbeatSource{})
			spec.Name = tc.name
			res := ProbeFreshness(context.Background(), spec, tc.env)
			if res.Status != tc.status || res.Reason != tc.reason {
				t.Errorf("got %s/%q (%s), want %s/%q", res.Status, res.Reason, res.Message, tc.status, tc.reason)
			}
		})
	}
}

// TestLinkCheckReason: a failing link check carries the commonest reason
// its links fail for, the same word the link API shows as `error`.
func TestLinkCheckReason(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	spec := check.Spec{Name: "links", Kind: KindLink, Timeout: 2 * time.Second, Config: LinkConfig{AllowPrivate: true,
		URLs: []string{srv.URL + "/ok", srv.URL + "/a", srv.URL + "/b", "http://127.0.0.1:1/refused"}}}
	res := ProbeLink(context.Background(), spec, &Env{Links: NewLinkClients(Guard{})})
	if res.Status != check.Fail || res.Reason != check.ReasonHTTPStatus {
		t.Fatalf("got %s/%q (%s), want FAIL/http_status", res.Status, res.Reason, res.Message)
	}
	for _, l := range res.Links {
		if l.Status == check.Fail && l.Error == "" {
			t.Errorf("failing link %s has no error kind", l.URL)
		}
	}
}

// TestClassifyLinkErrTyped: the kind of a link failure comes from the
// error's type, not its text: a bad redirect Location is known by its
// type, and an error that merely reads like one is not taken for it.
func TestClassifyLinkErrTyped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	parseErr := &url.Error{Op: "parse", URL: "http://[::1:bad/", Err: errors.New("missing ']' in host")}
	typed := &url.Error{Op: "Get", URL: "http://x", Err: &locationError{err: parseErr}}
	if kind, msg, _ := classifyLinkErr(ctx, typed); kind != check.LinkErrInvalidURL || msg != "invalid redirect Location" {
		t.Errorf("typed Location error: %q %q, want invalid_url", kind, msg)
	}
	lookalike := &url.Error{Op: "Get", URL: "http://x", Err: errors.New(`failed to parse Location header "x": nope`)}
	if kind, _, _ := classifyLinkErr(ctx, lookalike); kind == check.LinkErrInvalidURL {
		t.Errorf("an error was classified by its text")
	}
}

func TestNotRunReason(t *testing.T) {
	if r := (check.Spec{Name: "x", Kind: KindDB}).NotRun(); r.Reason != check.ReasonNotRun {
		t.Errorf("NotRun reason %q", r.Reason)
	}
}
