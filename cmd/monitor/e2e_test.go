package main

// End-to-end tests: the real binary, started as a subprocess on a temporary
// config and talked to over real HTTP and real signals.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/internal/testenv"
)

// e2eVersion is linked into the binary under test, to prove -X main.version
// reaches `monitor version` and monitor_build_info.
const e2eVersion = "e2e-test"

var (
	binDir   string // holds the built binary; removed by TestMain
	buildBin = sync.OnceValues(buildMonitor)
)

func TestMain(m *testing.M) {
	code := testenv.Run(m)
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildMonitor builds ./cmd/monitor once per test binary, with the race
// detector when the tests themselves run under it (so a data race in the
// daemon fails the end-to-end test too).
func buildMonitor() (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command is not on PATH: %w", err)
	}
	dir, err := os.MkdirTemp("", "monitor-e2e-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "monitor")
	args := []string{"build", "-o", bin, "-ldflags", "-X main.version=" + e2eVersion}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/monitor")
	cmd := exec.Command(goBin, args...)
	cmd.Dir = filepath.Join("..", "..") // the module root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

func monitorBinary(t *testing.T) string {
	t.Helper()
	bin, err := buildBin()
	if err != nil {
		t.Fatalf("building the monitor binary: %v", err)
	}
	return bin
}

// freeAddr returns a loopback host:port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// proc is one running `monitor run`.
type proc struct {
	t      *testing.T
	dir    string // working directory
	base   string // http://host:port
	cmd    *exec.Cmd
	stderr *testenv.SyncBuffer
	stdout *testenv.SyncBuffer
	exit   *exitState
}

// exitState is shared by the copies of a proc that subtests make.
type exitState struct {
	done chan struct{} // closed when the process has exited
	err  error         // Wait's error, once done is closed
}

// with returns a copy of p that reports to t (for subtests).
func (p *proc) with(t *testing.T) *proc {
	c := *p
	c.t = t
	return &c
}

// daemonEnv is the environment of the subprocess: the test's, minus
// anything that would change what the shipped config means. A race-enabled
// binary would sleep 1s at exit by default; that is turned off.
func daemonEnv(extra ...string) []string {
	var env []string
	gorace := "atexit_sleep_ms=0"
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "MONITOR_") || k == "APP_DATABASE_URL" || k == "REDIS_PASSWORD":
			continue
		case k == "GORACE":
			gorace = v + " " + gorace
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "GORACE="+gorace)
	return append(env, extra...)
}

// startMonitor runs `monitor run args...` in dir and waits for /readyz.
// configFor returns the config text for a listen address (it is called again
// with a new address if the port was taken in the meantime); nil means the
// config is already in place and the address comes from MONITOR_LISTEN.
func startMonitor(t *testing.T, dir string, configFor func(listen string) (path, text string), args []string, env ...string) *proc {
	t.Helper()
	return startMonitorPolling(t, 25*time.Millisecond, dir, configFor, args, env...)
}

// startMonitorPolling is startMonitor polling /readyz every poll.
func startMonitorPolling(t *testing.T, poll time.Duration, dir string, configFor func(listen string) (path, text string), args []string, env ...string) *proc {
	t.Helper()
	bin := monitorBinary(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr := freeAddr(t)
		if configFor != nil {
			path, text := configFor(addr)
			writeFile(t, path, text)
		}
		p := &proc{t: t, dir: dir, base: "http://" + addr, stderr: &testenv.SyncBuffer{}, stdout: &testenv.SyncBuffer{},
			exit: &exitState{done: make(chan struct{})}}
		p.cmd = exec.Command(bin, append([]string{"run"}, args...)...)
		p.cmd.Dir = dir
		p.cmd.Env = daemonEnv(append([]string{"MONITOR_LISTEN=" + addr}, env...)...)
		p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("start monitor: %v", err)
		}
		go func() {
			p.exit.err = p.cmd.Wait()
			close(p.exit.done)
		}()
		t.Cleanup(p.kill)
		lastErr = p.waitReady(20*time.Second, poll)
		if lastErr == nil {
			return p
		}
		if p.exited() && strings.Contains(p.stderr.String(), "address already in use") {
			continue // the free port was taken between our probe and the daemon's listen
		}
		break
	}
	t.Fatalf("monitor did not become ready: %v", lastErr)
	return nil
}

func (p *proc) exited() bool {
	select {
	case <-p.exit.done:
		return true
	default:
		return false
	}
}

