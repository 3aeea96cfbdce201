package probes

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/testenv"
)

// httpSpec is an http check of url with decodeHTTP's defaults, changed by
// edit.
func httpSpec(url string, edit func(c *HTTPConfig)) check.Spec {
	c := HTTPConfig{URL: url, Method: http.MethodGet, FollowRedirects: true, MaxBody: DefaultMaxBody}
	if edit != nil {
		edit(&c)
	}
	return check.Spec{Name: "api", Kind: KindHTTP, Interval: time.Minute, Timeout: 5 * time.Second,
		Severity: check.Warn, Config: c}
}

func runHTTP(t *testing.T, spec check.Spec) check.Result {
	t.Helper()
	return ProbeHTTP(context.Background(), spec, &Env{})
}

// TestHTTPAssertions: every assertion against a real loopback server, in
// the words a user reads; all must hold for PASS.
func TestHTTPAssertions(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("X-Version", "v2")
		_, _ = io.WriteString(w, `{"status": "ok", "queue": 12, "ready": true, "tags": ["eu", "us"],
			"workers": [{"up": true}, {"up": true}], "note": null, "build": "2026.11.3"}`)
	})
	mux.HandleFunc("GET /down", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("GET /empty", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<h1>Hello</h1>")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		name   string
		path   string
		edit   func(c *HTTPConfig)
		status check.Status
		sev    check.Severity
		reason check.Reason
		msg    string // the message, or its start when it ends with …
	}{
		{name: "default 2xx", path: "/ok", status: check.Pass, msg: "200 OK in …"},
		{name: "5xx against default", path: "/down", status: check.Fail, sev: check.Warn, reason: check.ReasonHTTPStatus,
			msg: "status 503 Service Unavailable, want 2xx"},
		{name: "listed code", path: "/empty", edit: func(c *HTTPConfig) { c.Status = []StatusRange{{200, 200}, {204, 204}} },
			status: check.Pass, msg: "204 No Content in …"},
		{name: "listed codes refuse", path: "/down", edit: func(c *HTTPConfig) { c.Status = []StatusRange{{200, 200}, {204, 204}} },
			status: check.Fail, sev: check.Warn, msg: "status 503 Service Unavailable, want 200 or 204"},
		{name: "5xx range wanted", path: "/down", edit: func(c *HTTPConfig) { c.Status = []StatusRange{{500, 599}} },
			status: check.Pass, msg: "503 Service Unavailable in …"},
		{name: "body_contains", path: "/html", edit: func(c *HTTPConfig) { c.BodyContains = "Hello" }, status: check.Pass},
		{name: "body_contains missing", path: "/html", edit: func(c *HTTPConfig) { c.BodyContains = "Goodbye" },
			status: check.Fail, sev: check.Warn, reason: check.ReasonAssertion, msg: `body does not contain "Goodbye"`},
		{name: "body_regex", path: "/html", edit: func(c *HTTPConfig) { c.BodyRegex = `<h1>\w+</h1>` }, status: check.Pass},
		{name: "body_regex no match", path: "/html", edit: func(c *HTTPConfig) { c.BodyRegex = `^\{` },
			status: check.Fail, msg: `body does not match /^\{/`},
		{name: "header with parameters", path: "/ok", edit: func(c *HTTPConfig) {
			c.Header = []HeaderAssertion{{"Content-Type", "application/json"}, {"x-version", "V2"}}
		}, status: check.Pass},
		{name: "header differs", path: "/html", edit: func(c *HTTPConfig) {
			c.Header = []HeaderAssertion{{"Content-Type", "application/json"}}
		}, status: check.Fail, reason: check.ReasonAssertion, msg: `header Content-Type is "text/html", want "application/json"`},
		{name: "header missing", path: "/html", edit: func(c *HTTPConfig) {
			c.Header = []HeaderAssertion{{"X-Version", "v2"}}
		}, status: check.Fail, msg: `header X-Version is missing, want "v2"`},
		{name: "json all operators hold", path: "/ok", edit: func(c *HTTPConfig) {
			c.JSON = []JSONAssertion{
				{"$.status", "equals", "ok"}, {"$.status", "not_equals", "degraded"},
				{"$.queue", "lt", "1000"}, {"$.queue", "lte", "12"}, {"$.queue", "gt", "0"}, {"$.queue", "gte", "12"},
				{"$.queue", "equals", "12"}, {"$.ready", "equals", "true"}, {"$.note", "equals", "null"},
				{"$.tags", "contains", "eu"}, {"$.build", "contains", "2026"},
				{"$.workers[*].up", "equals", "true"}, {"$.status", "exists", "true"}, {"$.missing", "exists", "false"},
			}
		}, status: check.Pass},
		{name: "json equals", path: "/ok", edit: func(c *HTTPConfig) { c.JSON = []JSONAssertion{{"$.status", "equals", "degraded"}} },
			status: check.Fail, reason: check.ReasonAssertion, msg: `$.status is "ok", want "degraded"`},
		{name: "json lt", path: "/ok", edit: func(c *HTTPConfig) { c.JSON = []JSONAssertion{{"$.queue", "lt", "10"}} },
			status: check.Fail, msg: `$.queue is 12, want < 10`},
		{name: "json gte", path: "/ok", edit: func(c *HTTPConfig) { c.JSON = []JSONAssertion{{"$.queue", "gte", "13"}} },
			status: check.Fail, msg: `$.queue is 12, want >= 13`},
		{name: "json number against text", path: "/ok", edit: func(c *HTTPConfig) { c.JSON = []JSONAssertion{{"$.status", "gt", "1"}} },
			status: check.Fail, msg: `$.status is "ok", want > 1`},
		{name: "json missing member", path: "/ok", edit: func(c *HTTPConfig) { c.JSON = []JSONAssertion{{"$.state", "equals", "ok"}} },
			status: check.Fail, msg: `$.state is missing (no member "state" at $), want "ok"`},
		{name: "json exists false", path: "/ok", edit: func(c *HTTPConfig) { c.JSON = []JSONAssertion{{"$.queue", "exists", "false"}} },
			status: check.Fail, msg: `$.queue is 12, want no value`},
		{name: "json contains", path: "/ok", edit: func(c *HTTPConfig) { c.JSON = []JSONAssertion{{"$.tags", "contains", "ap"}} },
			status: check.Fail, msg: `$.tags is an array, want it to contain "ap"`},
		{name: "json not JSON", path: "/html", edit: func(c *HTTPConfig) { c.JSON = []JSONAssertion{{"$.status", "equals", "ok"}} },
			status: check.Fail, msg: "body is not JSON: …"},
		{name: "every failure named, the first first, highest severity", path: "/down", edit: func(c *HTTPConfig) {
			c.BodyContains = "ok"
			c.Latency = Latency{Warn: time.Nanosecond}
		}, status: check.Fail, sev: check.Warn, reason: check.ReasonHTTPStatus,
			msg: `status 503 Service Unavailable, want 2xx; body does not contain "ok"; response took …`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runHTTP(t, httpSpec(srv.URL+tc.path, tc.edit))
			if r.Status != tc.status {
				t.Fatalf("status %s (%s), want %s", r.Status, r.Message, tc.status)
			}
			if tc.sev != "" && r.Severity != tc.sev {
				t.Errorf("severity %s, want %s", r.Severity, tc.sev)
			}
			if tc.reason != "" && r.Reason != tc.reason {
				t.Errorf("reason %s, want %s", r.Reason, tc.reason)
			}
			if want, prefix := strings.CutSuffix(tc.msg, "…"); prefix && !strings.HasPrefix(r.Message, want) ||
				!prefix && tc.msg != "" && r.Message != tc.msg {
				t.Errorf("message %q, want %q", r.Message, tc.msg)
			}
			if r.ObservedValue == nil || *r.ObservedValue <= 0 || r.ObservedUnit != "s" {
				t.Errorf("observed %v %q, want the response time in seconds", r.ObservedValue, r.ObservedUnit)
			}
		})
	}
}

