package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/internal/testenv"
)

// needTool finds a Debian-packaged tool: missing is a failure under CI=true
// and a loud skip elsewhere.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	return testenv.Tool(t, name, pkg)
}

const sloConfig = `server:
  listen: "%s"
storage:
  dsn: sqlite://data/monitor.db
databases:
  app: { dsn: "sqlite://data/app.db" }
checks:
  - name: app_db
    kind: db
    database: app
    interval: 1s
    timeout: 500ms
slos:
  - check: app_db
    objective: 99.9
    window: 30d
`

// TestE2EPrometheusRules loads `monitor rules` into a real Prometheus that
// scrapes a running monitor, and waits for the recording rules to produce
// values.
func TestE2EPrometheusRules(t *testing.T) {
	t.Parallel()
	promtool := needTool(t, "promtool", "prometheus")
	needTool(t, "prometheus", "prometheus")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	p := startMonitor(t, dir, func(listen string) (string, string) {
		return cfgPath, fmt.Sprintf(sloConfig, listen)
	}, []string{"--config", cfgPath})

	rulesPath, out := promRules(t, dir, promtool, cfgPath)
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool check rules:\n%s", out)
	}

	query, promLog := startPrometheus(t, dir, rulesPath, strings.TrimPrefix(p.base, "http://"))
	for _, q := range []string{
		`monitor_slo:error_ratio:rate5m{check="app_db"}`,
		`monitor_slo:burn_rate:rate1h{check="app_db"}`,
		`monitor_slo:availability:ratio_rate30d{check="app_db"}`,
	} {
		res := waitQuery(t, query, promLog, q, 40*time.Second)
		t.Logf("%s = %v", q, res[0])
	}
	// The monitor's own figures agree: every run passed.
	res, err := query(`monitor_slo:availability:ratio_rate30d{check="app_db"} == 1`)
	if err != nil || len(res) != 1 {
		t.Fatalf("availability from the rules is not 1: %v %v", res, err)
	}
}

// promRules writes the rules `monitor rules` makes of the configuration at
// cfgPath to dir/rules.yml, fails t unless `promtool check rules` accepts
// them, and returns the path and promtool's output (which also lists the
// lint problems promtool does not fail on).
func promRules(t *testing.T, dir, promtool, cfgPath string) (rulesPath, promtoolOut string) {
	t.Helper()
	code, rules, stderr := runMain(t, "rules", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("monitor rules: exit %d: %s", code, stderr)
	}
	rulesPath = filepath.Join(dir, "rules.yml")
	writeFile(t, rulesPath, rules)
	// --lint-fatal: a lint finding (duplicate rules) fails as an error
	// does; promtool only prints it otherwise and exits 0.
	out, err := exec.Command(promtool, "check", "rules", "--lint-fatal", rulesPath).CombinedOutput()
	if err != nil || strings.Contains(string(out), "FAILED") {
		t.Fatalf("promtool check rules --lint-fatal: %v\n%s", err, out)
	}
	return rulesPath, string(out)
}