func (p *proc) waitReady(timeout, poll time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("monitor exited early (%v); stderr:\n%s", p.exit.err, p.stderr.String())
		}
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(poll)
	}
	return fmt.Errorf("no 200 from /readyz within %s; stderr:\n%s", timeout, p.stderr.String())
}

// kill ends the process if the test did not stop it, and shows its log when
// the test failed.
func (p *proc) kill() {
	if !p.exited() {
		_ = p.cmd.Process.Kill()
		<-p.exit.done
	}
	if p.t.Failed() {
		p.t.Logf("monitor stderr:\n%s", p.stderr.String())
	}
	if strings.Contains(p.stderr.String(), "WARNING: DATA RACE") {
		p.t.Errorf("the race detector reported a data race in the daemon:\n%s", p.stderr.String())
	}
}

// signal sends sig to the daemon.
func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// stop sends SIGTERM and asserts a clean exit: code 0 within a few seconds
// and "monitor stopped" in the log.
func (p *proc) stop() {
	p.t.Helper()
	p.signal(syscall.SIGTERM)
	select {
	case <-p.exit.done:
	case <-time.After(10 * time.Second):
		p.t.Fatalf("monitor still running 10s after SIGTERM; stderr:\n%s", p.stderr.String())
	}
	if p.exit.err != nil {
		p.t.Errorf("monitor exited with %v after SIGTERM, want exit code 0", p.exit.err)
	}
	if log := p.stderr.String(); !strings.Contains(log, "monitor stopped") {
		p.t.Errorf("no \"monitor stopped\" in the log after SIGTERM:\n%s", log)
	}
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// do makes one request and returns the response with its body read.
func (p *proc) do(method, path string, header http.Header, body string) (*http.Response, []byte) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		p.t.Errorf("%s %s: no X-Request-Id header", method, path)
	}
	return resp, b
}

// health fetches and decodes GET /v2/system/health.
func (p *proc) health() (healthBody, int, []byte) {
	p.t.Helper()
	resp, b := p.do(http.MethodGet, "/v2/system/health", nil, "")
	var h healthBody
	if err := json.Unmarshal(b, &h); err != nil {
		p.t.Fatalf("health body is not JSON: %v\n%s", err, b)
	}
	return h, resp.StatusCode, b
}