// A JSON health API that flips between healthy and degraded: the check
// follows it, run after run.
func TestHTTPJSONFlips(t *testing.T) {
	t.Parallel()
	var degraded atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if degraded.Load() {
			fmt.Fprint(w, `{"status": "degraded", "queue": 4711}`)
			return
		}
		fmt.Fprint(w, `{"status": "ok", "queue": 3}`)
	}))
	t.Cleanup(srv.Close)
	spec := httpSpec(srv.URL, func(c *HTTPConfig) {
		c.JSON = []JSONAssertion{{"$.status", "equals", "ok"}, {"$.queue", "lt", "1000"}}
	})
	spec.Severity = check.Critical
	for i, want := range []struct {
		degraded bool
		status   check.Status
		sev      check.Severity
		msg      string
	}{
		{false, check.Pass, check.Info, ""},
		{true, check.Fail, check.Critical, `$.status is "degraded", want "ok"; $.queue is 4711, want < 1000`},
		{false, check.Pass, check.Info, ""},
	} {
		degraded.Store(want.degraded)
		r := runHTTP(t, spec)
		if r.Status != want.status || r.Severity != want.sev || want.msg != "" && r.Message != want.msg {
			t.Errorf("run %d: %s %s %q, want %s %s %q", i, r.Status, r.Severity, r.Message, want.status, want.sev, want.msg)
		}
	}
}

