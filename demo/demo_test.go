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
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "app.db")+"?_pragma=busy_timeout(5000)") // as the pool opens it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSeedPicture(t *testing.T) {
	db := openDB(t)
	now := time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)
	var beats []time.Time
	p := &Pipeline{DB: db, Now: func() time.Time { return now }, Beat: func(at time.Time) { beats = append(beats, at) }}
	ctx := context.Background()
	if err := p.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	if len(beats) != 1 || !beats[0].Equal(now) {
		t.Fatalf("heartbeats after the seed = %v, want one at %s", beats, now)
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

// TestRunPushesHeartbeat: the running pipeline pushes its heartbeat after
// every write, and not when the write failed.
func TestRunPushesHeartbeat(t *testing.T) {
	db := openDB(t)
	beats := make(chan time.Time, 100)
	p := &Pipeline{DB: db, Every: 10 * time.Millisecond, Beat: func(at time.Time) { beats <- at }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	for range 3 { // the seed and two ticks
		select {
		case <-beats:
		case <-time.After(5 * time.Second):
			t.Fatal("no heartbeat from the running pipeline")
		}
	}
	if _, err := db.Exec(`DROP TABLE redirect_events`); err != nil { // every tick fails from now on
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	for len(beats) > 0 { // beats of ticks that ran before the drop
		<-beats
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(beats); n != 0 {
		t.Errorf("%d heartbeats while every write failed, want none", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