// waitHealth polls the health endpoint until cond holds, for up to timeout.
func (p *proc) waitHealth(timeout time.Duration, what string, cond func(h healthBody) bool) healthBody {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	var last healthBody
	for {
		if p.exited() {
			p.t.Fatalf("monitor exited (%v) while waiting for %s; stderr:\n%s", p.exit.err, what, p.stderr.String())
		}
		last, _, _ = p.health()
		if cond(last) {
			return last
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("after %s still not %s; health: %v", timeout, what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// allRan reports whether every named check has a result (checkedAt set).
func allRan(names ...string) func(h healthBody) bool {
	return func(h healthBody) bool {
		for _, n := range names {
			c, ok := h.find(n)
			if !ok || c.CheckedAt == "" {
				return false
			}
		}
		return true
	}
}

// waitLog polls the daemon's stderr until it contains s.
func (p *proc) waitLog(timeout time.Duration, s string) string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		log := p.stderr.String()
		if strings.Contains(log, s) {
			return log
		}
		if p.exited() {
			p.t.Fatalf("monitor exited (%v) before logging %q:\n%s", p.exit.err, s, log)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("after %s the log still has no %q:\n%s", timeout, s, log)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// healthConfig has, out of name order: a freshness check 61m behind with
// critical_age 60m, a freshness check 20m behind with max_age 15m, and a db
// check on the same SQLite file.
const healthConfig = `server:
  listen: "%s"
databases:
  app: { dsn: "sqlite://app.db" }
checks:
  - name: rollup_freshness
    kind: freshness
    source: { database: app, query: "SELECT max(at) FROM rollups" }
    interval: 2s
    timeout: 1s
    max_age: 15m
    critical_age: 60m
  - name: events_freshness
    kind: freshness
    source: { database: app, query: "SELECT max(at) FROM events" }
    interval: 1s
    timeout: 500ms
    max_age: 15m
    critical_age: 60m
    severity: WARN
    depends_on: [app_db]
  - name: app_db
    kind: db
    database: app
    query: SELECT count(*) FROM events
    interval: 1s
    timeout: 500ms
    severity: CRITICAL
`

func TestE2EHealthAndMetrics(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seedSQLite(t, filepath.Join(dir, "app.db"), map[string]time.Duration{
		"events":  20 * time.Minute,
		"rollups": 61 * time.Minute,
	})
	cfg := filepath.Join(dir, "config.yaml")
	p := startMonitor(t, dir, func(listen string) (string, string) {
		return cfg, fmt.Sprintf(healthConfig, listen)
	}, []string{"--config", cfg})
	names := []string{"app_db", "events_freshness", "rollup_freshness"}
	p.waitHealth(10*time.Second, "every check run", allRan(names...))

	t.Run("health", func(t *testing.T) {
		p := p.with(t)
		h, code, raw := p.health()
		if code != http.StatusServiceUnavailable {
			t.Errorf("GET /v2/system/health = %d, want 503 (a check is FAIL/CRITICAL)", code)
		}
		if h.Status != "FAIL" || h.Severity != "CRITICAL" {
			t.Errorf("overall = %s/%s, want FAIL/CRITICAL", h.Status, h.Severity)
		}
		gen, err := time.Parse(time.RFC3339, h.GeneratedAt)
		if err != nil || time.Since(gen).Abs() > time.Minute {
			t.Errorf("generatedAt = %q (%v), want RFC 3339 near now", h.GeneratedAt, err)
		}
		if got := h.names(); !slices.Equal(got, names) {
			t.Errorf("checks = %v, want sorted by name %v", got, names)
		}

		// Exactly the contract's keys, on the top level and on every check.
		var generic struct {
			Checks []map[string]json.RawMessage `json:"checks"`
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(raw, &top); err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(maps.Keys(top)); !slices.Equal(got, []string{"checks", "generatedAt", "severity", "status"}) {
			t.Errorf("top-level keys = %v", got)
		}
		if err := json.Unmarshal(raw, &generic); err != nil {
			t.Fatal(err)
		}
		wantKeys := []string{"checkedAt", "durationMs", "kind", "message", "name", "observedUnit", "observedValue", "severity", "status"}
		for i, c := range generic.Checks {
			if got := slices.Sorted(maps.Keys(c)); !slices.Equal(got, wantKeys) {
				t.Errorf("check #%d keys = %v, want %v", i, got, wantKeys)
			}
		}
		for _, c := range h.Checks {
			at, err := time.Parse(time.RFC3339, c.CheckedAt)
			if err != nil || time.Since(at) > 30*time.Second || !strings.HasSuffix(c.CheckedAt, "Z") {
				t.Errorf("%s: checkedAt = %q (%v), want a recent RFC 3339 UTC time", c.Name, c.CheckedAt, err)
			}
			if c.DurationMs == nil || *c.DurationMs < 0 || *c.DurationMs > 1000 {
				t.Errorf("%s: durationMs = %v", c.Name, c.DurationMs)
			}
			if c.ObservedUnit != "s" || c.ObservedValue == nil {
				t.Errorf("%s: observed = %v %q, want a value in s", c.Name, c.ObservedValue, c.ObservedUnit)
			}
		}

		db := wantCheck(t, h, "app_db", "PASS", "INFO")
		if db.Kind != "db" || db.Message != "ok" || db.ObservedValue == nil || *db.ObservedValue <= 0 || *db.ObservedValue > 1 {
			t.Errorf("app_db = %+v, want kind db, message ok, a round trip in seconds", db)
		}
		ev := wantCheck(t, h, "events_freshness", "FAIL", "WARN")
		if ev.Kind != "freshness" || !regexp.MustCompile(`^newest row is 20m(\d+s)? old \(max 15m\)$`).MatchString(ev.Message) {
			t.Errorf("events_freshness = %q (kind %s), want \"newest row is 20m… old (max 15m)\"", ev.Message, ev.Kind)
		}
		if ev.ObservedValue == nil || *ev.ObservedValue < 1200 || *ev.ObservedValue > 1260 {
			t.Errorf("events_freshness observedValue = %v, want the age ≈ 1200 s", ev.ObservedValue)
		}
		ro := wantCheck(t, h, "rollup_freshness", "FAIL", "CRITICAL")
		if !regexp.MustCompile(`^newest row is 1h1m(\d+s)? old \(critical 1h\)$`).MatchString(ro.Message) {
			t.Errorf("rollup_freshness message = %q, want \"newest row is 1h1m… old (critical 1h)\"", ro.Message)
		}
	})

	t.Run("content type, HEAD, errors", func(t *testing.T) {
		p := p.with(t)
		resp, _ := p.do(http.MethodGet, "/v2/system/health", nil, "")
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
		resp, body := p.do(http.MethodPost, "/v2/system/health", nil, "{}")
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST /v2/system/health = %d, want 405", resp.StatusCode)
		}
		wantEnvelope(t, resp, body, "method_not_allowed")
		resp, body = p.do(http.MethodGet, "/v2/no-such-endpoint", nil, "")
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /v2/no-such-endpoint = %d, want 404", resp.StatusCode)
		}
		wantEnvelope(t, resp, body, "not_found")
		for _, accept := range []string{"", "application/health+json"} {
			resp, body := p.do(http.MethodHead, "/v2/system/health", http.Header{"Accept": {accept}}, "")
			if resp.StatusCode != http.StatusServiceUnavailable || len(body) != 0 {
				t.Errorf("HEAD (Accept %q) = %d with %d body bytes, want 503 and no body", accept, resp.StatusCode, len(body))
			}
		}
	})

	t.Run("IETF health+json", func(t *testing.T) {
		p := p.with(t)
		resp, body := p.do(http.MethodGet, "/v2/system/health", http.Header{"Accept": {"application/health+json"}}, "")
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("status = %d, want 503", resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/health+json") {
			t.Errorf("Content-Type = %q, want application/health+json", ct)
		}
		var ietf struct {
			Status string `json:"status"`
			Checks map[string][]struct {
				ComponentType string   `json:"componentType"`
				ObservedValue *float64 `json:"observedValue"`
				ObservedUnit  string   `json:"observedUnit"`
				Status        string   `json:"status"`
				Time          string   `json:"time"`
				Output        string   `json:"output"`
			} `json:"checks"`
		}
		if err := json.Unmarshal(body, &ietf); err != nil {
			t.Fatalf("IETF body: %v\n%s", err, body)
		}
		if ietf.Status != "fail" {
			t.Errorf("status = %q, want fail", ietf.Status)
		}
		want := map[string]struct{ typ, status string }{
			"app_db":           {"datastore", "pass"},
			"events_freshness": {"component", "warn"}, // FAIL at WARN: the draft's fail means 4xx/5xx
			"rollup_freshness": {"component", "fail"},
		}
		if len(ietf.Checks) != len(want) {
			t.Errorf("checks = %v, want %d entries", ietf.Checks, len(want))
		}
		for name, w := range want {
			cs := ietf.Checks[name]
			if len(cs) != 1 {
				t.Errorf("checks[%s] = %v, want one entry", name, cs)
				continue
			}
			c := cs[0]
			if c.ComponentType != w.typ || c.Status != w.status || c.ObservedUnit != "s" || c.ObservedValue == nil {
				t.Errorf("checks[%s] = %+v, want componentType %s, status %s, observed value in s", name, c, w.typ, w.status)
			}
			if _, err := time.Parse(time.RFC3339, c.Time); err != nil {
				t.Errorf("checks[%s].time = %q: %v", name, c.Time, err)
			}
			if w.status != "pass" && !strings.Contains(c.Output, "old") {
				t.Errorf("checks[%s].output = %q, want the failure's message", name, c.Output)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		p := p.with(t)
		h, _, _ := p.health()
		resp, body := p.do(http.MethodGet, "/metrics", nil, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /metrics = %d", resp.StatusCode)
		}
		ms := parseMetrics(t, string(body))

		for _, c := range h.Checks {
			for _, st := range []string{"PASS", "FAIL", "UNKNOWN"} {
				want := 0.0
				if st == c.Status {
					want = 1
				}
				ms.want(t, "monitor_check_status", want, "check", c.Name, "status", st)
				ms.has(t, "monitor_check_runs_total", "check", c.Name, "status", st)
			}
			for _, sev := range []string{"INFO", "WARN", "CRITICAL"} {
				want := 0.0
				if sev == c.Severity {
					want = 1
				}
				ms.want(t, "monitor_check_severity", want, "check", c.Name, "severity", sev)
			}
			if v := ms.get(t, "monitor_check_runs_total", "check", c.Name, "status", c.Status); v < 1 {
				t.Errorf("monitor_check_runs_total{check=%s,status=%s} = %v, want ≥ 1", c.Name, c.Status, v)
			}
			if v := ms.get(t, "monitor_check_duration_seconds_count", "check", c.Name); v < 1 {
				t.Errorf("monitor_check_duration_seconds_count{check=%s} = %v, want ≥ 1", c.Name, v)
			}
			ms.has(t, "monitor_check_duration_seconds_bucket", "check", c.Name, "le", "+Inf")
			ms.has(t, "monitor_check_duration_seconds_sum", "check", c.Name)
			if v := ms.get(t, "monitor_check_last_run_timestamp_seconds", "check", c.Name); math.Abs(float64(time.Now().Unix())-v) > 30 {
				t.Errorf("monitor_check_last_run_timestamp_seconds{check=%s} = %v, want about now", c.Name, v)
			}
		}
		for name, age := range map[string]float64{"events_freshness": 1200, "rollup_freshness": 3660} {
			if v := ms.get(t, "monitor_freshness_age_seconds", "check", name); v < age || v > age+60 {
				t.Errorf("monitor_freshness_age_seconds{check=%s} = %v, want ≈ %v", name, v, age)
			}
			newest := ms.get(t, "monitor_freshness_newest_timestamp_seconds", "check", name)
			if d := float64(time.Now().Unix()) - age - newest; math.Abs(d) > 60 {
				t.Errorf("monitor_freshness_newest_timestamp_seconds{check=%s} = %v, %v s off now-%v", name, newest, d, age)
			}
		}
		if ms.any("monitor_freshness_age_seconds", "check", "app_db") {
			t.Errorf("monitor_freshness_age_seconds for a db check")
		}
		ms.want(t, "monitor_build_info", 1, "version", e2eVersion, "goversion", runtime.Version())

		t.Run("promtool check metrics", func(t *testing.T) {
			promtool := needTool(t, "promtool", "prometheus")
			cmd := exec.Command(promtool, "check", "metrics")
			cmd.Stdin = bytes.NewReader(body)
			out, err := cmd.CombinedOutput()
			if err != nil || len(out) != 0 {
				t.Errorf("promtool check metrics: %v\n%s", err, out)
			}
		})
	})

	t.Run("SIGTERM", func(t *testing.T) {
		p := p.with(t)
		start := time.Now()
		p.stop()
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("SIGTERM took %s to exit, want a few seconds at most", d)
		}
		if !strings.Contains(p.stderr.String(), "signal=terminated") {
			t.Errorf("the log does not name the signal:\n%s", p.stderr.String())
		}
	})
}

// TestE2EShippedDemo runs the README's first command: `monitor run` in a
// directory holding only the shipped config.yaml, no environment.
func TestE2EShippedDemo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyFile(t, filepath.Join("..", "..", "config.yaml"), filepath.Join(dir, "config.yaml"))
	p := startMonitor(t, dir, nil, nil)
	names := []string{"demo_pipeline_heartbeat", "redirect_analytics_freshness", "targeting_profile_freshness",
		"targeting_rollup_freshness", "usage_meters_connectivity"}
	h := p.waitHealth(15*time.Second, "the five demo checks run", allRan(names...))
	if got := h.names(); !slices.Equal(got, names) {
		t.Fatalf("checks = %v, want %v", got, names)
	}
	wantCheck(t, h, "usage_meters_connectivity", "PASS", "INFO")
	wantCheck(t, h, "redirect_analytics_freshness", "PASS", "INFO")
	wantCheck(t, h, "targeting_profile_freshness", "PASS", "INFO")
	wantCheck(t, h, "demo_pipeline_heartbeat", "PASS", "INFO") // the demo pushes it
	rollup := wantCheck(t, h, "targeting_rollup_freshness", "FAIL", "WARN")
	if !regexp.MustCompile(`^newest row is 20m(\d+s)? old \(max 15m\)$`).MatchString(rollup.Message) {
		t.Errorf("targeting_rollup_freshness message = %q, want the demo's 20-minute lag", rollup.Message)
	}
	if h.Status != "FAIL" || h.Severity != "WARN" {
		t.Errorf("overall = %s/%s, want FAIL/WARN", h.Status, h.Severity)
	}
	if _, code, _ := p.health(); code != http.StatusOK {
		t.Errorf("health code = %d, want 200 (no FAIL is CRITICAL)", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "app.db")); err != nil {
		t.Errorf("the demo database is not in the working directory: %v", err)
	}
	p.stop()
}

const heartbeatConfig = `server:
  listen: "%s"
  tokens: ["%s"]
checks:
  - name: nightly_export
    kind: freshness
    source: { heartbeat: true }
    interval: 1s
    timeout: 500ms
    max_age: 1m
`

func TestE2EHeartbeat(t *testing.T) {
	t.Parallel()
	const token = "e2e-token-4f9a1c7d2b"
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	p := startMonitor(t, dir, func(listen string) (string, string) {
		return cfg, fmt.Sprintf(heartbeatConfig, listen, token)
	}, []string{"--config", cfg})

	h := p.waitHealth(5*time.Second, "nightly_export run", allRan("nightly_export"))
	c := wantCheck(t, h, "nightly_export", "UNKNOWN", "WARN")
	if !strings.HasPrefix(c.Message, "no heartbeat") {
		t.Errorf("before any heartbeat: message = %q, want \"no heartbeat…\"", c.Message)
	}
	if _, code, _ := p.health(); code != http.StatusOK {
		t.Errorf("health = %d, want 200 (UNKNOWN does not make it 503)", code)
	}

	const path = "/v2/heartbeats/nightly_export"
	// No token, a wrong token: 401 with the contract's envelope.
	for _, tc := range []struct {
		auth, code string
	}{{"", "missing_bearer_token"}, {"Basic Zm9vOmJhcg==", "missing_bearer_token"}, {"Bearer wrong-token", "invalid_token"}} {
		hdr := http.Header{}
		if tc.auth != "" {
			hdr.Set("Authorization", tc.auth)
		}
		resp, body := p.do(http.MethodPost, path, hdr, "")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST %s (Authorization %q) = %d, want 401", path, tc.auth, resp.StatusCode)
		}
		wantEnvelope(t, resp, body, tc.code)
		if resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
	}
	if _, code, _ := p.health(); code != http.StatusOK {
		t.Errorf("unauthorised POSTs changed something")
	}
	if h, _, _ := p.health(); wantCheck(t, h, "nightly_export", "UNKNOWN", "WARN").Status != "UNKNOWN" {
		t.Errorf("refused heartbeats changed nightly_export")
	}

	// Not a heartbeat check; not a POST.
	auth := http.Header{"Authorization": {"Bearer " + token}}
	resp, body := p.do(http.MethodPost, "/v2/heartbeats/nope", auth, "")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /v2/heartbeats/nope = %d, want 404", resp.StatusCode)
	}
	wantEnvelope(t, resp, body, "not_found")
	resp, body = p.do(http.MethodGet, path, auth, "")
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET %s = %d, want 405", path, resp.StatusCode)
	}
	wantEnvelope(t, resp, body, "method_not_allowed")

	resp, body = p.do(http.MethodPost, path, auth, "")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST %s with the token = %d, want 202: %s", path, resp.StatusCode, body)
	}
	h = p.waitHealth(5*time.Second, "nightly_export PASS", func(h healthBody) bool {
		c, _ := h.find("nightly_export")
		return c.Status == "PASS"
	})
	c = wantCheck(t, h, "nightly_export", "PASS", "INFO")
	if !regexp.MustCompile(`^last heartbeat is \d+s old \(max 1m\)$`).MatchString(c.Message) {
		t.Errorf("after the heartbeat: message = %q", c.Message)
	}
	p.stop()
	if strings.Contains(p.stderr.String(), token) {
		t.Errorf("the API token appears in the log:\n%s", p.stderr.String())
	}
}