func TestHTTPRedirects(t *testing.T) {
	t.Parallel()
	// other is another host (localhost, not 127.0.0.1): it must not see
	// the configured headers.
	var otherSaw atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherSaw.Store(r.Header.Get("X-Api-Key") + "|" + r.Header.Get("Authorization"))
		fmt.Fprint(w, "elsewhere")
	}))
	t.Cleanup(other.Close)
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	var sameSaw atomic.Value
	mux := http.NewServeMux()
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/end", http.StatusFound) })
	mux.HandleFunc("/end", func(w http.ResponseWriter, r *http.Request) {
		sameSaw.Store(r.Header.Get("X-Api-Key"))
		fmt.Fprint(w, "arrived")
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, fmt.Sprintf("/loop?n=%d", len(r.URL.RawQuery)+1), http.StatusFound)
	})
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, otherURL+"/x?token=s3cr3t-in-location", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	key := []Header{{"X-Api-Key", "key-0123456789"}}

	r := runHTTP(t, httpSpec(srv.URL+"/start", func(c *HTTPConfig) { c.BodyContains = "arrived"; c.Headers = key }))
	if r.Status != check.Pass || sameSaw.Load() != "key-0123456789" {
		t.Errorf("followed: %s %q, header on the same host %v", r.Status, r.Message, sameSaw.Load())
	}
	r = runHTTP(t, httpSpec(srv.URL+"/start", func(c *HTTPConfig) { c.FollowRedirects = false }))
	if r.Status != check.Fail || r.Message != "status 302 Found, want 2xx (redirect to /end)" {
		t.Errorf("not followed: %s %q", r.Status, r.Message)
	}
	r = runHTTP(t, httpSpec(srv.URL+"/start", func(c *HTTPConfig) {
		c.FollowRedirects = false
		c.Status = []StatusRange{{302, 302}}
	}))
	if r.Status != check.Pass {
		t.Errorf("302 wanted, not followed: %s %q", r.Status, r.Message)
	}
	r = runHTTP(t, httpSpec(srv.URL+"/loop", nil))
	if r.Status != check.Fail || r.Reason != check.ReasonRedirects || r.Message != "more than 10 redirects" {
		t.Errorf("loop: %s %s %q", r.Status, r.Reason, r.Message)
	}
	r = runHTTP(t, httpSpec(srv.URL+"/away", func(c *HTTPConfig) { c.Headers = key; c.BearerToken = "tok-0123456789" }))
	if r.Status != check.Pass || otherSaw.Load() != "|" {
		t.Errorf("another host: %s %q; it saw %q, want no configured header nor token", r.Status, r.Message, otherSaw.Load())
	}
	// The same host name on another port is another service: basic and
	// bearer credentials stay behind too (net/http alone sends them on).
	var portSaw atomic.Value
	otherPort := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		portSaw.Store(r.Header.Get("X-Api-Key") + "|" + r.Header.Get("Authorization"))
		fmt.Fprint(w, "elsewhere")
	}))
	t.Cleanup(otherPort.Close)
	mux.HandleFunc("/port", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, otherPort.URL+"/x", http.StatusFound)
	})
	for _, edit := range []func(c *HTTPConfig){
		func(c *HTTPConfig) { c.Headers = key; c.BearerToken = "tok-0123456789" },
		func(c *HTTPConfig) { c.Username, c.Password = "monitor", "pa55-0123456789" },
	} {
		portSaw.Store("unset")
		r = runHTTP(t, httpSpec(srv.URL+"/port", edit))
		if r.Status != check.Pass || portSaw.Load() != "|" {
			t.Errorf("another port: %s %q; it saw %q, want no configured header nor credential", r.Status, r.Message, portSaw.Load())
		}
	}
	r = runHTTP(t, httpSpec(srv.URL+"/away", func(c *HTTPConfig) { c.FollowRedirects = false }))
	if strings.Contains(r.Message, "s3cr3t") || !strings.Contains(r.Message, "token=***") {
		t.Errorf("redirect message %q: want the Location's query values hidden", r.Message)
	}
}

