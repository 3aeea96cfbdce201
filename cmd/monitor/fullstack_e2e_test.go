package main

// The full stack, all real, all on 127.0.0.1: a platform table in
// PostgreSQL, the monitor watching it, Prometheus scraping the monitor with
// `monitor rules` loaded, Alertmanager fed by the monitor, and a webhook
// receiver behind both the monitor's own webhook and Alertmanager.

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to run the platform's table
	"go.yaml.in/yaml/v3"

	"github.com/monitor-dev/monitor/internal/testenv"
)

// fullStackConfig watches the platform's usage_meters table: a CRITICAL db
// check on the status page with an SLO, and a freshness check under it.
// Failures page through the monitor's signed webhook and through
// Alertmanager. Arguments: listen, platform DSN, webhook URL, webhook
// secret, Alertmanager URL.
const fullStackConfig = `server:
  listen: "%s"
storage:
  dsn: sqlite://data/monitor.db
databases:
  platform: { dsn: "%s" }
checks:
  - name: usage_meters_db
    kind: db
    database: platform
    query: SELECT count(*) FROM usage_meters
    interval: 1s
    timeout: 500ms
    severity: CRITICAL
    component: Usage metering
  - name: usage_meters_freshness
    kind: freshness
    source: { database: platform, query: "SELECT max(recorded_at) FROM usage_meters" }
    interval: 1s
    timeout: 500ms
    max_age: 30s
    severity: WARN
    component: Usage metering
    depends_on: [usage_meters_db]
slos:
  - check: usage_meters_db
    objective: 99.9
    window: 30d
alerting:
  failure_threshold: 1
  success_threshold: 1
  receivers:
    - name: oncall
      type: webhook
      url: %s
      secret: %s
    - name: am
      type: alertmanager
      url: %s
  routes:
    - match: { severity: CRITICAL }
      receivers: [oncall, am]
      group_wait: 0s
      group_interval: 1s
statuspage:
  title: Acme status
`

// fullStackAMConfig routes every alert to the test receiver's /am
// endpoint (send_resolved is Alertmanager's default for webhooks).
const fullStackAMConfig = `route:
  receiver: hook
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %s
`