// wantEnvelope asserts the contract's error envelope.
func wantEnvelope(t *testing.T, resp *http.Response, body []byte, code string) {
	t.Helper()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		t.Errorf("error body is not JSON: %v\n%s", err, body)
		return
	}
	if got := slices.Sorted(maps.Keys(env)); !slices.Equal(got, []string{"details", "error", "error_description", "request_id", "timestamp"}) {
		t.Errorf("envelope keys = %v\n%s", got, body)
	}
	var e struct {
		Error       string         `json:"error"`
		Description string         `json:"error_description"`
		RequestID   string         `json:"request_id"`
		Timestamp   string         `json:"timestamp"`
		Details     map[string]any `json:"details"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Errorf("envelope: %v", err)
		return
	}
	if e.Error != code {
		t.Errorf("error = %q, want %q", e.Error, code)
	}
	if e.Description == "" || e.Details == nil {
		t.Errorf("envelope %s lacks a description or details", body)
	}
	if e.RequestID == "" || e.RequestID != resp.Header.Get("X-Request-Id") {
		t.Errorf("request_id %q, X-Request-Id %q: want the same, non-empty", e.RequestID, resp.Header.Get("X-Request-Id"))
	}
	if _, err := time.Parse(time.RFC3339, e.Timestamp); err != nil {
		t.Errorf("timestamp %q: %v", e.Timestamp, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type = %q", ct)
	}
}

// The reload configs. reloadInvalid is reloadV2 with a misspelt key on
// line 14, column 5.
const (
	reloadV1 = `server:
  listen: "%s"
databases:
  app: { dsn: "sqlite://app.db" }
defaults: { interval: 1s, timeout: 500ms }
checks:
  - name: first_db
    kind: db
    database: app
    query: SELECT 1
`
	reloadV2 = reloadV1 + `  - name: second_db
    kind: db
    database: app
`
	reloadInvalid = reloadV1 + `  - name: second_db
    kind: db
    database: app
    intervl: 5s
`
)

func TestE2EReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	var listen string
	p := startMonitor(t, dir, func(l string) (string, string) {
		listen = l
		return cfg, fmt.Sprintf(reloadV1, l)
	}, []string{"--config", cfg})
	h := p.waitHealth(5*time.Second, "first_db run", allRan("first_db"))
	if got := h.names(); !slices.Equal(got, []string{"first_db"}) {
		t.Fatalf("checks before reload = %v", got)
	}

	// A valid new config: the added check appears and runs.
	writeFile(t, cfg, fmt.Sprintf(reloadV2, listen))
	p.signal(syscall.SIGHUP)
	h = p.waitHealth(5*time.Second, "second_db added and run", allRan("first_db", "second_db"))
	wantCheck(t, h, "first_db", "PASS", "INFO")
	wantCheck(t, h, "second_db", "PASS", "INFO")
	p.waitLog(time.Second, "config reloaded")
	_, body := p.do(http.MethodGet, "/metrics", nil, "")
	parseMetrics(t, string(body)).want(t, "monitor_check_status", 1, "check", "second_db", "status", "PASS")

	// An invalid one: logged with file:line:col, and the old config keeps running.
	writeFile(t, cfg, fmt.Sprintf(reloadInvalid, listen))
	p.signal(syscall.SIGHUP)
	problem := cfg + `:14:5: unknown key \"intervl\" in check \"second_db\" (did you mean \"interval\"?)`
	log := p.waitLog(5*time.Second, problem)
	var line string
	for l := range strings.Lines(log) {
		if strings.Contains(l, problem) {
			line = l
		}
	}
	if !strings.Contains(line, "level=ERROR") || !strings.Contains(line, "reload rejected") {
		t.Errorf("the rejection line = %q, want an ERROR saying the reload was rejected", line)
	}
	rejected := time.Now()
	h = p.waitHealth(5*time.Second, "both checks still running after the rejected reload", func(h healthBody) bool {
		for _, n := range []string{"first_db", "second_db"} {
			c, ok := h.find(n)
			if !ok {
				return false
			}
			at, err := time.Parse(time.RFC3339, c.CheckedAt)
			if err != nil || !at.After(rejected) {
				return false
			}
		}
		return true
	})
	if got := h.names(); !slices.Equal(got, []string{"first_db", "second_db"}) {
		t.Errorf("checks after the rejected reload = %v", got)
	}
	if p.exited() {
		t.Fatalf("monitor exited after an invalid reload: %v", p.exit.err)
	}
	p.stop()
}

