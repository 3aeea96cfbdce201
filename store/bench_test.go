package store

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

var sizeFlag = flag.Bool("size", false, "run TestSizePerResult: write 1,000,000 results to SQLite and report the bytes per result")

// load generates what 100 checks at 30 s intervals produce: mostly PASS
// with a latency, now and then a FAIL or UNKNOWN with a message.
type load struct {
	checks int
	names  []string
	rng    *rand.Rand
	n      int // results generated so far
}

func newLoad(checks int) *load {
	l := &load{checks: checks, rng: rand.New(rand.NewPCG(1, 2))}
	for i := range checks {
		l.names = append(l.names, fmt.Sprintf("check_%03d_connectivity", i))
	}
	return l
}

// fill overwrites recs with the next results, in time order.
func (l *load) fill(recs []Record) {
	for i := range recs {
		c := l.n % l.checks
		round := l.n / l.checks
		// each check runs every 30 s, spread over the interval
		ts := T0.Add(time.Duration(round)*30*time.Second + time.Duration(c)*300*time.Millisecond +
			time.Duration(l.rng.IntN(50))*time.Millisecond)
		st, sev, msg := check.Pass, check.Info, "ok"
		switch x := l.rng.IntN(1000); {
		case x < 5:
			st, sev, msg = check.Fail, check.Critical, "dial tcp 10.0.0.7:5432: connect: connection refused"
		case x < 8:
			st, sev, msg = check.Unknown, check.Warn, "query returned no rows"
		}
		recs[i] = Record{
			Result: check.Result{Check: l.names[c], Kind: "db", Status: st, Severity: sev, Message: msg,
				ObservedValue: check.Value(0.001 + l.rng.Float64()*0.05), ObservedUnit: "s",
				CheckedAt: ts, Duration: time.Duration(1+l.rng.IntN(40)) * time.Millisecond},
			WithinSLA: st == check.Pass, Down: st == check.Fail,
		}
		l.n++
	}
}

func benchWrite(b *testing.B, dsn string) {
	st := openT(b, dsn, Options{})
	l := newLoad(100)
	recs := make([]Record, 500)
	ctx := context.Background()
	written := 0
	for b.Loop() {
		l.fill(recs)
		if err := st.Write(ctx, recs); err != nil {
			b.Fatal(err)
		}
		written += len(recs)
	}
	b.ReportMetric(float64(written)/b.Elapsed().Seconds(), "results/s")
}

func BenchmarkWriteSQLite(b *testing.B) { benchWrite(b, sqliteDSN(b)) }

func BenchmarkWritePostgres(b *testing.B) { benchWrite(b, postgresDSN(b)) }

// TestSizePerResult writes a million results of 100 checks at 30 s
// spacing (about 3.5 days) into SQLite, compacts, and reports the bytes per
// result and the projection for 90 days. Run it with
//
//	go test ./store -run TestSizePerResult -size -v
func TestSizePerResult(t *testing.T) {
	if !*sizeFlag {
		t.Skip("run with -size")
	}
	const (
		total   = 1_000_000
		checks  = 100
		target  = 1 << 30
		perDay  = checks * 24 * 3600 / 30
		days90  = 90 * perDay                // 25.92M raw results
		rollups = checks * 24 * 400          // hourly rollups for 400 days
		hours   = total / checks * 30 / 3600 // hours covered
	)
	dir := t.TempDir()
	path := filepath.Join(dir, "monitor.db")
	st := openT(t, "sqlite://"+path, Options{})
	l := newLoad(checks)
	recs := make([]Record, 500)
	start := time.Now()
	for l.n < total {
		l.fill(recs)
		write(t, st, recs...)
	}
	elapsed := time.Since(start)
	end := T0.Add(total / checks * 30 * time.Second)
	compact(t, st, end.Add(time.Hour))
	if _, err := st.wdb.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}

	size := fileSize(path) + fileSize(path+"-wal")
	perResult := float64(size) / total
	tables := map[string]int64{}
	rs, err := st.rdb.Query("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var name string
		var n int64
		_ = rs.Scan(&name, &n)
		tables[name] = n
	}
	rs.Close()
	nRollups := count(t, st.rdb, "SELECT COUNT(*) FROM rollups_hourly")
	rawPer := float64(tables["results"]) / total
	rollupPer := float64(tables["rollups_hourly"]) / float64(nRollups)
	projection := rawPer*days90 + rollupPer*rollups
	var b strings.Builder
	fmt.Fprintf(&b, "wrote %d results in %s (%.0f results/s)\n", total, elapsed.Round(time.Millisecond), total/elapsed.Seconds())
	fmt.Fprintf(&b, "file %d bytes (main + WAL after checkpoint) = %.1f bytes/result\n", size, perResult)
	fmt.Fprintf(&b, "tables: %v\n", tables)
	fmt.Fprintf(&b, "raw results: %.1f bytes/result; rollups: %d rows, %.1f bytes/row (over %d hours)\n", rawPer, nRollups, rollupPer, hours)
	fmt.Fprintf(&b, "projection, 100 checks × 30 s × 90 days (%d results) + 400 days of rollups (%d rows): %.0f MiB (%.1f%% of the 1 GiB target)\n",
		days90, rollups, projection/(1<<20), 100*projection/target)
	t.Log("\n" + b.String())
	if projection > target {
		t.Errorf("projection %.0f bytes exceeds the 1 GiB target", projection)
	}
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
