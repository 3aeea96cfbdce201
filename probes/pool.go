package probes

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/dsn"
)

// The engines a named database can have.
const (
	EnginePostgres = string(dsn.Postgres)
	EngineMySQL    = string(dsn.MySQL)
	EngineSQLite   = string(dsn.SQLite)
	EngineRedis    = string(dsn.Redis)
)

// Errors of the pool. Messages never carry a DSN.
var (
	ErrUnknownDatabase   = errors.New("database is not configured")
	ErrUnsupportedScheme = dsn.ErrUnsupportedScheme
	ErrInvalidDSN        = errors.New("invalid DSN")
	ErrWrongEngine       = errors.New("database has the wrong engine for this use")
	ErrPoolClosed        = errors.New("connection pool is closed")
)

// Pool sizes: a probe needs one connection at a time; a few more let
// concurrent checks on the same database overlap.
const (
	maxOpenConns    = 4
	maxIdleConns    = 4
	connMaxLifetime = 30 * time.Minute
	connMaxIdleTime = 10 * time.Minute
)

// Driver-level backstops. The probe's context deadline is what normally ends
// a slow exchange; these bound the connections database/sql opens on its own.
const (
	dialTimeout  = 10 * time.Second
	ioTimeout    = 30 * time.Second
	sqliteBusyMs = 5000
)

// Pool holds one connection pool per named database, opened once and reused
// by every run of every check. Opening never contacts a server, so a
// database that is down does not keep the monitor from starting.
type Pool struct {
	logger   *slog.Logger
	redactor *check.Redactor

	mu     sync.RWMutex
	closed bool
	dbs    map[string]*handle
}

type handle struct {
	engine string
	sql    *sql.DB
	redis  *redis.Client
	err    error // set when the handle could not be prepared (e.g. mkdir failed)
}

// NewPool validates every DSN and prepares a pool for each named database,
// without connecting. It fails only on DSNs it cannot use (bad scheme or
// syntax), listing every bad one; errors carry names, never passwords.
func NewPool(dsns map[string]string, logger *slog.Logger) (*Pool, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Pool{logger: logger, redactor: check.NewRedactor(), dbs: make(map[string]*handle, len(dsns))}
	for _, d := range dsns {
		p.redactor.Add(d)
		for _, s := range dsn.Secrets(d) {
			p.redactor.Add(s)
		}
	}
	setRedisLogger(logger, p.redactor)

	names := make([]string, 0, len(dsns))
	for name := range dsns {
		names = append(names, name)
	}
	sort.Strings(names)

	var errs error
	for _, name := range names {
		h, err := p.open(name, dsns[name])
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("database %q: %w", name, err))
			continue
		}
		p.dbs[name] = h
	}
	if errs != nil {
		_ = p.Close()
		return nil, errs
	}
	return p, nil
}

// SQL returns the shared *sql.DB of a named SQL database and its engine
// (postgres, mysql or sqlite).
func (p *Pool) SQL(name string) (*sql.DB, string, error) {
	h, err := p.get(name)
	if err != nil {
		return nil, "", err
	}
	if h.sql == nil {
		return nil, h.engine, fmt.Errorf("database %q is %s, not SQL: %w", name, h.engine, ErrWrongEngine)
	}
	return h.sql, h.engine, nil
}

// Redis returns the shared client of a named Redis database.
func (p *Pool) Redis(name string) (*redis.Client, error) {
	h, err := p.get(name)
	if err != nil {
		return nil, err
	}
	if h.redis == nil {
		return nil, fmt.Errorf("database %q is %s, not redis: %w", name, h.engine, ErrWrongEngine)
	}
	return h.redis, nil
}

// Engine names the engine of a named database: postgres, mysql, sqlite or redis.
func (p *Pool) Engine(name string) (string, error) {
	h, err := p.get(name)
	if err != nil {
		return "", err
	}
	return h.engine, nil
}

