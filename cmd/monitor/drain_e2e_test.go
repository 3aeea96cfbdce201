package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/store"
)

const drainConfig = `server:
  listen: "%s"
storage:
  dsn: sqlite://monitor.db
checks:
  - name: slow_source
    kind: freshness
    source: { http: "%s", json_path: "$.lastEventAt" }
    interval: 1h
    timeout: 10s
    max_age: 15m
`

// TestE2EShutdownDrains: SIGTERM with a check in flight (an HTTP freshness
// source answering after 2 s) lets the check finish, as the README promises
// ("running checks get up to 15 s"): /readyz answers 503 while the daemon
// drains, and the drained result is in the history store after it stopped.
func TestE2EShutdownDrains(t *testing.T) {
	t.Parallel()
	const slow = 2 * time.Second
	arrived := make(chan struct{}, 1)
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-time.After(slow):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"lastEventAt": %q}`, time.Now().UTC().Add(-time.Minute).Format(time.RFC3339))
	}))
	t.Cleanup(src.Close)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	p := startMonitor(t, dir, func(listen string) (string, string) {
		return cfg, fmt.Sprintf(drainConfig, listen, src.URL)
	}, []string{"--config", cfg})

	select {
	case <-arrived: // the check is in flight
	case <-time.After(15 * time.Second):
		t.Fatalf("the check never asked its source; log:\n%s", p.stderr.String())
	}
	sent := time.Now()
	p.signal(syscall.SIGTERM)

	// While it drains, the HTTP server still answers, and /readyz says 503.
	var ready503 bool
	for !p.exited() && time.Since(sent) < slow/2 {
		resp, err := http.Get(p.base + "/readyz")
		if err != nil {
			t.Fatalf("GET /readyz during the drain: %v (the HTTP server must keep serving)", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			ready503 = true
		} else if time.Since(sent) > 200*time.Millisecond {
			t.Errorf("GET /readyz during the drain = %d, want 503", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !ready503 {
		t.Errorf("no 503 from /readyz while draining")
	}

	select {
	case <-p.exit.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("monitor still running 15s after SIGTERM; log:\n%s", p.stderr.String())
	}
	took := time.Since(sent)
	if p.exit.err != nil {
		t.Errorf("exit after SIGTERM: %v, want 0", p.exit.err)
	}
	log := p.stderr.String()
	if !strings.Contains(log, "monitor stopped") {
		t.Errorf("no \"monitor stopped\" in the log:\n%s", log)
	}
	if took < slow*3/4 {
		t.Errorf("stopped %s after SIGTERM, before the in-flight check could finish (%s)", took, slow)
	}

	// The drained result was written to the store before it closed.
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "monitor.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	latest, err := st.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, r := range latest {
		if r.Check == "slow_source" {
			found = true
			if r.Status != check.Pass || r.Duration < slow*3/4 {
				t.Errorf("stored slow_source = %s %q after %s, want the drained PASS (about %s)", r.Status, r.Message, r.Duration, slow)
			}
		}
	}
	if !found {
		t.Errorf("no slow_source result in the store after the drain (latest: %v); log:\n%s", latest, log)
	}
}
