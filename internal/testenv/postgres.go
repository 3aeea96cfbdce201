package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to make a schema

	"github.com/monitor-dev/monitor/check"
)

// PostgresSchema returns a DSN of the PostgreSQL test server (Postgres)
// with search_path set to a fresh schema, dropped when t ends; it skips
// loudly (fails under CI=true) when the server cannot be reached. Every
// test that needs an empty PostgreSQL database uses it.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	base := Postgres()
	db, err := sql.Open("pgx", base)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if db != nil {
			_ = db.Close()
		}
		Unavailable(t, "PostgreSQL test server unreachable at "+check.RedactText(base)+": "+
			check.RedactText(err.Error()), "start it or set "+EnvPostgres)
	}
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	schema := "monitor_test_" + hex.EncodeToString(b)
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
		t.Fatalf("test server DSN: %v", check.RedactText(err.Error()))
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
