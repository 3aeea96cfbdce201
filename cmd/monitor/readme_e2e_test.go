package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/internal/testenv"
)

// readmeCommands returns the commands of the README's sh blocks, with
// continuation lines joined.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	in := false
	cur := ""
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "```"):
			in = strings.TrimPrefix(line, "```") == "sh"
			continue
		case !in || strings.TrimSpace(line) == "":
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		cmds = append(cmds, strings.TrimSpace(cur+line))
		cur = ""
	}
	return cmds
}

// TestE2EReadmeTour runs the README's commands as written against the
// built binary on the shipped config.yaml: each must succeed (curl with
// --fail-with-body, so a 404 fails). The ones that need what a test may not
// use are left out, by reason: the internet (example.com), a file of the
// reader's (urls.txt), a platform database, starting the daemon (it is
// running: that is the first command), or building it (docker, go build:
// TestDockerfile compares those lines instead).
func TestE2EReadmeTour(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyFile(t, filepath.Join("..", "..", "config.yaml"), filepath.Join(dir, "config.yaml"))
	p := startMonitor(t, dir, nil, nil)
	p.waitHealth(15*time.Second, "every shipped check has run", allRan("usage_meters_connectivity",
		"redirect_analytics_freshness", "targeting_profile_freshness", "targeting_rollup_freshness", "demo_pipeline_heartbeat"))

	bin := monitorBinary(t)
	addr := strings.TrimPrefix(p.base, "http://")
	leftOut := regexp.MustCompile(`example\.(com|org)|urls\.txt|APP_DATABASE_URL=|^go test|monitor run\b|^docker |go build `)
	ran := 0
	for _, c := range readmeCommands(t) {
		if leftOut.MatchString(c) {
			t.Logf("left out: %s", c)
			continue
		}
		t.Run(c, func(t *testing.T) {
			if strings.Contains(c, "promtool") {
				testenv.Tool(t, "promtool", "prometheus")
			}
			sh := strings.ReplaceAll(c, "go run ./cmd/monitor", bin)
			sh = strings.ReplaceAll(sh, "localhost:8080", addr)
			sh = strings.ReplaceAll(sh, "curl -s ", "curl -sS --fail-with-body ")
			cmd := exec.Command("bash", "-o", "pipefail", "-c", sh)
			cmd.Dir = dir
			cmd.Env = daemonEnv("MONITOR_LISTEN=" + addr) // as the reader's shell: no MONITOR_API_TOKEN
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", sh, err, out)
			}
			if strings.Contains(c, "/v2/heartbeats/") && !strings.Contains(string(out), `"check":"demo_pipeline_heartbeat"`) {
				t.Errorf("heartbeat answer = %s, want the 202 for demo_pipeline_heartbeat", out)
			}
		})
		ran++
	}
	if ran < 4 {
		t.Errorf("ran %d README commands; the tour has more", ran)
	}
	p.stop()
}
