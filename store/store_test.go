package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// TestStore runs the one suite against both engines.
func TestStore(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			e.dsn(t) // skips the whole suite when the server is missing
			runSuite(t, e)
		})
	}
}

func runSuite(t *testing.T, e engine) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, e engine)
	}{
		{"WriteLatest", testWriteLatest},
		{"LatestSurvivesReopen", testLatestSurvivesReopen},
		{"DuplicatesAndLateResults", testDuplicatesAndLate},
		{"TotalsHandComputed", testTotalsHandComputed},
		{"HistorySameBeforeAndAfterCompaction", testHistoryCompaction},
		{"LateResultRerollsHour", testLateResultRerolls},
		{"Outages", testOutages},
		{"Retention", testRetention},
		{"MigrationsIdempotent", testMigrationsIdempotent},
		{"MigrationsConcurrent", testMigrationsConcurrent},
		{"SchemaTooNew", testSchemaTooNew},
		{"Writer", testWriterReal},
		{"UnknownCheck", testUnknownCheck},
		{"AwkwardText", testAwkwardText},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, e) })
	}
}

func testWriteLatest(t *testing.T, e engine) {
	st := openT(t, e.dsn(t), Options{})
	a1 := mk("alpha", at(time.Minute), check.Pass).val(0.004)
	a1.ObservedUnit = "s"
	a2 := mk("alpha", at(2*time.Minute), check.Fail).val(1032)
	a2.ObservedUnit, a2.Kind = "s", "freshness"
	a2.NewestAt = at(-17 * time.Minute)
	a2.Duration = 8*time.Millisecond + 123*time.Microsecond
	b1 := mk("beta", at(90*time.Second), check.Unknown)
	b1.Kind = "link"
	b1.Links = []check.LinkResult{{URL: "https://example.com/a", Status: check.Fail, StatusCode: 503, Method: "HEAD",
		FinalURL: "https://example.com/a", DurationMs: 12, Error: check.LinkErrHTTPStatus}}
	c1 := mk("gamma", at(time.Minute), check.Fail)
	c1.Kind, c1.Severity = "db", check.Warn
	c1.Connections = &check.DBConnections{Max: 197, ByState: map[string]int{"active": 3, "idle": 170, "idle in transaction": 0}}
	write(t, st, a1, b1, a2, c1)

	got, err := st.Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []check.Result{a2.Result, b1.Result, c1.Result}
	assertResults(t, got, want)
}

func assertResults(t *testing.T, got, want []check.Result) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.CheckedAt.Equal(w.CheckedAt) || !g.NewestAt.Equal(w.NewestAt) {
			t.Errorf("result %d: times %v/%v, want %v/%v", i, g.CheckedAt, g.NewestAt, w.CheckedAt, w.NewestAt)
		}
		g.CheckedAt, w.CheckedAt, g.NewestAt, w.NewestAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("result %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func testLatestSurvivesReopen(t *testing.T, e engine) {
	dsn := e.dsn(t)
	st := openT(t, dsn, Options{})
	recs := []Record{mk("a", at(0), check.Pass).val(1), mk("b", at(time.Second), check.Fail), mk("a", at(time.Minute), check.Unknown)}
	write(t, st, recs...)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openT(t, dsn, Options{})
	got, err := st.Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	assertResults(t, got, []check.Result{recs[2].Result, recs[1].Result})
}

