package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

const alertConfig = `server:
  listen: "%s"
storage:
  dsn: sqlite://data/monitor.db
checks:
  - name: pipeline_freshness
    kind: freshness
    source: { file: %s }
    max_age: 1h
    interval: 1s
    timeout: 500ms
    severity: CRITICAL
    component: Pipeline
alerting:
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
	mu  sync.Mutex
	got []hookNote
}

type hookNote struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Alerts []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"alerts"`
	webhookID string
}

func (h *hookLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var n hookNote
	_ = json.Unmarshal(body, &n)
	n.webhookID = r.Header.Get("webhook-id")
	h.mu.Lock()
	h.got = append(h.got, n)
	h.mu.Unlock()
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

// TestE2EAlertSurvivesKill9: a check fails, the on-call webhook gets one
// "firing"; the daemon is killed with SIGKILL and restarted while the check
// still fails: no second "firing"; the check recovers: one "resolved".
func TestE2EAlertSurvivesKill9(t *testing.T) {
	t.Parallel()
	hooks := &hookLog{}
	rcv := httptest.NewServer(hooks)
	defer rcv.Close()
	dir := t.TempDir()
	marker := filepath.Join(dir, "last-run")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(marker, old, old); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	configFor := func(listen string) (string, string) {
		return cfgPath, fmt.Sprintf(alertConfig, listen, marker, rcv.URL)
	}
	p := startMonitor(t, dir, configFor, []string{"--config", cfgPath})
	hooks.waitFor(t, "firing", 1, 20*time.Second)
	// Let the alert's state reach the store, then kill mid-run.
	time.Sleep(1500 * time.Millisecond)
	p.kill()

	p2 := startMonitor(t, dir, configFor, []string{"--config", cfgPath})
	defer p2.kill()
	// Several failing runs after the restart: still one firing.
	time.Sleep(4 * time.Second)
	if n, _ := hooks.count("firing"); n != 1 {
		t.Fatalf("%d firing notifications after the restart, want 1 (no second page)", n)
	}
	now := time.Now()
	if err := os.Chtimes(marker, now, now); err != nil {
		t.Fatal(err)
	}
	hooks.waitFor(t, "resolved", 1, 20*time.Second)
	time.Sleep(1500 * time.Millisecond)
	if n, ids := hooks.count("resolved"); n != 1 || ids != 1 {
		t.Errorf("%d resolved notifications (%d webhook-ids), want 1", n, ids)
	}
	if n, _ := hooks.count("firing"); n != 1 {
		t.Errorf("%d firing notifications in all, want 1", n)
	}
}
