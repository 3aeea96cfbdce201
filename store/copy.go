package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/monitor-dev/monitor/internal/dsn"
)

// ErrTargetNotEmpty is a copy refused because the target store holds data.
var ErrTargetNotEmpty = errors.New("target store is not empty")

// ErrSameStore is a copy refused because from and to are two spellings of
// one store (the source's lock is found on the target).
var ErrSameStore = errors.New("--from and --to name the same store")

// ErrNoStore is a copy refused because its source holds no store.
var ErrNoStore = errors.New("no monitor store there")

// isStore tells whether the store at d exists, without creating anything:
// an SQLite file, or a PostgreSQL schema, with the store's
// schema_migrations table.
func isStore(ctx context.Context, d string) error {
	var db *sql.DB
	var q string
	switch e, err := dsn.EngineOf(d); {
	case err != nil:
		return ErrUnsupportedScheme
	case e == dsn.SQLite:
		s, err := dsn.ParseSQLite(d)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidDSN, err)
		}
		if s.Memory {
			return fmt.Errorf("%w: an in-memory database", ErrNoStore)
		}
		if _, err := os.Stat(s.File); err != nil {
			return fmt.Errorf("%w: %w", ErrNoStore, err)
		}
		if db, err = sql.Open("sqlite", "file:"+s.File+"?mode=ro"); err != nil {
			return err
		}
		q = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
	case e == dsn.Postgres:
		if db, err = openPostgres(d); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidDSN, err)
		}
		q = "SELECT count(*) FROM (SELECT to_regclass('schema_migrations') AS t) r WHERE t IS NOT NULL"
	default:
		return ErrUnsupportedScheme
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: the database holds no schema_migrations table (check the DSN, and search_path on PostgreSQL)", ErrNoStore)
	}
	return nil
}

// copyTables are the tables Copy moves, in an order that keeps references
// valid, each with its primary key (the order rows are read and written
// in). owner is left out: it names the daemon holding a store, and the
// target's daemon writes its own; schema_migrations is the target's own;
// cluster_members and cluster_leases describe the running replicas, which
// rebuild them within a lease TTL; link_location_results are rewritten by
// the next run of each location, latest_links by the next run of each link
// check (a process's first).
var copyTables = []struct{ name, key string }{
	{"checks", "id"},
	{"results", "check_id, ts"},
	{"rollups_hourly", "check_id, hour"},
	{"outages", "check_id, start_ms"},
	{"latest", "check_id"},
	{"heartbeats", "name"},
	{"alerts", "id"},
	{"deliveries", "id"},
	{"delivery_attempts", "id"},
	{"silences", "id"},
	{"escalations", "id"},
	{"audit_events", "id"},
}

// copyBatch is how many rows are read, and written in one transaction.
const copyBatch = 2000

// CopyStats counts the rows Copy moved, per table, in copy order.
type CopyStats struct {
	Tables []string
	Rows   []int64
}

// Copy moves every table of the store at from into the store at to (SQLite
// or PostgreSQL either way), in primary-key order, in batches of copyBatch
// rows, each batch one transaction. Both schemas are brought up to date
// first (a source that holds no store is refused with ErrNoStore, and
// nothing is created there); a target that holds any row is refused with ErrTargetNotEmpty,
// before anything is written. PostgreSQL identity columns continue after
// the copied ids. No daemon may write to either store meanwhile: stop it
// (the target's lock, see Options.Owner, keeps one from starting on it).
// progress, when set, is called after each batch.
func Copy(ctx context.Context, from, to string, progress func(table string, rows int64)) (CopyStats, error) {
	var stats CopyStats
	// A source that is no store (a typo in its path, the wrong database)
	// is refused before Open would create one there and copy it, empty.
	if err := isStore(ctx, from); err != nil {
		return stats, fmt.Errorf("open source: %w", redactErr(from, err))
	}
	// The source is locked too: a daemon still writing to it is refused.
	src, err := Open(ctx, from, Options{Owner: &Owner{Listen: "monitor store copy"}})
	if err != nil {
		return stats, fmt.Errorf("open source: %w", err)
	}
	defer src.Close()
	dst, err := Open(ctx, to, Options{Owner: &Owner{Listen: "monitor store copy"}})
	if le := (*LockedError)(nil); errors.As(err, &le) && le.ours() {
		return stats, ErrSameStore
	}
	if err != nil {
		return stats, fmt.Errorf("open target: %w", err)
	}
	defer dst.Close()
	s, d := src.(*sqlStore), dst.(*sqlStore)

	for _, t := range copyTables {
		var one int
		err := d.rdb.QueryRowContext(ctx, "SELECT 1 FROM "+t.name+" LIMIT 1").Scan(&one)
		switch {
		case err == nil:
			return stats, fmt.Errorf("%w: table %s has rows (copy into a new, empty database or schema; an interrupted copy leaves a partial one behind: delete it first)", ErrTargetNotEmpty, t.name)
		case !errors.Is(err, sql.ErrNoRows):
			return stats, fmt.Errorf("read target %s: %w", t.name, err)
		}
	}

	for _, t := range copyTables {
		n, err := copyTable(ctx, s, d, t.name, t.key, progress)
		stats.Tables = append(stats.Tables, t.name)
		stats.Rows = append(stats.Rows, n)
		if err != nil {
			return stats, fmt.Errorf("copy %s: %w", t.name, err)
		}
	}
	if d.d.name == "postgres" {
		// Identity columns were given explicit values: move their
		// sequences past them.
		for _, t := range []string{"checks", "deliveries", "delivery_attempts", "audit_events"} {
			if _, err := d.wdb.ExecContext(ctx, fmt.Sprintf(
				"SELECT setval(pg_get_serial_sequence('%[1]s', 'id'), coalesce(max(id), 0) + 1, false) FROM %[1]s", t)); err != nil {
				return stats, fmt.Errorf("reset the id sequence of %s: %w", t, err)
			}
		}
	}
	return stats, nil
}

