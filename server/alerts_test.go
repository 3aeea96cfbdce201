package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/store"
)

// call makes a request with a body and a bearer token ("" for none).
func (f *fixture) call(t *testing.T, method, path, token, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// details returns the envelope's details.
func details(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var env struct {
		Details map[string]any `json:"details"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	return env.Details
}

// alertingRoutes are every alerting endpoint with a valid body.
var alertingRoutes = []struct{ method, path, body string }{
	{"GET", "/v2/alerts", ""},
	{"POST", "/v2/silences", `{"matchers": {"check": "targeting_*"}, "endsAt": "2026-11-21T12:00:00Z", "comment": "deploy"}`},
	{"GET", "/v2/silences", ""},
	{"DELETE", "/v2/silences/s1", ""},
	{"POST", "/v2/operator/escalations", `{"handle": "acme", "severity": "HIGH", "summary": "Links down", "details": "all of them"}`},
	{"GET", "/v2/operator/escalations", ""},
	{"GET", "/v2/operator/escalations/e1", ""},
	{"POST", "/v2/operator/escalations/e1/resolve", ""},
	{"GET", "/v2/audit-events", ""},
}

// TestAlertingNeedsToken: every alerting endpoint is private: no token is
// 401 missing_bearer_token, a wrong one 401 invalid_token.
func TestAlertingNeedsToken(t *testing.T) {
	f := newFixture(t, "secret-token")
	f.s.SetRateLimits(limitsWith(func(rl *config.RateLimits) { rl.FailedAuthPerMinute = 0 }))
	for _, rt := range alertingRoutes {
		resp, body := f.call(t, rt.method, rt.path, "", rt.body)
		assertEnvelope(t, resp, body, 401, CodeMissingToken)
		resp, body = f.call(t, rt.method, rt.path, "wrong-token", rt.body)
		assertEnvelope(t, resp, body, 401, CodeInvalidToken)
		if strings.Contains(string(body), "secret-token") {
			t.Errorf("%s %s: answer shows the token: %s", rt.method, rt.path, body)
		}
	}
}

// TestAlertingUnavailable: before the daemon sets the engine and store,
// valid requests get 503 unavailable with Retry-After, not a panic or an
// empty list that looks like "nothing is firing".
func TestAlertingUnavailable(t *testing.T) {
	f := newFixture(t, "tok")
	for _, rt := range alertingRoutes {
		resp, body := f.call(t, rt.method, rt.path, "tok", rt.body)
		assertEnvelope(t, resp, body, 503, CodeUnavailable)
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", rt.method, rt.path)
		}
	}
}

// TestSilenceValidation: each bad silence is a 400 naming the field.
func TestSilenceValidation(t *testing.T) {
	f := newFixture(t, "tok")
	long := strings.Repeat("x", 1001)
	many := map[string]string{}
	for i := range 21 {
		many["l"+strings.Repeat("a", i)] = "x"
	}
	manyJSON, _ := json.Marshal(many)
	for _, tc := range []struct {
		name, body, code, field string
	}{
		{"no matchers", `{"endsAt": "2026-11-21T12:00:00Z"}`, CodeInvalidRequest, "matchers"},
		{"empty matchers", `{"matchers": {}, "endsAt": "2026-11-21T12:00:00Z"}`, CodeInvalidRequest, "matchers"},
		{"21 matchers", `{"matchers": ` + string(manyJSON) + `, "endsAt": "2026-11-21T12:00:00Z"}`, CodeInvalidRequest, "matchers"},
		{"bad label name", `{"matchers": {"1check": "x"}, "endsAt": "2026-11-21T12:00:00Z"}`, CodeInvalidRequest, "matchers.1check"},
		{"label name with a dash", `{"matchers": {"team-name": "x"}, "endsAt": "2026-11-21T12:00:00Z"}`, CodeInvalidRequest, "matchers.team-name"},
		{"empty value", `{"matchers": {"check": ""}, "endsAt": "2026-11-21T12:00:00Z"}`, CodeInvalidRequest, "matchers.check"},
		{"bad glob", `{"matchers": {"check": "targeting_["}, "endsAt": "2026-11-21T12:00:00Z"}`, CodeInvalidRequest, "matchers.check"},
		{"value not a string", `{"matchers": {"check": 1}, "endsAt": "2026-11-21T12:00:00Z"}`, CodeInvalidRequest, "matchers"},
		{"lower-case severity", `{"matchers": {"severity": "critical"}, "endsAt": "2026-11-21T12:00:00Z"}`, CodeInvalidSeverity, "matchers.severity"},
		{"no endsAt", `{"matchers": {"check": "x"}}`, CodeInvalidRequest, "endsAt"},
		{"endsAt not a time", `{"matchers": {"check": "x"}, "endsAt": "tomorrow"}`, CodeInvalidRequest, "endsAt"},
		{"endsAt a number", `{"matchers": {"check": "x"}, "endsAt": 1764000000}`, CodeInvalidRequest, "endsAt"},
		{"endsAt in the past", `{"matchers": {"check": "x"}, "endsAt": "2026-11-21T10:00:00Z"}`, CodeInvalidRequest, "endsAt"},
		{"endsAt now", `{"matchers": {"check": "x"}, "endsAt": "2026-11-21T10:30:00Z"}`, CodeInvalidRequest, "endsAt"},
		{"endsAt in 91 days", `{"matchers": {"check": "x"}, "endsAt": "2027-02-20T10:31:00Z"}`, CodeInvalidRequest, "endsAt"},
		{"endsAt in the year 9999", `{"matchers": {"check": "x"}, "endsAt": "9999-12-31T23:59:59Z"}`, CodeInvalidRequest, "endsAt"},
		{"endsAt before startsAt", `{"matchers": {"check": "x"}, "startsAt": "2026-11-22T00:00:00Z", "endsAt": "2026-11-21T12:00:00Z"}`, CodeInvalidRequest, "endsAt"},
		{"startsAt not a time", `{"matchers": {"check": "x"}, "startsAt": "now", "endsAt": "2026-11-21T12:00:00Z"}`, CodeInvalidRequest, "startsAt"},
		{"comment too long", `{"matchers": {"check": "x"}, "endsAt": "2026-11-21T12:00:00Z", "comment": "` + long + `"}`, CodeInvalidRequest, "comment"},
		{"unknown field", `{"matchers": {"check": "x"}, "endsAt": "2026-11-21T12:00:00Z", "createdBy": "root"}`, CodeInvalidRequest, "createdBy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.call(t, "POST", "/v2/silences", "tok", tc.body)
			assertEnvelope(t, resp, body, 400, tc.code)
			if got := details(t, body)["field"]; got != tc.field {
				t.Errorf("details.field = %v, want %q (body %s)", got, tc.field, body)
			}
		})
	}
}

// TestEscalationValidation: each bad escalation is a 400 naming the field;
// a severity other than LOW, MEDIUM or HIGH is invalid_severity listing
// the allowed ones.
func TestEscalationValidation(t *testing.T) {
	f := newFixture(t, "tok")
	for _, tc := range []struct {
		name, body, code, field string
	}{
		{"no handle", `{"severity": "HIGH", "summary": "s"}`, CodeInvalidRequest, "handle"},
		{"upper-case handle", `{"handle": "Acme", "severity": "HIGH", "summary": "s"}`, CodeInvalidRequest, "handle"},
		{"handle too long", `{"handle": "` + strings.Repeat("a", 65) + `", "severity": "HIGH", "summary": "s"}`, CodeInvalidRequest, "handle"},
		{"handle with a slash", `{"handle": "a/b", "severity": "HIGH", "summary": "s"}`, CodeInvalidRequest, "handle"},
		{"no severity", `{"handle": "acme", "summary": "s"}`, CodeInvalidSeverity, "severity"},
		{"unknown severity", `{"handle": "acme", "severity": "URGENT", "summary": "s"}`, CodeInvalidSeverity, "severity"},
		{"lower-case severity", `{"handle": "acme", "severity": "high", "summary": "s"}`, CodeInvalidSeverity, "severity"},
		{"alert severity", `{"handle": "acme", "severity": "CRITICAL", "summary": "s"}`, CodeInvalidSeverity, "severity"},
		{"severity a number", `{"handle": "acme", "severity": 3, "summary": "s"}`, CodeInvalidRequest, "severity"},
		{"no summary", `{"handle": "acme", "severity": "LOW"}`, CodeInvalidRequest, "summary"},
		{"blank summary", `{"handle": "acme", "severity": "LOW", "summary": "   "}`, CodeInvalidRequest, "summary"},
		{"summary too long", `{"handle": "acme", "severity": "LOW", "summary": "` + strings.Repeat("é", 201) + `"}`, CodeInvalidRequest, "summary"},
		{"summary of two lines", `{"handle": "acme", "severity": "LOW", "summary": "a\nBcc: x@example.com"}`, CodeInvalidRequest, "summary"},
		{"details too long", `{"handle": "acme", "severity": "LOW", "summary": "s", "details": "` + strings.Repeat("d", 10001) + `"}`, CodeInvalidRequest, "details"},
		{"public not a boolean", `{"handle": "acme", "severity": "LOW", "summary": "s", "public": "yes"}`, CodeInvalidRequest, "public"},
		{"status given", `{"handle": "acme", "severity": "LOW", "summary": "s", "status": "resolved"}`, CodeInvalidRequest, "status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.call(t, "POST", "/v2/operator/escalations", "tok", tc.body)
			assertEnvelope(t, resp, body, 400, tc.code)
			d := details(t, body)
			if d["field"] != tc.field {
				t.Errorf("details.field = %v, want %q (body %s)", d["field"], tc.field, body)
			}
			if tc.code == CodeInvalidSeverity {
				if got, _ := json.Marshal(d["allowed"]); string(got) != `["LOW","MEDIUM","HIGH"]` {
					t.Errorf("details.allowed = %s, want LOW, MEDIUM, HIGH", got)
				}
			}
		})
	}
}

// TestAlertingHugeBodies: a body past 64 KiB is 413, a non-JSON one 415,
// and neither is echoed back.
func TestAlertingHugeBodies(t *testing.T) {
	f := newFixture(t, "tok")
	huge := `{"handle": "acme", "severity": "LOW", "summary": "s", "details": "` + strings.Repeat("A", 1<<20) + `"}`
	for _, p := range []string{"/v2/operator/escalations", "/v2/silences"} {
		resp, body := f.call(t, "POST", p, "tok", huge)
		assertEnvelope(t, resp, body, 413, CodeTooLarge)
		if len(body) > 1024 {
			t.Errorf("%s: a %d-byte answer to a huge body", p, len(body))
		}
		req, _ := http.NewRequest("POST", f.srv.URL+p, strings.NewReader("handle=acme"))
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp2, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp2.Body)
		resp2.Body.Close()
		assertEnvelope(t, resp2, b, 415, CodeUnsupportedMedia)
	}
}

// TestAlertingQueryValidation: absurd limits, times and filters are 400s
// naming the parameter.
func TestAlertingQueryValidation(t *testing.T) {
	f := newFixture(t, "tok")
	for _, tc := range []struct{ path, field string }{
		{"/v2/audit-events?limit=101", "limit"},
		{"/v2/audit-events?limit=0", "limit"},
		{"/v2/audit-events?limit=-1", "limit"},
		{"/v2/audit-events?limit=99999999999999999999999", "limit"},
		{"/v2/audit-events?limit=ten", "limit"},
		{"/v2/audit-events?since=yesterday", "since"},
		{"/v2/audit-events?since=-5h", "since"},
		{"/v2/audit-events?action=DROP%20TABLE", "action"},
		{"/v2/operator/escalations?status=closed", "status"},
		{"/v2/operator/escalations?limit=1000", "limit"},
		{"/v2/alerts?status=FIRING", "status"},
		{"/v2/alerts?check=a[", "check"},
		{"/v2/silences?expired=yes", "expired"},
	} {
		resp, body := f.call(t, "GET", tc.path, "tok", "")
		assertEnvelope(t, resp, body, 400, CodeInvalidRequest)
		if got := details(t, body)["field"]; got != tc.field {
			t.Errorf("%s: details.field = %v, want %q (body %s)", tc.path, got, tc.field, body)
		}
	}
}

// TestSilenceStatus: a silence's status follows the clock.
func TestSilenceStatus(t *testing.T) {
	now := at
	for _, tc := range []struct {
		start, end time.Time
		want       string
	}{
		{now.Add(time.Hour), now.Add(2 * time.Hour), "pending"},
		{now, now.Add(time.Hour), "active"},
		{now.Add(-time.Hour), now, "expired"},
	} {
		s := toSilenceJSON(store.Silence{StartsAt: tc.start, EndsAt: tc.end}, now)
		if s.Status != tc.want {
			t.Errorf("silence %s–%s at %s: status %s, want %s", tc.start, tc.end, now, s.Status, tc.want)
		}
		if s.Matchers == nil {
			t.Error("matchers null")
		}
	}
}