// Close closes every connection. Later calls to SQL and Redis fail with
// ErrPoolClosed.
func (p *Pool) Close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs error
	for name, h := range p.dbs {
		var err error
		switch {
		case h.sql != nil:
			err = h.sql.Close()
		case h.redis != nil:
			err = h.redis.Close()
		}
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("close database %q: %s", name, p.redact(err.Error())))
		}
	}
	return errs
}

func (p *Pool) get(name string) (*handle, error) {
	if p == nil {
		return nil, fmt.Errorf("database %q: %w", name, ErrUnknownDatabase)
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return nil, ErrPoolClosed
	}
	h, ok := p.dbs[name]
	if !ok {
		return nil, fmt.Errorf("database %q: %w", name, ErrUnknownDatabase)
	}
	if h.err != nil {
		return nil, fmt.Errorf("database %q: %w", name, h.err)
	}
	return h, nil
}

// redact hides every password the pool knows of, and any URL userinfo
// password or password=... pair.
func (p *Pool) redact(s string) string {
	if p != nil {
		s = p.redactor.Redact(s)
	}
	return check.RedactText(s)
}

func (p *Pool) open(name, d string) (*handle, error) {
	engine, err := dsn.EngineOf(d)
	if err != nil {
		return nil, err
	}
	switch engine {
	case dsn.Postgres:
		db, err := openPostgres(d)
		if err != nil {
			return nil, p.invalid(err)
		}
		return &handle{engine: EnginePostgres, sql: db}, nil
	case dsn.MySQL:
		db, err := openMySQL(d, p.logger.With("database", name), p.redact)
		if err != nil {
			return nil, p.invalid(err)
		}
		return &handle{engine: EngineMySQL, sql: db}, nil
	case dsn.SQLite:
		db, mkdirErr, err := openSQLite(d)
		if err != nil {
			return nil, p.invalid(err)
		}
		h := &handle{engine: EngineSQLite, sql: db}
		if mkdirErr != nil {
			// Not fatal at start-up: the checks using it report the problem.
			h.err = fmt.Errorf("create directory: %s", p.redact(mkdirErr.Error()))
			p.logger.Warn("cannot create sqlite directory", "database", name, "err", h.err)
		}
		return h, nil
	case dsn.Redis:
		c, err := openRedis(d)
		if err != nil {
			return nil, p.invalid(err)
		}
		return &handle{engine: EngineRedis, redis: c}, nil
	}
	return nil, ErrUnsupportedScheme
}

// invalid wraps a DSN's parse error (already free of its password) in
// ErrInvalidDSN, redacting any other DSN's password it might quote.
func (p *Pool) invalid(err error) error {
	return &redactedError{msg: ErrInvalidDSN.Error() + ": " + p.redact(err.Error()), err: err}
}

// redactedError is an error whose message is redacted, keeping the chain
// for errors.Is.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string   { return e.msg }
func (e *redactedError) Unwrap() []error { return []error{ErrInvalidDSN, e.err} }

func configurePool(db *sql.DB) {
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxLifetime(connMaxLifetime)
	db.SetConnMaxIdleTime(connMaxIdleTime)
}

// openPostgres opens a pgx-backed *sql.DB; pgx accepts postgres:// and
// postgresql:// URLs with libpq's parameters.
func openPostgres(d string) (*sql.DB, error) {
	cfg, err := dsn.ParsePostgres(d, "monitor")
	if err != nil {
		return nil, err
	}
	db := stdlib.OpenDB(*cfg)
	configurePool(db)
	return db, nil
}

// mysqlConfig is the driver's configuration of a mysql:// DSN (dsn.ParseMySQL)
// with the pool's read and write timeouts when unset.
func mysqlConfig(d string) (*mysql.Config, error) {
	cfg, err := dsn.ParseMySQL(d)
	if err != nil {
		return nil, err
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = ioTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = ioTimeout
	}
	return cfg, nil
}

func openMySQL(dsn string, logger *slog.Logger, redact func(string) string) (*sql.DB, error) {
	cfg, err := mysqlConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.Logger = mysqlLogger{logger: logger, redact: redact}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	configurePool(db)
	return db, nil
}

