package cluster

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/monitor-dev/monitor/internal/dsn"
	"github.com/monitor-dev/monitor/internal/testenv"
	"github.com/monitor-dev/monitor/store"
)

// schema returns the DSN of a fresh PostgreSQL schema with the store's
// tables (migrated by store.Open, as the daemon does before the cluster).
func schema(t testing.TB) string {
	t.Helper()
	d := testenv.PostgresSchema(t)
	st, err := store.Open(context.Background(), d, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return d
}

// counter counts the statements sent through a pool.
type counter struct{ n atomic.Int64 }

// countingConnector opens pgx connections whose statements are counted.
type countingConnector struct {
	driver.Connector
	c *counter
}

func (cc countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := cc.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn.(*stdlib.Conn), c: cc.c}, nil
}

type countingConn struct {
	*stdlib.Conn
	c *counter
}

func (c *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.c.n.Add(1)
	return c.Conn.QueryContext(ctx, q, args)
}

func (c *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.c.n.Add(1)
	return c.Conn.ExecContext(ctx, q, args)
}

// openDB opens a pool on d, through host (host:port) when not empty,
// counting its statements in c when not nil; closed when t ends.
func openDB(t testing.TB, d, host string, c *counter) *sql.DB {
	t.Helper()
	if host != "" {
		u, err := url.Parse(d)
		if err != nil {
			t.Fatal(err)
		}
		u.Host = host
		d = u.String()
	}
	cfg, err := dsn.ParsePostgres(d, "monitor-cluster-test")
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnectTimeout = 2 * time.Second
	var db *sql.DB
	if c != nil {
		db = sql.OpenDB(countingConnector{stdlib.GetConnector(*cfg), c})
	} else {
		db = stdlib.OpenDB(*cfg)
	}
	db.SetMaxOpenConns(2)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// pgHost returns host:port of the PostgreSQL test server in d.
func pgHost(t testing.TB, d string) string {
	u, err := url.Parse(d)
	if err != nil {
		t.Fatal(err)
	}
	if u.Port() == "" {
		return u.Hostname() + ":5432"
	}
	return u.Host
}

// fakeClock is a monotonic clock a test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
