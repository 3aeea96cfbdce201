package store

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// BenchmarkSQLiteCacheSize compares SQLite's default page cache (2 MiB per
// connection) with the store's 512 KiB (sqlitePragmas): each iteration
// writes a batch of 500 results of 100 checks (the writer) and reads a
// day of one check's history and its totals (a reader), on a file of
// 200,000 results (~2 days of 100 checks at 30 s).
//
//	go test -run x -bench SQLiteCacheSize -count 6 ./store/
func BenchmarkSQLiteCacheSize(b *testing.B) {
	for _, c := range []struct{ name, query string }{
		{"cache=2MiB", "?_pragma=cache_size(-2000)"},
		{"cache=512KiB", "?_pragma=cache_size(-512)"},
		{"default=writer512KiB,readers128KiB", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			st := openT(b, sqliteDSN(b)+c.query, Options{})
			l := newLoad(100)
			recs := make([]Record, 500)
			for range 400 {
				l.fill(recs)
				write(b, st, recs...)
			}
			name := l.names[7]
			b.ResetTimer()
			for b.Loop() {
				l.fill(recs)
				if err := st.Write(ctx, recs); err != nil {
					b.Fatal(err)
				}
				end := recs[len(recs)-1].Result.CheckedAt
				if _, err := st.History(ctx, name, end.Add(-24*time.Hour), end, time.Hour); err != nil {
					b.Fatal(err)
				}
				if _, err := st.Totals(ctx, name, end.Add(-24*time.Hour), end); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The store's SQLite writer gets a 512 KiB page cache and its readers
// 128 KiB each; a DSN that sets cache_size wins for all of them.
func TestSQLiteCacheSize(t *testing.T) {
	for _, c := range []struct {
		query          string
		writer, reader int
	}{{"", -512, -128}, {"?_pragma=cache_size(-2000)", -2000, -2000}, {"?_pragma=cache_size(-64)", -64, -64}} {
		st := openT(t, sqliteDSN(t)+c.query, Options{})
		for name, db := range map[string]struct {
			db   *sql.DB
			want int
		}{"writer": {st.wdb, c.writer}, "reader": {st.rdb, c.reader}} {
			var got int
			if err := db.db.QueryRowContext(context.Background(), "PRAGMA cache_size").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != db.want {
				t.Errorf("DSN query %q: %s cache_size %d, want %d", c.query, name, got, db.want)
			}
		}
	}
}
