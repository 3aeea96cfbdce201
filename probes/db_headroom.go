package probes

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// Headroom is the connection headroom of a db check: the share of the
// server's connection slots in use at which it FAILs, before the
// application's pools start failing with "too many connections" or
// "remaining connection slots are reserved".
type Headroom struct {
	// Warn is the share of the limit in use, written as a percentage with
	// its sign (80%), at or above which the check FAILs WARN. Warn or
	// critical is required; warn ≤ critical.
	Warn float64 `yaml:"warn" ref:"percentage (80%)"`
	// Critical is the share at or above which the check FAILs CRITICAL
	// (92.5%).
	Critical float64 `yaml:"critical" ref:"percentage (95%)"`
	// MaxConnections replaces the server's limit when > 0: for managed
	// databases that hide it, or a pooler's limit lower than the server's.
	MaxConnections int `yaml:"max_connections"`
}

// pgStates are PostgreSQL's pg_stat_activity.state values, exported at 0
// when no connection is in them so that their series do not come and go.
var pgStates = []string{"active", "idle", "idle in transaction", "idle in transaction (aborted)",
	"fastpath function call", "disabled"}

func decodeHeadroom(f check.Fields) *Headroom {
	h, ok := f.Map("headroom", "headroom of "+f.Where(), "warn", "critical", "max_connections")
	if !ok {
		return nil
	}
	hr := &Headroom{
		Warn:           percent(h, "warn"),
		Critical:       percent(h, "critical"),
		MaxConnections: h.Int("max_connections", 0),
	}
	switch {
	case !h.Has("warn") && !h.Has("critical"):
		f.Errorf("headroom", "missing warn or critical%s", h.In())
	case hr.Warn > 0 && hr.Critical > 0 && hr.Warn > hr.Critical:
		h.Errorf("warn", "warn %s above critical %s%s", pct(hr.Warn), pct(hr.Critical), h.In())
	}
	if h.Has("max_connections") && hr.MaxConnections < 1 {
		h.Errorf("max_connections", "max_connections must be > 0%s", h.In())
	}
	return hr
}

// percent reads a percentage written with its sign, 80% or 92.5%: a bare
// 0.8 could mean 80% (a ratio, as fail_ratio is) or 0.8%.
func percent(f check.Fields, key string) float64 {
	if !f.Has(key) {
		return 0
	}
	raw := f.Raw(key)
	num, hasSign := strings.CutSuffix(strings.TrimSpace(raw), "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if !hasSign || err != nil || math.IsNaN(v) || v <= 0 || v > 100 {
		f.Errorf(key, "invalid %s %q%s (want a percentage above 0%% and at most 100%%, like 80%%)", key, raw, f.In())
		return 0
	}
	return v
}

// pct writes a threshold as configured: 80%, 92.5%.
func pct(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + "%" }

// headroomResult reads the connections in use and the limit of the check's
// database and compares their share with the thresholds:
//
//	below warn       PASS       "ok; connections 12/97 in use (12%)"
//	at or over warn  FAIL/WARN  "connections 86/100 in use (86%), warn at 80%"
//	critical         FAIL/CRITICAL "connections 97/100 in use (97%), critical at 95%"
//
// A server that does not say is UNKNOWN; one that does not answer in time
// is a FAIL, as for the ping.
func headroomResult(ctx context.Context, spec check.Spec, env *Env, cfg DBConfig, timeout time.Duration) check.Result {
	db, engine, err := env.Pool.SQL(cfg.Database)
	if err != nil {
		return failed(spec.UnknownResult(env.redact(err.Error())), check.ReasonError)
	}
	conns, err := readConnections(ctx, db, engine, cfg.Headroom.MaxConnections)
	if err != nil {
		reason, msg := describe(ctx, "connections", err, timeout)
		if reason == check.ReasonTimeout {
			return failed(spec.FailResult(env.redact(msg)), reason)
		}
		if isCanceled(ctx) {
			return failed(spec.UnknownResult("canceled before the database answered"), check.ReasonCanceled)
		}
		return failed(spec.UnknownResult(env.redact(msg)), check.ReasonQuery)
	}
	if conns.Max < 1 {
		return failed(spec.UnknownResult(fmt.Sprintf("connections: the server allows %d (set max_connections in headroom)", conns.Max)),
			check.ReasonQuery)
	}
	inUse := 0
	for _, n := range conns.ByState {
		inUse += n
	}
	share := 100 * float64(inUse) / float64(conns.Max)
	// Floored, so that the message never shows a threshold the share has
	// not reached (79.6% reads 79%, not 80%).
	use := fmt.Sprintf("connections %d/%d in use (%.0f%%)", inUse, conns.Max, math.Floor(share))
	h := cfg.Headroom
	var r check.Result
	switch {
	case h.Critical > 0 && share >= h.Critical:
		r = failed(spec.FailResult(use+", critical at "+pct(h.Critical)), check.ReasonHeadroom)
		r.Severity = check.Critical
	case h.Warn > 0 && share >= h.Warn:
		r = failed(spec.FailResult(use+", warn at "+pct(h.Warn)), check.ReasonHeadroom)
		r.Severity = check.Warn
	default:
		r = spec.PassResult("ok; " + use)
	}
	r.Connections = conns
	return r
}

