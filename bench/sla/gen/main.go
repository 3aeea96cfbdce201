// Command gen fills a history store with realistic results, for
// benchmarking `monitor sla report` and the SLO evaluator:
//
//	go run ./bench/sla/gen -dsn sqlite:///tmp/slabench/monitor.db -checks 100 -days 90 -interval 30s
//
// It writes, through store.Open and Store.Write in big batches, one result
// per check every interval for the given number of days, ending now, in
// time order (as the daemon writes them), then runs Store.Compact(now) so
// that every finished hour is rolled up.
//
// The history of each check:
//   - every fifth check (index%5 == 4) is a freshness check named
//     svcNNN_freshness (observed value: the data's age in seconds, a
//     5-minute load sawtooth; FAIL over max_age 15m, WithinSLA under
//     critical_age 60m); the others are db checks named svcNNN_connectivity
//     (observed value: the query latency in seconds, with a daily cycle);
//   - outages: 1 to 5 a month per check (Poisson), lasting 2 to 60 minutes
//     (log-uniform), FAIL with 1 % PASS in between (flapping, which splits
//     an outage in the store);
//   - outside outages, 0.2 % UNKNOWN (timeouts) and 0.002 % isolated FAIL
//     (about 2 one-result blips a check a month);
//   - two maintenance windows: 2 h for every check about 30 days before the
//     end (a Sunday 02:00 UTC), 1 h for the first half of the checks about
//     60 days before; results inside are flagged Maintenance and FAIL for
//     the middle half of the window.
//
// The store is opened with Retention = days + 1 day (-retention), so that
// Compact deletes nothing: every raw result stays, and the rollups cover
// every finished hour. For a PostgreSQL DSN with search_path=NAME, the
// schema is created if missing. gen refuses a store that already holds
// results (-force writes anyway).
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver, for the schema and the sizes
	_ "modernc.org/sqlite"             // "sqlite" driver, for the checkpoint and the sizes

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/store"
)

func main() {
	var (
		dsn       = flag.String("dsn", "sqlite:///tmp/slabench/monitor.db", "store DSN (sqlite:// or postgres://)")
		checks    = flag.Int("checks", 100, "number of checks")
		days      = flag.Float64("days", 90, "days of history, ending now")
		interval  = flag.Duration("interval", 30*time.Second, "time between two results of a check")
		batch     = flag.Int("batch", 5000, "results per Store.Write")
		retention = flag.Duration("retention", 0, "store retention (default: days + 1 day, so Compact deletes nothing)")
		seed      = flag.Uint64("seed", 1, "random seed")
		endFlag   = flag.String("end", "", "RFC 3339 end of the history (default: now)")
		noCompact = flag.Bool("no-compact", false, "do not run Compact at the end")
		force     = flag.Bool("force", false, "write even if the store already holds results")
	)
	flag.Parse()
	if *checks <= 0 || *days <= 0 || *interval < time.Second || *batch <= 0 {
		fmt.Fprintln(os.Stderr, "gen: -checks, -days and -batch must be > 0, -interval ≥ 1s")
		os.Exit(2)
	}
	end := time.Now().UTC().Truncate(time.Millisecond)
	if *endFlag != "" {
		t, err := time.Parse(time.RFC3339, *endFlag)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gen: bad -end: %v\n", err)
			os.Exit(2)
		}
		end = t.UTC()
	}
	span := time.Duration(*days * float64(24*time.Hour))
	if *retention <= 0 {
		*retention = span + 24*time.Hour
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, params{
		dsn: *dsn, checks: *checks, span: span, interval: *interval, batch: *batch,
		retention: *retention, seed: *seed, end: end, compact: !*noCompact, force: *force,
	}); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}

type params struct {
	dsn            string
	checks         int
	span, interval time.Duration
	batch          int
	retention      time.Duration
	seed           uint64
	end            time.Time
	compact, force bool
}

// Name returns the name of check i, as bench/sla/run.sh writes it in the
// config: every fifth check is a freshness check.
func Name(i int) string {
	if IsFreshness(i) {
		return fmt.Sprintf("svc%03d_freshness", i)
	}
	return fmt.Sprintf("svc%03d_connectivity", i)
}

// IsFreshness reports whether check i is a freshness check.
func IsFreshness(i int) bool { return i%5 == 4 }

