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

	// A folder the rebuild must not replace (someone put a file in it):
	// the page served live still turns, the refused write is logged once,
	// not at every look, and the folder catches up once it is cleared.
	foreign := filepath.Join(dir, "public", "status", "notes.txt")
	writeFile(t, foreign, "mine")
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(marker, old, old); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := p.do("GET", "/api/v2/summary.json", nil, "")
		if strings.Contains(string(body), "major_outage") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the live page shows no major_outage after 30s:\n%s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	refused := func() int { return strings.Count(p.stderr.String(), "status page not rebuilt") }
	for deadline := time.Now().Add(30 * time.Second); refused() == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no refused write logged after 30s:\n%s", p.stderr.String())
		}
	}
	time.Sleep(3500 * time.Millisecond) // three more looks at the page, each refused
	if n := refused(); n != 1 {
		t.Errorf("the same refused write is logged %d times in 3.5 s, want once:\n%s", n, p.stderr.String())
	}
	if b, _ := os.ReadFile(summary); strings.Contains(string(b), "major_outage") {
		t.Errorf("the folder with a foreign file was replaced:\n%s", b)
	}
	if err := os.Remove(foreign); err != nil {
		t.Fatal(err)
	}
	waitFile(`"major_outage"`)
}
