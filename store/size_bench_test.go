package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// sizeLoad is what 100 checks of mixed kinds at 30 s intervals write, with
// the messages the probes really give: a PASS keeps no message in the
// history (see migrations), a FAIL or UNKNOWN keeps its own.
func sizeLoad(checks int) func(recs []Record) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 0
	kinds := []check.Kind{"db", "freshness", "http", "link"}
	return func(recs []Record) {
		for i := range recs {
			c, round := n%checks, n/checks
			kind := kinds[c%len(kinds)]
			ts := T0.Add(time.Duration(round)*30*time.Second + time.Duration(c)*300*time.Millisecond +
				time.Duration(rng.IntN(50))*time.Millisecond)
			st, sev := check.Pass, check.Info
			value := 0.001 + rng.Float64()*0.05
			var msg string
			switch kind {
			case "db":
				msg = "ok"
			case "freshness":
				value = float64(60 + rng.IntN(600))
				msg = fmt.Sprintf("newest row is %s old (max 15m)", check.FormatDuration(time.Duration(value)*time.Second))
			case "http":
				msg = "200 OK"
			case "link":
				value = 0
				msg = "0 of 1,204 links failing"
			}
			switch x := rng.IntN(1000); {
			case x < 5:
				st, sev = check.Fail, check.Critical
				switch kind {
				case "freshness":
					msg = fmt.Sprintf("newest row is %s old (critical 1h)", check.FormatDuration(time.Duration(3600+rng.IntN(600))*time.Second))
				case "link":
					msg = fmt.Sprintf("%d of 1,204 links failing (%d http_status, 1 timeout)", 2+rng.IntN(5), 1+rng.IntN(4))
				default:
					msg = "connect: dial tcp 10.0.0.7:5432: connect: connection refused"
				}
			case x < 8:
				st, sev, msg = check.Unknown, check.Warn, "query returned no rows"
			}
			recs[i] = Record{
				Result: check.Result{Check: fmt.Sprintf("%s_check_%03d", kind, c), Kind: kind, Status: st, Severity: sev,
					Message: msg, ObservedValue: check.Value(value), ObservedUnit: "s",
					CheckedAt: ts, Duration: time.Duration(1+rng.IntN(40)) * time.Millisecond},
				WithinSLA: st == check.Pass, Down: st == check.Fail,
			}
			n++
		}
	}
}

// benchSize writes b.N batches of 500 results of 100 checks (30 s apart,
// so 100,000 results cover 8h20m), rolls up and compacts as the daemon
// does, and reports the store's size per result. Run it with a fixed count
// for comparable figures (see docs/operations.md):
//
//	go test ./store -run '^$' -bench BytesPerResult -benchtime 400x
func benchSize(b *testing.B, dsn string, size func(st *sqlStore) (total, results, rollups int64)) {
	st := openT(b, dsn, Options{})
	fill := sizeLoad(100)
	recs := make([]Record, 500)
	ctx := context.Background()
	written := 0
	for b.Loop() {
		fill(recs)
		if err := st.Write(ctx, recs); err != nil {
			b.Fatal(err)
		}
		written += len(recs)
	}
	b.StopTimer()
	end := recs[len(recs)-1].CheckedAt
	if err := st.Compact(ctx, end.Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	total, results, rollups := size(st)
	nRollups := count(b, st.rdb, "SELECT COUNT(*) FROM rollups_hourly")
	b.ReportMetric(float64(total)/float64(written), "bytes/result")
	b.ReportMetric(float64(results)/float64(written), "raw_bytes/result")
	if nRollups > 0 {
		b.ReportMetric(float64(rollups)/float64(nRollups), "bytes/rollup")
	}
	b.ReportMetric(float64(written), "results")
}

func BenchmarkBytesPerResultSQLite(b *testing.B) {
	path := filepath.Join(b.TempDir(), "monitor.db")
	benchSize(b, "sqlite://"+path, func(st *sqlStore) (total, results, rollups int64) {
		if _, err := st.wdb.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			b.Fatal(err)
		}
		total = fileSize(path) + fileSize(path+"-wal")
		tables := map[string]int64{}
		rs, err := st.rdb.Query(`SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat d JOIN sqlite_master m ON m.name = d.name GROUP BY m.tbl_name`)
		if err != nil {
			b.Fatal(err)
		}
		defer rs.Close()
		for rs.Next() {
			var name string
			var n int64
			if err := rs.Scan(&name, &n); err != nil {
				b.Fatal(err)
			}
			tables[name] = n
		}
		return total, tables["results"], tables["rollups_hourly"]
	})
}

func BenchmarkBytesPerResultPostgres(b *testing.B) {
	benchSize(b, postgresDSN(b), func(st *sqlStore) (total, results, rollups int64) {
		// What the daemon's autovacuum would have done by then; sizes are
		// of the tables with their indexes and TOAST.
		for _, t := range []string{"results", "rollups_hourly", "latest", "checks", "outages"} {
			if _, err := st.wdb.Exec("VACUUM ANALYZE " + t); err != nil {
				b.Fatal(err)
			}
		}
		q := `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind = 'r'`
		total = count(b, st.rdb, q)
		results = count(b, st.rdb, "SELECT pg_total_relation_size('results')")
		rollups = count(b, st.rdb, "SELECT pg_total_relation_size('rollups_hourly')")
		return total, results, rollups
	})
}

// BenchmarkCopySQLiteToPostgres times `monitor store copy` of a SQLite
// store of 100,000 results (with their roll-ups) into an empty PostgreSQL
// schema, and reports the rows copied per second:
//
//	go test ./store -run '^$' -bench CopySQLiteToPostgres -benchtime 3x
func BenchmarkCopySQLiteToPostgres(b *testing.B) {
	ctx := context.Background()
	from := "sqlite://" + filepath.Join(b.TempDir(), "monitor.db")
	st := openT(b, from, Options{})
	fill := sizeLoad(100)
	recs := make([]Record, 500)
	for range 200 {
		fill(recs)
		if err := st.Write(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.Compact(ctx, recs[len(recs)-1].CheckedAt.Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	var rows int64
	for b.Loop() {
		b.StopTimer()
		to := postgresDSN(b)
		b.StartTimer()
		stats, err := Copy(ctx, from, to, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range stats.Rows {
			rows += n
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
