package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrSchemaTooNew means the database was migrated by a newer monitor.
var ErrSchemaTooNew = errors.New("database schema is newer than this monitor knows")

// Advisory lock keys (PostgreSQL); the second key is the schema's hash.
const (
	lockMigrate int32 = 0x6d6f6e31 // "mon1"
	lockWrite   int32 = 0x6d6f6e32 // "mon2"
	lockOwner   int32 = 0x6d6f6e33 // "mon3": session lock of the daemon holding the store
	lockAlerts  int32 = 0x6d6f6e34 // "mon4": writers of the alerting tables
)

// A migration is applied once, in one transaction, and recorded in
// schema_migrations. Statements are shared by both engines: SQLite reads
// BIGINT, SMALLINT and DOUBLE PRECISION as its INTEGER and REAL; {{id}},
// {{serial}} and {{without_rowid}} are the only dialect words.
type migration struct {
	version int
	name    string
	stmts   []string
}

// Schema, compact for the size target: integer check ids, times as unix
// milliseconds, codes as small integers (status 0 PASS, 1 FAIL, 2 UNKNOWN;
// severity 0 INFO, 1 WARN, 2 CRITICAL), and a result's message kept only
// when it is not PASS (the latest result keeps its full message in latest).
var migrations = []migration{
	{1, "initial schema", []string{
		`CREATE TABLE checks (
			id {{id}},
			name TEXT NOT NULL UNIQUE,
			rolled_until BIGINT NOT NULL DEFAULT 0
		)`,
		`CREATE TABLE results (
			check_id INTEGER NOT NULL,
			ts BIGINT NOT NULL,
			status SMALLINT NOT NULL,
			severity SMALLINT NOT NULL,
			maintenance SMALLINT NOT NULL,
			within_sla SMALLINT NOT NULL,
			value DOUBLE PRECISION,
			duration_ms INTEGER NOT NULL,
			message TEXT,
			PRIMARY KEY (check_id, ts)
		){{without_rowid}}`,
		`CREATE TABLE rollups_hourly (
			check_id INTEGER NOT NULL,
			hour BIGINT NOT NULL,
			runs INTEGER NOT NULL,
			good INTEGER NOT NULL,
			bad INTEGER NOT NULL,
			unknown INTEGER NOT NULL,
			maintenance INTEGER NOT NULL,
			within_sla INTEGER NOT NULL,
			n_values INTEGER NOT NULL,
			min_value DOUBLE PRECISION,
			sum_value DOUBLE PRECISION,
			max_value DOUBLE PRECISION,
			good_ms BIGINT NOT NULL,
			bad_ms BIGINT NOT NULL,
			unknown_ms BIGINT NOT NULL,
			maintenance_ms BIGINT NOT NULL,
			within_sla_ms BIGINT NOT NULL,
			PRIMARY KEY (check_id, hour)
		){{without_rowid}}`,
		`CREATE TABLE outages (
			check_id INTEGER NOT NULL,
			start_ms BIGINT NOT NULL,
			end_ms BIGINT,
			PRIMARY KEY (check_id, start_ms)
		){{without_rowid}}`,
		`CREATE INDEX outages_open ON outages (check_id) WHERE end_ms IS NULL`,
		`CREATE TABLE latest (
			check_id INTEGER PRIMARY KEY,
			ts BIGINT NOT NULL,
			result TEXT NOT NULL
		)`,
	}},
	{2, "heartbeats and owner", []string{
		// The last heartbeat pushed to each heartbeat check, so that a
		// restart does not forget it.
		`CREATE TABLE heartbeats (
			name TEXT PRIMARY KEY,
			ts BIGINT NOT NULL
		)`,
		// The daemon holding the store (one row, id 1), named in the
		// error of a second one.
		`CREATE TABLE owner (
			id SMALLINT PRIMARY KEY,
			pid INTEGER NOT NULL,
			host TEXT NOT NULL,
			listen TEXT NOT NULL,
			since BIGINT NOT NULL
		)`,
	}},
	{3, "alerting", []string{
		// The alerting engine's state per alert (Data is its JSON).
		`CREATE TABLE alerts (
			id TEXT PRIMARY KEY,
			firing SMALLINT NOT NULL,
			data TEXT NOT NULL,
			updated_at BIGINT NOT NULL
		)`,
		// The outbox: one row per notification to one receiver, written
		// in the transaction that made it due. alert_ids is a JSON array,
		// body the notification's JSON; done_at is NULL while pending.
		`CREATE TABLE deliveries (
			id {{serial}},
			notification_id TEXT NOT NULL,
			receiver TEXT NOT NULL,
			alert_ids TEXT NOT NULL,
			body TEXT NOT NULL,
			state TEXT NOT NULL,
			attempts INTEGER NOT NULL,
			created_at BIGINT NOT NULL,
			due_at BIGINT NOT NULL,
			last_error TEXT NOT NULL,
			last_status INTEGER NOT NULL,
			done_at BIGINT
		)`,
		`CREATE UNIQUE INDEX deliveries_notification ON deliveries (notification_id, receiver)`,
		`CREATE INDEX deliveries_due ON deliveries (state, due_at)`,
		`CREATE INDEX deliveries_done ON deliveries (state, done_at)`,
		// The log of delivery attempts (GET /v2/alerts/deliveries).
		`CREATE TABLE delivery_attempts (
			id {{serial}},
			delivery_id BIGINT NOT NULL,
			receiver TEXT NOT NULL,
			notification_id TEXT NOT NULL,
			alert_ids TEXT NOT NULL,
			attempt INTEGER NOT NULL,
			at BIGINT NOT NULL,
			duration_us BIGINT NOT NULL,
			status_code INTEGER NOT NULL,
			error TEXT NOT NULL,
			outcome TEXT NOT NULL,
			next_at BIGINT
		)`,
		`CREATE INDEX delivery_attempts_at ON delivery_attempts (at)`,
		`CREATE INDEX delivery_attempts_receiver ON delivery_attempts (receiver, at)`,
		// Silences; matchers is a JSON object.
		`CREATE TABLE silences (
			id TEXT PRIMARY KEY,
			matchers TEXT NOT NULL,
			starts_at BIGINT NOT NULL,
			ends_at BIGINT NOT NULL,
			comment TEXT NOT NULL,
			created_by TEXT NOT NULL,
			created_at BIGINT NOT NULL
		)`,
		`CREATE INDEX silences_ends ON silences (ends_at)`,
		// Operator escalations; resolved_at is NULL while open.
		`CREATE TABLE escalations (
			id TEXT PRIMARY KEY,
			handle TEXT NOT NULL,
			severity TEXT NOT NULL,
			summary TEXT NOT NULL,
			details TEXT NOT NULL,
			status TEXT NOT NULL,
			public SMALLINT NOT NULL,
			created_at BIGINT NOT NULL,
			created_by TEXT NOT NULL,
			resolved_at BIGINT,
			resolved_by TEXT NOT NULL
		)`,
		`CREATE INDEX escalations_status ON escalations (status, created_at)`,
		// The audit trail; details is a JSON object or NULL.
		`CREATE TABLE audit_events (
			id {{serial}},
			at BIGINT NOT NULL,
			actor TEXT NOT NULL,
			action TEXT NOT NULL,
			target TEXT NOT NULL,
			details TEXT
		)`,
		`CREATE INDEX audit_events_at ON audit_events (at)`,
		`CREATE INDEX audit_events_action ON audit_events (action, at)`,
	}},
	{4, "outbox by receiver", []string{
		`CREATE INDEX deliveries_receiver_due ON deliveries (receiver, state, due_at, id)`,
	}},
	{5, "cluster", []string{
		// The replicas of a cluster (package cluster): one row per live
		// process, heartbeat_at renewed with the server's now() every
		// TTL/3 and deleted on a clean stop. Unused (and harmless) on
		// SQLite, which never runs a cluster.
		`CREATE TABLE cluster_members (
			id TEXT PRIMARY KEY,
			location TEXT NOT NULL,
			listen TEXT NOT NULL,
			host TEXT NOT NULL,
			pid INTEGER NOT NULL,
			started_at TIMESTAMPTZ NOT NULL,
			heartbeat_at TIMESTAMPTZ NOT NULL
		)`,
		// Leases on check names (and the leader's lease): held by owner
		// until expires_at, by the server's clock.
		`CREATE TABLE cluster_leases (
			name TEXT PRIMARY KEY,
			owner TEXT NOT NULL,
			expires_at TIMESTAMPTZ NOT NULL
		)`,
		`CREATE INDEX cluster_leases_owner ON cluster_leases (owner)`,
	}},
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at BIGINT NOT NULL
)`

// migrate applies the missing migrations, each in its own transaction under
// the migration lock, so that two processes starting at once are safe: the
// second waits, then finds the work done.
func migrate(ctx context.Context, db *sql.DB, d *dialect) error {
	for _, m := range migrations {
		if err := applyMigration(ctx, db, d, m); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, d *dialect, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := d.lock(ctx, tx, lockMigrate); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
		return err
	}
	var current sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&current); err != nil {
		return err
	}
	if latest := latestVersion(); current.Int64 > int64(latest) {
		return fmt.Errorf("%w (database at version %d, this monitor at %d)", ErrSchemaTooNew, current.Int64, latest)
	}
	var n int
	if err := tx.QueryRowContext(ctx, d.rebind("SELECT COUNT(*) FROM schema_migrations WHERE version = ?"), m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return tx.Commit()
	}
	for _, stmt := range m.stmts {
		stmt = strings.NewReplacer("{{id}}", d.idColumn, "{{serial}}", d.serialColumn,
			"{{without_rowid}}", d.withoutRowID).Replace(stmt)
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, d.rebind("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
		m.version, m.name, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}