// startPrometheus runs a real Prometheus in dir that scrapes targets every
// second and evaluates the rules file every second, and returns a function
// that runs an instant query (the result vector).
func startPrometheus(t *testing.T, dir, rulesPath string, targets ...string) (query func(q string) ([]promSample, error), log *testenv.SyncBuffer) {
	t.Helper()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	prometheus := needTool(t, "prometheus", "prometheus")
	promAddr := freeAddr(t)
	writeFile(t, filepath.Join(dir, "prometheus.yml"), fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: monitor
    static_configs: [{targets: [%s]}]
`, rulesPath, strings.Join(quoted, ", ")))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prometheus, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr)
	log = &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })

	return func(q string) ([]promSample, error) {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var body struct {
			Status string
			Data   struct{ Result []promSample }
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return nil, err
		}
		return body.Data.Result, nil
	}, log
}

// waitQuery polls q until it returns a sample, for up to timeout.
func waitQuery(t *testing.T, query func(string) ([]promSample, error), log *testenv.SyncBuffer, q string, timeout time.Duration) []promSample {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		res, err := query(q)
		// A ratio of rates is NaN (0/0) until the counters have moved
		// between two scrapes: wait for a number.
		if err == nil && len(res) > 0 && !math.IsNaN(res[0].float()) {
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("no value for %s after %s (last error %v)\nprometheus log:\n%s", q, timeout, err, log.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// promSample is one element of an instant query's vector.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"` // [time, "value"]
}

// float is the sample's value.
func (s promSample) float() float64 {
	v, _ := s.Value[1].(string)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

const sloAgreeConfig = `server:
  listen: "%s"
storage:
  dsn: sqlite://data/monitor.db
databases:
  app: { dsn: "sqlite://app.db" }
checks:
  - name: events_within_sla
    kind: freshness
    source: { database: app, query: "SELECT max(at) FROM events" }
    interval: 1s
    timeout: 500ms
    max_age: 15m
    critical_age: 60m
  - name: events_availability
    kind: freshness
    source: { database: app, query: "SELECT max(at) FROM events" }
    interval: 1s
    timeout: 500ms
    max_age: 15m
    critical_age: 60m
slos:
  - check: events_within_sla
    objective: 99
    window: 30d
    sli: within_sla
  - check: events_availability
    objective: 99
    window: 30d
`

// TestE2EPrometheusRulesAgreeWithDaemon: data 20 minutes old, past max_age
// (every run FAILs) but within critical_age (the 60m SLA holds). For the
// within_sla SLO the daemon says 100 % and met; the rules loaded into a real
// Prometheus must say the same, and no burn-rate alert may even be pending
// (the rules used to count FAIL runs and paged). For the availability SLO
// on the same data both say 0.
func TestE2EPrometheusRulesAgreeWithDaemon(t *testing.T) {
	t.Parallel()
	promtool := needTool(t, "promtool", "prometheus")
	needTool(t, "prometheus", "prometheus")
	dir := t.TempDir()
	seedSQLite(t, filepath.Join(dir, "app.db"), map[string]time.Duration{"events": 20 * time.Minute})
	cfgPath := filepath.Join(dir, "config.yaml")
	p := startMonitor(t, dir, func(listen string) (string, string) {
		return cfgPath, fmt.Sprintf(sloAgreeConfig, listen)
	}, []string{"--config", cfgPath})

	rulesPath, _ := promRules(t, dir, promtool, cfgPath)
	query, promLog := startPrometheus(t, dir, rulesPath, strings.TrimPrefix(p.base, "http://"))

	// The daemon's figures, once it has evaluated runs of both checks.
	var daemon map[string]float64
	deadline := time.Now().Add(40 * time.Second)
	for {
		_, body := p.do(http.MethodGet, "/v2/sla", nil, "")
		var sla struct {
			SLOs []struct {
				Check        string
				Availability *float64
				Met          bool
				Windows      []struct {
					Window string
					Known  int64
				}
			}
		}
		if err := json.Unmarshal(body, &sla); err != nil {
			t.Fatalf("/v2/sla: %v\n%s", err, body)
		}
		daemon = map[string]float64{}
		for _, s := range sla.SLOs {
			if s.Availability != nil {
				daemon[s.Check] = *s.Availability
			}
			if s.Check == "events_within_sla" && s.Availability != nil && !s.Met {
				t.Errorf("the daemon reports the within_sla SLO as missed: %s", body)
			}
		}
		if len(daemon) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no SLO figures from /v2/sla after 40s: %s", body)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if daemon["events_within_sla"] != 1 || daemon["events_availability"] != 0 {
		t.Fatalf("daemon figures = %v, want within_sla 1 and availability 0", daemon)
	}

	// Prometheus, from the rules, over the SLO window and the page windows.
	for check, want := range daemon {
		for _, rec := range []string{"monitor_slo:availability:ratio_rate30d", "1 - monitor_slo:error_ratio:rate5m",
			"1 - monitor_slo:error_ratio:rate1h"} {
			q := fmt.Sprintf(`%s{check=%q}`, rec, check)
			if strings.HasPrefix(rec, "1 - ") {
				q = fmt.Sprintf(`1 - %s{check=%q}`, strings.TrimPrefix(rec, "1 - "), check)
			}
			res := waitQuery(t, query, promLog, q, 40*time.Second)
			if got := res[0].float(); len(res) != 1 || got != want {
				t.Errorf("Prometheus %s = %v, the daemon says %v", q, res, want)
			}
		}
	}
	// Every rule has been evaluated several times by now: no burn-rate
	// alert for the SLO the daemon reports as met, not even pending.
	time.Sleep(3 * time.Second)
	res, err := query(`ALERTS{alertname="MonitorSLOErrorBudgetBurn", check="events_within_sla"}`)
	if err != nil || len(res) != 0 {
		t.Errorf("burn-rate alerts for events_within_sla: %v (%v); the daemon reports it met", res, err)
	}
	res, err = query(`ALERTS{alertname="MonitorSLOErrorBudgetBurn", check="events_availability", severity="page"}`)
	if err != nil || len(res) == 0 {
		t.Errorf("no page alert pending for events_availability, whose every run fails: %v (%v)", res, err)
	}
}