// readConnections asks a PostgreSQL or MySQL/MariaDB server for its
// connections in use, by state, and its limit (limit > 0 replaces the
// server's).
func readConnections(ctx context.Context, db *sql.DB, engine string, limit int) (*check.DBConnections, error) {
	c := &check.DBConnections{ByState: map[string]int{}, Max: limit}
	switch engine {
	case EnginePostgres:
		for _, s := range pgStates {
			c.ByState[s] = 0
		}
		// Client backends only: autovacuum, WAL senders and background
		// workers have slots of their own. Unless the monitor's role has
		// pg_read_all_stats (pg_monitor), a session of another role is
		// listed without its backend_type and state: it is counted, as
		// "unknown", when it has a role and a database (the server's own
		// processes and launchers have neither).
		rows, err := db.QueryContext(ctx, `SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity
			WHERE backend_type = 'client backend'
			   OR (backend_type IS NULL AND usesysid IS NOT NULL AND datid IS NOT NULL)
			GROUP BY 1`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var state string
			var n int
			if err := rows.Scan(&state, &n); err != nil {
				return nil, err
			}
			c.ByState[state] += n
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if limit > 0 {
			return c, nil
		}
		// The slots an ordinary role can use: superuser_reserved_connections
		// (and, from PostgreSQL 16, reserved_connections) are kept for
		// superusers, so the application's pools fail ("remaining connection
		// slots are reserved") that many connections before max_connections.
		err = db.QueryRowContext(ctx, `SELECT current_setting('max_connections')::int
			- current_setting('superuser_reserved_connections')::int
			- coalesce(nullif(current_setting('reserved_connections', true), ''), '0')::int`).Scan(&c.Max)
		return c, err
	case EngineMySQL:
		var connected, running int
		rows, err := db.QueryContext(ctx, `SHOW GLOBAL STATUS WHERE Variable_name IN ('Threads_connected', 'Threads_running')`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var name, value string
			if err := rows.Scan(&name, &value); err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(value)
			if err != nil {
				return nil, fmt.Errorf("%s is %q, not a number", name, value)
			}
			switch strings.ToLower(name) {
			case "threads_connected":
				connected = n
			case "threads_running":
				running = n
			}
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		// Two states, adding up to Threads_connected: running a statement
		// (Threads_running, the probe's own query among them) or idle.
		c.ByState["running"] = running
		c.ByState["idle"] = max(connected-running, 0)
		if limit > 0 {
			return c, nil
		}
		// max_connections is what ordinary accounts get: the one extra
		// connection MySQL keeps for an administrator (and MariaDB's
		// extra_max_connections on its extra port) come on top.
		err = db.QueryRowContext(ctx, `SELECT @@max_connections`).Scan(&c.Max)
		return c, err
	}
	return nil, fmt.Errorf("headroom needs PostgreSQL or MySQL/MariaDB, not %s", engine)
}
