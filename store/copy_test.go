package store

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// Copy moves a SQLite store with real data (results, rollups, outages,
// latest results, heartbeats, alerts, the outbox, silences, escalations and
// the audit trail) into PostgreSQL: every table holds the same rows, the
// copied store answers as the original did, new rows get new ids, and a
// second copy into the now non-empty target is refused.
func TestStoreCopySQLiteToPostgres(t *testing.T) {
	ctx := context.Background()
	from := "sqlite://" + filepath.Join(t.TempDir(), "monitor.db")
	to := postgresDSN(t)
	now := T0.Add(30 * time.Hour)
	src := openT(t, from, Options{Now: func() time.Time { return now }})

	// A day of results of 3 checks, each minute, with failures.
	fill := sizeLoad(3)
	recs := make([]Record, 3*60*24)
	fill(recs)
	for i := range recs {
		recs[i].CheckedAt = T0.Add(time.Duration(i/3) * time.Minute).Add(time.Duration(i%3) * time.Second)
		if i/3%200 < 5 { // an outage of five minutes every 200
			recs[i].Status, recs[i].Severity, recs[i].Message, recs[i].Down = check.Fail, check.Critical, "connect: connection refused", true
		}
	}
	for i := 0; i < len(recs); i += 500 {
		write(t, src, recs[i:min(i+500, len(recs))]...)
	}
	compact(t, src, now)
	if err := src.Beat(ctx, "nightly_export", T0.Add(29*time.Hour)); err != nil {
		t.Fatal(err)
	}
	ids, err := src.CommitAlerts(ctx, AlertCommit{
		Alerts: []AlertRow{{ID: "check:db_check_000", Firing: true, Data: []byte(`{"state":"firing"}`), UpdatedAt: now}},
		Deliveries: []Delivery{{NotificationID: "n1", Receiver: "oncall", AlertIDs: []string{"check:db_check_000"},
			Body: []byte(`{"status":"firing"}`), CreatedAt: now, DueAt: now}},
		Audit: []AuditEvent{{At: now, Actor: "system", Action: "alert.firing", Target: "check:db_check_000", Details: map[string]any{"severity": "CRITICAL"}}},
	})
	if err != nil || len(ids) != 1 {
		t.Fatalf("CommitAlerts = %v, %v", ids, err)
	}
	if err := src.SaveSilence(ctx, Silence{ID: "s1", Matchers: map[string]string{"check": "link_*"}, StartsAt: now, EndsAt: now.Add(time.Hour),
		Comment: "deploy", CreatedBy: "ops", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}

	var batches int
	stats, err := Copy(ctx, from, to, func(string, int64) { batches++ })
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	t.Logf("copied %v rows of %v", stats.Rows, stats.Tables)
	if len(stats.Tables) != len(copyTables) {
		t.Errorf("copied tables %v, want all %d", stats.Tables, len(copyTables))
	}

	a := openT(t, from, Options{Now: func() time.Time { return now }})
	b := openT(t, to, Options{Now: func() time.Time { return now }})
	for i, table := range stats.Tables {
		key := copyTables[i].key
		ra, rb := dump(t, a, table, key), dump(t, b, table, key)
		if int64(len(ra)) != stats.Rows[i] {
			t.Errorf("%s: copied %d rows, the source has %d", table, stats.Rows[i], len(ra))
		}
		if !reflect.DeepEqual(ra, rb) {
			t.Errorf("%s differs after the copy: %d rows in SQLite, %d in PostgreSQL", table, len(ra), len(rb))
		}
	}
	if rows := stats.Rows[1]; rows != int64(len(recs)) || batches < int(rows/copyBatch) {
		t.Errorf("results: %d rows in %d batches, want %d in batches of %d", rows, batches, len(recs), copyBatch)
	}
	// The copy answers as the original does.
	for _, name := range []string{"db_check_000", "freshness_check_001"} {
		ta, err := a.Totals(ctx, name, T0, T0.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		tb, err := b.Totals(ctx, name, T0, T0.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if ta.Runs == 0 || ta.Runs != tb.Runs || ta.Bad != tb.Bad || ta.GoodTime != tb.GoodTime {
			t.Errorf("Totals(%s): SQLite %+v, PostgreSQL %+v", name, ta, tb)
		}
		oa, _ := a.Outages(ctx, name, T0, T0.Add(24*time.Hour))
		ob, _ := b.Outages(ctx, name, T0, T0.Add(24*time.Hour))
		if len(oa) == 0 || !reflect.DeepEqual(oa, ob) {
			t.Errorf("Outages(%s): SQLite %v, PostgreSQL %v", name, oa, ob)
		}
	}
	if beats, _ := b.Beats(ctx); !beats["nightly_export"].Equal(T0.Add(29 * time.Hour)) {
		t.Errorf("heartbeats after the copy: %v", beats)
	}
	// New rows continue after the copied ids.
	ids2, err := b.CommitAlerts(ctx, AlertCommit{Deliveries: []Delivery{{NotificationID: "n2", Receiver: "oncall",
		AlertIDs: []string{"x"}, Body: []byte(`{}`), CreatedAt: now, DueAt: now}}})
	if err != nil || len(ids2) != 1 || ids2[0] <= ids[0] {
		t.Errorf("a delivery after the copy: ids %v, %v; want one above %d", ids2, err, ids[0])
	}
	write(t, b, Record{Result: check.Result{Check: "new_check", Kind: "db", Status: check.Pass, Severity: check.Info, CheckedAt: now}})

	// Into a store that holds data: refused, nothing written.
	before := dump(t, b, "results", "check_id, ts")
	if _, err := Copy(ctx, from, to, nil); !errors.Is(err, ErrTargetNotEmpty) {
		t.Errorf("Copy into a non-empty store = %v, want ErrTargetNotEmpty", err)
	}
	if after := dump(t, b, "results", "check_id, ts"); len(after) != len(before) {
		t.Errorf("a refused copy changed the target: %d results, was %d", len(after), len(before))
	}
}

// dump reads a table in key order, each value normalised (numbers to
// int64 or float64, text to string) so that both engines compare.
func dump(t *testing.T, st *sqlStore, table, key string) [][]any {
	t.Helper()
	rows, err := st.rdb.Query("SELECT * FROM " + table + " ORDER BY " + key)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			switch x := v.(type) {
			case []byte:
				vals[i] = string(x)
			case int16:
				vals[i] = int64(x)
			case int32:
				vals[i] = int64(x)
			case int:
				vals[i] = int64(x)
			}
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Two spellings of one store are refused as the same store, not as a store
// "in use by another monitor" (which would be this very copy).
func TestCopySameStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pg := postgresDSN(t)
	u, err := url.Parse(pg)
	if err != nil {
		t.Fatal(err)
	}
	other := *u
	switch h, port := u.Hostname(), u.Port(); h {
	case "127.0.0.1":
		other.Host = "localhost:" + port
	default:
		other.Host = "127.0.0.1:" + port
	}
	for _, d := range []string{"sqlite://" + dir + "/a.db", pg} {
		openT(t, d, Options{}).Close()
	}
	for _, tc := range [][2]string{
		{"sqlite://" + dir + "/a.db", "sqlite://" + dir + "/./a.db"},
		{"sqlite://" + dir + "/a.db", "sqlite://" + dir + "/../" + filepath.Base(dir) + "/a.db"},
		{pg, other.String()},
	} {
		if _, err := Copy(ctx, tc[0], tc[1], nil); !errors.Is(err, ErrSameStore) {
			t.Errorf("Copy(%s, %s) = %v; want ErrSameStore", tc[0], tc[1], err)
		}
	}
}

// A source that is no store (a typo in its path, the wrong database or
// schema) is refused, and nothing is created there or in the target.
func TestCopyNoSource(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	notStore := filepath.Join(dir, "app.db")
	db, err := sql.Open("sqlite", notStore)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE orders (id INTEGER)"); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	emptySchema := postgresDSN(t)
	for _, from := range []string{"sqlite://" + filepath.Join(dir, "typo", "monitr.db"), "sqlite://" + notStore, emptySchema} {
		to := "sqlite://" + filepath.Join(dir, "to.db")
		if _, err := Copy(ctx, from, to, nil); !errors.Is(err, ErrNoStore) {
			t.Errorf("Copy from %s = %v; want ErrNoStore", from, err)
		}
		for _, p := range []string{filepath.Join(dir, "typo"), filepath.Join(dir, "to.db")} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("Copy from %s created %s", from, p)
			}
		}
	}
	pg, err := sql.Open("pgx", emptySchema)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	var tables int
	if err := pg.QueryRow("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()").Scan(&tables); err != nil || tables != 0 {
		t.Errorf("the empty source schema holds %d tables (%v) after the refused copy; want 0", tables, err)
	}
}