// TestE2ESIGHUPRightAfterReady: once /readyz answers 200, a SIGHUP reloads;
// it must not kill the daemon.
func TestE2ESIGHUPRightAfterReady(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	for range 20 {
		// Polling /readyz without a pause sends SIGHUP as soon as the
		// first 200 arrives, the moment a supervisor would.
		p := startMonitorPolling(t, 0, dir, func(listen string) (string, string) {
			return cfg, fmt.Sprintf("server: { listen: %q }\ndatabases: { app: { dsn: %q } }\n"+
				"checks: [{ name: x, kind: db, database: app, interval: 1h }]\n", listen, "sqlite://"+filepath.Join(dir, "app.db"))
		}, []string{"--config", cfg})
		p.signal(syscall.SIGHUP)
		p.waitLog(5*time.Second, "config reloaded")
		p.stop()
	}
}

// TestE2ESecrets: a database password must not leak into the log (even at
// debug level), the health bodies or the metrics.
func TestE2ESecrets(t *testing.T) {
	t.Parallel()
	const password = "hunter2-secret"
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	port := closedPort(t)
	p := startMonitor(t, dir, func(listen string) (string, string) {
		return cfg, fmt.Sprintf(`server:
  listen: "%s"
databases:
  billing: { dsn: "mysql://monitor:%s@127.0.0.1:%d/billing" }
  app: { dsn: "sqlite://app.db" }
defaults: { interval: 1s, timeout: 500ms }
checks:
  - name: billing_db
    kind: db
    database: billing
    query: SELECT 1
    severity: CRITICAL
  - name: billing_freshness
    kind: freshness
    source: { database: billing, query: "SELECT max(created_at) FROM invoices" }
    max_age: 15m
  - name: app_db
    kind: db
    database: app
`, listen, password, port)
	}, []string{"--config", cfg, "--log-level", "debug"})

	// Two runs each, so that every path (first result, repeated failure) has logged.
	var firstRun time.Time
	h := p.waitHealth(5*time.Second, "every check run", allRan("billing_db", "billing_freshness", "app_db"))
	for _, c := range h.Checks {
		at, _ := time.Parse(time.RFC3339, c.CheckedAt)
		if at.After(firstRun) {
			firstRun = at
		}
	}
	h = p.waitHealth(5*time.Second, "every check run again", func(h healthBody) bool {
		for _, c := range h.Checks {
			if at, err := time.Parse(time.RFC3339, c.CheckedAt); err != nil || !at.After(firstRun) {
				return false
			}
		}
		return true
	})
	wantCheck(t, h, "billing_db", "FAIL", "CRITICAL")
	wantCheck(t, h, "billing_freshness", "UNKNOWN", "WARN")
	wantCheck(t, h, "app_db", "PASS", "INFO")

	bodies := map[string][]byte{}
	_, bodies["health"] = p.do(http.MethodGet, "/v2/system/health", nil, "")
	_, bodies["health+json"] = p.do(http.MethodGet, "/v2/system/health", http.Header{"Accept": {"application/health+json"}}, "")
	_, bodies["metrics"] = p.do(http.MethodGet, "/metrics", nil, "")
	p.stop()
	bodies["stderr"] = []byte(p.stderr.String())
	bodies["stdout"] = []byte(p.stdout.String())
	for what, b := range bodies {
		if bytes.Contains(b, []byte(password)) {
			t.Errorf("the password appears in %s:\n%s", what, b)
		}
	}
	if !bytes.Contains(bodies["stderr"], []byte("billing_db")) {
		t.Errorf("the log never mentions the failing check; the secrets test proves little:\n%s", bodies["stderr"])
	}
}