// Basic and bearer credentials reach the server, and never a message.
func TestHTTPAuth(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		switch {
		case ok && user == "monitor" && pass == "pa55-w0rd-xyz":
		case r.Header.Get("Authorization") == "Bearer tok-abcdef123456":
		case r.Header.Get("X-Api-Key") == "key-abcdef123456":
		default:
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "welcome")
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name string
		edit func(c *HTTPConfig)
	}{
		{"basic", func(c *HTTPConfig) { c.Username, c.Password = "monitor", "pa55-w0rd-xyz" }},
		{"bearer", func(c *HTTPConfig) { c.BearerToken = "tok-abcdef123456" }},
		{"header", func(c *HTTPConfig) { c.Headers = []Header{{"X-Api-Key", "key-abcdef123456"}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runHTTP(t, httpSpec(srv.URL, func(c *HTTPConfig) { tc.edit(c); c.BodyContains = "welcome" }))
			if r.Status != check.Pass {
				t.Errorf("%s: %s %q, want PASS", tc.name, r.Status, r.Message)
			}
		})
	}
	// Wrong credentials, a closed port, a token in the URL: the message
	// says what happened and holds no secret.
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	for _, u := range []string{srv.URL + "/?api_key=q-secret-999", closedURL + "/?api_key=q-secret-999",
		strings.Replace(closedURL, "http://", "http://user:url-pass-999@", 1)} {
		r := runHTTP(t, httpSpec(u, func(c *HTTPConfig) {
			c.Headers = []Header{{"X-Api-Key", "wrong-key-999"}}
			c.BearerToken = "wrong-token-999"
		}))
		if r.Status != check.Fail {
			t.Errorf("%s: %s, want FAIL", u, r.Status)
		}
		for _, secret := range []string{"q-secret-999", "wrong-key-999", "wrong-token-999", "url-pass-999"} {
			if strings.Contains(r.Message, secret) {
				t.Errorf("message %q leaks %s", r.Message, secret)
			}
		}
		if u == srv.URL+"/?api_key=q-secret-999" && r.Message != "status 401 Unauthorized, want 2xx" {
			t.Errorf("message %q", r.Message)
		} else if u != srv.URL+"/?api_key=q-secret-999" && !strings.HasPrefix(r.Message, "connect: connection refused") {
			t.Errorf("message %q, want connect: connection refused", r.Message)
		}
	}
}

