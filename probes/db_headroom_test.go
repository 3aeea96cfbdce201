package probes

import (
	"context"
	"database/sql"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

func headroomSpec(h Headroom) check.Spec {
	return check.Spec{Name: "db_headroom", Kind: KindDB, Timeout: 5 * time.Second, Severity: check.Critical,
		Config: DBConfig{Database: "app", Headroom: &h}}
}

// serverConnections counts the connections in use as an operator would,
// independently of the probe: client backends in pg_stat_activity, or
// Threads_connected.
func serverConnections(t *testing.T, db *sql.DB, engine string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int
	var err error
	if engine == EnginePostgres {
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'`).Scan(&n)
	} else {
		var name string
		err = db.QueryRowContext(ctx, `SHOW GLOBAL STATUS LIKE 'Threads_connected'`).Scan(&name, &n)
	}
	if err != nil {
		t.Fatalf("count connections: %v", err)
	}
	return n
}

// idleConns holds idle connections to a server, as an application's pool
// does, on a *sql.DB of its own.
type idleConns struct {
	t     *testing.T
	db    *sql.DB
	conns []*sql.Conn
}

func newIdleConns(t *testing.T, dsn string) *idleConns {
	p := newPool(t, map[string]string{"hold": dsn})
	db, _ := sqlOf(t, p, "hold")
	db.SetMaxOpenConns(0)
	db.SetMaxIdleConns(0) // a released connection is closed, not kept
	h := &idleConns{t: t, db: db}
	t.Cleanup(func() { h.resize(0) })
	return h
}

// resize opens or closes connections until it holds n.
func (h *idleConns) resize(n int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(h.conns) < n {
		c, err := h.db.Conn(ctx)
		if err == nil {
			err = c.PingContext(ctx)
		}
		if err != nil {
			h.t.Fatalf("open connection %d: %v", len(h.conns)+1, err)
		}
		h.conns = append(h.conns, c)
	}
	for len(h.conns) > max(n, 0) {
		_ = h.conns[len(h.conns)-1].Close()
		h.conns = h.conns[:len(h.conns)-1]
	}
}

var connsMessage = regexp.MustCompile(`connections (\d+)/(\d+) in use \((\d+)%\)`)

// TestDBHeadroom pushes a real server's connection count over the
// thresholds with idle connections of the test's own, the limit set by the
// max_connections override (the shared servers' settings stay as they are):
// PASS, then FAIL WARN, then FAIL CRITICAL, and back to PASS once they are
// closed. Other tests share the server, so each step aims at the middle of
// its band from a fresh count and checks the count the probe saw.
func TestDBHeadroom(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{{"postgres", postgresDSN}, {"mysql", mysqlDSN}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn := tc.dsn(t)
			p := newPool(t, map[string]string{"app": dsn})
			db, engine := sqlOf(t, p, "app")
			hold := newIdleConns(t, dsn)
			env := &Env{Pool: p}

			base := serverConnections(t, db, engine)
			limit := 2*base + 20 // the baseline is below warn with room to spare
			sp := headroomSpec(Headroom{Warn: 50, Critical: 90, MaxConnections: limit})

			// step holds connections until the server's count is near aim
			// (a share of limit) and runs the probe, trying again when other
			// tests moved the count out of [lo, hi) meanwhile.
			step := func(aim, lo, hi float64) check.Result {
				t.Helper()
				var r check.Result
				for range 5 {
					if aim > 0 {
						now := serverConnections(t, db, engine)
						hold.resize(len(hold.conns) + int(math.Ceil(aim*float64(limit))) - now)
					}
					r = ProbeDB(context.Background(), sp, env)
					m := connsMessage.FindStringSubmatch(r.Message)
					if m == nil {
						t.Fatalf("message %q does not say the connections in use", r.Message)
					}
					inUse, _ := strconv.Atoi(m[1])
					if m[2] != strconv.Itoa(limit) {
						t.Fatalf("message %q: limit %s, want the override %d", r.Message, m[2], limit)
					}
					if inUse < len(hold.conns) {
						t.Fatalf("message %q: %d in use, but the test alone holds %d", r.Message, inUse, len(hold.conns))
					}
					// A session the server has just answered may still show
					// as running for a moment: count it again then.
					settled := r.Connections != nil && r.Connections.ByState["idle"] >= len(hold.conns)
					if share := float64(inUse) / float64(limit); share >= lo && share < hi && settled {
						return r
					}
					t.Logf("the server's count moved (%q), trying again", r.Message)
				}
				t.Fatalf("could not hold the count in [%.0f%%, %.0f%%): last %q", 100*lo, 100*hi, r.Message)
				return r
			}
			want := func(r check.Result, st check.Status, sev check.Severity, msg string) {
				t.Helper()
				t.Logf("%s/%s %q %v", r.Status, r.Severity, r.Message, r.Connections)
				if r.Status != st || r.Severity != sev || !regexp.MustCompile(msg).MatchString(r.Message) {
					t.Errorf("got %s/%s %q, want %s/%s matching %s", r.Status, r.Severity, r.Message, st, sev, msg)
				}
				if r.ObservedValue == nil || r.ObservedUnit != "s" {
					t.Errorf("observed %v %q, want the round trip in s", r.ObservedValue, r.ObservedUnit)
				}
				c := r.Connections
				if c == nil || c.Max != limit {
					t.Fatalf("Connections = %+v, want the counts and max %d", c, limit)
				}
				total := 0
				for _, n := range c.ByState {
					total += n
				}
				m := connsMessage.FindStringSubmatch(r.Message)
				if strconv.Itoa(total) != m[1] {
					t.Errorf("states %v add up to %d, the message says %s", c.ByState, total, m[1])
				}
				idle := "idle"
				if c.ByState[idle] < len(hold.conns) {
					t.Errorf("states %v: fewer idle than the %d the test holds", c.ByState, len(hold.conns))
				}
			}

			r := step(0, 0, 0.5)
			want(r, check.Pass, check.Info, `^ok; connections \d+/\d+ in use \(\d+%\)$`)
			r = step(0.7, 0.5, 0.9)
			want(r, check.Fail, check.Warn, `^connections \d+/\d+ in use \((5\d|6\d|7\d|8\d)%\), warn at 50%$`)
			if r.Reason != check.ReasonHeadroom {
				t.Errorf("reason %q, want headroom", r.Reason)
			}
			r = step(1, 0.9, math.Inf(1))
			want(r, check.Fail, check.Critical, `^connections \d+/\d+ in use \(\d+%\), critical at 90%$`)

			// Released: the server needs a moment to end the sessions.
			hold.resize(0)
			deadline := time.Now().Add(10 * time.Second)
			for {
				r = ProbeDB(context.Background(), sp, env)
				if r.Status == check.Pass || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			want(r, check.Pass, check.Info, `^ok; connections`)
		})
	}
}

