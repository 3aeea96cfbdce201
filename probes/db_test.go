package probes

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/testenv"
)

func dbSpec(query string, timeout time.Duration) check.Spec {
	return check.Spec{Name: "db_check", Kind: "db", Config: DBConfig{Database: "app", Query: query},
		Timeout: timeout, Severity: check.Critical}
}

func TestProbeDBPass(t *testing.T) {
	t.Parallel()
	sqliteDir := t.TempDir()
	cases := []struct {
		name  string
		dsn   func(t *testing.T) string
		query string
	}{
		{"postgres ping", postgresDSN, ""},
		{"postgres query", postgresDSN, "SELECT 1, 'two', now()"},
		{"mysql ping", mysqlDSN, ""},
		{"mysql query", mysqlDSN, "SELECT 1, 'two', NOW()"},
		{"redis ping", redisDSN, ""},
		{"redis command", redisDSN, "INFO server"},
		{"redis command with nil reply", redisDSN, "GET monitor_test_no_such_key_" + suffix()},
		{"sqlite file in new directory", func(*testing.T) string {
			return "sqlite://" + filepath.Join(sqliteDir, "a", "b", "app.db")
		}, "SELECT 1"},
		{"sqlite memory", func(*testing.T) string { return "sqlite://:memory:" }, "SELECT 1"},
		{"sqlite shared memory", func(*testing.T) string { return "sqlite://file::memory:?cache=shared" }, "SELECT 1"},
		{"query with no rows", postgresDSN, "SELECT 1 WHERE false"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, map[string]string{"app": tc.dsn(t)})
			res := ProbeDB(context.Background(), dbSpec(tc.query, 5*time.Second), &Env{Pool: p})
			if res.Status != check.Pass || res.Severity != check.Info || res.Message != "ok" {
				t.Fatalf("got %s/%s %q, want PASS/INFO ok", res.Status, res.Severity, res.Message)
			}
			if res.ObservedValue == nil || *res.ObservedValue <= 0 || res.ObservedUnit != "s" {
				t.Fatalf("observed value %v %q, want > 0 s", res.ObservedValue, res.ObservedUnit)
			}
		})
	}
}

// TestProbeDBReusesConnections runs a check many times and expects the pool
// to keep a handful of server connections, not one per run.
func TestProbeDBReusesConnections(t *testing.T) {
	t.Parallel()
	p := newPool(t, map[string]string{"app": postgresDSN(t)})
	db, _ := sqlOf(t, p, "app")
	for range 20 {
		if res := ProbeDB(context.Background(), dbSpec("SELECT 1", 5*time.Second), &Env{Pool: p}); res.Status != check.Pass {
			t.Fatalf("run: %s %s", res.Status, res.Message)
		}
	}
	if n := db.Stats().OpenConnections; n < 1 || n > maxOpenConns {
		t.Fatalf("open connections = %d, want 1..%d", n, maxOpenConns)
	}
}

func TestProbeDBSQLiteSettings(t *testing.T) {
	t.Parallel()
	p := newPool(t, map[string]string{"app": "sqlite://" + filepath.Join(t.TempDir(), "x", "app.db")})
	db, _ := sqlOf(t, p, "app")
	var mode string
	var busy int
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("PRAGMA busy_timeout").Scan(&busy); err != nil {
		t.Fatal(err)
	}
	// The journal mode is the file's own (a new file: delete); the probe
	// only waits for locks.
	if mode != "delete" || busy != sqliteBusyMs {
		t.Fatalf("journal_mode=%s busy_timeout=%d, want delete (untouched) and %d", mode, busy, sqliteBusyMs)
	}
}