// mTLS: a server that requires a client certificate signed by its CA.
func TestHTTPClientCertificate(t *testing.T) {
	t.Parallel()
	ca := testenv.NewCA(t)
	serverCert := ca.Leaf(t, time.Now().Add(90*24*time.Hour))
	clientCert := ca.Leaf(t, time.Now().Add(90*24*time.Hour))
	var sawClient atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) > 0 {
			sawClient.Store(r.TLS.PeerCertificates[0].SerialNumber.String())
		}
		fmt.Fprint(w, "hello client")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert.TLS}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: ca.Pool}
	srv.Config.ErrorLog = quietLog()
	srv.StartTLS()
	t.Cleanup(srv.Close)

	r := runHTTP(t, httpSpec(srv.URL, func(c *HTTPConfig) {
		c.Files = TLSFiles{CAFile: ca.CertFile, CertFile: clientCert.CertFile, KeyFile: clientCert.KeyFile}
	}))
	if r.Status != check.Pass || sawClient.Load() != clientCert.TLS.Leaf.SerialNumber.String() {
		t.Errorf("with a client certificate: %s %q; server saw %v", r.Status, r.Message, sawClient.Load())
	}
	if !r.CertNotAfter.Equal(serverCert.TLS.Leaf.NotAfter) {
		t.Errorf("CertNotAfter %s, want the server leaf's %s", r.CertNotAfter, serverCert.TLS.Leaf.NotAfter)
	}
	r = runHTTP(t, httpSpec(srv.URL, func(c *HTTPConfig) { c.Files = TLSFiles{CAFile: ca.CertFile} }))
	if r.Status != check.Fail || r.Reason != check.ReasonTLS && r.Reason != check.ReasonConnect {
		t.Errorf("without a client certificate: %s %s %q, want FAIL", r.Status, r.Reason, r.Message)
	}
	// Without ca_file the private CA is unknown: FAIL CRITICAL, said so.
	r = runHTTP(t, httpSpec(srv.URL, nil))
	if r.Status != check.Fail || r.Severity != check.Critical || !strings.HasPrefix(r.Message, "certificate not trusted") {
		t.Errorf("private CA without ca_file: %s %s %q", r.Status, r.Severity, r.Message)
	}
}

// max_body: a 10 MB answer is cut at the cap, never read whole.
func TestHTTPBodyCap(t *testing.T) {
	var written atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := []byte(strings.Repeat("x", 64<<10))
		for range 160 { // 10 MiB
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
		fmt.Fprint(w, "THE END")
	}))
	t.Cleanup(srv.Close)
	spec := httpSpec(srv.URL, func(c *HTTPConfig) { c.MaxBody = 64 << 10; c.BodyContains = "THE END" })
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := runHTTP(t, spec)
	runtime.ReadMemStats(&after)
	if r.Status != check.Fail || r.Message != `body does not contain "THE END" (in its first 64 KiB: max_body)` {
		t.Errorf("%s %q", r.Status, r.Message)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
		t.Errorf("the probe allocated %d bytes for a 10 MiB body cut at 64 KiB", alloc)
	}
	srv.Close() // waits for the handler: the server gave up writing
	if w := written.Load(); w >= 10<<20 {
		t.Errorf("the server wrote all %d bytes: the body was read whole", w)
	}
}

