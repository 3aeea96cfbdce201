package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestE2EStatuspageOut: with statuspage.out set, the daemon writes the
// static page there and rewrites it when a public component's state
// changes.
func TestE2EStatuspageOut(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := staleMarker(t, dir)
	cfgPath := filepath.Join(dir, "config.yaml")
	p := startMonitor(t, dir, func(listen string) (string, string) {
		return cfgPath, fmt.Sprintf(`server:
  listen: "%s"
storage:
  dsn: sqlite://data/monitor.db
checks:
`+pipelineCheck+`statuspage:
  title: Acme status
  out: public/status
`, listen, marker)
	}, []string{"--config", cfgPath})
	defer p.kill()
	summary := filepath.Join(dir, "public", "status", "api", "v2", "summary.json")
	waitFile := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			b, _ := os.ReadFile(summary)
			if strings.Contains(string(b), want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s has no %s after 30s:\n%s", summary, want, b)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFile(`"major_outage"`)
	// The daemon serves the same page live, without a token.
	if resp, body := p.do("GET", "/api/v2/summary.json", nil, ""); resp.StatusCode != 200 ||
		!strings.Contains(string(body), "Acme status") || !strings.Contains(string(body), "major_outage") {
		t.Errorf("GET /api/v2/summary.json = %d\n%s", resp.StatusCode, body)
	}
	if resp, body := p.do("GET", "/", nil, ""); resp.StatusCode != 200 || !strings.Contains(string(body), "Pipeline") {
		t.Errorf("GET / = %d\n%s", resp.StatusCode, body)
	}
	touch(t, marker)
	waitFile(`"All systems operational"`)
	for _, f := range []string{"index.html", "badge/pipeline.svg", "feed.atom"} {
		if _, err := os.Stat(filepath.Join(dir, "public", "status", f)); err != nil {
			t.Error(err)
		}
	}
}
