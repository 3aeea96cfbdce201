package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/internal/testenv"
)

// httpTLSTargets starts what an http and a tls check look at: a JSON API
// that wants an API key (degraded while *degraded is true) and a TLS
// server whose certificate expires in 10 days. It returns the API's URL,
// the TLS address and the CA file that trusts it.
func httpTLSTargets(t *testing.T, degraded *atomic.Bool) (api, addr, caFile string) {
	t.Helper()
	apiSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "cli-key-0123456789" {
			http.Error(w, "no key", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if degraded.Load() {
			fmt.Fprint(w, `{"status": "degraded", "queue": 5000}`)
			return
		}
		fmt.Fprint(w, `{"status": "ok", "queue": 7}`)
	}))
	t.Cleanup(apiSrv.Close)
	ca := testenv.NewCA(t)
	leaf := ca.Leaf(t, time.Now().Add(10*24*time.Hour+time.Hour))
	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	return apiSrv.URL, strings.TrimPrefix(tlsSrv.URL, "https://"), ca.CertFile
}

const httpTLSConfig = `server:
  listen: "%s"
storage:
  dsn: sqlite://data/monitor.db
checks:
  - name: api
    kind: http
    url: %s/health
    headers: { X-Api-Key: "${API_KEY}" }
    interval: 1s
    timeout: 900ms
    severity: CRITICAL
    json:
      - { path: $.status, equals: ok }
      - { path: $.queue, lt: 1000 }
    header: { Content-Type: application/json }
    latency: { warn: 500ms, critical: 800ms }
  - name: api_cert
    kind: tls
    address: "%s"
    server_name: localhost
    ca_file: %s
    interval: 1s
    timeout: 900ms
    cert_expiry: { warn: 21d, critical: 7d }
`

// monitor check runs an http and a tls check once: the http check PASSes
// (its secret header reached the API), the tls check FAILs WARN with the
// days left, exit 1; --only api exits 0.
func TestCheckHTTPAndTLS(t *testing.T) {
	var degraded atomic.Bool
	api, addr, caFile := httpTLSTargets(t, &degraded)
	t.Setenv("API_KEY", "cli-key-0123456789")
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, path, fmt.Sprintf(httpTLSConfig, "127.0.0.1:0", api, addr, caFile))

	code, stdout, stderr := runMain(t, "check", "--config", path, "--format", "json")
	if code != 1 {
		t.Errorf("exit %d, want 1 (the certificate check FAILs); stderr %s", code, stderr)
	}
	var h healthBody
	if err := json.Unmarshal([]byte(stdout), &h); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	c := wantCheck(t, h, "api", "PASS", "INFO")
	if c.Kind != "http" || c.ObservedUnit != "s" || c.ObservedValue == nil || !strings.HasPrefix(c.Message, "200 OK in ") {
		t.Errorf("api: %+v", c)
	}
	c = wantCheck(t, h, "api_cert", "FAIL", "WARN")
	if c.Kind != "tls" || c.Message != "certificate expires in 10 days (warn 21d)" || c.ObservedUnit != "days" ||
		c.ObservedValue == nil || *c.ObservedValue < 10 || *c.ObservedValue > 10.1 {
		t.Errorf("api_cert: %+v", c)
	}
	if strings.Contains(stdout+stderr, "cli-key-0123456789") {
		t.Error("the API key appears in monitor check's output")
	}

	degraded.Store(true)
	code, stdout, _ = runMain(t, "check", "--config", path, "--only", "api")
	if code != 1 || !strings.Contains(stdout, `$.status is "degraded", want "ok"; $.queue is 5000, want < 1000`) {
		t.Errorf("degraded: exit %d\n%s", code, stdout)
	}
	degraded.Store(false)
	if code, stdout, _ = runMain(t, "check", "--config", path, "--only", "api"); code != 0 {
		t.Errorf("--only api: exit %d, want 0\n%s", code, stdout)
	}

	// server.guard_checks: true puts the SSRF guard on both: loopback is
	// refused.
	guarded := strings.Replace(fmt.Sprintf(httpTLSConfig, "127.0.0.1:0", api, addr, caFile),
		"server:\n", "server:\n  guard_checks: true\n", 1)
	writeFile(t, path, guarded)
	code, stdout, _ = runMain(t, "check", "--config", path, "--format", "json")
	h = healthBody{}
	if err := json.Unmarshal([]byte(stdout), &h); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	for _, name := range []string{"api", "api_cert"} {
		c := wantCheck(t, h, name, "FAIL", map[string]string{"api": "CRITICAL", "api_cert": "WARN"}[name])
		if !strings.Contains(c.Message, "loopback, private or reserved address; server.guard_checks is on") {
			t.Errorf("guarded %s: %q", name, c.Message)
		}
	}
	if code != 1 {
		t.Errorf("guarded: exit %d, want 1", code)
	}
}