func run(ctx context.Context, p params) error {
	isPG := strings.HasPrefix(p.dsn, "postgres://") || strings.HasPrefix(p.dsn, "postgresql://")
	if isPG {
		if err := createSchema(ctx, p.dsn); err != nil {
			return err
		}
	}
	st, err := store.Open(ctx, p.dsn, store.Options{Retention: p.retention})
	if err != nil {
		return err
	}
	defer st.Close()
	if latest, err := st.Latest(ctx); err != nil {
		return err
	} else if len(latest) > 0 && !p.force {
		return fmt.Errorf("the store already holds results of %d checks (use -force to write anyway)", len(latest))
	}

	rounds := int(p.span / p.interval)
	start := p.end.Add(-time.Duration(rounds) * p.interval)
	total := int64(rounds) * int64(p.checks)
	fmt.Printf("gen: %d checks × %d rounds every %s = %d results, %s → %s, batches of %d, retention %s\n",
		p.checks, rounds, p.interval, total, start.Format(time.RFC3339), p.end.Format(time.RFC3339), p.batch, p.retention)

	sim := newSim(p, start, rounds)
	// Generating and writing overlap: three buffers go round between the
	// generator and the writer.
	free := make(chan *buf, 3)
	full := make(chan *buf, 3)
	for range 3 {
		free <- &buf{recs: make([]store.Record, p.batch), vals: make([]float64, p.batch)}
	}
	genErr := make(chan error, 1)
	go func() {
		defer close(full)
		for {
			var b *buf
			select {
			case b = <-free:
			case <-ctx.Done():
				genErr <- ctx.Err()
				return
			}
			b.n = sim.fill(b)
			if b.n == 0 {
				genErr <- nil
				return
			}
			full <- b
		}
	}()

	t0 := time.Now()
	var written int64
	lastPrint := t0
	var lastWritten int64
	for b := range full {
		if err := st.Write(ctx, b.recs[:b.n]); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		written += int64(b.n)
		free <- b
		if now := time.Now(); now.Sub(lastPrint) >= 10*time.Second || written == total {
			el := now.Sub(t0)
			rate := float64(written) / el.Seconds()
			eta := time.Duration(float64(total-written) / rate * float64(time.Second))
			fmt.Printf("  %5.1f%%  %11d results  %6.0f results/s (last %.0fs: %6.0f/s)  elapsed %s  eta %s\n",
				100*float64(written)/float64(total), written, rate, now.Sub(lastPrint).Seconds(),
				float64(written-lastWritten)/now.Sub(lastPrint).Seconds(), el.Round(time.Second), eta.Round(time.Second))
			lastPrint, lastWritten = now, written
		}
	}
	if err := <-genErr; err != nil {
		return err
	}
	writeTime := time.Since(t0)
	fmt.Printf("wrote %d results in %s: %.0f results/s (%d outages, %d FAIL, %d UNKNOWN, %d in maintenance)\n",
		written, writeTime.Round(time.Millisecond), float64(written)/writeTime.Seconds(),
		sim.outages, sim.fails, sim.unknowns, sim.maintCount)

	if p.compact {
		t1 := time.Now()
		if err := st.Compact(ctx, time.Now()); err != nil {
			return fmt.Errorf("compact: %w", err)
		}
		fmt.Printf("compacted (rolled up every finished hour) in %s\n", time.Since(t1).Round(time.Millisecond))
	}
	if err := st.Close(); err != nil {
		return err
	}
	fmt.Printf("total %s\n", time.Since(t0).Round(time.Millisecond))
	if isPG {
		return pgSizes(ctx, p.dsn, written)
	}
	return sqliteSizes(ctx, p.dsn, written)
}

type buf struct {
	recs []store.Record
	vals []float64
	n    int
}

// checkSim is the state of one simulated check.
type checkSim struct {
	name      string
	index     int
	freshness bool
	offset    time.Duration
	perMonth  float64 // mean outages a month
	base      float64 // median latency (db), lag (freshness), in seconds

	nextOutage       time.Time
	outStart, outEnd time.Time
	inOutage         bool
	loadPhase        float64 // freshness: seconds into the 5-minute load cycle at start
}

type maintWindow struct {
	start, end time.Time
	checks     int // the first checks it covers
}

type sim struct {
	p      params
	rng    *rand.Rand
	start  time.Time
	rounds int
	checks []checkSim
	maint  []maintWindow
	r, c   int // next round and check

	outages, fails, unknowns, maintCount int64
}