// JSON cannot be judged on a body cut by max_body: said so.
func TestHTTPJSONBodyCut(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"status": "ok", "pad": %q}`, strings.Repeat("x", 4096))
	}))
	t.Cleanup(srv.Close)
	r := runHTTP(t, httpSpec(srv.URL, func(c *HTTPConfig) {
		c.MaxBody = 1024
		c.JSON = []JSONAssertion{{"$.status", "equals", "ok"}}
	}))
	if r.Status != check.Fail || r.Message != "body is larger than max_body 1 KiB: its JSON cannot be read" {
		t.Errorf("%s %q", r.Status, r.Message)
	}
}

// latency: slow but working is FAIL with the threshold's severity.
func TestHTTPLatency(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(60 * time.Millisecond)
		fmt.Fprint(w, "slow")
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		lat    Latency
		status check.Status
		sev    check.Severity
		prefix string
	}{
		{Latency{Warn: 5 * time.Second, Critical: 10 * time.Second}, check.Pass, check.Info, "200 OK in "},
		{Latency{Warn: 20 * time.Millisecond, Critical: 5 * time.Second}, check.Fail, check.Warn, "response took "},
		{Latency{Warn: 10 * time.Millisecond, Critical: 30 * time.Millisecond}, check.Fail, check.Critical, "response took "},
		{Latency{Critical: 30 * time.Millisecond}, check.Fail, check.Critical, "response took "},
	} {
		r := runHTTP(t, httpSpec(srv.URL, func(c *HTTPConfig) { c.Latency = tc.lat }))
		if r.Status != tc.status || r.Severity != tc.sev || !strings.HasPrefix(r.Message, tc.prefix) {
			t.Errorf("%+v: %s %s %q", tc.lat, r.Status, r.Severity, r.Message)
		}
		if r.Status == check.Fail && r.Reason != check.ReasonSlow {
			t.Errorf("%+v: reason %s", tc.lat, r.Reason)
		}
		if r.ObservedValue == nil || *r.ObservedValue < 0.06 {
			t.Errorf("observed %v, want at least the 60ms the server waits", r.ObservedValue)
		}
	}
	// The check's timeout ends the wait: FAIL, timed out.
	spec := httpSpec(srv.URL, nil)
	spec.Timeout = 20 * time.Millisecond
	if r := runHTTP(t, spec); r.Status != check.Fail || r.Reason != check.ReasonTimeout || r.Message != "timed out after 20ms" {
		t.Errorf("timeout: %s %s %q", r.Status, r.Reason, r.Message)
	}
}

// cert_expiry on an https check: the leaf's days left in the message.
func TestHTTPCertExpiry(t *testing.T) {
	t.Parallel()
	ca := testenv.NewCA(t)
	for _, tc := range []struct {
		days   int
		status check.Status
		sev    check.Severity
		msg    string
	}{
		{30, check.Pass, check.Info, "200 OK in …, certificate expires in 30 days"},
		{10, check.Fail, check.Warn, "certificate expires in 10 days (warn 21d)"},
		{3, check.Fail, check.Critical, "certificate expires in 3 days (critical 7d)"},
	} {
		t.Run(fmt.Sprint(tc.days), func(t *testing.T) {
			t.Parallel()
			leaf := ca.Leaf(t, time.Now().Add(time.Duration(tc.days)*24*time.Hour+time.Minute))
			srv := tlsServer(t, leaf)
			r := runHTTP(t, httpSpec(srv.URL, func(c *HTTPConfig) {
				c.Files.CAFile = ca.CertFile
				c.CertExpiry = Expiry{Warn: 21 * 24 * time.Hour, Critical: 7 * 24 * time.Hour}
			}))
			before, after, _ := strings.Cut(tc.msg, "…")
			if r.Status != tc.status || r.Severity != tc.sev || !strings.HasPrefix(r.Message, before) || !strings.HasSuffix(r.Message, after) {
				t.Errorf("%s %s %q, want %s %s %q", r.Status, r.Severity, r.Message, tc.status, tc.sev, tc.msg)
			}
			if !r.CertNotAfter.Equal(leaf.TLS.Leaf.NotAfter) {
				t.Errorf("CertNotAfter %s", r.CertNotAfter)
			}
		})
	}
}

func tlsServer(t *testing.T, cert testenv.Cert) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
	srv.Config.ErrorLog = quietLog()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// The SSRF guard is off for configured checks, on with server.guard_checks.
func TestHTTPGuardChecks(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "internal") }))
	t.Cleanup(srv.Close)
	spec := httpSpec(srv.URL, nil)
	if r := runHTTP(t, spec); r.Status != check.Pass {
		t.Errorf("unguarded: %s %q, want PASS (operators monitor internal services)", r.Status, r.Message)
	}
	spec.Guarded = true
	r := runHTTP(t, spec)
	if r.Status != check.Fail || r.Reason != check.ReasonBlocked || !strings.Contains(r.Message, "server.guard_checks") {
		t.Errorf("guarded: %s %s %q, want FAIL blocked", r.Status, r.Reason, r.Message)
	}
	ts := tlsKindSpec(strings.TrimPrefix(srv.URL, "http://"), TLSConfig{})
	ts.Guarded = true
	if r := ProbeTLS(context.Background(), ts, &Env{}); r.Status != check.Fail || r.Reason != check.ReasonBlocked {
		t.Errorf("guarded tls: %s %s %q, want FAIL blocked", r.Status, r.Reason, r.Message)
	}
}

// quietLog keeps the servers' handshake errors out of the test output.
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// BenchmarkProbeHTTP is one run of an http check with a JSON assertion
// against a loopback server: a new connection each run, as the probe
// makes (plain and with TLS).
func BenchmarkProbeHTTP(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status": "ok", "queue": 3}`)
	})
	ca := testenv.NewCA(b)
	leaf := ca.Leaf(b, time.Now().Add(30*24*time.Hour))
	plain := httptest.NewServer(handler)
	b.Cleanup(plain.Close)
	secure := httptest.NewUnstartedServer(handler)
	secure.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}
	secure.StartTLS()
	b.Cleanup(secure.Close)
	for _, tc := range []struct{ name, url string }{{"http", plain.URL}, {"https", secure.URL}} {
		b.Run(tc.name, func(b *testing.B) {
			spec := httpSpec(tc.url, func(c *HTTPConfig) {
				c.Files.CAFile = ca.CertFile
				c.JSON = []JSONAssertion{{"$.status", "equals", "ok"}, {"$.queue", "lt", "1000"}}
			})
			env := &Env{}
			b.ReportAllocs()
			for b.Loop() {
				if r := ProbeHTTP(context.Background(), spec, env); r.Status != check.Pass {
					b.Fatal(r.Message)
				}
			}
		})
	}
}

