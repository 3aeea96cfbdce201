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

// TestE2EStatuspageManyChecks: with 10,000 checks (heartbeats, cheap),
// the page still turns within a couple of seconds of a public check's
// change, both ways: it is looked at every second whatever the number of
// checks (it used to be every 10 s at this size).
func TestE2EStatuspageManyChecks(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 checks")
	}
	t.Parallel()
	const n = 10_000
	dir := t.TempDir()
	marker := staleMarker(t, dir)
	cfgPath := filepath.Join(dir, "config.yaml")
	var beats strings.Builder
	for i := range n {
		fmt.Fprintf(&beats, "  - name: beat_%05d\n    kind: freshness\n    source: { heartbeat: true }\n    interval: 1m\n    timeout: 1s\n    max_age: 1h\n", i)
	}
	p := startMonitorPolling(t, 100*time.Millisecond, dir, func(listen string) (string, string) {
		return cfgPath, fmt.Sprintf(`server:
  listen: "%s"
storage:
  dsn: sqlite://data/monitor.db
checks:
`+pipelineCheck+beats.String()+`statuspage:
  title: Acme status
`, listen, marker)
	}, []string{"--config", cfgPath})
	defer p.kill()
	// turn waits until the page served shows want, and says how long it
	// took.
	turn := func(want string, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			_, body := p.do("GET", "/api/v2/summary.json", nil, "")
			if strings.Contains(string(body), want) {
				return time.Since(start)
			}
			if time.Since(start) > within {
				t.Fatalf("the page shows no %s after %s:\n%s", want, within, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	turn(`"major_outage"`, 60*time.Second)
	// The check runs every second and the page is looked at every
	// second: a turn takes about two seconds, where it took ten at this
	// size before (a look every 10 s, each copying every check's result).
	// The best of three turns each way, so that a shared machine running
	// -race (and the heartbeat checks' first results) cannot fail it.
	const within = 5 * time.Second
	best := map[string]time.Duration{}
	for i := range 3 {
		touch(t, marker)
		d := turn(`"All systems operational"`, 30*time.Second)
		t.Logf("round %d: operational after %s", i, d)
		if b, ok := best["operational"]; !ok || d < b {
			best["operational"] = d
		}
		old := time.Now().Add(-2 * time.Hour)
		if err := os.Chtimes(marker, old, old); err != nil {
			t.Fatal(err)
		}
		d = turn(`"major_outage"`, 30*time.Second)
		t.Logf("round %d: major_outage after %s", i, d)
		if b, ok := best["major_outage"]; !ok || d < b {
			best["major_outage"] = d
		}
	}
	for state, d := range best {
		if d > within {
			t.Errorf("the page turned %s %s after the check changed at best, want within %s", state, d, within)
		}
	}
}
