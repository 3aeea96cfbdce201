package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/dsn"
)

// Defaults of Options.
const (
	DefaultRetention       = 90 * 24 * time.Hour
	DefaultRollupRetention = 400 * 24 * time.Hour
	DefaultAuditRetention  = 90 * 24 * time.Hour
)

// Errors of Open. Messages never carry a DSN password.
var (
	ErrUnsupportedScheme = errors.New("unsupported storage DSN scheme (want sqlite://, postgres:// or postgresql://)")
	ErrInvalidDSN        = errors.New("invalid storage DSN")
)

// Options tune a store. The zero value gives the defaults.
type Options struct {
	// Retention keeps raw results this long (default 90 days).
	Retention time.Duration
	// RollupRetention keeps hourly rollups and finished outages this long
	// (default 400 days).
	RollupRetention time.Duration
	// AuditRetention keeps audit events this long (default 90 days; the
	// config's audit.retention). Dead letters, ended silences and resolved
	// escalations are kept for Retention.
	AuditRetention time.Duration
	Logger         *slog.Logger
	// Owner, when set, makes this process the store's only daemon: Open
	// takes an exclusive lock (SQLite: a lock file beside the database,
	// path + ".lock"; PostgreSQL: a session advisory lock per schema) held
	// until Close, and fails with ErrLocked, naming the holder, when
	// another process has it. Readers (sla report) leave it nil.
	Owner *Owner
	// ShareLinks (cluster mode; PostgreSQL only, ignored by SQLite) keeps
	// the per-link results of link checks in latest_links, for the other
	// replicas' results feeds and for Latest: Write stores those of the
	// results marked Record.ShareLinks (the Writer marks the newest of
	// each link check) when due (see links.go).
	ShareLinks bool
	// Now is the store's clock (default time.Now): reads count the state
	// of the newest result as held until now, and a late result re-rolls
	// its hour only while that hour is within the retention.
	Now func() time.Time
}

// Open connects to the store named by dsn and brings its schema up to
// date: sqlite://path/to.db (relative or absolute as sqlite:///abs.db; the
// parent directory is created), sqlite://:memory:, or postgres:// and
// postgresql:// URLs (search_path=... picks a schema).
func Open(ctx context.Context, d string, opts Options) (Store, error) {
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.RollupRetention <= 0 {
		opts.RollupRetention = DefaultRollupRetention
	}
	if opts.AuditRetention <= 0 {
		opts.AuditRetention = DefaultAuditRetention
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}

	engine, err := dsn.EngineOf(d)
	if err != nil {
		return nil, ErrUnsupportedScheme
	}
	var (
		dl     *dialect
		wr, rd *sql.DB
		file   string
	)
	switch engine {
	case dsn.SQLite:
		dl = sqliteDialect
		wr, rd, file, err = openSQLite(d)
	case dsn.Postgres:
		dl = postgresDialect
		wr, err = openPostgres(d)
		rd = wr
	default:
		return nil, ErrUnsupportedScheme
	}
	if fe := (*fileError)(nil); errors.As(err, &fe) {
		return nil, redactErr(d, fmt.Errorf("store %s: %w", dl.name, err))
	}
	if err != nil {
		return nil, redactErr(d, fmt.Errorf("%w: %w", ErrInvalidDSN, err))
	}
	s := newSQLStore(dl, wr, rd, opts)
	if dl == postgresDialect {
		// Parsed once already by openPostgres.
		if s.feedConfig, err = dsn.ParsePostgres(d, "monitor-feed"); err != nil {
			_ = s.Close()
			return nil, redactErr(d, fmt.Errorf("%w: %w", ErrInvalidDSN, err))
		}
	}
	if opts.Owner != nil && file != "" {
		if s.flock, err = lockFile(file+".lock", opts.Owner); err != nil {
			_ = s.Close()
			return nil, redactErr(d, fmt.Errorf("store %s: %w", dl.name, err))
		}
	}
	if dl == postgresDialect {
		// A server that cannot be reached is said so, not reported as
		// "migration 1 (initial schema): failed to connect".
		if err := wr.PingContext(ctx); err != nil {
			_ = s.Close()
			return nil, redactErr(d, fmt.Errorf("store %s: connect: %w", dl.name, err))
		}
	}
	if err := migrate(ctx, wr, dl); err != nil {
		_ = s.Close()
		return nil, redactErr(d, fmt.Errorf("store %s: %w", dl.name, err))
	}
	if opts.Owner != nil && dl == postgresDialect {
		if s.lockConn, err = lockPostgres(ctx, wr, opts.Owner); err != nil {
			_ = s.Close()
			return nil, redactErr(d, fmt.Errorf("store %s: %w", dl.name, err))
		}
	}
	if opts.Owner != nil {
		if err := s.dropClaims(ctx); err != nil {
			_ = s.Close()
			return nil, redactErr(d, fmt.Errorf("store %s: %w", dl.name, err))
		}
	}
	return s, nil
}

// redactedError hides the DSN's password from the message but keeps the
// chain for errors.Is.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redactErr(d string, err error) error {
	msg := check.NewRedactor(append(dsn.Secrets(d), d)...).Redact(err.Error())
	return &redactedError{msg: msg, err: err}
}