// An answer that breaks off or breaks the protocol after the connection
// was made is named as such, never as a connect failure.
func TestHTTPBrokenAnswers(t *testing.T) {
	t.Parallel()
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 200 {
			w.Header().Set(fmt.Sprintf("X-Filler-%d", i), strings.Repeat("h", 1000))
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(huge.Close)
	// raw serves each connection with answer once the request is read.
	raw := func(answer func(c *net.TCPConn)) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_, _ = c.Read(make([]byte, 4096))
				answer(c.(*net.TCPConn))
			}
		}()
		return "http://" + l.Addr().String() + "/"
	}
	closes := raw(func(c *net.TCPConn) { c.Close() })
	resets := raw(func(c *net.TCPConn) { _ = c.SetLinger(0); c.Close() })
	garbage := raw(func(c *net.TCPConn) { fmt.Fprint(c, "SSH-2.0-OpenSSH_9.6\r\n"); c.Close() })
	toFTP := raw(func(c *net.TCPConn) {
		fmt.Fprint(c, "HTTP/1.1 302 Found\r\nLocation: ftp://files.example/x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		c.Close()
	})
	for _, tc := range []struct{ url, want string }{
		{huge.URL, "response headers larger than 64 KiB"},
		{closes, "server closed the connection without an answer"},
		{resets, "no answer: read: connection reset by peer"},
		{toFTP, `redirect to an unsupported protocol scheme "ftp"`},
		{garbage, `bad answer: net/http: HTTP/1.x transport connection broken: malformed HTTP response "SSH-2.0-OpenSSH_9.6"`},
	} {
		r := runHTTP(t, httpSpec(tc.url, nil))
		if r.Status != check.Fail || r.Message != tc.want {
			t.Errorf("%s: %s %q, want FAIL %q", tc.url, r.Status, r.Message, tc.want)
		}
	}
}

