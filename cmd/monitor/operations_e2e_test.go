package main

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/internal/testenv"
)

// sqliteCount runs a count query with the sqlite3 shell.
func sqliteCount(t *testing.T, sqlite3, db, query string) int {
	t.Helper()
	out, err := exec.Command(sqlite3, db, ".timeout 10000", query).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %s %q: %v\n%s", db, query, err, out)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("sqlite3 %q: %q", query, out)
	}
	return n
}

// runBlock runs a shell block of the docs with bash -e.
func runBlock(t *testing.T, block string) string {
	t.Helper()
	out, err := exec.Command("bash", "-e", "-c", block).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s\noutput:\n%s", err, block, out)
	}
	return string(out)
}

// docs/operations.md, as written, on a running daemon's SQLite store: both
// backup commands copy the store while the daemon writes to it, and each
// backup opens, passes the integrity check and holds the results; the
// restore block brings a backup back under a restarted daemon; and
// `monitor store copy` moves the store to PostgreSQL, where a daemon carries
// on with the history, refusing a second copy into it.
func TestOperationsBackupRestoreMove(t *testing.T) {
	sqlite3 := testenv.Tool(t, "sqlite3", "sqlite3")
	pg := testenv.PostgresSchema(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	store := filepath.Join(dir, "data", "monitor.db")
	config := func(dsn string) func(string) (string, string) {
		return func(listen string) (string, string) {
			return cfg, fmt.Sprintf(`server: { listen: %q }
storage: { dsn: %q }
checks:
  - { name: api_port, kind: tcp, address: "127.0.0.1:%d", interval: 100ms, timeout: 50ms }
`, listen, dsn, closedPort(t))
		}
	}
	p := startMonitor(t, dir, config("sqlite://data/monitor.db"), []string{"--config", cfg})
	waitCount := func(db string, atLeast int) int {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			n := sqliteCount(t, sqlite3, db, "SELECT count(*) FROM results")
			if n >= atLeast {
				return n
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s holds %d results after 20s, want %d", db, n, atLeast)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitCount(store, 20)

	// Both backups, while the daemon writes.
	backups := filepath.Join(dir, "backups")
	var vacuumed string
	for i, kind := range []string{"VACUUM INTO", ".backup"} {
		before := sqliteCount(t, sqlite3, store, "SELECT count(*) FROM results")
		block := replaceAll(t, docBlock(t, "operations.md", "sh", kind),
			"STORE=/var/lib/monitor/monitor.db", "STORE="+store,
			"BACKUP=/var/backups/monitor/monitor-", fmt.Sprintf("BACKUP=%s/%d-monitor-", backups, i))
		if out := runBlock(t, block); strings.TrimSpace(out) != "ok" {
			t.Errorf("the %s block printed %q, want the integrity check's ok", kind, out)
		}
		files, _ := filepath.Glob(filepath.Join(backups, strconv.Itoa(i)+"-monitor-*.db"))
		if len(files) != 1 {
			t.Fatalf("the %s block wrote %v, want one backup", kind, files)
		}
		if _, err := os.Stat(files[0] + "-wal"); err == nil {
			t.Errorf("%s left a -wal beside the backup: it is not self-contained", kind)
		}
		if n := sqliteCount(t, sqlite3, files[0], "SELECT count(*) FROM results"); n < before {
			t.Errorf("the %s backup holds %d results, the store held %d before it", kind, n, before)
		}
		if kind == "VACUUM INTO" {
			vacuumed = files[0]
		}
	}
	inBackup := sqliteCount(t, sqlite3, vacuumed, "SELECT count(*) FROM results")
	waitCount(store, inBackup+10) // the daemon kept writing
	p.stop()

	// Restore the VACUUM INTO backup under a restarted daemon.
	block := replaceAll(t, docBlock(t, "operations.md", "sh", "cp \"$BACKUP\" \"$STORE\""),
		"STORE=/var/lib/monitor/monitor.db", "STORE="+store,
		"BACKUP=/var/backups/monitor/monitor-20261130T031500Z.db", "BACKUP="+vacuumed)
	if out := runBlock(t, block); strings.TrimSpace(out) != "ok" {
		t.Errorf("the restore block printed %q", out)
	}
	if n := sqliteCount(t, sqlite3, store, "SELECT count(*) FROM results"); n != inBackup {
		t.Fatalf("after the restore the store holds %d results, want the backup's %d", n, inBackup)
	}
	p = startMonitor(t, dir, config("sqlite://data/monitor.db"), []string{"--config", cfg})
	restored := waitCount(store, inBackup+10)
	p.stop()

	// Move to PostgreSQL, then run on it.
	code, stdout, stderr := runMain(t, "store", "copy", "--from", "sqlite://"+store, "--to", pg)
	if code != 0 || !strings.Contains(stdout, "results") || !strings.Contains(stdout, "copied") {
		t.Fatalf("monitor store copy = %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	db, err := sql.Open("pgx", pg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var copied int
	if err := db.QueryRow("SELECT count(*) FROM results").Scan(&copied); err != nil || copied < restored {
		t.Fatalf("PostgreSQL holds %d results (%v) after the copy, want the %d of SQLite", copied, err, restored)
	}
	p = startMonitor(t, dir, config(pg), []string{"--config", cfg})
	p.waitHealth(10*time.Second, "api_port FAIL on the PostgreSQL store", func(h healthBody) bool {
		c, _ := h.find("api_port")
		return c.Status == "FAIL"
	})
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; n <= copied; {
		if err := db.QueryRow("SELECT count(*) FROM results").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon on PostgreSQL wrote no result after the copied %d", copied)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A store a daemon holds is refused, as source or target.
	for _, args := range [][]string{{"--from", pg, "--to", "sqlite://" + filepath.Join(dir, "back.db")}, {"--from", "sqlite://" + store, "--to", pg}} {
		code, _, stderr = runMain(t, append([]string{"store", "copy"}, args...)...)
		if code != exitFail || !strings.Contains(stderr, "in use by another monitor") {
			t.Errorf("store copy %v while the daemon runs = %d, %q; want 1 and \"in use by another monitor\"", args, code, stderr)
		}
	}
	p.stop()
	// Into a store that holds data: refused.
	code, _, stderr = runMain(t, "store", "copy", "--from", "sqlite://"+store, "--to", pg)
	if code != exitFail || !strings.Contains(stderr, "not empty") {
		t.Errorf("a copy into a non-empty store = %d, %q; want 1 and \"not empty\"", code, stderr)
	}
	if strings.Contains(stderr, "postgres://") {
		t.Errorf("the error shows a DSN: %q", stderr)
	}
}