// metricSet is a parsed Prometheus text exposition.
type metricSet []metricSample

type metricSample struct {
	name   string
	labels map[string]string
	value  float64
}

var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

func parseMetrics(t *testing.T, text string) metricSet {
	t.Helper()
	var out metricSet
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := metricSample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexAny(line, "{ "); i >= 0 && line[i] == '{' {
			s.name = line[:i]
			j := strings.LastIndex(line, "}")
			if j < i {
				t.Fatalf("bad metrics line %q", line)
			}
			for _, m := range labelPair.FindAllStringSubmatch(line[i+1:j], -1) {
				v, err := strconv.Unquote(`"` + m[2] + `"`)
				if err != nil {
					v = m[2]
				}
				s.labels[m[1]] = v
			}
			rest = strings.TrimSpace(line[j+1:])
		} else {
			s.name, rest, _ = strings.Cut(line, " ")
		}
		val, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			t.Fatalf("bad value in metrics line %q: %v", line, err)
		}
		s.value = v
		out = append(out, s)
	}
	return out
}

func (ms metricSet) find(name string, kv ...string) []metricSample {
	var out []metricSample
next:
	for _, s := range ms {
		if s.name != name {
			continue
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if s.labels[kv[i]] != kv[i+1] {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

func (ms metricSet) any(name string, kv ...string) bool { return len(ms.find(name, kv...)) > 0 }

func (ms metricSet) get(t *testing.T, name string, kv ...string) float64 {
	t.Helper()
	found := ms.find(name, kv...)
	if len(found) != 1 {
		t.Errorf("%s%v: %d series, want exactly one", name, kv, len(found))
		return math.NaN()
	}
	return found[0].value
}

func (ms metricSet) has(t *testing.T, name string, kv ...string) {
	t.Helper()
	if !ms.any(name, kv...) {
		t.Errorf("no series %s%v", name, kv)
	}
}

func (ms metricSet) want(t *testing.T, name string, want float64, kv ...string) {
	t.Helper()
	if got := ms.get(t, name, kv...); got != want && !math.IsNaN(got) {
		t.Errorf("%s%v = %v, want %v", name, kv, got, want)
	}
}