// TestProbeDBFailures: wrong credentials, a refused port and a server that
// accepts but never answers are all FAIL with the check's severity, a short
// message without the password, within the timeout.
func TestProbeDBFailures(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	const margin = 750 * time.Millisecond

	type failCase struct {
		name  string
		dsn   func(t *testing.T) (dsn string, secret string)
		query string
		want  string // regexp the message must match
		// reason the result must carry (set from the error's type)
		reason check.Reason
	}
	sfx := suffix()
	pgSecret := "pg-Secret-" + sfx
	cases := []failCase{
		{name: "postgres unknown user", dsn: func(t *testing.T) (string, string) {
			return withUser(t, postgresDSN(t), "monitor_nosuch_"+sfx, pgSecret), pgSecret
		}, want: `^connect: (role "monitor_nosuch_\w+" does not exist|password authentication failed for user "monitor_nosuch_\w+")$`, reason: check.ReasonAuth},
		{name: "postgres unknown database", dsn: func(t *testing.T) (string, string) {
			return withDatabase(t, postgresDSN(t), "monitor_nosuch_"+sfx), ""
		}, want: `^connect: database "monitor_nosuch_\w+" does not exist$`, reason: check.ReasonConnect},
		{name: "postgres refused", dsn: func(t *testing.T) (string, string) {
			return withAddr(t, withUser(t, postgresDSN(t), "postgres", pgSecret), closedAddr(t)), pgSecret
		}, want: `^connect: connection refused$`, reason: check.ReasonConnect},
		{name: "postgres silent server", dsn: func(t *testing.T) (string, string) {
			return withAddr(t, withUser(t, postgresDSN(t), "postgres", pgSecret), testenv.Silent(t)), pgSecret
		}, want: `^timed out after 1s$`, reason: check.ReasonTimeout},
		{name: "postgres query error", dsn: func(t *testing.T) (string, string) {
			return postgresDSN(t), ""
		}, query: "SELECT * FROM monitor_no_such_table_" + sfx, want: `^query: relation "monitor_no_such_table_\w+" does not exist$`, reason: check.ReasonQuery},

		{name: "mysql wrong password", dsn: func(t *testing.T) (string, string) {
			user, _ := mysqlUser(t)
			return withUser(t, mysqlDSN(t), user, "wrong-"+sfx), "wrong-" + sfx
		}, want: `^connect: Access denied for user 'monitor_test_\w+'@'[^']+' \(using password: YES\)$`, reason: check.ReasonAuth},
		{name: "mysql unknown database", dsn: func(t *testing.T) (string, string) {
			return withDatabase(t, mysqlDSN(t), "monitor_nosuch_"+sfx), ""
		}, want: `^connect: Unknown database 'monitor_nosuch_\w+'$`, reason: check.ReasonConnect},
		{name: "mysql refused", dsn: func(t *testing.T) (string, string) {
			return withAddr(t, withUser(t, mysqlDSN(t), "root", "my-"+sfx), closedAddr(t)), "my-" + sfx
		}, want: `^connect: connection refused$`, reason: check.ReasonConnect},
		{name: "mysql silent server", dsn: func(t *testing.T) (string, string) {
			return withAddr(t, withUser(t, mysqlDSN(t), "root", "my-"+sfx), testenv.Silent(t)), "my-" + sfx
		}, want: `^timed out after 1s$`, reason: check.ReasonTimeout},
		{name: "mysql query error", dsn: func(t *testing.T) (string, string) {
			return mysqlDSN(t), ""
		}, query: "SELECT * FROM monitor_no_such_table_" + sfx, want: `^query: Table '\w+\.monitor_no_such_table_\w+' doesn't exist$`, reason: check.ReasonQuery},

		{name: "redis wrong password", dsn: func(t *testing.T) (string, string) {
			user, _ := redisUser(t)
			return withUser(t, redisDSN(t), user, "wrong-"+sfx), "wrong-" + sfx
		}, want: `^connect: WRONGPASS invalid username-password pair or user is disabled\.$`, reason: check.ReasonAuth},
		{name: "redis refused", dsn: func(t *testing.T) (string, string) {
			return withAddr(t, withUser(t, redisDSN(t), "default", "rd-"+sfx), closedAddr(t)), "rd-" + sfx
		}, want: `^connect: connection refused$`, reason: check.ReasonConnect},
		{name: "redis silent server", dsn: func(t *testing.T) (string, string) {
			return withAddr(t, withUser(t, redisDSN(t), "default", "rd-"+sfx), testenv.Silent(t)), "rd-" + sfx
		}, want: `^timed out after 1s$`, reason: check.ReasonTimeout},
		{name: "redis unknown command", dsn: func(t *testing.T) (string, string) {
			return redisDSN(t), ""
		}, query: "NOSUCHCOMMAND x", want: `^query: ERR unknown command 'NOSUCHCOMMAND'`, reason: check.ReasonQuery},

		{name: "sqlite query error", dsn: func(t *testing.T) (string, string) {
			return "sqlite://" + filepath.Join(t.TempDir(), "app.db"), ""
		}, query: "SELECT * FROM monitor_no_such_table", want: `^query: .*no such table: monitor_no_such_table`, reason: check.ReasonQuery},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn, secret := tc.dsn(t)
			p := newPool(t, map[string]string{"app": dsn})
			start := time.Now()
			res := ProbeDB(context.Background(), dbSpec(tc.query, timeout), &Env{Pool: p})
			elapsed := time.Since(start)
			t.Logf("%s %q after %v", res.Status, res.Message, elapsed.Round(time.Millisecond))
			if res.Status != check.Fail || res.Severity != check.Critical {
				t.Fatalf("got %s/%s %q, want FAIL/CRITICAL", res.Status, res.Severity, res.Message)
			}
			if !regexp.MustCompile(tc.want).MatchString(res.Message) {
				t.Errorf("message %q does not match %s", res.Message, tc.want)
			}
			if res.Reason != tc.reason {
				t.Errorf("reason %q, want %q", res.Reason, tc.reason)
			}
			assertNoSecret(t, res.Message, secret)
			if elapsed > timeout+margin {
				t.Errorf("took %v, want at most %v", elapsed, timeout+margin)
			}
		})
	}
}