// mysqlLogger sends the driver's stray messages to slog at debug level: the
// probe result already carries the error that matters.
type mysqlLogger struct {
	logger *slog.Logger
	redact func(string) string
}

func (l mysqlLogger) Print(v ...any) {
	l.logger.Debug("mysql driver message", "msg", l.redact(strings.TrimSpace(fmt.Sprint(v...))))
}

// sqliteDSN turns a sqlite:// DSN into the modernc driver's DSN, adding
// busy_timeout unless the query already sets one. It returns the directory
// to create, if any, and whether the database lives in memory.
//
// Only a busy timeout: a connection that finds the file locked by a writer
// waits for it. The journal mode is left as the file has it: switching a
// file to WAL needs an exclusive lock, and a connection that already reads
// cannot wait for one (SQLite answers SQLITE_BUSY at once, busy timeout or
// not), so probes that did it on connect failed whenever a writer or
// another new probe connection held the file. The target's journal mode is
// its owner's choice; the demo pipeline sets WAL on its own database.
func sqliteDSN(d string) (driverDSN, dir string, memory bool, err error) {
	s, err := dsn.ParseSQLite(d)
	if err != nil {
		return "", "", false, err
	}
	busySet := s.HasPragma("busy_timeout") || s.Query.Has("_timeout")
	query := ""
	if !busySet {
		query = fmt.Sprintf("_pragma=busy_timeout(%d)", sqliteBusyMs)
	}
	if s.RawQuery != "" {
		if query != "" {
			query += "&"
		}
		query += s.RawQuery
	}
	driverDSN = s.Path
	if query != "" {
		driverDSN += "?" + query
	}
	return driverDSN, s.Dir(), s.Memory, nil
}

// openSQLite opens the modernc driver. mkdirErr reports a parent directory
// that could not be created; the pool keeps going without it.
func openSQLite(dsn string) (db *sql.DB, mkdirErr, err error) {
	driverDSN, dir, memory, err := sqliteDSN(dsn)
	if err != nil {
		return nil, nil, err
	}
	if dir != "" {
		mkdirErr = os.MkdirAll(dir, 0o750)
	}
	db, err = sql.Open("sqlite", driverDSN)
	if err != nil {
		return nil, nil, err
	}
	if memory {
		// A private :memory: database lives as long as its one connection.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	} else {
		configurePool(db)
	}
	return db, mkdirErr, nil
}

// openRedis builds a client from redis:// or rediss:// with probe-friendly
// settings: no command retries, one dial attempt, context deadlines honoured,
// a small pool, and no optional handshake extras.
func openRedis(d string) (*redis.Client, error) {
	opt, err := dsn.ParseRedis(d)
	if err != nil {
		return nil, err
	}
	opt.ContextTimeoutEnabled = true
	if opt.MaxRetries == 0 {
		opt.MaxRetries = -1
	}
	opt.DialerRetries = 1
	if opt.DialTimeout == 0 {
		opt.DialTimeout = dialTimeout
	}
	if opt.PoolSize == 0 {
		opt.PoolSize = maxOpenConns
	}
	if opt.ConnMaxIdleTime == 0 {
		opt.ConnMaxIdleTime = connMaxIdleTime
	}
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return redis.NewClient(opt), nil
}

// go-redis logs through one process-wide logger. The first pool installs an
// adapter; later pools only swap the slog.Logger and redactor it forwards to.
var (
	redisLogOnce sync.Once
	redisLogDst  atomic.Pointer[redisLogger]
)

type redisLogger struct {
	logger   *slog.Logger
	redactor *check.Redactor
}

func (l *redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if dst := redisLogDst.Load(); dst != nil {
		msg := (dst.redactor.Redact(strings.TrimSpace(fmt.Sprintf(format, v...))))
		dst.logger.DebugContext(ctx, "redis client message", "msg", msg)
	}
}

func setRedisLogger(logger *slog.Logger, r *check.Redactor) {
	redisLogDst.Store(&redisLogger{logger: logger, redactor: r})
	redisLogOnce.Do(func() { redis.SetLogger(&redisLogger{}) })
}
