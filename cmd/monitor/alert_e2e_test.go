package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const alertConfig = `server:
  listen: "%s"
storage:
  dsn: sqlite://data/monitor.db
checks:
` + pipelineCheck + `alerting:
  failure_threshold: 1
  receivers:
    - name: oncall
      type: webhook
      url: %s/hook
  routes:
    - match: { severity: CRITICAL }
      receivers: [oncall]
      group_wait: 0s
      group_interval: 1s
`

// hookLog records the webhook notifications a test receiver got.
type hookLog struct {
	mu      sync.Mutex
	got     []hookNote // accepted
	refused []hookNote // answered 503 while down
	down    bool
}

func (h *hookLog) setDown(down bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down = down
}

func (h *hookLog) refusedCount() (n int, ids map[string]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids = map[string]bool{}
	for _, x := range h.refused {
		ids[x.webhookID] = true
	}
	return len(h.refused), ids
}

func (h *hookLog) acceptedIDs(st string) map[string]bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := map[string]bool{}
	for _, x := range h.got {
		if x.Status == st {
			ids[x.webhookID] = true
		}
	}
	return ids
}

type hookNote struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Alerts []struct {
		ID         string `json:"id"`
		Status     string `json:"status"`
		RunbookURL string `json:"runbookUrl"`
	} `json:"alerts"`
	webhookID string
}

func (h *hookLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var n hookNote
	_ = json.Unmarshal(body, &n)
	n.webhookID = r.Header.Get("webhook-id")
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		h.refused = append(h.refused, n)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	h.got = append(h.got, n)
	w.WriteHeader(http.StatusNoContent)
}

// count returns how many notifications had status st, and how many
// distinct webhook-ids they carried.
func (h *hookLog) count(st string) (n, ids int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[string]bool{}
	for _, x := range h.got {
		if x.Status == st {
			n++
			seen[x.webhookID] = true
		}
	}
	return n, len(seen)
}

func (h *hookLog) waitFor(t *testing.T, st string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if n, _ := h.count(st); n >= want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	n, _ := h.count(st)
	t.Fatalf("%d %s notifications after %s, want %d", n, st, within, want)
}

