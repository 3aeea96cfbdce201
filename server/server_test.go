package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/probes"
	"github.com/monitor-dev/monitor/snapshot"
)

type fixture struct {
	mu    sync.Mutex
	now   time.Time // the fixture's clock; starts at `at`
	srv   *httptest.Server
	snap  *snapshot.Snapshot
	beats *probes.BeatStore
	s     *Server
}

var at = time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)

func newFixture(t *testing.T, tokens ...string) *fixture {
	t.Helper()
	specs := []check.Spec{
		{Name: "conn", Kind: "db", Interval: time.Minute, Timeout: 5 * time.Second, Severity: check.Critical},
		{Name: "beat", Kind: "freshness", Interval: time.Minute, Timeout: 5 * time.Second,
			Config: probes.FreshnessConfig{Source: probes.HeartbeatSource{}, MaxAge: 15 * time.Minute}},
	}
	f := &fixture{now: at, beats: probes.NewBeatStore()}
	now := func() time.Time {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.now
	}
	f.snap = snapshot.New(specs, now)
	f.s = New(Options{Snapshot: f.snap, Gatherer: prometheus.NewRegistry(), Beats: f.beats, Now: now})
	f.s.SetTokens(tokens, nil)
	f.srv = httptest.NewServer(f.s)
	t.Cleanup(f.srv.Close)
	return f
}

// tick moves the fixture's clock past the health body's refresh time.
func (f *fixture) tick() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(time.Second)
}

