package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/monitor-dev/monitor/internal/dsn"
)

// SQLite quirks: ? placeholders, rowid aliases, WITHOUT ROWID tables, and
// one writer. Every write transaction begins IMMEDIATE on the one writing
// connection, so writers queue in the driver (busy_timeout) instead of
// failing to upgrade a read lock; readers use their own pool and, thanks
// to WAL, never wait for the writer.
var sqliteDialect = &dialect{
	name:         "sqlite",
	idColumn:     "INTEGER PRIMARY KEY",
	serialColumn: "INTEGER PRIMARY KEY AUTOINCREMENT",
	withoutRowID: " WITHOUT ROWID",
	placeholder:  func(int) string { return "?" },
	lock:         func(context.Context, *sql.Tx, int32) error { return nil },
}

// sqlitePragmas are applied to every connection unless the DSN sets them.
// synchronous=FULL makes a committed batch durable even across a power
// cut; in WAL mode it costs one fsync per batch. cache_size bounds each
// connection's page cache to 512 KiB (SQLite's default is 2 MiB): the
// daemon's five connections (one writer, four readers) filled theirs as
// the file grew, 10 MiB of memory outside Go's heap that crept up for
// the first hour (bench/soak); the writer appends, and in WAL mode a
// reader's cache is emptied whenever another connection commits (every
// second), so a larger one held pages that were rarely read again. The
// file's pages stay in the OS page cache either way
// (BenchmarkSQLiteCacheSize: writes and reads side by side).
//
// The readers' caches are smaller, 128 KiB (readerCacheSize): WAL mode
// empties them at the writer's every commit, so they hold one query's
// pages at most, and each costs about twice its size in SQLite's C heap
// (modernc.org/libc puts a 4.2 KiB page in an 8 KiB slot), which its
// allocator keeps once touched. With 512 KiB each the four readers added
// ~5 MiB of resident memory the first time the history compaction or a
// burst of API reads used them all, a step the soak saw as creep. Measured
// as the C heap's live bytes (1,000 checks, 100,000 results, a compaction,
// then 8 parallel history readers): +6.1 MiB with 512 KiB everywhere,
// +3.3 MiB with 128 KiB readers; BenchmarkSQLiteCacheSize (writes with
// history and totals reads) is as fast, median 27.1 vs 27.2 ms.
var sqlitePragmas = []struct{ name, value string }{
	{"busy_timeout", "10000"},
	{"journal_mode", "WAL"},
	{"synchronous", "FULL"},
	{"cache_size", "-512"},
}

// readerCacheSize is the readers' cache_size (see sqlitePragmas).
const readerCacheSize = "-128"

// openSQLite turns sqlite://relative/path.db, sqlite:///abs/path.db or
// sqlite://:memory: into a writing pool of one connection and a reading
// pool, and returns the database's file path ("" for :memory:). A :memory:
// database is private to its connection, so it gets one connection for
// both.
func openSQLite(d string) (w, r *sql.DB, file string, err error) {
	s, err := dsn.ParseSQLite(d)
	if err != nil {
		return nil, nil, "", err
	}
	path, q, memory, filePath := s.Path, s.Query, s.Memory, s.File
	if dir := s.Dir(); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, nil, "", &fileError{fmt.Errorf("create directory: %w", err)}
		}
	}
	if !memory {
		// Opened here first, so that a file that cannot be written (a
		// read-only directory, a directory at its path) is said so by the
		// OS, not as SQLite's "unable to open database file (14)".
		f, err := os.OpenFile(filePath, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, nil, "", &fileError{err}
		}
		_ = f.Close()
	}

	dsnCache := s.HasPragma("cache_size") // before q (s.Query) gets the defaults
	setWAL := false
	for _, p := range sqlitePragmas {
		if memory && p.name == "journal_mode" || s.HasPragma(p.name) {
			continue
		}
		if p.name == "journal_mode" {
			// Not in the DSN: a new connection's switch to WAL fails at
			// once with SQLITE_BUSY (no busy handler) while another
			// process opens the same new file. WAL is a property of the
			// file, so it is set once below, retried while busy.
			setWAL = true
			continue
		}
		q.Add("_pragma", p.name+"("+p.value+")")
	}
	q.Set("_txlock", "immediate")
	w, err = sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, nil, "", err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if memory {
		return w, w, "", nil
	}
	if setWAL {
		if err := walMode(w); err != nil {
			_ = w.Close()
			return nil, nil, "", fmt.Errorf("journal_mode WAL: %w", err)
		}
	}

	q.Del("_txlock")
	q.Add("_pragma", "query_only(1)")
	if !dsnCache {
		ps := q["_pragma"]
		for i, p := range ps {
			if strings.HasPrefix(p, "cache_size(") {
				ps[i] = "cache_size(" + readerCacheSize + ")"
			}
		}
	}
	r, err = sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		_ = w.Close()
		return nil, nil, "", err
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	return w, r, filePath, nil
}

// fileError is a database file or directory the OS refused: the DSN is
// fine, the place is not.
type fileError struct{ err error }

func (e *fileError) Error() string { return e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

// walBusyWait bounds how long opening waits for another process to let go
// of a new database file before switching it to WAL (the busy_timeout).
const walBusyWait = 10 * time.Second

// walMode puts the database file in WAL mode, retrying while another
// connection holds a lock that makes SQLite refuse the switch at once.
func walMode(w *sql.DB) error {
	ctx, cancel := context.WithTimeout(context.Background(), walBusyWait)
	defer cancel()
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		_, err := w.ExecContext(ctx, "PRAGMA journal_mode=WAL")
		if err == nil || !isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// isBusy reports SQLITE_BUSY or SQLITE_LOCKED (and their extended codes).
func isBusy(err error) bool {
	var coded interface{ Code() int }
	if !errors.As(err, &coded) {
		return false
	}
	c := coded.Code() & 0xff
	return c == 5 || c == 6
}