// Without the override, the limit is the server's own: on PostgreSQL the
// slots an ordinary role may use (max_connections less the reserved ones),
// on MySQL/MariaDB @@max_connections.
func TestDBHeadroomServerLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		dsn   func(t *testing.T) string
		query string
	}{
		{"postgres", postgresDSN, `SELECT current_setting('max_connections')::int
			- current_setting('superuser_reserved_connections')::int
			- coalesce(nullif(current_setting('reserved_connections', true), ''), '0')::int`},
		{"mysql", mysqlDSN, `SELECT @@max_connections`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, map[string]string{"app": tc.dsn(t)})
			db, _ := sqlOf(t, p, "app")
			var limit int
			if err := db.QueryRow(tc.query).Scan(&limit); err != nil {
				t.Fatal(err)
			}
			r := ProbeDB(context.Background(), headroomSpec(Headroom{Warn: 99.5}), &Env{Pool: p})
			if r.Status != check.Pass || r.Connections == nil || r.Connections.Max != limit {
				t.Fatalf("got %s %q with %+v, want PASS against the server's limit %d", r.Status, r.Message, r.Connections, limit)
			}
			if tc.name == "postgres" {
				for _, s := range pgStates { // every state has its series, at 0 when empty
					if _, ok := r.Connections.ByState[s]; !ok {
						t.Errorf("state %q missing from %v", s, r.Connections.ByState)
					}
				}
				if r.Connections.ByState["active"] < 1 {
					t.Errorf("states %v: the probe's own query is not active", r.Connections.ByState)
				}
			} else if r.Connections.ByState["running"] < 1 {
				t.Errorf("states %v: the probe's own query is not running", r.Connections.ByState)
			}
		})
	}
}

// A failing database is a connectivity FAIL, as without headroom; no
// connection figures are made up.
func TestDBHeadroomDatabaseDown(t *testing.T) {
	t.Parallel()
	p := newPool(t, map[string]string{"app": withAddr(t, postgresDSN(t), closedAddr(t))})
	r := ProbeDB(context.Background(), headroomSpec(Headroom{Warn: 80}), &Env{Pool: p})
	if r.Status != check.Fail || r.Severity != check.Critical || r.Connections != nil {
		t.Errorf("got %s/%s %q with %+v, want FAIL/CRITICAL and no connections", r.Status, r.Severity, r.Message, r.Connections)
	}
}

// A monitor role without pg_monitor sees other roles' sessions without
// their backend_type and state: they still count, as "unknown", and the
// server's own processes do not. (The role is set for the session only,
// through the DSN's startup options.)
func TestDBHeadroomUnprivilegedRole(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t)
	hold := newIdleConns(t, dsn)
	hold.resize(3)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("options", "-c role=pg_write_all_data")
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	restricted := u.String()
	p := newPool(t, map[string]string{"app": restricted})
	db, _ := sqlOf(t, p, "app")
	var role string
	if err := db.QueryRow("SELECT current_user").Scan(&role); err != nil || role != "pg_write_all_data" {
		t.Fatalf("current_user %q (%v), want the session to run as pg_write_all_data", role, err)
	}
	r := ProbeDB(context.Background(), headroomSpec(Headroom{Warn: 99, MaxConnections: 100000}), &Env{Pool: p})
	if r.Status != check.Pass || r.Connections == nil {
		t.Fatalf("got %s %q, want PASS with connections", r.Status, r.Message)
	}
	if n := r.Connections.ByState["unknown"]; n < len(hold.conns) {
		t.Errorf("states %v: %d unknown, want the %d sessions of another role at least", r.Connections.ByState, n, len(hold.conns))
	}
	total := 0
	for _, n := range r.Connections.ByState {
		total += n
	}
	// The server's own processes (checkpointer, walwriter, launchers) are
	// hidden too; counted, they would add 4 or more to what clients use.
	priv := newPool(t, map[string]string{"app": dsn})
	pdb, _ := sqlOf(t, priv, "app")
	clients := serverConnections(t, pdb, EnginePostgres)
	if total > clients+2 || total < len(hold.conns)+1 {
		t.Errorf("counted %d in use as an unprivileged role, the server has %d client backends", total, clients)
	}
}