func newSim(p params, start time.Time, rounds int) *sim {
	s := &sim{p: p, rng: rand.New(rand.NewPCG(p.seed, 0x5eed)), start: start, rounds: rounds}
	for i := range p.checks {
		c := checkSim{
			name: Name(i), index: i, freshness: IsFreshness(i),
			offset:    time.Duration(i) * p.interval / time.Duration(p.checks),
			perMonth:  1 + 4*s.rng.Float64(),
			base:      0.002 + 0.02*s.rng.Float64(),
			loadPhase: 300 * s.rng.Float64(),
		}
		if c.freshness {
			c.base = 10 + 50*s.rng.Float64()
		}
		c.nextOutage = start.Add(s.gap(&c))
		s.checks = append(s.checks, c)
	}
	// Maintenance: the Sundays 02:00 UTC nearest 30 and 60 days before the end.
	for _, w := range []struct {
		daysBefore int
		length     time.Duration
		checks     int
	}{{30, 2 * time.Hour, p.checks}, {60, time.Hour, p.checks / 2}} {
		d := p.end.AddDate(0, 0, -w.daysBefore).Truncate(24 * time.Hour)
		for d.Weekday() != time.Sunday {
			d = d.AddDate(0, 0, -1)
		}
		ms := d.Add(2 * time.Hour)
		if ms.After(start) && ms.Add(w.length).Before(p.end) {
			s.maint = append(s.maint, maintWindow{start: ms, end: ms.Add(w.length), checks: w.checks})
			fmt.Printf("maintenance %s → %s for the first %d checks\n", ms.Format(time.RFC3339), ms.Add(w.length).Format(time.RFC3339), w.checks)
		}
	}
	return s
}

// gap draws the time to a check's next outage: exponential, perMonth a month.
func (s *sim) gap(c *checkSim) time.Duration {
	mean := 30 * 24 * time.Hour.Seconds() / c.perMonth
	return time.Duration(s.rng.ExpFloat64() * mean * float64(time.Second))
}

// fill writes the next results into b, in time order, and returns how many.
func (s *sim) fill(b *buf) int {
	n := 0
	for n < len(b.recs) && s.r < s.rounds {
		c := &s.checks[s.c]
		ts := s.start.Add(time.Duration(s.r)*s.p.interval + c.offset + time.Duration(s.rng.IntN(100))*time.Millisecond)
		s.result(c, ts, &b.recs[n], &b.vals[n])
		n++
		if s.c++; s.c == len(s.checks) {
			s.c = 0
			s.r++
		}
	}
	return n
}

var dbErrors = []string{
	"dial tcp 10.0.3.17:5432: connect: connection refused",
	"FATAL: the database system is starting up (SQLSTATE 57P03)",
	"FATAL: sorry, too many clients already (SQLSTATE 53300)",
	"context deadline exceeded (timeout 5s)",
}