// TestE2EFullStack breaks the platform database twice (its table renamed
// away, then the database not answering at all) and repairs it each time,
// and prints when each consumer saw the failure and the recovery: the
// health API, the status page, Prometheus (the check's state and the
// burn-rate recording rules), the monitor's own signed webhook and
// Alertmanager's webhook.
func TestE2EFullStack(t *testing.T) {
	t.Parallel()
	promtool := needTool(t, "promtool", "prometheus")
	needTool(t, "prometheus", "prometheus")
	needTool(t, "prometheus-alertmanager", "prometheus-alertmanager")
	dir := t.TempDir()

	// The platform: a table the platform writes to every half second.
	dsn := testenv.PostgresSchema(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec(`CREATE TABLE usage_meters (id bigserial PRIMARY KEY, recorded_at timestamptz NOT NULL DEFAULT now());
		INSERT INTO usage_meters DEFAULT VALUES`); err != nil {
		t.Fatal(err)
	}
	writerCtx, stopWriter := context.WithCancel(context.Background())
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-writerCtx.Done():
				return
			case <-tick.C:
				// Fails while the table is renamed away, as the platform's would.
				_, _ = db.ExecContext(writerCtx, "INSERT INTO usage_meters DEFAULT VALUES")
			}
		}
	}()
	t.Cleanup(func() { stopWriter(); <-writerDone }) // before the schema is dropped

	// The on-call receiver, behind both paths.
	secret := make([]byte, 24)
	_, _ = rand.Read(secret)
	whsec := "whsec_" + base64.StdEncoding.EncodeToString(secret)
	hooks := &fullStackHooks{key: secret}
	rcv := httptest.NewServer(hooks)
	t.Cleanup(rcv.Close)

	amURL, amLog := startAlertmanager(t, dir, fmt.Sprintf(fullStackAMConfig, rcv.URL+"/am"))

	// The monitor reaches the platform database through a proxy that can
	// stop answering; the platform itself writes directly.
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.StartTCPProxy(t, u.Host)
	u.Host = proxy.Addr()
	cfgPath := filepath.Join(dir, "config.yaml")
	p := startMonitor(t, dir, func(listen string) (string, string) {
		return cfgPath, fmt.Sprintf(fullStackConfig, listen, u.String(), rcv.URL+"/hook", whsec, amURL)
	}, []string{"--config", cfgPath})

	rules, err := exec.Command(monitorBinary(t), "rules", "--config", cfgPath).Output()
	if err != nil {
		t.Fatalf("monitor rules: %v", err)
	}
	rulesPath := filepath.Join(dir, "rules.yml")
	writeFile(t, rulesPath, string(rules))
	if out, err := exec.Command(promtool, "check", "rules", rulesPath).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	burnRates := recordedSeries(t, rules, "monitor_slo:burn_rate:")
	if len(burnRates) == 0 {
		t.Fatalf("no burn-rate recording rules in `monitor rules`:\n%s", rules)
	}
	query, promLog := startPrometheus(t, dir, rulesPath, strings.TrimPrefix(p.base, "http://"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prometheus log:\n%s", promLog.String())
			t.Logf("alertmanager log:\n%s", amLog.String())
			t.Logf("webhook receiver got:\n%s", hooks)
		}
		if strings.Contains(p.stderr.String(), whsec) {
			t.Errorf("the webhook secret shows in the monitor's log")
		}
	})

	const check = "usage_meters_db"
	// The db check in the health API: FAIL/CRITICAL answers 503.
	dbCheck := func(status string) func() (bool, string) {
		return func() (bool, string) {
			h, code, _ := p.health()
			c, _ := h.find(check)
			if status == "PASS" {
				return c.Status == "PASS" && code == http.StatusOK, h.String()
			}
			return c.Status == "FAIL" && c.Severity == "CRITICAL" && code == http.StatusServiceUnavailable, h.String()
		}
	}
	// Every check PASS, the freshness check under the db check included.
	allPass := func() (bool, string) {
		h, _, _ := p.health()
		return h.Status == "PASS", h.String()
	}
	page := func(operational bool) func() (bool, string) {
		return func() (bool, string) {
			_, body := p.do(http.MethodGet, "/api/v2/summary.json", nil, "")
			state := componentState(body, "Usage metering")
			return (state == "operational") == operational && state != "", "component " + state
		}
	}
	promStatus := func(status string) func() (bool, string) {
		q := fmt.Sprintf(`monitor_check_status{check=%q, status=%q} == 1`, check, status)
		return func() (bool, string) {
			res, err := query(q)
			return err == nil && len(res) == 1, fmt.Sprintf("%s: %v %v", q, res, err)
		}
	}
	// The value of every burn-rate series the rules record for the check.
	burnQuery := fmt.Sprintf(`{__name__=~%q, check=%q}`, "monitor_slo:burn_rate:.*", check)
	burnRatesNow := func() (map[string]float64, error) {
		res, err := query(burnQuery)
		got := map[string]float64{}
		for _, s := range res {
			got[s.Metric["__name__"]] = s.float()
		}
		return got, err
	}
	// Every burn-rate series compares with its value in base as by says
	// (above, below; NaN never does).
	burn := func(base map[string]float64, by func(v, base float64) bool) func() (bool, string) {
		return func() (bool, string) {
			got, err := burnRatesNow()
			for _, name := range burnRates {
				if v, ok := got[name]; !ok || !by(v, base[name]) {
					return false, fmt.Sprintf("burn rates %v, from %v (%v)", got, base, err)
				}
			}
			return true, ""
		}
	}
	above := func(v, base float64) bool { return v > base }
	below := func(v, base float64) bool { return v < base }
	equal := func(v, base float64) bool { return v == base }
	// At least n notifications at path with the check's alert in status
	// (/hook ones signed). The monitor's own SLO burn-rate alerts (kind
	// slo_burn, evaluated every 30s) may page too: they are not counted.
	const alertID = "check:" + check
	hook := func(path, status string, n int) func() (bool, string) {
		return func() (bool, string) {
			got := hooks.count(path, alertID, status)
			return got >= n, fmt.Sprintf("%d %s notifications, want %d", got, status, n)
		}
	}

	// Everything healthy first, and nobody paged.
	waitAll(t, "healthy", 60*time.Second, []consumer{
		{"health API PASS", dbCheck("PASS")},
		{"health API all checks PASS", allPass},
		{"status page operational", page(true)},
		{"Prometheus monitor_check_status PASS", promStatus("PASS")},
		{fmt.Sprintf("burn-rate rules (%d series) = 0", len(burnRates)), burn(nil, equal)},
	})
	if s := hooks.String(); s != "" {
		t.Fatalf("notifications before anything broke:\n%s", s)
	}

	outages := []struct {
		name       string
		cause, fix func()
	}{
		{"table renamed", func() { exec1(t, db, "ALTER TABLE usage_meters RENAME TO usage_meters_gone") },
			func() { exec1(t, db, "ALTER TABLE usage_meters_gone RENAME TO usage_meters") }},
		{"database not answering", proxy.Hang, proxy.Heal},
	}
	for i, o := range outages {
		base, err := burnRatesNow()
		if err != nil {
			t.Fatal(err)
		}
		o.cause()
		waitAll(t, o.name+", break", 60*time.Second, []consumer{
			{"health API FAIL (503)", dbCheck("FAIL")},
			{"status page not operational", page(false)},
			{"Prometheus monitor_check_status FAIL", promStatus("FAIL")},
			{fmt.Sprintf("burn-rate rules (%d series) rising", len(burnRates)), burn(base, above)},
			{"monitor webhook firing (signed)", hook("/hook", "firing", i+1)},
			{"Alertmanager webhook firing", hook("/am", "firing", i+1)},
		})

		if base, err = burnRatesNow(); err != nil {
			t.Fatal(err)
		}
		o.fix()
		waitAll(t, o.name+", repair", 60*time.Second, []consumer{
			{"health API PASS", dbCheck("PASS")},
			{"health API all checks PASS", allPass},
			{"status page operational", page(true)},
			{"Prometheus monitor_check_status PASS", promStatus("PASS")},
			{fmt.Sprintf("burn-rate rules (%d series) falling", len(burnRates)), burn(base, below)},
			{"monitor webhook resolved (signed)", hook("/hook", "resolved", i+1)},
			{"Alertmanager webhook resolved", hook("/am", "resolved", i+1)},
		})

		// One page and one all-clear per outage through the monitor's own
		// webhook.
		if n, m := hooks.count("/hook", alertID, "firing"), hooks.count("/hook", alertID, "resolved"); n != i+1 || m != i+1 {
			t.Errorf("monitor webhook: %d firing and %d resolved notifications after %d outages, want %d of each:\n%s",
				n, m, i+1, i+1, hooks)
		}
	}
	if bad := hooks.unsigned(); len(bad) > 0 {
		t.Errorf("webhook notifications without a valid signature: %v", bad)
	}
	if res, err := query(fmt.Sprintf(`monitor_slo:burn_rate:rate5m{check=%q}`, check)); err == nil && len(res) == 1 {
		t.Logf("burn rate over 5m after the repair: %.4g", res[0].float())
	}
}

