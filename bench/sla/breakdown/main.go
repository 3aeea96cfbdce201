// Command breakdown times, in one process and against the store of a
// config, the parts of `monitor sla report` and of the SLO evaluator:
//
//	go run ./bench/sla/breakdown -config /tmp/slabench/config-sqlite.yaml -runs 5
//
// For each measurement it prints the median, min and max of -runs runs
// (after one warm-up run), in milliseconds:
//
//   - open: store.Open (connect and migrate) and the first read;
//   - report 30d / 90d / month: sla.Report over every objective, as
//     `monitor sla report --window 30d|90d` or `--month` computes it
//     (without the config load, store open and output);
//   - totals 30d / outages 30d: the two store reads sla.Report makes, alone;
//   - evaluate: sla.Evaluate of every objective at now — what the daemon's
//     evaluator does every 30 seconds — and, per window of Windows(o), the
//     Totals of every objective over that window;
//   - experiment: with its own connection, the hourly rollups of every
//     check over 30d and 90d read as the store reads them (every column of
//     every hour) and as one SQL SUM/MIN/MAX row per check, plus a check
//     that the aggregate's counts equal Store.Totals over the month.
//
// -only NAME runs the measurements whose name contains NAME (and no
// experiment); -cpuprofile FILE writes a CPU profile of the run.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver, for the rollup experiment
	_ "modernc.org/sqlite"             // "sqlite" driver, for the rollup experiment

	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/store"
)

func main() {
	cfgPath := flag.String("config", "/tmp/slabench/config-sqlite.yaml", "config with storage.dsn and slos")
	runs := flag.Int("runs", 5, "timed runs per measurement (after one warm-up)")
	month := flag.String("month", "", "month for the month report, YYYY-MM (default: the last full month)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.StringVar(&only, "only", "", "run only the measurements whose name contains this (and no experiment)")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "breakdown: %v\n", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "breakdown: %v\n", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*cfgPath, *runs, *month); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintf(os.Stderr, "breakdown: %v\n", err)
		os.Exit(1)
	}
}

func objectives(cfg *config.Config) []sla.Objective {
	out := make([]sla.Objective, 0, len(cfg.SLOs))
	for _, s := range cfg.SLOs {
		out = append(out, sla.Objective{Check: s.Check, Target: s.Objective / 100, Window: s.Window, SLI: sla.SLI(s.SLI)})
	}
	return out
}

// only restricts the measurements to those whose name contains it.
var only string