func (s *sim) result(c *checkSim, ts time.Time, rec *store.Record, val *float64) {
	rng := s.rng
	// Outages start and end on their schedule.
	if !c.inOutage && !ts.Before(c.nextOutage) {
		c.inOutage, c.outStart = true, ts
		minutes := 2 * math.Pow(30, rng.Float64()) // 2 to 60 minutes, log-uniform
		c.outEnd = ts.Add(time.Duration(minutes * float64(time.Minute)))
		s.outages++
	}
	if c.inOutage && !ts.Before(c.outEnd) {
		c.inOutage = false
		c.nextOutage = ts.Add(s.gap(c))
	}
	maint := false
	var mw maintWindow
	for _, w := range s.maint {
		if !ts.Before(w.start) && ts.Before(w.end) && c.index < w.checks {
			maint, mw = true, w
			break
		}
	}

	r := check.Result{Check: c.name, Kind: "db", Status: check.Pass, Severity: check.Info, Message: "ok",
		ObservedUnit: "s", CheckedAt: ts, Duration: time.Duration(2+rng.IntN(38)) * time.Millisecond}
	hasValue := true
	x := rng.Float64()
	switch {
	case maint:
		q := mw.end.Sub(mw.start) / 4
		if ts.After(mw.start.Add(q)) && ts.Before(mw.end.Add(-q)) {
			r.Status, r.Severity, r.Message, hasValue = check.Fail, check.Critical, dbErrors[0], false
		}
	case c.inOutage:
		if x < 0.99 {
			r.Status, r.Severity = check.Fail, check.Critical
			r.Message = dbErrors[rng.IntN(len(dbErrors))]
			hasValue = r.Message == dbErrors[3]
			if hasValue {
				r.Duration = 5 * time.Second
			}
		}
	case x < 0.002:
		r.Status, r.Severity, r.Message, hasValue = check.Unknown, check.Warn, "context deadline exceeded (timeout 5s)", false
		r.Duration = 5 * time.Second
	case x < 0.00202:
		r.Status, r.Severity, r.Message, hasValue = check.Fail, check.Critical, dbErrors[rng.IntN(len(dbErrors))], false
	}

	if c.freshness {
		r.Kind = "freshness"
		if r.Severity == check.Critical {
			r.Severity = check.Warn
		}
		// the age of the newest record: a load every 5 minutes, plus a lag
		age := math.Mod(c.loadPhase+ts.Sub(s.start).Seconds(), 300) + c.base*(0.8+0.4*rng.Float64())
		if r.Status == check.Fail && !maint {
			age = 900 + ts.Sub(c.outStart).Seconds() + 30*rng.Float64()
			r.Message = fmt.Sprintf("newest record is %s old (max_age 15m)", time.Duration(age)*time.Second)
			hasValue = true
		}
		if hasValue {
			*val = math.Round(age*1000) / 1000
		}
	} else if hasValue {
		if r.Duration == 5*time.Second {
			*val = 5
		} else {
			// latency, with a daily cycle peaking at 14:00 UTC
			h := float64(ts.Hour()) + float64(ts.Minute())/60
			diurnal := 1 + 0.4*math.Cos((h-14)/24*2*math.Pi)
			*val = math.Round(c.base*diurnal*math.Exp(0.3*rng.NormFloat64())*1e6) / 1e6
		}
	}
	if hasValue {
		r.ObservedValue = val
	}
	if r.Status == check.Pass {
		r.Message = ""
	}
	within := r.Status == check.Pass
	if c.freshness {
		within = hasValue && *val < 3600
	}
	switch {
	case maint:
		s.maintCount++
	case r.Status == check.Fail:
		s.fails++
	case r.Status == check.Unknown:
		s.unknowns++
	}
	// Down as sla.Down decides it: a FAIL outside maintenance.
	*rec = store.Record{Result: r, Maintenance: maint, WithinSLA: within, Down: r.Status == check.Fail && !maint}
}

// createSchema creates the schema named by the DSN's search_path.
func createSchema(ctx context.Context, dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return err
	}
	schema := u.Query().Get("search_path")
	if schema == "" {
		return nil
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+quoteIdent(schema))
	return err
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func sqlitePath(dsn string) (string, error) {
	rest := dsn[strings.Index(dsn, "://")+3:]
	path, _, _ := strings.Cut(rest, "?")
	path = strings.TrimPrefix(path, "file:")
	if path == "" || strings.HasPrefix(path, ":memory:") {
		return "", errors.New("no file")
	}
	return path, nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// sqliteSizes checkpoints the WAL and prints the file size, the bytes per
// result and the size of every table and index.
func sqliteSizes(ctx context.Context, dsn string, results int64) error {
	path, err := sqlitePath(dsn)
	if err != nil {
		return nil
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	var busy, logged, ckpt int
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logged, &ckpt); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	size := fileSize(path) + fileSize(path+"-wal") + fileSize(path+"-shm")
	fmt.Printf("file %s: %d bytes = %.0f MiB (main %d + WAL %d after checkpoint) = %.1f bytes/result\n",
		path, size, float64(size)/(1<<20), fileSize(path), fileSize(path+"-wal"), float64(size)/float64(results))
	rs, err := db.QueryContext(ctx, "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")
	if err != nil {
		fmt.Printf("(no dbstat: %v)\n", err)
		return nil
	}
	defer rs.Close()
	for rs.Next() {
		var name string
		var n int64
		if err := rs.Scan(&name, &n); err != nil {
			return err
		}
		fmt.Printf("  %-34s %12d bytes\n", name, n)
	}
	return rs.Err()
}

// pgSizes prints the total size of the schema's tables (with indexes and
// TOAST) and the bytes per result.
func pgSizes(ctx context.Context, dsn string, results int64) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	rs, err := db.QueryContext(ctx, `SELECT c.relname, pg_total_relation_size(c.oid)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY 2 DESC`)
	if err != nil {
		return err
	}
	defer rs.Close()
	var total int64
	for rs.Next() {
		var name string
		var n int64
		if err := rs.Scan(&name, &n); err != nil {
			return err
		}
		total += n
		fmt.Printf("  %-34s %12d bytes\n", name, n)
	}
	if err := rs.Err(); err != nil {
		return err
	}
	fmt.Printf("schema total %d bytes = %.0f MiB = %.1f bytes/result\n", total, float64(total)/(1<<20), float64(total)/float64(results))
	return nil
}
