package probes

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/dsn"
)

// KindDB is the kind db: database connectivity.
const KindDB check.Kind = "db"

// dbKind is the kind db: connect, ping and an optional query. A timeout is
// a FAIL (the database did not answer); it is a datastore in health+json.
var dbKind = Kind{
	Name:      KindDB,
	Keys:      []string{"database", "query", "headroom"},
	Decode:    decodeDB,
	Probe:     ProbeDB,
	Behaviour: check.Behaviour{TimeoutStatus: check.Fail, ComponentType: "datastore", Chart: "Response time"},
}

// DBConfig is the configuration of a db check (check.Spec.Config).
//
// The yaml tags name the check's keys (docs/config.md is generated from
// them and from these comments).
type DBConfig struct {
	// Database is the name of the database (under databases:) to connect
	// to and ping. Required.
	Database string `yaml:"database"`
	// Query is run after the ping, its first row read and discarded
	// (SELECT 1); for Redis a command ("INFO server"). Optional.
	Query string `yaml:"query"`
	// Headroom, when set, compares the server's connections in use with
	// its connection limit (PostgreSQL and MySQL/MariaDB only) and FAILs
	// before the application's pools run out.
	Headroom *Headroom `yaml:"headroom"`
}

func decodeDB(f check.Fields) any {
	c := DBConfig{Database: f.Str("database"), Query: f.Str("query")}
	d, ok := f.DatabaseRef("database", c.Database)
	if f.Has("headroom") {
		c.Headroom = decodeHeadroom(f)
		if e, err := dsn.EngineOf(d); ok && err == nil && e != dsn.Postgres && e != dsn.MySQL {
			f.Errorf("headroom", "headroom%s needs a postgres:// or mysql:// database; %q is %s",
				f.In(), c.Database, e)
		}
	}
	return c
}

// dbConfig is spec's DBConfig (zero when spec is not a db check).
func dbConfig(spec check.Spec) DBConfig {
	c, _ := spec.Config.(DBConfig)
	return c
}

// ProbeDB checks a named database (kind: db): it pings it (SQL ping or Redis
// PING), then runs its query when one is set, reading and discarding the
// first row. For Redis the query is a command split on spaces ("INFO
// server"); a nil reply counts as success. The observed value is the round
// trip in seconds. Every failure, wrong password, refused port or silent
// server, is a FAIL with the check's severity.
func ProbeDB(ctx context.Context, spec check.Spec, env *Env) check.Result {
	ctx, cancel, timeout := withDeadline(ctx, spec)
	defer cancel()
	if env == nil || env.Pool == nil {
		return failed(spec.FailResult("no database pool configured"), check.ReasonError)
	}
	cfg := dbConfig(spec)
	engine, err := env.Pool.Engine(cfg.Database)
	if err != nil {
		return failed(spec.FailResult(env.redact(err.Error())), check.ReasonError)
	}

	start := time.Now()
	var (
		reason check.Reason
		msg    string
	)
	if engine == EngineRedis {
		reason, msg = pingRedis(ctx, env, cfg.Database, cfg.Query, timeout)
	} else {
		reason, msg = pingSQL(ctx, env, cfg.Database, cfg.Query, timeout)
	}
	elapsed := time.Since(start)
	if msg != "" {
		if isCanceled(ctx) {
			return failed(spec.UnknownResult("canceled before the database answered"), check.ReasonCanceled)
		}
		return failed(spec.FailResult(env.redact(msg)), reason)
	}
	res := spec.PassResult("ok")
	if cfg.Headroom != nil && engine != EngineRedis {
		res = headroomResult(ctx, spec, env, cfg, timeout)
	}
	// The round trip of the ping and query, not of the headroom's own
	// queries: the chart stays comparable with or without headroom.
	res.ObservedValue = check.Value(elapsed.Seconds())
	res.ObservedUnit = "s"
	return res
}

// pingSQL returns "" on success, else why and a short description of the
// failure.
func pingSQL(ctx context.Context, env *Env, name, query string, timeout time.Duration) (check.Reason, string) {
	db, _, err := env.Pool.SQL(name)
	if err != nil {
		return check.ReasonError, err.Error()
	}
	if err := db.PingContext(ctx); err != nil {
		return describe(ctx, "ping", err, timeout)
	}
	if strings.TrimSpace(query) == "" {
		return "", ""
	}
	if _, err := firstRow(ctx, db, query); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return describe(ctx, "query", err, timeout)
	}
	return "", ""
}

// firstRow runs query and returns the first row's values, whatever the
// number of columns; sql.ErrNoRows when there is none.
func firstRow(ctx context.Context, db *sql.DB, query string) ([]any, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, sql.ErrNoRows
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	// Closing early cancels the rest of the result; a server error that
	// arrived with the first row still shows up here.
	if err := rows.Close(); err != nil {
		return nil, err
	}
	return vals, rows.Err()
}

// pingRedis returns "" on success, else why and a short description of the
// failure.
func pingRedis(ctx context.Context, env *Env, name, query string, timeout time.Duration) (check.Reason, string) {
	c, err := env.Pool.Redis(name)
	if err != nil {
		return check.ReasonError, err.Error()
	}
	if err := c.Ping(ctx).Err(); err != nil {
		return describe(ctx, "ping", err, timeout)
	}
	fields := strings.Fields(query)
	if len(fields) == 0 {
		return "", ""
	}
	args := make([]any, len(fields))
	for i, f := range fields {
		args[i] = f
	}
	if err := c.Do(ctx, args...).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return describe(ctx, "query", err, timeout)
	}
	return "", ""
}
