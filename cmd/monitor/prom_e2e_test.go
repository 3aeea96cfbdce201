package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
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
	prometheus := needTool(t, "prometheus", "prometheus")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	p := startMonitor(t, dir, func(listen string) (string, string) {
		return cfgPath, fmt.Sprintf(sloConfig, listen)
	}, []string{"--config", cfgPath})

	code, rules, stderr := runMain(t, "rules", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("monitor rules: exit %d: %s", code, stderr)
	}
	rulesPath := filepath.Join(dir, "rules.yml")
	writeFile(t, rulesPath, rules)
	if out, err := exec.Command(promtool, "check", "rules", rulesPath).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}

	promAddr := freeAddr(t)
	target := strings.TrimPrefix(p.base, "http://")
	writeFile(t, filepath.Join(dir, "prometheus.yml"), fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: monitor
    static_configs: [{targets: [%q]}]
`, rulesPath, target))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prometheus, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr)
	var promLog lockedBuffer
	cmd.Stdout, cmd.Stderr = &promLog, &promLog
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })

	query := func(q string) ([]any, error) {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var body struct {
			Status string
			Data   struct{ Result []any }
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return nil, err
		}
		return body.Data.Result, nil
	}
	for _, q := range []string{
		`monitor_slo:error_ratio:rate5m{check="app_db"}`,
		`monitor_slo:burn_rate:rate1h{check="app_db"}`,
		`monitor_slo:availability:ratio_rate30d{check="app_db"}`,
	} {
		deadline := time.Now().Add(40 * time.Second)
		for {
			res, err := query(q)
			if err == nil && len(res) > 0 {
				t.Logf("%s = %v", q, res[0])
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no value for %s after 40s (last error %v)\nprometheus log:\n%s", q, err, promLog.String())
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	// The monitor's own figures agree: every run passed.
	res, err := query(`monitor_slo:availability:ratio_rate30d{check="app_db"} == 1`)
	if err != nil || len(res) != 1 {
		t.Fatalf("availability from the rules is not 1: %v %v", res, err)
	}
}
