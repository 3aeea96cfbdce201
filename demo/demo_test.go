package demo

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSeedPicture(t *testing.T) {
	db := openDB(t)
	now := time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)
	p := &Pipeline{DB: db, Now: func() time.Time { return now }}
	ctx := context.Background()
	if err := p.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Seed(ctx); err != nil { // a restart seeds again
		t.Fatalf("second seed: %v", err)
	}
	var events, rollup string
	if err := db.QueryRow(`SELECT max(received_at) FROM redirect_events`).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT max(rolled_up_at) FROM targeting_rollups`).Scan(&rollup); err != nil {
		t.Fatal(err)
	}
	if events != "2026-11-21 10:30:00.000" || rollup != "2026-11-21 10:10:00.000" {
		t.Fatalf("events at %s, rollup at %s; want now and 20m ago", events, rollup)
	}
	if err := p.tick(ctx, 6); err != nil {
		t.Fatal(err)
	}
	// The demo's own database reads while it writes: WAL (the probes leave
	// a target's journal mode alone).
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q (%v), want wal", mode, err)
	}
}

func TestRefusesForeignDatabase(t *testing.T) {
	for name, ddl := range map[string]string{
		"unrelated tables": `CREATE TABLE customers (id INTEGER PRIMARY KEY)`,
		// A real platform database with the same table names, not made by the demo.
		"same table names": `CREATE TABLE redirect_events (id INTEGER PRIMARY KEY, link_id INTEGER, received_at TEXT)`,
	} {
		t.Run(name, func(t *testing.T) {
			db := openDB(t)
			if _, err := db.Exec(ddl); err != nil {
				t.Fatal(err)
			}
			err := (&Pipeline{DB: db}).Seed(context.Background())
			if !errors.Is(err, ErrNotDemo) {
				t.Fatalf("Seed = %v, want ErrNotDemo", err)
			}
			var n int
			_ = db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'monitor_demo'`).Scan(&n)
			if n != 0 {
				t.Fatal("the demo marked a database it refused")
			}
		})
	}
}
