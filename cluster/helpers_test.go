package cluster

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"net"
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

// tcpProxy forwards TCP connections to target until it hangs: then no byte
// goes through in either direction and new connections get no answer, as
// when the database host stops answering; heal lets everything through
// again, held bytes included, as TCP does once a partition ends. (A copy
// of cmd/monitor's fullstack test proxy.)
type tcpProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	open   chan struct{} // closed while the proxy forwards
	conns  map[net.Conn]bool
	closed bool
}

// startTCPProxy listens on a free loopback port and forwards to target
// until the test ends.
func startTCPProxy(t testing.TB, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, open: make(chan struct{}), conns: map[net.Conn]bool{}}
	close(p.open)
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.forward(c) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		p.closed = true
		for c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.heal()
		p.wg.Wait()
	})
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

// hang stops forwarding.
func (p *tcpProxy) hang() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default:
	}
}

// heal forwards again.
func (p *tcpProxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

func (p *tcpProxy) gate() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open
}

func (p *tcpProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *tcpProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *tcpProxy) forward(client net.Conn) {
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	<-p.gate()
	server, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(server) {
		return
	}
	defer p.untrack(server)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.pipe(client, server)
	}()
	p.pipe(server, client)
	<-done
}

func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		<-p.gate()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
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