// monitor validate names a bad assertion at its position.
func TestValidateHTTPAssertion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, path, `checks:
  - name: api
    kind: http
    url: http://127.0.0.1:9/health
    body_regex: "(unclosed"
    json:
      - { path: $.status, equal: ok }
      - { path: "$..status", equals: ok }
    status: [2xx, 700]
`)
	code, _, stderr := runMain(t, "validate", "--config", path)
	want := []string{
		path + `:5:17: invalid body_regex in check "api": missing closing ): ` + "`(unclosed`",
		path + `:7:9: missing operator in json #1 of check "api" (want one of equals, not_equals, lt, lte, gt, gte, contains, exists)`,
		path + `:7:27: unknown key "equal" in json #1 of check "api" (did you mean "equals"?)`,
		path + `:8:17: invalid path "$..status" in json #2 of check "api" (recursive descent (..) is not supported)`,
		path + `:9:19: invalid status "700" in check "api" (want a code like 200 or a range like 2xx)`,
	}
	if code != 2 || stderr != strings.Join(want, "\n")+"\n" {
		t.Errorf("exit %d\n%s\nwant\n%s", code, stderr, strings.Join(want, "\n"))
	}
}

// The daemon runs http and tls checks like any other: the health API
// follows the JSON API as it degrades, and /metrics exports the
// certificate's expiry.
func TestE2EHTTPAndTLS(t *testing.T) {
	t.Parallel()
	var degraded atomic.Bool
	api, addr, caFile := httpTLSTargets(t, &degraded)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	p := startMonitor(t, dir, func(listen string) (string, string) {
		return cfgPath, fmt.Sprintf(httpTLSConfig, listen, api, addr, caFile)
	}, []string{"--config", cfgPath}, "API_KEY=cli-key-0123456789")

	h := p.waitHealth(20*time.Second, "both checks run", allRan("api", "api_cert"))
	wantCheck(t, h, "api", "PASS", "INFO")
	wantCheck(t, h, "api_cert", "FAIL", "WARN")

	degraded.Store(true)
	h = p.waitHealth(20*time.Second, "api degraded", func(h healthBody) bool {
		c, _ := h.find("api")
		return c.Status == "FAIL"
	})
	c := wantCheck(t, h, "api", "FAIL", "CRITICAL")
	if !strings.HasPrefix(c.Message, `$.status is "degraded", want "ok"`) {
		t.Errorf("api message %q", c.Message)
	}

	_, body := p.do(http.MethodGet, "/metrics", nil, "")
	ms := parseMetrics(t, string(body))
	notAfter := ms.get(t, "monitor_tls_cert_expiry_timestamp_seconds", "check", "api_cert")
	if left := time.Until(time.Unix(int64(notAfter), 0)); left < 10*24*time.Hour || left > 10*24*time.Hour+2*time.Hour {
		t.Errorf("monitor_tls_cert_expiry_timestamp_seconds = %v: %s from now, want 10 days and an hour", notAfter, left)
	}
	if ms.any("monitor_tls_cert_expiry_timestamp_seconds", "check", "api") {
		t.Error("a plain-http check exports a certificate expiry")
	}
	if strings.Contains(string(body)+p.stderr.String(), "cli-key-0123456789") {
		t.Error("the API key appears in /metrics or the daemon's log")
	}
}
