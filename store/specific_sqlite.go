package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SQLite quirks: ? placeholders, rowid aliases, WITHOUT ROWID tables, and
// one writer. Every write transaction begins IMMEDIATE on the one writing
// connection, so writers queue in the driver (busy_timeout) instead of
// failing to upgrade a read lock; readers use their own pool and, thanks
// to WAL, never wait for the writer.
var sqliteDialect = &dialect{
	name:         "sqlite",
	idColumn:     "INTEGER PRIMARY KEY",
	withoutRowID: " WITHOUT ROWID",
	placeholder:  func(int) string { return "?" },
	lock:         func(context.Context, *sql.Tx, int32) error { return nil },
}

// sqlitePragmas are applied to every connection unless the DSN sets them.
// synchronous=FULL makes a committed batch durable even across a power
// cut; in WAL mode it costs one fsync per batch.
var sqlitePragmas = []struct{ name, value string }{
	{"busy_timeout", "10000"},
	{"journal_mode", "WAL"},
	{"synchronous", "FULL"},
}

// openSQLite turns sqlite://relative/path.db, sqlite:///abs/path.db or
// sqlite://:memory: into a writing pool of one connection and a reading
// pool, and returns the database's file path ("" for :memory:). A :memory:
// database is private to its connection, so it gets one connection for
// both.
func openSQLite(dsn string) (w, r *sql.DB, file string, err error) {
	rest := dsn[strings.Index(dsn, "://")+3:]
	path, rawQuery, _ := strings.Cut(rest, "?")
	if path == "" {
		return nil, nil, "", errors.New("want sqlite://path/to/file.db or sqlite://:memory: (path is empty)")
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, nil, "", err
	}
	filePath := strings.TrimPrefix(path, "file:")
	memory := strings.HasPrefix(filePath, ":memory:") || q.Get("mode") == "memory"
	if !memory {
		if d := filepath.Dir(filePath); d != "." && d != "" {
			if err := os.MkdirAll(d, 0o750); err != nil {
				return nil, nil, "", fmt.Errorf("create directory: %w", err)
			}
		}
	}

	for _, p := range sqlitePragmas {
		if memory && p.name == "journal_mode" || hasPragma(q, p.name) {
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

	q.Del("_txlock")
	q.Add("_pragma", "query_only(1)")
	r, err = sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		_ = w.Close()
		return nil, nil, "", err
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	return w, r, filePath, nil
}

func hasPragma(q url.Values, name string) bool {
	for _, v := range q["_pragma"] {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), name) {
			return true
		}
	}
	return q.Has("_" + name)
}