// copyTable copies one table in key order, with keyset pagination: each
// batch reads the rows after the last key copied.
func copyTable(ctx context.Context, s, d *sqlStore, table, key string, progress func(string, int64)) (int64, error) {
	keys := strings.Split(key, ", ")
	rows, err := s.rdb.QueryContext(ctx, "SELECT * FROM "+table+" LIMIT 0")
	if err != nil {
		return 0, err
	}
	cols, err := rows.Columns()
	rows.Close()
	if err != nil {
		return 0, err
	}
	keyAt := make([]int, len(keys))
	for i, k := range keys {
		keyAt[i] = -1
		for j, c := range cols {
			if c == k {
				keyAt[i] = j
			}
		}
		if keyAt[i] < 0 {
			return 0, fmt.Errorf("no column %s", k)
		}
	}
	list := strings.Join(cols, ", ")
	first := fmt.Sprintf("SELECT %s FROM %s ORDER BY %s LIMIT %d", list, table, key, copyBatch)
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ")
	next := s.d.rebind(fmt.Sprintf("SELECT %s FROM %s WHERE (%s) > (%s) ORDER BY %s LIMIT %d", list, table, key, marks, key, copyBatch))

	var total int64
	var last []any
	for {
		var rs *sql.Rows
		if last == nil {
			rs, err = s.rdb.QueryContext(ctx, first)
		} else {
			rs, err = s.rdb.QueryContext(ctx, next, last...)
		}
		if err != nil {
			return total, err
		}
		var batch [][]any
		for rs.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rs.Scan(ptrs...); err != nil {
				rs.Close()
				return total, err
			}
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					vals[i] = string(b) // every column is a number or text
				}
			}
			batch = append(batch, vals)
		}
		err = rs.Err()
		rs.Close()
		if err != nil {
			return total, err
		}
		if len(batch) == 0 {
			return total, nil
		}
		if err := insertBatch(ctx, d, table, cols, batch); err != nil {
			return total, err
		}
		total += int64(len(batch))
		if progress != nil {
			progress(table, total)
		}
		tail := batch[len(batch)-1]
		last = make([]any, len(keyAt))
		for i, j := range keyAt {
			last[i] = tail[j]
		}
		if len(batch) < copyBatch {
			return total, nil
		}
	}
}

// insertBatch writes rows in one transaction, in multi-row INSERTs that
// stay under both engines' limits on bound parameters.
func insertBatch(ctx context.Context, d *sqlStore, table string, cols []string, rows [][]any) error {
	tx, err := d.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	per := max(1, 30000/len(cols)/10) // rows per statement
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(start+per, len(rows))]
		var args []any
		for _, r := range chunk {
			args = append(args, r...)
		}
		q := fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", table, strings.Join(cols, ", "),
			strings.TrimSuffix(strings.Repeat(row+", ", len(chunk)), ", "))
		if _, err := tx.ExecContext(ctx, d.d.rebind(q), args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}