// TestProbeDBCallerDeadline: without spec.Timeout the caller's deadline
// alone bounds the run, and the message names it.
func TestProbeDBCallerDeadline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"postgres", postgresDSN},
		{"mysql", mysqlDSN},
		{"redis", redisDSN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, map[string]string{"app": withAddr(t, tc.dsn(t), testenv.Silent(t))})
			ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
			defer cancel()
			start := time.Now()
			res := ProbeDB(ctx, dbSpec("", 0), &Env{Pool: p})
			if elapsed := time.Since(start); elapsed > 1500*time.Millisecond {
				t.Errorf("took %v", elapsed)
			}
			if res.Status != check.Fail || res.Message != "timed out after 800ms" {
				t.Fatalf("got %s %q, want FAIL timed out after 800ms", res.Status, res.Message)
			}
		})
	}
}

// TestProbeDBRightPassword proves that passwords with URL-special characters
// survive the DSN conversion, against accounts that really check them.
func TestProbeDBRightPassword(t *testing.T) {
	t.Parallel()
	t.Run("mysql", func(t *testing.T) {
		t.Parallel()
		user, pass := mysqlUser(t)
		// The account may use no database, so the DSN names none.
		p := newPool(t, map[string]string{"app": withDatabase(t, withUser(t, mysqlDSN(t), user, pass), "")})
		if res := ProbeDB(context.Background(), dbSpec("SELECT CURRENT_USER()", 5*time.Second), &Env{Pool: p}); res.Status != check.Pass {
			t.Fatalf("got %s %q", res.Status, res.Message)
		}
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		user, pass := redisUser(t)
		p := newPool(t, map[string]string{"app": withUser(t, redisDSN(t), user, pass)})
		if res := ProbeDB(context.Background(), dbSpec("", 5*time.Second), &Env{Pool: p}); res.Status != check.Pass {
			t.Fatalf("got %s %q", res.Status, res.Message)
		}
	})
}

func TestProbeDBMisconfigured(t *testing.T) {
	t.Parallel()
	p := newPool(t, map[string]string{"cache": "redis://127.0.0.1:1/0"})
	for _, tc := range []struct {
		name string
		env  *Env
		db   string
		want string
	}{
		{"no pool", &Env{}, "app", "no database pool configured"},
		{"unknown database", &Env{Pool: p}, "app", `database "app": database is not configured`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := dbSpec("", time.Second)
			spec.Config = DBConfig{Database: tc.db}
			res := ProbeDB(context.Background(), spec, tc.env)
			if res.Status != check.Fail || res.Message != tc.want {
				t.Fatalf("got %s %q, want FAIL %q", res.Status, res.Message, tc.want)
			}
		})
	}
}

// mysqlUser creates a password-protected account for this test and drops it
// afterwards. The password has characters that DSN syntax cares about.
func mysqlUser(t *testing.T) (user, pass string) {
	t.Helper()
	p := newPool(t, map[string]string{"root": mysqlDSN(t)})
	db, _ := sqlOf(t, p, "root")
	user = "monitor_test_" + suffix()
	pass = "p@ss:w/rd?&#%" + suffix()
	mustExec(t, db, "CREATE USER '"+user+"'@'%' IDENTIFIED BY '"+strings.ReplaceAll(pass, "'", "''")+"'")
	mustExec(t, db, "GRANT USAGE ON *.* TO '"+user+"'@'%'")
	t.Cleanup(func() {
		_, _ = db.Exec("DROP USER IF EXISTS '" + user + "'@'%'")
	})
	return user, pass
}

// redisUser creates an ACL user with a password for this test.
func redisUser(t *testing.T) (user, pass string) {
	t.Helper()
	p := newPool(t, map[string]string{"root": redisDSN(t)})
	c, err := p.Redis("root")
	if err != nil {
		t.Fatal(err)
	}
	user = "monitor_test_" + suffix()
	pass = "p@ss:w/rd?&#%" + suffix()
	ctx := context.Background()
	if err := c.Do(ctx, "ACL", "SETUSER", user, "on", ">"+pass, "~monitor_test_*", "+@all").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	t.Cleanup(func() { _ = c.Do(context.Background(), "ACL", "DELUSER", user).Err() })
	return user, pass
}

// TestProbeDBCanceled: a run the caller abandons (shutdown, reload) is
// UNKNOWN, not a FAIL that could page someone.
func TestProbeDBCanceled(t *testing.T) {
	t.Parallel()
	p := newPool(t, map[string]string{"app": withAddr(t, postgresDSN(t), testenv.Silent(t))})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	res := ProbeDB(ctx, dbSpec("", 5*time.Second), &Env{Pool: p})
	if res.Status != check.Unknown {
		t.Fatalf("got %s %q, want UNKNOWN", res.Status, res.Message)
	}
}
