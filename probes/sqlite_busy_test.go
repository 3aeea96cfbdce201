package probes

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// rollbackDB creates a SQLite file in the default rollback-journal mode (not
// WAL), with one table t, as an application that never asked for WAL leaves
// it.
func rollbackDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "target.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{"CREATE TABLE t (id INTEGER PRIMARY KEY, at TEXT)", "INSERT INTO t (at) VALUES ('x')"} {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "delete" {
		t.Fatalf("journal_mode = %q (%v), want delete", mode, err)
	}
	return path
}

// TestProbeDBSQLiteWriterHoldsLock: an application holds a write transaction
// on a SQLite file not in WAL mode for a moment while the probe runs. The
// probe waits for the lock (busy timeout) and passes, instead of failing at
// once with "database is locked (SQLITE_BUSY)".
func TestProbeDBSQLiteWriterHoldsLock(t *testing.T) {
	t.Parallel()
	for _, lock := range []string{"IMMEDIATE", "EXCLUSIVE"} {
		t.Run(lock, func(t *testing.T) {
			t.Parallel()
			path := rollbackDB(t)
			writer, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { writer.Close() })
			ctx := context.Background()
			conn, err := writer.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.ExecContext(ctx, "BEGIN "+lock); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(ctx, "INSERT INTO t (at) VALUES ('y')"); err != nil {
				t.Fatal(err)
			}
			const hold = 300 * time.Millisecond
			committed := make(chan error, 1)
			time.AfterFunc(hold, func() {
				_, err := conn.ExecContext(ctx, "COMMIT")
				committed <- err
			})

			p := newPool(t, map[string]string{"app": "sqlite://" + path})
			res := ProbeDB(ctx, dbSpec("SELECT count(*) FROM t", 5*time.Second), &Env{Pool: p})
			if err := <-committed; err != nil {
				t.Fatalf("writer commit: %v", err)
			}
			if res.Status != check.Pass {
				t.Fatalf("probe during a %s write transaction = %s %q, want PASS", lock, res.Status, res.Message)
			}
		})
	}
}

// TestProbeDBSQLiteConcurrentFirstUse: several checks start at once on a
// fresh pool over a SQLite file not yet in WAL mode (as `monitor check` and
// a starting daemon do). None of them fails with SQLITE_BUSY.
func TestProbeDBSQLiteConcurrentFirstUse(t *testing.T) {
	t.Parallel()
	const rounds, checks = 20, 6
	for round := range rounds {
		path := rollbackDB(t)
		p := newPool(t, map[string]string{"app": "sqlite://" + path})
		var wg sync.WaitGroup
		errs := make(chan string, checks)
		for i := range checks {
			q := "SELECT 1"
			if i%2 == 1 {
				q = "SELECT max(at) FROM t"
			}
			wg.Go(func() {
				res := ProbeDB(context.Background(), dbSpec(q, 5*time.Second), &Env{Pool: p})
				if res.Status != check.Pass {
					errs <- fmt.Sprintf("round %d check %d: %s %q", round, i, res.Status, res.Message)
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		if t.Failed() {
			return
		}
	}
}