func testDuplicatesAndLate(t *testing.T, e engine) {
	st := openT(t, e.dsn(t), Options{Now: func() time.Time { return at(time.Hour) }})
	batch := []Record{mk("d", at(10*time.Minute), check.Pass), mk("d", at(20*time.Minute), check.Fail)}
	write(t, st, batch...)
	write(t, st, batch...) // a retried batch changes nothing
	late := mk("d", at(5*time.Minute), check.Fail)
	write(t, st, late) // stored, but neither latest nor an outage
	if n := len(rawTimes(t, st, "d")); n != 3 {
		t.Errorf("raw results = %d, want 3", n)
	}
	got, _ := st.Latest(context.Background())
	assertResults(t, got, []check.Result{batch[1].Result})
	outs, err := st.Outages(context.Background(), "d", at(0), at(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Outage{{Check: "d", Start: at(20 * time.Minute)}}; !reflect.DeepEqual(outs, want) {
		t.Errorf("outages = %+v, want %+v", outs, want)
	}
	b, err := st.Totals(context.Background(), "d", at(0), at(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if b.Runs != 3 || b.Good != 1 || b.Bad != 2 {
		t.Errorf("totals = %+v, want 3 runs, 1 good, 2 bad", b)
	}
}

// fixture: check "hc", every 10 minutes over three hours, then 02:00,
// 02:20 and 02:30. The store's clock reads 03:30.
func fixture() []Record {
	m := time.Minute
	return []Record{
		mk("hc", at(0), check.Pass).val(1),
		mk("hc", at(10*m), check.Pass).val(2),
		mk("hc", at(20*m), check.Fail).val(4),
		mk("hc", at(30*m), check.Unknown),
		mk("hc", at(40*m), check.Pass).val(8).maint(),
		mk("hc", at(50*m), check.Pass).val(0.5),
		mk("hc", at(60*m), check.Fail).val(3),
		mk("hc", at(70*m), check.Fail).maint(),
		mk("hc", at(80*m), check.Pass).val(1.5),
		mk("hc", at(90*m), check.Unknown).val(16),
		mk("hc", at(100*m), check.Pass).val(2),
		mk("hc", at(110*m), check.Pass).val(2.5),
		mk("hc", at(120*m), check.Pass).val(1),
		mk("hc", at(140*m), check.Fail).val(5),
		mk("hc", at(150*m), check.Pass),
	}
}

type want struct {
	runs, good, bad, unknown, maint, within, values int64
	min, avg, max                                   float64
	goodS, badS, unknownS, maintS, withinS          int
}

func (w want) bucket(from, to time.Time) Bucket {
	s := time.Second
	return Bucket{Start: from, Step: to.Sub(from), Runs: w.runs, Good: w.good, Bad: w.bad, Unknown: w.unknown,
		Maintenance: w.maint, WithinSLA: w.within, Values: w.values, Min: w.min, Avg: w.avg, Max: w.max,
		GoodTime: time.Duration(w.goodS) * s, BadTime: time.Duration(w.badS) * s, UnknownTime: time.Duration(w.unknownS) * s,
		MaintenanceTime: time.Duration(w.maintS) * s, WithinSLATime: time.Duration(w.withinS) * s}
}

func assertBucket(t *testing.T, what string, got, want Bucket) {
	t.Helper()
	if math.Abs(got.Avg-want.Avg) < 1e-12 {
		got.Avg = want.Avg
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// Hand-computed: each result holds its state until the next one (they are
// at most 2× the previous gap apart); the first holds 10m until the
// second; the last (02:30, previous gap 10m) holds 20m.
var (
	wantHour0 = want{runs: 6, good: 3, bad: 1, unknown: 1, maint: 1, within: 3, values: 5, min: 0.5, avg: 15.5 / 5, max: 8,
		goodS: 1800, badS: 600, unknownS: 600, maintS: 600, withinS: 1800}
	wantHour1 = want{runs: 6, good: 3, bad: 1, unknown: 1, maint: 1, within: 3, values: 5, min: 1.5, avg: 25.0 / 5, max: 16,
		goodS: 1800, badS: 600, unknownS: 600, maintS: 600, withinS: 1800}
	wantHour2 = want{runs: 3, good: 2, bad: 1, within: 2, values: 2, min: 1, avg: 3, max: 5,
		goodS: 2400, badS: 600, withinS: 2400}
	wantAll = want{runs: 15, good: 8, bad: 3, unknown: 2, maint: 2, within: 8, values: 12, min: 0.5, avg: 46.5 / 12, max: 16,
		goodS: 6000, badS: 1800, unknownS: 1200, maintS: 1200, withinS: 6000}
	// [00:25, 02:25): from the FAIL of 00:20 (5m) to the FAIL of 02:20 (5m).
	wantEdges = want{runs: 11, good: 5, bad: 2, unknown: 2, maint: 2, within: 5, values: 9, min: 0.5, avg: 39.5 / 9, max: 16,
		goodS: 3600, badS: 1200, unknownS: 1200, maintS: 1200, withinS: 3600}
)

func testTotalsHandComputed(t *testing.T, e engine) {
	ctx := context.Background()
	st := openT(t, e.dsn(t), Options{Now: func() time.Time { return at(210 * time.Minute) }})
	recs := fixture()
	write(t, st, recs[:7]...) // two batches
	write(t, st, recs[7:]...)
	m := time.Minute

	checkAll := func(stage string) {
		t.Helper()
		for _, tc := range []struct {
			from, to time.Time
			want     want
		}{
			{at(0), at(60 * m), wantHour0},
			{at(60 * m), at(120 * m), wantHour1},
			{at(120 * m), at(180 * m), wantHour2},
			{at(0), at(180 * m), wantAll},
			{at(-60 * m), at(300 * m), wantAll},
			{at(25 * m), at(145 * m), wantEdges},
		} {
			got, err := st.Totals(ctx, "hc", tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			assertBucket(t, fmt.Sprintf("%s: Totals[%s, %s)", stage, tc.from.Format("15:04"), tc.to.Format("15:04")),
				got, tc.want.bucket(tc.from, tc.to))
		}
		hist, err := st.History(ctx, "hc", at(0), at(180*m), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		wantHist := []Bucket{wantHour0.bucket(at(0), at(60*m)), wantHour1.bucket(at(60*m), at(120*m)), wantHour2.bucket(at(120*m), at(180*m))}
		if len(hist) != 3 {
			t.Fatalf("%s: History = %d buckets, want 3: %+v", stage, len(hist), hist)
		}
		for i := range hist {
			assertBucket(t, fmt.Sprintf("%s: History bucket %d", stage, i), hist[i], wantHist[i])
		}
	}
	checkAll("raw")
	compact(t, st, at(125*m)) // hours 0 and 1 rolled up, hour 2 still raw
	if n := count(t, st.rdb, "SELECT COUNT(*) FROM rollups_hourly"); n != 2 {
		t.Errorf("rollups = %d, want 2", n)
	}
	checkAll("two hours rolled up")
	compact(t, st, at(210*m))
	compact(t, st, at(210*m)) // again: idempotent
	if n := count(t, st.rdb, "SELECT COUNT(*) FROM rollups_hourly"); n != 3 {
		t.Errorf("rollups = %d, want 3", n)
	}
	checkAll("all rolled up")
}

// testHistoryCompaction writes irregular data for two checks over a day and
// compares every read before, halfway through and after compaction: they
// must be identical while the raw results are kept, except that Avg may
// differ in its last bits (rollups are added up in SQL).
func testHistoryCompaction(t *testing.T, e engine) {
	ctx := context.Background()
	now := at(26 * time.Hour)
	st := openT(t, e.dsn(t), Options{Now: func() time.Time { return now }})
	var recs []Record
	ts := at(-3 * time.Minute)
	for i := 0; ts.Before(at(25 * time.Hour)); i++ {
		st := []check.Status{check.Pass, check.Pass, check.Pass, check.Fail, check.Pass, check.Unknown, check.Pass}[i%7]
		r := mk("x", ts, st).val(float64(i%13) * 0.37)
		if i%11 == 0 {
			r = r.maint()
		}
		if i%5 == 0 {
			r.ObservedValue = nil
		}
		recs = append(recs, r, mk("y", ts.Add(7*time.Second), check.Pass))
		// irregular gaps: 20s to 9m, and a 3 hour hole
		gap := time.Duration(20+(i*37)%520) * time.Second
		if i == 100 {
			gap = 3 * time.Hour
		}
		ts = ts.Add(gap)
	}
	for i := 0; i < len(recs); i += 97 {
		write(t, st, recs[i:min(i+97, len(recs))]...)
	}

	type query struct {
		from, to time.Time
		step     time.Duration
	}
	var queries []query
	for _, step := range []time.Duration{time.Minute, 7 * time.Minute, 30 * time.Minute, time.Hour, 90 * time.Minute, 2 * time.Hour,
		4 * time.Hour, 5*time.Hour + 30*time.Minute, 24 * time.Hour, 40 * time.Hour} {
		for _, off := range []time.Duration{0, -time.Hour, -5 * time.Hour, 13 * time.Minute, 61*time.Minute + 1} {
			queries = append(queries, query{at(off), at(25*time.Hour + off/2), step})
		}
	}
	read := func() (out [][]Bucket) {
		for _, name := range []string{"x", "y"} {
			for _, q := range queries {
				h, err := st.History(ctx, name, q.from, q.to, q.step)
				if err != nil {
					t.Fatal(err)
				}
				b, err := st.Totals(ctx, name, q.from, q.to)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, h, []Bucket{b})
			}
		}
		return out
	}
	before := read()
	// The totals agree with a plain count of the records.
	tot := before[1][0]
	var n, fails int64
	for _, r := range recs {
		if r.Check == "x" && !r.CheckedAt.Before(queries[0].from) && r.CheckedAt.Before(queries[0].to) {
			n++
			if r.Status == check.Fail && !r.Maintenance {
				fails++
			}
		}
	}
	if tot.Runs != n || tot.Bad != fails {
		t.Errorf("totals runs/bad = %d/%d, want %d/%d", tot.Runs, tot.Bad, n, fails)
	}
	compare := func(stage string, after [][]Bucket) {
		t.Helper()
		for i := range before {
			if !sameBuckets(before[i], after[i]) {
				q := queries[(i/2)%len(queries)]
				t.Errorf("read %d (%v..%v step %v) differs %s:\nbefore %+v\n after %+v", i, q.from, q.to, q.step, stage, before[i], after[i])
			}
		}
	}
	compact(t, st, at(13*time.Hour+10*time.Minute)) // hours up to 13:00 rolled up, the rest raw
	compare("after compacting the first 13 hours", read())
	compact(t, st, now)
	if n := count(t, st.rdb, "SELECT COUNT(*) FROM rollups_hourly"); n < 40 {
		t.Errorf("only %d rollups", n)
	}
	compare("after compaction", read())
}

// sameBuckets compares buckets exactly, but Avg to a relative 1e-9: a sum
// of values added up in SQL may round differently.
func sameBuckets(a, b []Bucket) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if math.Abs(x.Avg-y.Avg) <= 1e-9*math.Max(math.Abs(x.Avg), math.Abs(y.Avg)) {
			y.Avg = x.Avg
		}
		if x != y {
			return false
		}
	}
	return true
}

func testLateResultRerolls(t *testing.T, e engine) {
	ctx := context.Background()
	st := openT(t, e.dsn(t), Options{Now: func() time.Time { return at(5 * time.Hour) }})
	write(t, st, mk("l", at(10*time.Minute), check.Pass), mk("l", at(3*time.Hour), check.Pass))
	compact(t, st, at(5*time.Hour))
	write(t, st, mk("l", at(20*time.Minute), check.Fail)) // late, into a rolled-up hour
	compact(t, st, at(5*time.Hour))
	b, err := st.Totals(ctx, "l", at(0), at(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if b.Runs != 2 || b.Bad != 1 {
		t.Errorf("hour 0 after a late result: %+v, want 2 runs, 1 bad", b)
	}

	// Hour 2 was empty, so it has no rollup between those of hours 1 and
	// 3. A late result there is read raw until the next compaction.
	write(t, st, mk("l", at(150*time.Minute), check.Fail))
	for _, stage := range []string{"before", "after"} {
		if stage == "after" {
			compact(t, st, at(5*time.Hour))
		}
		b, err = st.Totals(ctx, "l", at(0), at(5*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		h, err := st.History(ctx, "l", at(0), at(10*time.Hour), 5*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if b.Runs != 4 || b.Bad != 2 || len(h) == 0 || h[0] != b {
			t.Errorf("%s compaction, with a late result in an hour without a rollup: Totals %+v, History %+v; want 4 runs, 2 bad in both",
				stage, b, h)
		}
	}
}

func testOutages(t *testing.T, e engine) {
	ctx := context.Background()
	st := openT(t, e.dsn(t), Options{})
	m := time.Minute
	P, F, U := check.Pass, check.Fail, check.Unknown
	// PASS, FAIL, FAIL, PASS | maintenance FAIL | FAIL, UNKNOWN | FAIL ‖ FAIL, PASS
	// | FAIL, maintenance PASS
	batch1 := []Record{
		mk("o", at(0), P), mk("o", at(1*m), F), mk("o", at(2*m), F), mk("o", at(3*m), P),
		mk("o", at(4*m), F).maint(), mk("o", at(5*m), F), mk("o", at(6*m), U), mk("o", at(7*m), F),
		mk("other", at(7*m), F),
	}
	write(t, st, batch1...)
	got, err := st.Outages(ctx, "o", at(0), at(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []Outage{{"o", at(1 * m), at(3 * m)}, {"o", at(5 * m), at(6 * m)}, {"o", at(7 * m), time.Time{}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after batch 1:\n got %+v\nwant %+v", got, want)
	}
	write(t, st, mk("o", at(8*m), F), mk("o", at(9*m), P), mk("o", at(10*m), F), mk("o", at(11*m), P).maint())
	got, err = st.Outages(ctx, "o", at(0), at(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want = []Outage{{"o", at(1 * m), at(3 * m)}, {"o", at(5 * m), at(6 * m)}, {"o", at(7 * m), at(9 * m)}, {"o", at(10 * m), at(11 * m)}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after batch 2:\n got %+v\nwant %+v", got, want)
	}
	// Overlap rule: [from, to) meets [start, end).
	got, _ = st.Outages(ctx, "o", at(3*m), at(5*m))
	if len(got) != 0 {
		t.Errorf("outages in [3m, 5m) = %+v, want none", got)
	}
	got, _ = st.Outages(ctx, "o", at(2*m), at(5*m+time.Millisecond))
	if len(got) != 2 {
		t.Errorf("outages in [2m, 5m] = %+v, want two", got)
	}
	got, _ = st.Outages(ctx, "other", at(0), at(time.Hour))
	if want := []Outage{{"other", at(7 * m), time.Time{}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("other: %+v, want %+v", got, want)
	}
}

func testRetention(t *testing.T, e engine) {
	ctx := context.Background()
	st := openT(t, e.dsn(t), Options{Retention: 2 * time.Hour, RollupRetention: 10 * time.Hour})
	now := at(5*time.Hour + 7*time.Minute)
	horizon := now.Add(-2 * time.Hour) // 03:07
	ms := time.Millisecond
	var recs []Record
	for ts := at(0); ts.Before(at(5 * time.Hour)); ts = ts.Add(20 * time.Minute) {
		recs = append(recs, mk("r", ts, check.Pass))
	}
	recs = append(recs, mk("r", horizon.Add(-ms), check.Fail), mk("r", horizon, check.Pass), mk("r", horizon.Add(ms), check.Pass))
	write(t, st, recs...)
	// an outage over, and one still open, long ago
	write(t, st, mk("o", at(0), check.Fail), mk("o", at(time.Hour), check.Pass), mk("o", at(2*time.Hour), check.Fail))
	compact(t, st, now)

	var wantRaw []time.Time
	for ts := at(0); ts.Before(at(5 * time.Hour)); ts = ts.Add(20 * time.Minute) {
		if !ts.Before(horizon) {
			wantRaw = append(wantRaw, ts)
		}
	}
	wantRaw = append([]time.Time{horizon, horizon.Add(ms)}, wantRaw...)
	got := rawTimes(t, st, "r")
	if !reflect.DeepEqual(got, wantRaw) {
		t.Errorf("raw results after retention:\n got %v\nwant %v", got, wantRaw)
	}
	// The hours before the horizon are still counted, from rollups.
	b, err := st.Totals(ctx, "r", at(0), at(4*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if b.Runs != 12+3 || b.Bad != 1 {
		t.Errorf("totals over rolled-up hours = %d runs, %d bad; want 15, 1", b.Runs, b.Bad)
	}

	// Rollups: an hour is deleted once it ended at or before the horizon.
	later := at(14*time.Hour + 30*time.Minute) // rollup horizon 04:30: hours 00..03 go, 04 stays
	compact(t, st, later)
	rs, err := st.rdb.Query(st.d.rebind(
		"SELECT r.hour FROM rollups_hourly r JOIN checks c ON c.id = r.check_id WHERE c.name = ? ORDER BY r.hour"), "r")
	if err != nil {
		t.Fatal(err)
	}
	var hours []time.Time
	for rs.Next() {
		var h int64
		_ = rs.Scan(&h)
		hours = append(hours, time.UnixMilli(h).UTC())
	}
	rs.Close()
	if len(hours) == 0 || !hours[0].Equal(at(4*time.Hour)) {
		t.Errorf("rollup hours after rollup retention start at %v, want %v", hours, at(4*time.Hour))
	}
	if n := len(rawTimes(t, st, "r")); n != 0 {
		t.Errorf("%d raw results left, want 0", n)
	}
	b, _ = st.Totals(ctx, "r", at(4*time.Hour), at(5*time.Hour))
	if b.Runs != 3 {
		t.Errorf("hour 04 from its rollup: %d runs, want 3", b.Runs)
	}
	outs, _ := st.Outages(ctx, "o", at(0), later)
	if want := []Outage{{"o", at(2 * time.Hour), time.Time{}}}; !reflect.DeepEqual(outs, want) {
		t.Errorf("outages after retention = %+v, want %+v (the ended one deleted, the open one kept)", outs, want)
	}
}

func testMigrationsIdempotent(t *testing.T, e engine) {
	dsn := e.dsn(t)
	for range 3 {
		st := openT(t, dsn, Options{})
		if n := count(t, st.rdb, "SELECT COUNT(*) FROM schema_migrations"); n != int64(len(migrations)) {
			t.Errorf("schema_migrations has %d rows, want %d", n, len(migrations))
		}
		_ = st.Close()
	}
}

func testMigrationsConcurrent(t *testing.T, e engine) {
	dsn := e.dsn(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	stores := make([]Store, n)
	for i := range n {
		wg.Go(func() {
			stores[i], errs[i] = Open(context.Background(), dsn, Options{})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("open %d: %v", i, errs[i])
			continue
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	if t.Failed() {
		return
	}
	st := stores[0].(*sqlStore)
	if c := count(t, st.rdb, "SELECT COUNT(*) FROM schema_migrations"); c != int64(len(migrations)) {
		t.Errorf("schema_migrations has %d rows, want %d", c, len(migrations))
	}
	// Every store works, and they see each other's writes.
	var wg2 sync.WaitGroup
	for i := range n {
		wg2.Go(func() {
			if err := stores[i].Write(context.Background(), []Record{mk(fmt.Sprintf("c%d", i), at(time.Minute), check.Pass), mk("shared", at(time.Duration(i)*time.Second), check.Fail)}); err != nil {
				t.Errorf("write %d: %v", i, err)
			}
		})
	}
	wg2.Wait()
	got, err := stores[n-1].Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n+1 {
		t.Errorf("latest has %d checks, want %d", len(got), n+1)
	}
	outs, _ := stores[1].Outages(context.Background(), "shared", at(0), at(time.Hour))
	if len(outs) != 1 {
		t.Errorf("shared check has %d outages, want 1: %+v", len(outs), outs)
	}
}

func testSchemaTooNew(t *testing.T, e engine) {
	dsn := e.dsn(t)
	st := openT(t, dsn, Options{})
	if _, err := st.wdb.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)"); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	_, err := Open(context.Background(), dsn, Options{})
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open = %v, want ErrSchemaTooNew", err)
	}
}

func testWriterReal(t *testing.T, e engine) {
	st := openT(t, e.dsn(t), Options{})
	w := NewWriter(st, WriterOptions{BatchSize: 100, FlushEvery: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	const n = 2500
	for i := range n {
		if !w.Enqueue(mk(fmt.Sprintf("w%d", i%7), at(time.Duration(i)*time.Second), check.Pass)) {
			t.Fatalf("Enqueue %d refused", i)
		}
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := count(t, st.rdb, "SELECT COUNT(*) FROM results"); c != n {
		t.Errorf("stored %d results, want %d", c, n)
	}
}

func testUnknownCheck(t *testing.T, e engine) {
	ctx := context.Background()
	st := openT(t, e.dsn(t), Options{})
	h, err := st.History(ctx, "nope", at(0), at(time.Hour), time.Minute)
	if err != nil || h != nil {
		t.Errorf("History of unknown = %v, %v", h, err)
	}
	b, err := st.Totals(ctx, "nope", at(0), at(time.Hour))
	if err != nil || b.Runs != 0 || !b.Start.Equal(at(0)) || b.Step != time.Hour {
		t.Errorf("Totals of unknown = %+v, %v", b, err)
	}
	if _, err := st.History(ctx, "nope", at(0), at(time.Hour), time.Second); !errors.Is(err, ErrInvalidRange) {
		t.Errorf("History with a 1s step: %v, want ErrInvalidRange", err)
	}
	if err := st.Write(ctx, []Record{{Result: check.Result{Check: "x", Status: check.Pass, Severity: check.Info}}}); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("Write without a time: %v, want ErrInvalidRecord", err)
	}
}

// testAwkwardText stores what PostgreSQL's text type refuses as is:
// invalid UTF-8, NUL bytes, an over-long message, and a NaN value.
func testAwkwardText(t *testing.T, e engine) {
	st := openT(t, e.dsn(t), Options{})
	r := mk("awk", at(0), check.Fail)
	r.Message = "bad \xff\xfe bytes \x00 and nul " + strings.Repeat("é", 600)
	r.ObservedValue = check.Value(math.NaN())
	write(t, st, r)
	got, err := st.Latest(context.Background())
	if err != nil || len(got) != 1 {
		t.Fatalf("Latest = %v, %v", got, err)
	}
	if m := got[0].Message; len(m) > check.MaxMessage || strings.ContainsRune(m, 0) || got[0].ObservedValue != nil {
		t.Errorf("stored %q (%d bytes), value %v", m, len(m), got[0].ObservedValue)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		dsn  string
		want error
	}{
		{"mysql://root@localhost/x", ErrUnsupportedScheme},
		{"monitor.db", ErrUnsupportedScheme},
		{"sqlite://", ErrInvalidDSN},
		{"postgres://monitor:s3cr3t-pa55@127.0.0.1:1/db?connect_timeout=2&sslmode=disable", nil},
		{"postgres://monitor:s3cr3t-pa55@127.0.0.1:5432/db?sslmode=%zz", ErrInvalidDSN},
	} {
		_, err := Open(ctx, tc.dsn, Options{})
		if err == nil {
			t.Errorf("Open(%q) succeeded", tc.dsn)
			continue
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("Open(%q) = %v, want %v", tc.dsn, err, tc.want)
		}
		if strings.Contains(err.Error(), "s3cr3t-pa55") {
			t.Errorf("Open(%q) leaks the password: %v", tc.dsn, err)
		}
	}
	// A server that is down reads as such, not as a failed migration.
	_, err := Open(ctx, "postgres://monitor@127.0.0.1:1/db?connect_timeout=2&sslmode=disable", Options{})
	if msg := fmt.Sprint(err); !strings.HasPrefix(msg, "store postgres: connect: ") || strings.Contains(msg, "migration") {
		t.Errorf("Open(unreachable) = %q, want \"store postgres: connect: ...\" without \"migration\"", msg)
	}
}

func TestMemory(t *testing.T) {
	ctx := context.Background()
	st := openT(t, "sqlite://:memory:", Options{Now: func() time.Time { return at(8 * time.Hour) }})
	// hours 03:00 to 06:00 stay empty: a gap between rollups, read on the
	// one connection of a :memory: database
	write(t, st, append(fixture(), mk("hc", at(6*time.Hour+5*time.Minute), check.Pass))...)
	compact(t, st, at(8*time.Hour))
	b, err := st.Totals(ctx, "hc", at(0), at(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if b.Runs != 15 {
		t.Errorf("runs = %d, want 15", b.Runs)
	}
	b, err = st.Totals(ctx, "hc", at(0), at(7*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if b.Runs != 16 {
		t.Errorf("runs over a gap = %d, want 16", b.Runs)
	}
	got, err := st.Latest(ctx)
	if err != nil || len(got) != 1 {
		t.Errorf("Latest = %v, %v", got, err)
	}
}

// A SQLite store at a place the OS refuses reads as the OS says, not as an
// invalid DSN or SQLite's "unable to open database file".
func TestOpenSQLitePlaceRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{dir, "is a directory"},
		{filepath.Join(dir, "file", "monitor.db"), "not a directory"},
	} {
		_, err := Open(context.Background(), "sqlite://"+tc.path, Options{})
		if err == nil || errors.Is(err, ErrInvalidDSN) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "(14)") {
			t.Errorf("Open(sqlite://%s) = %v; want the OS's %q, not an invalid DSN", tc.path, err, tc.want)
		}
	}
}
