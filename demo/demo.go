// Package demo is a built-in stand-in for the platform's data pipeline, so
// that the shipped config shows real results on a fresh machine with no
// external service. It writes only to a SQLite database: it never touches a
// real platform's PostgreSQL or MySQL.
package demo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Layout is how demo timestamps are stored: UTC text that sorts in time
// order, which is what max() over a SQLite TEXT column needs.
const Layout = "2006-01-02 15:04:05.000"

// RollupLag is how far behind the demo's rollup job is: past the 15-minute
// staleness threshold, so the demo shows what a failing check looks like.
const RollupLag = 20 * time.Minute

// Schema creates the tables the shipped config's checks read.
const Schema = `
CREATE TABLE IF NOT EXISTS usage_meters (id INTEGER PRIMARY KEY, meter TEXT NOT NULL, recorded_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS redirect_events (id INTEGER PRIMARY KEY, link_id INTEGER NOT NULL, received_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS redirect_events_received_at ON redirect_events (received_at);
CREATE TABLE IF NOT EXISTS targeting_profiles (id INTEGER PRIMARY KEY, profile TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS targeting_profiles_updated_at ON targeting_profiles (updated_at);
CREATE TABLE IF NOT EXISTS targeting_rollups (id INTEGER PRIMARY KEY, bucket TEXT NOT NULL, rolled_up_at TEXT NOT NULL);
`

// HeartbeatCheck is the heartbeat check the pipeline pushes, as a job would
// with POST /v2/heartbeats/demo_pipeline_heartbeat.
const HeartbeatCheck = "demo_pipeline_heartbeat"

// Pipeline feeds the demo tables.
type Pipeline struct {
	DB     *sql.DB
	Now    func() time.Time
	Logger *slog.Logger
	// Beat, if set, is called after every successful write (the seed and
	// each tick) to push the HeartbeatCheck.
	Beat func(at time.Time)
	// Every is how often redirect events arrive; profiles update every
	// sixth tick. Default 5s.
	Every time.Duration
}

// ErrNotDemo is returned for a database that holds tables the demo did not
// create: the demo deletes rows, so it never touches a real database.
var ErrNotDemo = errors.New("the database has tables the demo did not create; refusing to write demo data into it")

// Seed creates the tables and writes the starting picture: fresh events and
// profiles, and a rollup job stuck RollupLag behind.
func (p *Pipeline) Seed(ctx context.Context) error {
	if err := p.claim(ctx); err != nil {
		return err
	}
	// WAL lets the checks read while the pipeline writes. The probes leave a
	// target's journal mode alone; this database is the demo's own.
	var mode string
	if err := p.DB.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		p.log().Warn("demo database stays in its journal mode", "err", err)
	}
	if _, err := p.DB.ExecContext(ctx, Schema); err != nil {
		return fmt.Errorf("demo schema: %w", err)
	}
	now := p.now()
	stmts := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO usage_meters (meter, recorded_at) VALUES ('api_calls', ?)`, []any{ts(now)}},
		{`INSERT INTO redirect_events (link_id, received_at) VALUES (1, ?)`, []any{ts(now)}},
		{`INSERT INTO targeting_profiles (profile, updated_at) VALUES ('default', ?)`, []any{ts(now)}},
		{`DELETE FROM targeting_rollups`, nil},
		{`INSERT INTO targeting_rollups (bucket, rolled_up_at) VALUES (?, ?)`,
			[]any{now.Add(-RollupLag).Truncate(time.Hour).Format("2006-01-02T15"), ts(now.Add(-RollupLag))}},
	}
	for _, s := range stmts {
		if _, err := p.DB.ExecContext(ctx, s.q, s.args...); err != nil {
			return fmt.Errorf("demo seed: %w", err)
		}
	}
	p.beat(now)
	return nil
}

func (p *Pipeline) beat(at time.Time) {
	if p.Beat != nil {
		p.Beat(at)
	}
}

// claim makes sure the database is the demo's own: empty, or marked by an
// earlier Seed.
func (p *Pipeline) claim(ctx context.Context) error {
	var marked, others int
	err := p.DB.QueryRowContext(ctx, `SELECT
		count(CASE WHEN name = 'monitor_demo' THEN 1 END),
		count(CASE WHEN name NOT IN ('monitor_demo', 'usage_meters', 'redirect_events',
			'targeting_profiles', 'targeting_rollups') AND name NOT LIKE 'sqlite_%' THEN 1 END)
		FROM sqlite_master WHERE type = 'table'`).Scan(&marked, &others)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	var demoTables int
	if err := p.DB.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN
		('usage_meters', 'redirect_events', 'targeting_profiles', 'targeting_rollups')`).Scan(&demoTables); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if others > 0 || (marked == 0 && demoTables > 0) {
		return ErrNotDemo
	}
	if marked == 0 {
		if _, err := p.DB.ExecContext(ctx, `CREATE TABLE monitor_demo (created_at TEXT NOT NULL);
			INSERT INTO monitor_demo VALUES (datetime('now'))`); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return nil
}

// Run seeds the tables, then writes events until ctx ends.
func (p *Pipeline) Run(ctx context.Context) error {
	if err := p.Seed(ctx); err != nil {
		return err
	}
	every := p.Every
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := p.tick(ctx, tick); err != nil {
			if ctx.Err() == nil {
				p.log().Warn("demo pipeline write failed", "err", err)
			}
			continue // no heartbeat when the job failed
		}
		p.beat(p.now())
	}
}

func (p *Pipeline) tick(ctx context.Context, n int) error {
	now := p.now()
	if _, err := p.DB.ExecContext(ctx, `INSERT INTO redirect_events (link_id, received_at) VALUES (?, ?)`, n%50+1, ts(now)); err != nil {
		return err
	}
	if n%6 == 0 {
		if _, err := p.DB.ExecContext(ctx, `INSERT INTO targeting_profiles (profile, updated_at) VALUES ('default', ?)`, ts(now)); err != nil {
			return err
		}
		if _, err := p.DB.ExecContext(ctx, `INSERT INTO usage_meters (meter, recorded_at) VALUES ('api_calls', ?)`, ts(now)); err != nil {
			return err
		}
	}
	if n%120 == 0 { // keep the demo database small
		cut := ts(now.Add(-2 * time.Hour))
		for _, q := range []string{
			`DELETE FROM redirect_events WHERE received_at < ?`,
			`DELETE FROM targeting_profiles WHERE updated_at < ?`,
			`DELETE FROM usage_meters WHERE recorded_at < ?`,
		} {
			if _, err := p.DB.ExecContext(ctx, q, cut); err != nil {
				return err
			}
		}
	}
	return nil
}

func ts(t time.Time) string { return t.UTC().Format(Layout) }

func (p *Pipeline) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

func (p *Pipeline) log() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}