func (f *fixture) do(t *testing.T, method, path string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// assertEnvelope checks the contract's error envelope.
func assertEnvelope(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	if env["error"] != code {
		t.Fatalf("error %v, want %s", env["error"], code)
	}
	for _, k := range []string{"error_description", "request_id", "timestamp", "details"} {
		if _, ok := env[k]; !ok {
			t.Fatalf("envelope lacks %q: %s", k, body)
		}
	}
	if env["request_id"] != resp.Header.Get("X-Request-Id") || resp.Header.Get("X-Request-Id") == "" {
		t.Fatalf("request_id %v does not match X-Request-Id %q", env["request_id"], resp.Header.Get("X-Request-Id"))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
}

func TestHealthStatusCodes(t *testing.T) {
	f := newFixture(t)
	resp, body := f.do(t, "GET", "/v2/system/health", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"UNKNOWN"`) {
		t.Fatalf("before any run: %d %s", resp.StatusCode, body)
	}
	f.snap.Record(check.Result{Check: "conn", Kind: "db", Status: check.Fail, Severity: check.Critical,
		Message: "connect: connection refused", CheckedAt: at})
	f.tick()
	resp, body = f.do(t, "GET", "/v2/system/health", nil)
	if resp.StatusCode != 503 || !strings.Contains(string(body), "connection refused") {
		t.Fatalf("with a CRITICAL failure: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers: %v", resp.Header)
	}
	resp, body = f.do(t, "HEAD", "/v2/system/health", nil)
	if resp.StatusCode != 503 || len(body) != 0 {
		t.Fatalf("HEAD: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = f.do(t, "GET", "/v2/system/health", map[string]string{"Accept": "application/health+json"})
	if resp.StatusCode != 503 || resp.Header.Get("Content-Type") != "application/health+json" ||
		!strings.Contains(string(body), `"status":"fail"`) {
		t.Fatalf("health+json: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

func TestErrorsUseEnvelope(t *testing.T) {
	f := newFixture(t)
	resp, body := f.do(t, "GET", "/v2/nope", nil)
	assertEnvelope(t, resp, body, 404, CodeNotFound)

	resp, body = f.do(t, "DELETE", "/v2/system/health", nil)
	assertEnvelope(t, resp, body, 405, CodeMethodNotAllowed)
	if allow := resp.Header.Get("Allow"); !strings.Contains(allow, "GET") {
		t.Fatalf("Allow = %q", allow)
	}
}

func TestRequestIDEchoed(t *testing.T) {
	f := newFixture(t)
	resp, _ := f.do(t, "GET", "/healthz", map[string]string{"X-Request-Id": "abc-123"})
	if resp.Header.Get("X-Request-Id") != "abc-123" {
		t.Fatalf("X-Request-Id = %q", resp.Header.Get("X-Request-Id"))
	}
	resp, _ = f.do(t, "GET", "/healthz", map[string]string{"X-Request-Id": "bad id\twith spaces"})
	if id := resp.Header.Get("X-Request-Id"); !strings.HasPrefix(id, "req_") {
		t.Fatalf("an invalid incoming id must be replaced, got %q", id)
	}
}

func TestHeartbeatAuth(t *testing.T) {
	f := newFixture(t, "s3cret-token")
	resp, body := f.do(t, "POST", "/v2/heartbeats/beat", nil)
	assertEnvelope(t, resp, body, 401, CodeMissingToken)
	resp, body = f.do(t, "POST", "/v2/heartbeats/beat", map[string]string{"Authorization": "Bearer wrong"})
	assertEnvelope(t, resp, body, 401, CodeInvalidToken)
	if strings.Contains(string(body), "s3cret") {
		t.Fatal("the token leaked into an error")
	}
	if _, ok := f.beats.LastBeat("beat"); ok {
		t.Fatal("a rejected request recorded a heartbeat")
	}

	resp, body = f.do(t, "POST", "/v2/heartbeats/beat", map[string]string{"Authorization": "Bearer s3cret-token"})
	if resp.StatusCode != 202 {
		t.Fatalf("valid heartbeat: %d %s", resp.StatusCode, body)
	}
	if got, ok := f.beats.LastBeat("beat"); !ok || !got.Equal(at) {
		t.Fatalf("heartbeat recorded as %v %v", got, ok)
	}

	resp, body = f.do(t, "POST", "/v2/heartbeats/conn", map[string]string{"Authorization": "Bearer s3cret-token"})
	assertEnvelope(t, resp, body, 404, CodeNotFound)
	if want := "Check conn takes no heartbeats: only a freshness check with source { heartbeat: true } does"; !strings.Contains(string(body), want) {
		t.Errorf("heartbeat to a db check: %s, want it to say %q", body, want)
	}
	resp, body = f.do(t, "POST", "/v2/heartbeats/nope", map[string]string{"Authorization": "Bearer s3cret-token"})
	assertEnvelope(t, resp, body, 404, CodeNotFound)
	if want := `"No check named nope"`; !strings.Contains(string(body), want) {
		t.Errorf("heartbeat to an unknown check: %s, want %s", body, want)
	}
}

func TestReadyz(t *testing.T) {
	f := newFixture(t)
	if resp, _ := f.do(t, "GET", "/readyz", nil); resp.StatusCode != 503 {
		t.Fatalf("readyz before start = %d", resp.StatusCode)
	}
	f.s.SetReady(true)
	if resp, _ := f.do(t, "GET", "/readyz", nil); resp.StatusCode != 200 {
		t.Fatalf("readyz when ready = %d", resp.StatusCode)
	}
}

// TestReadyzDegraded: a ready server with a degraded part still answers
// 200, naming what is degraded.
func TestReadyzDegraded(t *testing.T) {
	f := newFixture(t)
	f.s.SetReady(true)
	why := "history store unavailable"
	f.s.SetDegraded(func() string { return why })
	resp, body := f.do(t, "GET", "/readyz", nil)
	if resp.StatusCode != 200 || string(body) != "ready, degraded: history store unavailable\n" {
		t.Fatalf("readyz degraded = %d %q", resp.StatusCode, body)
	}
	why = ""
	if resp, body := f.do(t, "GET", "/readyz", nil); resp.StatusCode != 200 || string(body) != "ready\n" {
		t.Fatalf("readyz recovered = %d %q", resp.StatusCode, body)
	}
}

// TestReadyzUnready: a reason to take no traffic (a cluster replica
// without its database) makes /readyz 503, naming it, until it clears.
func TestReadyzUnready(t *testing.T) {
	f := newFixture(t)
	f.s.SetReady(true)
	why := "cluster: no database since 2026-11-30T06:00:00Z: not running checks (connection refused)"
	f.s.SetUnready(func() string { return why })
	resp, body := f.do(t, "GET", "/readyz", nil)
	if resp.StatusCode != 503 || string(body) != "not ready: "+why+"\n" {
		t.Fatalf("readyz unready = %d %q", resp.StatusCode, body)
	}
	why = ""
	if resp, body := f.do(t, "GET", "/readyz", nil); resp.StatusCode != 200 || string(body) != "ready\n" {
		t.Fatalf("readyz recovered = %d %q", resp.StatusCode, body)
	}
}

// Dot segments and doubled slashes got the mux's text/html redirect; an API
// answers with the envelope, naming the canonical path.
func TestNonCanonicalPathsUseEnvelope(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ path, canonical string }{
		{"/v2/../healthz", "/healthz"},
		{"/v2/system/./health", "/v2/system/health"},
		{"/v2//system/health", "/v2/system/health"},
		{"/v2/links/../../metrics", "/metrics"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			f.s.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
			resp := rec.Result()
			body := rec.Body.Bytes()
			assertEnvelope(t, resp, body, 400, CodeInvalidRequest)
			var env struct {
				Details map[string]string `json:"details"`
			}
			_ = json.Unmarshal(body, &env)
			if env.Details["canonical"] != tc.canonical || resp.Header.Get("Location") != "" {
				t.Fatalf("details %v, Location %q; want canonical %s and no redirect", env.Details,
					resp.Header.Get("Location"), tc.canonical)
			}
		})
	}
}

// A request target that is not a path ("GET *") got the mux's bare 307
// with no body; it is a bad request, in the envelope.
func TestNonPathTargetUsesEnvelope(t *testing.T) {
	f := newFixture(t)
	for _, method := range []string{"GET", "POST", "DELETE"} {
		rec := httptest.NewRecorder()
		f.s.ServeHTTP(rec, httptest.NewRequest(method, "*", nil))
		resp := rec.Result()
		assertEnvelope(t, resp, rec.Body.Bytes(), 400, CodeInvalidRequest)
		if loc := resp.Header.Get("Location"); loc != "" {
			t.Errorf("%s *: Location %q, want no redirect", method, loc)
		}
	}
}

// Error messages repeated the request's path and method whole: a 900 KB
// path came back as a 900 KB answer. They are cut to a few hundred bytes.
func TestErrorsDoNotEchoHugeInput(t *testing.T) {
	f := newFixture(t)
	long := "/" + strings.Repeat("é", 300_000)
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", long, 404, CodeNotFound},
		{"GET", "/v2/" + long[1:] + "/../x", 400, CodeInvalidRequest},
		{strings.Repeat("BREW", 10_000), "/v2/system/health", 405, CodeMethodNotAllowed},
		{"POST", "/v2/heartbeats/" + strings.Repeat("x", 100_000), 404, CodeNotFound},
	} {
		rec := httptest.NewRecorder()
		f.s.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		body := rec.Body.Bytes()
		assertEnvelope(t, rec.Result(), body, tc.status, tc.code)
		if len(body) > 2048 {
			t.Errorf("%.20s %.40s: answer is %d bytes, want the input cut short", tc.method, tc.path, len(body))
		}
		if !utf8.Valid(body) {
			t.Errorf("%.20s %.40s: answer is not valid UTF-8 after the cut", tc.method, tc.path)
		}
	}
}