// With server.guard_checks, a redirect from an allowed host to a loopback
// one is refused when dialling, like the first hop would be. 127.0.0.2
// (let through by AllowPrefixes) stands in for a public host.
func TestHTTPGuardChecksRedirect(t *testing.T) {
	t.Parallel()
	var reached atomic.Bool
	private := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		reached.Store(true)
		fmt.Fprint(w, "metadata")
	}))
	t.Cleanup(private.Close)
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 here: %v", err)
	}
	public := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, private.URL+"/latest/meta-data", http.StatusFound)
	})}}
	public.Start()
	t.Cleanup(public.Close)
	env := &Env{Links: NewLinkClients(Guard{AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})}
	spec := httpSpec(public.URL+"/go", nil)
	spec.Guarded = true
	r := ProbeHTTP(context.Background(), spec, env)
	// The message names the second hop's address: the first one passed.
	if r.Status != check.Fail || r.Reason != check.ReasonBlocked || reached.Load() ||
		!strings.Contains(r.Message, strings.TrimPrefix(private.URL, "http://")) {
		t.Errorf("guarded redirect to loopback: %s %s %q (private server reached: %v), want FAIL blocked",
			r.Status, r.Reason, r.Message, reached.Load())
	}
	spec.Guarded = false
	if r := ProbeHTTP(context.Background(), spec, env); r.Status != check.Pass || !reached.Load() {
		t.Errorf("unguarded: %s %q, want PASS through the redirect", r.Status, r.Message)
	}
}

// A server that echoes the request (httpbin's /anything, or a hostile one)
// does not get the check's credentials into its message: the values it
// sends back are shown with them hidden, before being cut, so not even a
// long token's first characters show.
func TestHTTPEchoedCredentialsHidden(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		body, _ := json.Marshal(map[string]string{"auth": r.Header.Get("Authorization"),
			"key": r.Header.Get("X-Api-Key"), "url": r.URL.String()})
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	long := "tok-" + strings.Repeat("0123456789", 10)
	assertions := func(c *HTTPConfig) {
		c.Headers = []Header{{"X-Api-Key", "key-echoed-4242"}}
		c.Header = []HeaderAssertion{{"X-Echo", "nope"}}
		c.JSON = []JSONAssertion{{"$.auth", "equals", "nope"}, {"$.key", "equals", "nope"}, {"$.url", "equals", "nope"}}
	}
	for _, tc := range []struct {
		name, url string
		edit      func(c *HTTPConfig)
		secrets   []string
	}{
		{"bearer", srv.URL + "/x?token=q-echoed-4242", func(c *HTTPConfig) { c.BearerToken = check.Secret(long) },
			[]string{long[:12], "key-echoed", "q-echoed"}},
		{"basic", srv.URL + "/x", func(c *HTTPConfig) { c.Username, c.Password = "monitor", "pw-echoed-4242" },
			[]string{"cHctZWNob2Vk", "bW9uaXRvcjpwdy1lY2hvZWQtNDI0Mg", "key-echoed"}},
	} {
		r := runHTTP(t, httpSpec(tc.url, func(c *HTTPConfig) { assertions(c); tc.edit(c) }))
		if r.Status != check.Fail || !strings.Contains(r.Message, `header X-Echo is "`) || !strings.Contains(r.Message, `$.key is "***"`) {
			t.Errorf("%s: %s %q, want FAIL naming each echoed value", tc.name, r.Status, r.Message)
		}
		for _, s := range tc.secrets {
			if strings.Contains(r.Message, s) {
				t.Errorf("%s: message %q shows %q", tc.name, r.Message, s)
			}
		}
	}
}
