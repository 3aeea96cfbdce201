package probes

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	dsnpkg "github.com/monitor-dev/monitor/internal/dsn"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/testenv"
)

// The tests talk to real servers, addressed and skipped (or failed under
// CI=true) as internal/testenv says.
func postgresDSN(t *testing.T) string {
	return testServer(t, "PostgreSQL", testenv.EnvPostgres, testenv.Postgres())
}

func mysqlDSN(t *testing.T) string {
	return testServer(t, "MariaDB/MySQL", testenv.EnvMySQL, testenv.MySQL())
}

func redisDSN(t *testing.T) string {
	return testServer(t, "Redis", testenv.EnvRedis, testenv.Redis())
}

func TestMain(m *testing.M) { testenv.Main(m) }

// reachable caches one ping per DSN for the whole test binary.
var reachable sync.Map // dsn → func() error

func testServer(t *testing.T, what, envVar, dsn string) string {
	t.Helper()
	once, _ := reachable.LoadOrStore(dsn, sync.OnceValue(func() error { return pingDSN(dsn) }))
	if err := once.(func() error)(); err != nil {
		p := &Pool{redactor: check.NewRedactor(dsn)}
		// The address shown with only its password hidden: "at ***" would
		// not tell a newcomer which server to start.
		testenv.Unavailable(t, fmt.Sprintf("%s test server unreachable at %s: %s", what, dsnpkg.Redact(dsn), p.redact(err.Error())),
			"start it or set "+envVar)
	}
	return dsn
}

func pingDSN(dsn string) error {
	p, err := NewPool(map[string]string{"probe": dsn}, nil)
	if err != nil {
		return err
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	engine, err := p.Engine("probe")
	if err != nil {
		return err
	}
	if engine == EngineRedis {
		c, _ := p.Redis("probe")
		return c.Ping(ctx).Err()
	}
	db, _, _ := p.SQL("probe")
	return db.PingContext(ctx)
}

// newPool opens a pool closed at the end of the test.
func newPool(t *testing.T, dsns map[string]string) *Pool {
	t.Helper()
	p, err := NewPool(dsns, nil)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// sqlOf returns the *sql.DB of a pool's named database.
func sqlOf(t *testing.T, p *Pool, name string) (*sql.DB, string) {
	t.Helper()
	db, engine, err := p.SQL(name)
	if err != nil {
		t.Fatalf("SQL(%q): %v", name, err)
	}
	return db, engine
}

func mustExec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, query, args...); err != nil {
		t.Fatalf("exec %q: %v", query, err)
	}
}

// suffix is a random name part, so that parallel tests and packages sharing
// a server never collide.
func suffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// closedAddr returns a loopback address on which nothing listens: a port that
// was just bound and released.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// withAddr points a URL-form DSN at another host:port.
func withAddr(t *testing.T, dsn, addr string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

// withUser sets the credentials of a URL-form DSN.
func withUser(t *testing.T, dsn, user, pass string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, pass)
	return u.String()
}

// withDatabase sets the path (database name or number) of a URL-form DSN.
func withDatabase(t *testing.T, dsn, name string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// fakeBeats is our own Heartbeats, a map.
type fakeBeats map[string]time.Time

func (f fakeBeats) LastBeat(check string) (time.Time, bool) {
	t, ok := f[check]
	return t, ok
}

// fixedNow is the injected clock of the freshness tests.
var fixedNow = time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)

func fixedEnv(p *Pool) *Env {
	return &Env{Pool: p, Now: func() time.Time { return fixedNow }}
}

// placeholder writes the n-th bind parameter in an engine's dialect.
func placeholder(engine string, n int) string {
	if engine == EnginePostgres {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}

// assertNoSecret fails when a secret leaked into a message.
func assertNoSecret(t *testing.T, msg string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("message leaks a secret %q: %s", s, msg)
		}
	}
}
