package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/testenv"
)

// The PostgreSQL tests use a real server, addressed as internal/testenv
// says, each test in a fresh schema dropped at its end. When the server is
// unreachable they are skipped loudly, except under CI=true, where they fail.
var pgReachable = sync.OnceValues(func() (string, error) {
	dsn := testenv.Postgres()
	db, err := openPostgres(dsn)
	if err != nil {
		return dsn, err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return dsn, db.PingContext(ctx)
})

func TestMain(m *testing.M) { testenv.Main(m) }

// postgresServer returns the DSN of the test server, or skips (fails under
// CI=true) when it is unreachable.
func postgresServer(t testing.TB) string {
	t.Helper()
	dsn, err := pgReachable()
	if err != nil {
		testenv.Unavailable(t, fmt.Sprintf("PostgreSQL test server unreachable at %s: %s",
			check.RedactText(dsn), check.RedactText(err.Error())), "start it or set "+testenv.EnvPostgres)
	}
	return dsn
}

// postgresDSN creates a fresh schema and returns a DSN that uses it.
func postgresDSN(t testing.TB) string {
	t.Helper()
	base := postgresServer(t)
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	schema := "monitor_test_" + hex.EncodeToString(b)
	db, err := openPostgres(base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		_ = db.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer db.Close()
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// sqliteDSN returns a DSN of a fresh database file.
func sqliteDSN(t testing.TB) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "data", "monitor.db")
}

type engine struct {
	name string
	dsn  func(t testing.TB) string
}

var engines = []engine{{"sqlite", sqliteDSN}, {"postgres", postgresDSN}}

func openT(t testing.TB, dsn string, opts Options) *sqlStore {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := Open(ctx, dsn, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st.(*sqlStore)
}

func write(t testing.TB, st Store, recs ...Record) {
	t.Helper()
	if err := st.Write(context.Background(), recs); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func compact(t testing.TB, st Store, now time.Time) {
	t.Helper()
	if err := st.Compact(context.Background(), now); err != nil {
		t.Fatalf("Compact: %v", err)
	}
}

// T0 is an hour boundary all fixtures hang from.
var T0 = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return T0.Add(d) }

// mk builds a record; WithinSLA follows the status, as for non-freshness checks.
func mk(name string, when time.Time, st check.Status) Record {
	sev := check.Info
	msg := "ok"
	switch st {
	case check.Fail:
		sev, msg = check.Critical, "connection refused"
	case check.Unknown:
		sev, msg = check.Warn, "no rows"
	}
	return Record{
		Result: check.Result{Check: name, Kind: "db", Status: st, Severity: sev, Message: msg,
			CheckedAt: when, Duration: 3 * time.Millisecond},
		WithinSLA: st == check.Pass,
		Down:      st == check.Fail, // as sla.Down: a FAIL outside maintenance
	}
}

func (r Record) val(v float64) Record { r.ObservedValue = check.Value(v); return r }
func (r Record) maint() Record        { r.Maintenance, r.Down = true, false; return r }

// rawTimes lists the raw result times of a check, read directly.
func rawTimes(t testing.TB, st *sqlStore, name string) []time.Time {
	t.Helper()
	rs, err := st.rdb.Query(st.d.rebind(
		"SELECT r.ts FROM results r JOIN checks c ON c.id = r.check_id WHERE c.name = ? ORDER BY r.ts"), name)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []time.Time
	for rs.Next() {
		var ts int64
		if err := rs.Scan(&ts); err != nil {
			t.Fatal(err)
		}
		out = append(out, time.UnixMilli(ts).UTC())
	}
	return out
}

func count(t testing.TB, db *sql.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
