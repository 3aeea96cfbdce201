package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/store"
)

const crashConfig = `server:
  listen: "%s"
storage:
  dsn: sqlite://data/monitor.db
databases:
  app: { dsn: "sqlite://data/app.db" }
checks:
  - name: app_db
    kind: db
    database: app
    %s
    timeout: 500ms
`

// storedRuns counts the results of a check in the history store, and
// gives the time of the newest one.
func storedRuns(t *testing.T, dir, check string) (int64, time.Time) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "data", "monitor.db"), store.Options{Retention: 24 * time.Hour})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	defer st.Close()
	b, err := st.Totals(ctx, check, time.Now().Add(-time.Hour), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatalf("totals: %v", err)
	}
	latest, err := st.Latest(ctx)
	if err != nil {
		t.Fatalf("latest: %v", err)
	}
	var newest time.Time
	for _, r := range latest {
		if r.Check == check {
			newest = r.CheckedAt
		}
	}
	return b.Runs, newest
}

// TestE2EKill9KeepsHistory kills the daemon with SIGKILL while it writes,
// then checks that the store is intact, that no result written before the
// kill is lost, and that a restarted daemon serves the last result before
// any probe of it has run again.
func TestE2EKill9KeepsHistory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	p := startMonitor(t, dir, func(listen string) (string, string) {
		return cfgPath, fmt.Sprintf(crashConfig, listen, "interval: 1s")
	}, []string{"--config", cfgPath})
	p.waitHealth(10*time.Second, "app_db runs", allRan("app_db"))

	// Wait until history holds a few runs, then kill mid-stream.
	deadline := time.Now().Add(15 * time.Second)
	var before int64
	var newest time.Time
	for before < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d results reached the store in 15s", before)
		}
		time.Sleep(200 * time.Millisecond)
		before, newest = storedRuns(t, dir, "app_db")
	}
	p.kill()

	db, err := sql.Open("sqlite", filepath.Join(dir, "data", "monitor.db"))
	if err != nil {
		t.Fatal(err)
	}
	var integrity string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity_check after kill -9 = %q, %v", integrity, err)
	}
	db.Close()
	if after, _ := storedRuns(t, dir, "app_db"); after < before {
		t.Fatalf("kill -9 lost results: %d stored before, %d after", before, after)
	}

	// Restart with a schedule that cannot fire during the test: what health
	// shows can only come from the store.
	p2 := startMonitor(t, dir, func(listen string) (string, string) {
		return cfgPath, fmt.Sprintf(crashConfig, listen, `cron: "0 0 1 1 *"`)
	}, []string{"--config", cfgPath})
	h, code, body := p2.health()
	c, ok := h.find("app_db")
	if code != 200 || !ok || c.Status != "PASS" || c.CheckedAt == "" {
		t.Fatalf("after restart health = %d %s, want app_db restored as PASS", code, body)
	}
	// Results still queued at the kill may be lost; one already stored may not.
	if at, err := time.Parse(time.RFC3339, c.CheckedAt); err != nil || at.Before(newest.Truncate(time.Second)) {
		t.Fatalf("restored checkedAt %s is older than the newest stored before the kill (%s)", c.CheckedAt, newest)
	}
	p2.waitLog(5*time.Second, "restored the latest results")
	p2.stop()
}