// timeit runs f once to warm up, then runs times, and prints the median,
// min and max.
func timeit(name string, runs int, f func() error) error {
	if only != "" && !strings.Contains(name, only) {
		return nil
	}
	if err := f(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	ds := make([]time.Duration, 0, runs)
	for range runs {
		t := time.Now()
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		ds = append(ds, time.Since(t))
	}
	slices.Sort(ds)
	med := ds[len(ds)/2]
	if len(ds)%2 == 0 {
		med = (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	fmt.Printf("%-40s %10.1f %10.1f %10.1f\n", name, ms(med), ms(ds[0]), ms(ds[len(ds)-1]))
	return nil
}

func run(cfgPath string, runs int, month string) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	objs := objectives(cfg)
	if len(objs) == 0 {
		return fmt.Errorf("%s has no slos", cfgPath)
	}
	if month == "" {
		now := time.Now().UTC()
		month = time.Date(now.Year(), now.Month()-1, 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
	}
	mFrom, mTo, err := sla.MonthRange(month)
	if err != nil {
		return err
	}
	ctx := context.Background()
	opts := store.Options{Retention: cfg.Storage.Retention}
	fmt.Printf("%s: %d objectives, store %s, %d runs each (median, min, max in ms)\n",
		cfgPath, len(objs), dsnScheme(cfg.Storage.DSN), runs)
	fmt.Printf("%-40s %10s %10s %10s\n", "measurement", "median", "min", "max")

	if err := timeit("open + first read", runs, func() error {
		st, err := store.Open(ctx, cfg.Storage.DSN, opts)
		if err != nil {
			return err
		}
		defer st.Close()
		_, err = st.Totals(ctx, objs[0].Check, time.Now().Add(-time.Hour), time.Now())
		return err
	}); err != nil {
		return err
	}

	st, err := store.Open(ctx, cfg.Storage.DSN, opts)
	if err != nil {
		return err
	}
	defer st.Close()

	report := func(from, to func() time.Time) func() error {
		return func() error {
			rows, err := sla.Report(ctx, st, objs, from(), to())
			if err == nil && len(rows) != len(objs) {
				err = fmt.Errorf("%d rows for %d objectives", len(rows), len(objs))
			}
			return err
		}
	}
	ago := func(d time.Duration) func() time.Time { return func() time.Time { return time.Now().Add(-d) } }
	at := func(t time.Time) func() time.Time { return func() time.Time { return t } }
	const day = 24 * time.Hour
	steps := []struct {
		name string
		f    func() error
	}{
		{"sla.Report 30d (all objectives)", report(ago(30*day), time.Now)},
		{"sla.Report 90d", report(ago(90*day), time.Now)},
		{"sla.Report month " + month, report(at(mFrom), at(mTo))},
		{"  Store.Totals 30d only", func() error {
			now := time.Now()
			for _, o := range objs {
				if _, err := st.Totals(ctx, o.Check, now.Add(-30*day), now); err != nil {
					return err
				}
			}
			return nil
		}},
		{"  Store.Outages 30d only", func() error {
			now := time.Now()
			for _, o := range objs {
				if _, err := st.Outages(ctx, o.Check, now.Add(-30*day), now); err != nil {
					return err
				}
			}
			return nil
		}},
		{"sla.Evaluate (evaluator cycle)", func() error {
			now := time.Now()
			for _, o := range objs {
				if _, err := sla.Evaluate(ctx, st, o, now); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, s := range steps {
		if err := timeit(s.name, runs, s.f); err != nil {
			return err
		}
	}
	for _, w := range sla.Windows(objs[0]) {
		if err := timeit("  Store.Totals "+sla.FormatWindow(w), runs, func() error {
			now := time.Now()
			for _, o := range objs {
				if _, err := st.Totals(ctx, o.Check, now.Add(-w), now); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if only != "" {
		return nil
	}
	return rollupExperiment(ctx, st, cfg.Storage.DSN, objs, runs, mFrom, mTo)
}

// rollupExperiment measures, with its own connection to the store's
// database, what reading the hourly rollups of every check costs as the
// store reads them (every column of every hour, one row per hour) and as
// one SQL aggregate per check would (SUM/MIN/MAX over the hours, one row),
// and checks on the month that the aggregate's counts equal Store.Totals.
func rollupExperiment(ctx context.Context, st store.Store, dsn string, objs []sla.Objective, runs int, mFrom, mTo time.Time) error {
	var (
		db  *sql.DB
		err error
		ph  = func(int) string { return "?" }
	)
	if strings.HasPrefix(dsn, "sqlite://") {
		path, q, _ := strings.Cut(strings.TrimPrefix(dsn, "sqlite://"), "?")
		_ = q
		db, err = sql.Open("sqlite", path+"?_pragma=query_only(1)")
	} else {
		db, err = sql.Open("pgx", dsn)
		ph = func(n int) string { return "$" + strconv.Itoa(n) }
	}
	if err != nil {
		return err
	}
	defer db.Close()
	ids := map[string]int64{}
	rs, err := db.QueryContext(ctx, "SELECT id, name FROM checks")
	if err != nil {
		return err
	}
	for rs.Next() {
		var id int64
		var name string
		if err := rs.Scan(&id, &name); err != nil {
			rs.Close()
			return err
		}
		ids[name] = id
	}
	rs.Close()
	where := " FROM rollups_hourly WHERE check_id = " + ph(1) + " AND hour >= " + ph(2) + " AND hour < " + ph(3)
	rowsQ := "SELECT hour, runs, good, bad, unknown, maintenance, within_sla, n_values, min_value, sum_value, max_value, " +
		"good_ms, bad_ms, unknown_ms, maintenance_ms, within_sla_ms" + where + " ORDER BY hour"
	aggQ := "SELECT COUNT(*), SUM(runs), SUM(good), SUM(bad), SUM(unknown), SUM(maintenance), SUM(within_sla), SUM(n_values), " +
		"MIN(min_value), SUM(sum_value), MAX(max_value), SUM(good_ms), SUM(bad_ms), SUM(unknown_ms), SUM(maintenance_ms), SUM(within_sla_ms)" + where
	hourMs := time.Hour.Milliseconds()
	ceilHour := func(t time.Time) int64 { return (t.UnixMilli() + hourMs - 1) / hourMs * hourMs }
	floorHour := func(t time.Time) int64 { return t.UnixMilli() / hourMs * hourMs }

	type agg struct {
		hours, runs, good, bad, unknown, maint int64
	}
	sumRollups := func(id, lo, hi int64) (agg, error) {
		var a agg
		var within, nValues, goodMs, badMs, unknownMs, maintMs, withinMs sql.NullInt64
		var runs, good, bad, unknown, maint sql.NullInt64
		var mn, sum, mx sql.NullFloat64
		err := db.QueryRowContext(ctx, aggQ, id, lo, hi).Scan(&a.hours, &runs, &good, &bad, &unknown, &maint, &within, &nValues,
			&mn, &sum, &mx, &goodMs, &badMs, &unknownMs, &maintMs, &withinMs)
		a.runs, a.good, a.bad, a.unknown, a.maint = runs.Int64, good.Int64, bad.Int64, unknown.Int64, maint.Int64
		return a, err
	}
	fmt.Printf("\nexperiment: the whole hours of a window, every check, read from rollups_hourly directly\n")
	for _, w := range []time.Duration{30 * 24 * time.Hour, 90 * 24 * time.Hour} {
		win := sla.FormatWindow(w)
		if err := timeit("  rows: 16 columns × each hour, "+win, runs, func() error {
			now := time.Now()
			lo, hi := ceilHour(now.Add(-w)), floorHour(now)
			for _, o := range objs {
				rs, err := db.QueryContext(ctx, rowsQ, ids[o.Check], lo, hi)
				if err != nil {
					return err
				}
				var v [16]any
				var hour, i64 [12]int64
				var f [3]sql.NullFloat64
				v[0] = &hour[0]
				for i := 1; i <= 7; i++ {
					v[i] = &i64[i-1]
				}
				v[8], v[9], v[10] = &f[0], &f[1], &f[2]
				for i := 11; i < 16; i++ {
					v[i] = &i64[i-4]
				}
				for rs.Next() {
					if err := rs.Scan(v[:]...); err != nil {
						rs.Close()
						return err
					}
				}
				rs.Close()
				if err := rs.Err(); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		if err := timeit("  SQL SUM/MIN/MAX: one row a check, "+win, runs, func() error {
			now := time.Now()
			lo, hi := ceilHour(now.Add(-w)), floorHour(now)
			for _, o := range objs {
				if _, err := sumRollups(ids[o.Check], lo, hi); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	// The month is whole hours, all rolled up: the aggregate must equal Totals.
	bad := 0
	for _, o := range objs {
		a, err := sumRollups(ids[o.Check], mFrom.UnixMilli(), mTo.UnixMilli())
		if err != nil {
			return err
		}
		b, err := st.Totals(ctx, o.Check, mFrom, mTo)
		if err != nil {
			return err
		}
		if a.runs != b.Runs || a.good != b.Good || a.bad != b.Bad || a.unknown != b.Unknown || a.maint != b.Maintenance {
			bad++
			if bad <= 3 {
				fmt.Printf("  %s: SQL aggregate %+v ≠ Totals runs %d good %d bad %d unknown %d maint %d\n",
					o.Check, a, b.Runs, b.Good, b.Bad, b.Unknown, b.Maintenance)
			}
		}
	}
	fmt.Printf("  month %s: SQL aggregate counts equal Store.Totals for %d of %d checks\n", mFrom.Format("2006-01"), len(objs)-bad, len(objs))
	return nil
}

func dsnScheme(dsn string) string {
	for i := range len(dsn) - 2 {
		if dsn[i:i+3] == "://" {
			return dsn[:i]
		}
	}
	return "?"
}