// exec1 runs one statement on the platform database.
func exec1(t *testing.T, db *sql.DB, stmt string) {
	t.Helper()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// consumer is one observer of the platform's health: ok reports whether it
// shows the state waited for, and what it shows.
type consumer struct {
	name string
	ok   func() (bool, string)
}

// waitAll polls every consumer from now until each has shown its state,
// and logs the timeline: when each first did, from now. It fails after
// timeout, naming those that never did.
func waitAll(t *testing.T, what string, timeout time.Duration, cs []consumer) {
	t.Helper()
	start := time.Now()
	seen := make([]time.Duration, len(cs))
	last := make([]string, len(cs))
	logTimeline := func() {
		idx := make([]int, 0, len(cs))
		for i := range cs {
			idx = append(idx, i)
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			switch {
			case seen[a] == 0 && seen[b] == 0:
				return 0
			case seen[a] == 0:
				return 1
			case seen[b] == 0:
				return -1
			}
			return cmp.Compare(seen[a], seen[b])
		})
		var b strings.Builder
		for _, i := range idx {
			if seen[i] == 0 {
				fmt.Fprintf(&b, "\n  never   %s (last: %s)", cs[i].name, last[i])
			} else {
				fmt.Fprintf(&b, "\n  %+6.1fs %s", seen[i].Seconds(), cs[i].name)
			}
		}
		t.Logf("timeline %s:%s", what, b.String())
	}
	for {
		left := 0
		for i, c := range cs {
			if seen[i] != 0 {
				continue
			}
			ok, state := c.ok()
			if ok {
				seen[i] = max(time.Since(start), time.Nanosecond)
			} else {
				last[i] = state
				left++
			}
		}
		if left == 0 {
			logTimeline()
			return
		}
		if time.Since(start) > timeout {
			logTimeline()
			t.Fatalf("%s: %d consumers did not get there within %s", what, left, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// recordedSeries returns the series names of the recording rules in a
// rules file that start with prefix, in file order.
func recordedSeries(t *testing.T, rules []byte, prefix string) []string {
	t.Helper()
	var file struct {
		Groups []struct {
			Rules []struct {
				Record string `yaml:"record"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(rules, &file); err != nil {
		t.Fatalf("monitor rules: %v", err)
	}
	var out []string
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if strings.HasPrefix(r.Record, prefix) && !slices.Contains(out, r.Record) {
				out = append(out, r.Record)
			}
		}
	}
	return out
}

// componentState returns the status of the named component in a
// Statuspage-style summary.json ("" when it is not there).
func componentState(summary []byte, name string) string {
	var s struct {
		Components []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		} `json:"components"`
	}
	if json.Unmarshal(summary, &s) != nil {
		return ""
	}
	for _, c := range s.Components {
		if c.Name == name {
			return c.Status
		}
	}
	return ""
}

// fullStackHooks is the on-call receiver: /hook gets the monitor's own
// webhook (Standard Webhooks signature checked with key), /am gets
// Alertmanager's webhook.
type fullStackHooks struct {
	key   []byte
	mu    sync.Mutex
	notes []fullStackNote
}

type fullStackNote struct {
	path   string
	alerts map[string]string // alert id (Alertmanager: the alert_id label) → status
	signed bool              // a valid signature (always false on /am)
	err    string            // why the signature is not valid
	at     time.Time
	body   string
}

func (h *fullStackHooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var payload struct {
		Alerts []struct {
			ID     string            `json:"id"`
			Status string            `json:"status"`
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	_ = json.Unmarshal(body, &payload)
	n := fullStackNote{path: r.URL.Path, alerts: map[string]string{}, at: time.Now(), body: string(body)}
	for _, a := range payload.Alerts {
		id := a.ID
		if id == "" {
			id = a.Labels["alert_id"]
		}
		n.alerts[id] = a.Status
	}
	if r.URL.Path == "/hook" {
		if err := verifyStandardWebhook(h.key, r.Header, body, time.Now()); err != nil {
			n.err = err.Error()
		} else {
			n.signed = true
		}
	}
	h.mu.Lock()
	h.notes = append(h.notes, n)
	h.mu.Unlock()
	if r.URL.Path == "/hook" && !n.signed {
		w.WriteHeader(http.StatusUnauthorized) // as a receiver checking signatures answers
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// count returns how many notifications arrived at path with the alert id
// in status (and, on /hook, a valid signature). Alertmanager groups by
// alertname: its notification may carry other alerts in other states.
func (h *fullStackHooks) count(path, id, status string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, x := range h.notes {
		if x.path == path && x.alerts[id] == status &&
			(path != "/hook" || x.signed) {
			n++
		}
	}
	return n
}

// unsigned lists why /hook notifications failed the signature check.
func (h *fullStackHooks) unsigned() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, x := range h.notes {
		if x.path == "/hook" && !x.signed {
			out = append(out, x.err)
		}
	}
	return out
}

func (h *fullStackHooks) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, x := range h.notes {
		fmt.Fprintf(&b, "%s %s %v signed=%v %s\n", x.at.Format("15:04:05.000"), x.path, x.alerts, x.signed, x.err)
		fmt.Fprintf(&b, "   %s\n", x.body)
	}
	return b.String()
}

// verifyStandardWebhook checks a Standard Webhooks signature as a receiver
// would: v1 HMAC-SHA256 of "id.timestamp.body" under key, among the
// space-separated signatures, with a timestamp within 5 minutes of now.
func verifyStandardWebhook(key []byte, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("missing webhook headers (id %q, timestamp %q, signature %q)", id, ts, sigs)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q: %v", ts, err)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("webhook-timestamp %s is %s from now", ts, d)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.", id, ts)
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		v, sig, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no valid v1 signature in %q", sigs)
}

// startAlertmanager runs Debian's prometheus-alertmanager with config on a
// free loopback port, without clustering, with its storage in dir, and
// waits until it is ready. It returns its base URL and its log.
func startAlertmanager(t *testing.T, dir, config string) (string, *testenv.SyncBuffer) {
	t.Helper()
	bin := needTool(t, "prometheus-alertmanager", "prometheus-alertmanager")
	conf := filepath.Join(dir, "alertmanager.yml")
	writeFile(t, conf, config)
	log := &testenv.SyncBuffer{}
	for attempt := 0; ; attempt++ {
		addr := freeAddr(t)
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "--config.file="+conf, "--storage.path="+filepath.Join(dir, "alertmanager"),
			"--web.listen-address="+addr, "--cluster.listen-address=")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatalf("start alertmanager: %v", err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() { cancel(); <-exited })
		base := "http://" + addr
		deadline := time.Now().Add(20 * time.Second)
	wait:
		for {
			if resp, err := httpClient.Get(base + "/-/ready"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return base, log
				}
			}
			select {
			case <-exited:
				if attempt < 2 && strings.Contains(log.String(), "address already in use") {
					break wait // the free port was taken in the meantime: another one
				}
				t.Fatalf("alertmanager exited:\n%s", log.String())
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("alertmanager not ready after 20s:\n%s", log.String())
			}
		}
	}
}