// TestE2EAlertSurvivesKill9: a check fails while the on-call webhook is
// down; the daemon is killed with SIGKILL with that delivery pending. The
// webhook comes back and the daemon is restarted while the check still
// fails: the pending "firing" is delivered once, with the webhook-id of the
// refused attempts, and no second "firing" is made; the check recovers:
// one "resolved".
func TestE2EAlertSurvivesKill9(t *testing.T) {
	t.Parallel()
	hooks := &hookLog{}
	rcv := httptest.NewServer(hooks)
	defer rcv.Close()
	dir := t.TempDir()
	marker := staleMarker(t, dir)
	cfgPath := filepath.Join(dir, "config.yaml")
	configFor := func(listen string) (string, string) {
		return cfgPath, fmt.Sprintf(alertConfig, listen, marker, rcv.URL)
	}
	hooks.setDown(true)
	p := startMonitor(t, dir, configFor, []string{"--config", cfgPath})
	deadline := time.Now().Add(20 * time.Second)
	for n, _ := hooks.refusedCount(); n == 0; n, _ = hooks.refusedCount() {
		if time.Now().After(deadline) {
			t.Fatal("no delivery attempt in 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.kill() // the firing notification is pending: retried 5s later
	_, refusedIDs := hooks.refusedCount()
	// No daemon: monitor alerts reads the store.
	if rc, out, errOut := runMain(t, "alerts", "--config", cfgPath); rc != 0 ||
		!strings.Contains(out, "check:pipeline_freshness") || !strings.Contains(out, "firing") ||
		!strings.Contains(errOut, "reading the store") {
		t.Errorf("monitor alerts with the daemon down: exit %d\n%s%s", rc, out, errOut)
	}
	hooks.setDown(false)

	p2 := startMonitor(t, dir, configFor, []string{"--config", cfgPath})
	defer p2.kill()
	hooks.waitFor(t, "firing", 1, 20*time.Second)
	// Several failing runs after the restart: still one firing.
	time.Sleep(4 * time.Second)
	if n, _ := hooks.count("firing"); n != 1 {
		t.Fatalf("%d firing notifications after the restart, want 1 (no second page)", n)
	}
	for id := range hooks.acceptedIDs("firing") {
		if len(refusedIDs) != 1 || !refusedIDs[id] {
			t.Errorf("delivered webhook-id %s, refused attempts carried %v: want the same notification", id, refusedIDs)
		}
	}
	touch(t, marker)
	hooks.waitFor(t, "resolved", 1, 20*time.Second)
	time.Sleep(1500 * time.Millisecond)
	if n, ids := hooks.count("resolved"); n != 1 || ids != 1 {
		t.Errorf("%d resolved notifications (%d webhook-ids), want 1", n, ids)
	}
	if n, _ := hooks.count("firing"); n != 1 {
		t.Errorf("%d firing notifications in all, want 1", n)
	}
}

// TestE2EReloadAudited: a SIGHUP with a broken config is refused and says
// so in the audit trail (with its first problem), one that takes effect is
// config.reloaded; the actor is "config".
func TestE2EReloadAudited(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	good := func(listen string) string {
		return fmt.Sprintf("server:\n  listen: %q\nstorage:\n  dsn: sqlite://data/monitor.db\nchecks:\n"+
			"  - { name: beat, kind: freshness, source: { heartbeat: true }, max_age: 1h }\n", listen)
	}
	var listen string
	p := startMonitor(t, dir, func(l string) (string, string) { listen = l; return cfgPath, good(l) },
		[]string{"--config", cfgPath})
	defer p.kill()
	writeFile(t, cfgPath, strings.Replace(good(listen), "max_age: 1h", "max_age: soon", 1))
	p.signal(syscall.SIGHUP)
	time.Sleep(500 * time.Millisecond)
	writeFile(t, cfgPath, good(listen))
	p.signal(syscall.SIGHUP)

	var events struct {
		Events []struct {
			Actor, Action string
			Details       map[string]any
		} `json:"events"`
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, body := p.do("GET", "/v2/audit-events?since=1h", nil, "")
		_ = json.Unmarshal(body, &events)
		if len(events.Events) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(events.Events) != 2 {
		t.Fatalf("audit events %+v, want the refused and the accepted reload", events.Events)
	}
	ok, bad := events.Events[0], events.Events[1] // newest first
	if ok.Action != "config.reloaded" || ok.Actor != "config" {
		t.Errorf("newest event %+v, want config.reloaded by config", ok)
	}
	if bad.Action != "config.reload_rejected" || bad.Actor != "config" || bad.Details["stage"] != "config" ||
		!strings.Contains(fmt.Sprint(bad.Details["first"]), "max_age") {
		t.Errorf("oldest event %+v, want config.reload_rejected naming max_age", bad)
	}
}

// TestE2EReloadMetrics: /metrics says whether the last load took effect,
// as Prometheus does: 1 from the start, 0 after a refused reload (the
// success time unchanged), 1 again with a new success time after a good
// one, by SIGHUP and by POST /-/reload alike. A refused file with several
// problems leaves the old config running; every problem is logged, and
// answered to POST /-/reload, as file:line:col: message (as monitor
// validate prints them), without the DSN's password.
func TestE2EReloadMetrics(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	good := func(listen string) string {
		return fmt.Sprintf("server:\n  listen: %q\n  tokens: [{ name: ops, token: ops-token-123 }]\n"+
			"storage:\n  dsn: sqlite://data/monitor.db\nchecks:\n"+
			"  - { name: beat, kind: freshness, source: { heartbeat: true }, max_age: 1h }\n", listen)
	}
	const password = "hunter2-pw"
	broken := func(listen string) string {
		return strings.Replace(good(listen), "max_age: 1h", "max_age: soon, intervl: 5s", 1) +
			"  - { name: beat2, kind: db, database: app }\n" +
			"databases:\n  app: { dsn: \"postgresx://admin:" + password + "@127.0.0.1:5432/test\" }\n"
	}
	var listen string
	p := startMonitor(t, dir, func(l string) (string, string) { listen = l; return cfgPath, good(l) },
		[]string{"--config", cfgPath})
	defer p.kill()
	auth := http.Header{"Authorization": {"Bearer ops-token-123"}}
	gauge := func(name string) float64 {
		t.Helper()
		_, body := p.do("GET", "/metrics", nil, "")
		for _, line := range strings.Split(string(body), "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				return f
			}
		}
		t.Fatalf("no %s in /metrics", name)
		return 0
	}
	const ok, at = "monitor_config_last_reload_successful", "monitor_config_last_reload_success_timestamp_seconds"
	waitFor := func(want float64) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for gauge(ok) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s stays %v, want %v", ok, gauge(ok), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The problems of the broken file, as monitor validate prints them.
	writeFile(t, cfgPath, broken(listen))
	validate := exec.Command(monitorBinary(t), "validate", cfgPath)
	validate.Env = daemonEnv()
	out, _ := validate.CombinedOutput()
	want := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(want) < 3 || strings.Contains(string(out), password) {
		t.Fatalf("monitor validate of the broken file:\n%s\nwant several problems, no password", out)
	}
	at3 := regexp.MustCompile("^" + regexp.QuoteMeta(cfgPath) + `:\d+:\d+: `)
	for _, w := range want {
		if !at3.MatchString(w) {
			t.Fatalf("monitor validate printed %q, want file:line:col: message", w)
		}
	}
	// refusedKeepsOld: the metric is 0, the success time is still, the
	// old check still runs, and every problem is logged after logFrom.
	refusedKeepsOld := func(via string, last float64, logFrom int) {
		t.Helper()
		if got := gauge(at); got != last {
			t.Errorf("%s: a refused reload moved %s from %v to %v", via, at, last, got)
		}
		log := p.waitLog(10*time.Second, "reload rejected")[logFrom:]
		for _, w := range want {
			if !strings.Contains(log, strings.ReplaceAll(w, `"`, `\"`)) {
				t.Errorf("%s: the log does not say %q:\n%s", via, w, log)
			}
		}
		if strings.Contains(log, password) {
			t.Errorf("%s: the log shows the DSN's password:\n%s", via, log)
		}
		h := p.waitHealth(5*time.Second, "beat still runs", allRan("beat"))
		if got := h.names(); !slices.Equal(got, []string{"beat"}) {
			t.Errorf("%s: checks after the refused reload = %v, want [beat]", via, got)
		}
	}

	started := gauge(at)
	if gauge(ok) != 1 || started < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Fatalf("at start: %s %v, %s %v", ok, gauge(ok), at, started)
	}

	// SIGHUP, refused.
	p.signal(syscall.SIGHUP)
	waitFor(0)
	refusedKeepsOld("SIGHUP", started, 0)

	// POST /-/reload, good: 1 and a new success time.
	time.Sleep(1100 * time.Millisecond) // the success time moves by whole seconds at least
	writeFile(t, cfgPath, good(listen))
	resp, body := p.do(http.MethodPost, "/-/reload", auth, "")
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"checks":1,"status":"reloaded"}` {
		t.Fatalf("POST /-/reload of a good file = %d %s", resp.StatusCode, body)
	}
	if gauge(ok) != 1 || gauge(at) <= started {
		t.Errorf("after a good POST /-/reload: %s %v, %s %v (start %v)", ok, gauge(ok), at, gauge(at), started)
	}
	last := gauge(at)

	// POST /-/reload, refused: 400 with every problem.
	writeFile(t, cfgPath, broken(listen))
	logFrom := len(p.stderr.String())
	resp, body = p.do(http.MethodPost, "/-/reload", auth, "")
	var env struct {
		Error   string `json:"error"`
		Details struct {
			Stage    string   `json:"stage"`
			Problems []string `json:"problems"`
		} `json:"details"`
	}
	if err := json.Unmarshal(body, &env); err != nil || resp.StatusCode != http.StatusBadRequest ||
		env.Error != "invalid_request" || env.Details.Stage != "config" || !slices.Equal(env.Details.Problems, want) {
		t.Errorf("POST /-/reload of the broken file = %d %s\nwant 400 invalid_request listing:\n%s", resp.StatusCode, body, strings.Join(want, "\n"))
	}
	if strings.Contains(string(body), password) {
		t.Errorf("the answer shows the DSN's password: %s", body)
	}
	if gauge(ok) != 0 {
		t.Errorf("after a refused POST /-/reload: %s %v, want 0", ok, gauge(ok))
	}
	refusedKeepsOld("POST /-/reload", last, logFrom)

	// SIGHUP, good: 1 and a new success time.
	time.Sleep(1100 * time.Millisecond)
	writeFile(t, cfgPath, good(listen))
	p.signal(syscall.SIGHUP)
	waitFor(1)
	if got := gauge(at); got <= last {
		t.Errorf("a good SIGHUP left %s at %v (before %v)", at, got, last)
	}

	// Private, and POST only.
	if resp, body := p.do(http.MethodPost, "/-/reload", nil, ""); resp.StatusCode != http.StatusUnauthorized ||
		!strings.Contains(string(body), `"missing_bearer_token"`) {
		t.Errorf("POST /-/reload without a token = %d %s, want 401", resp.StatusCode, body)
	}
	if resp, body := p.do(http.MethodGet, "/-/reload", auth, ""); resp.StatusCode != http.StatusMethodNotAllowed ||
		!strings.Contains(string(body), `"method_not_allowed"`) || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET /-/reload = %d %s (Allow %q), want 405 allowing POST", resp.StatusCode, body, resp.Header.Get("Allow"))
	}
}
