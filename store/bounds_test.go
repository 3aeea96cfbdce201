package store

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// TestHugeRangeIsBounded reads history and totals over the range a client
// can ask for (since the year 1, until the year 9999): the work is bounded
// by what the store can hold, not by the range, so the answer is the same
// as over the real data and takes little memory. Before the bound, the year
// 1 read built one span per hour since then (17.7 million, about 11 GB).
func TestHugeRangeIsBounded(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			now := at(30 * time.Hour)
			st := openT(t, e.dsn(t), Options{Now: func() time.Time { return now }})
			var recs []Record
			for ts := at(0); ts.Before(at(29 * time.Hour)); ts = ts.Add(30 * time.Minute) {
				st := check.Pass
				if ts.Equal(at(5 * time.Hour)) {
					st = check.Fail
				}
				recs = append(recs, mk("h", ts, st))
			}
			write(t, st, recs...)
			compact(t, st, now) // hours 00..28 rolled up; the rest raw

			want, err := st.Totals(ctx, "h", at(-time.Hour), now)
			if err != nil {
				t.Fatal(err)
			}
			if want.Runs != int64(len(recs)) || want.Bad != 1 {
				t.Fatalf("totals over the data = %d runs, %d bad; want %d, 1", want.Runs, want.Bad, len(recs))
			}

			year1 := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
			year9999 := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
			var got Bucket
			var hist []Bucket
			alloc := allocated(t, func() {
				if got, err = st.Totals(ctx, "h", year1, year9999); err != nil {
					t.Fatal(err)
				}
				if hist, err = st.History(ctx, "h", year1, now, now.Sub(year1)/100); err != nil {
					t.Fatal(err)
				}
			})
			if got.Runs != want.Runs || got.Bad != want.Bad || got.GoodTime != want.GoodTime || got.BadTime != want.BadTime {
				t.Errorf("totals since the year 1 = %+v, want the counts and times of %+v", got, want)
			}
			if !got.Start.Equal(year1) {
				t.Errorf("totals start %v, want the range asked for (%v)", got.Start, year1)
			}
			var runs int64
			for _, b := range hist {
				runs += b.Runs
			}
			if len(hist) != 1 || runs != want.Runs {
				t.Errorf("history since the year 1 in 100 steps = %d buckets, %d runs; want 1 bucket of %d", len(hist), runs, want.Runs)
			}
			t.Logf("reads since the year 1 allocated %.1f MiB", float64(alloc)/(1<<20))
			if limit := uint64(64 << 20); alloc > limit {
				t.Errorf("reads since the year 1 allocated %d MiB, want at most %d MiB", alloc>>20, limit>>20)
			}

			// Too many buckets is refused before any work; a cancelled
			// read stops.
			if _, err := st.History(ctx, "h", year1, now, time.Hour); !errors.Is(err, ErrInvalidRange) {
				t.Errorf("History since the year 1 by the hour: %v, want ErrInvalidRange", err)
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := st.Totals(cctx, "h", year1, year9999); !errors.Is(err, context.Canceled) {
				t.Errorf("Totals with a cancelled context: %v, want context.Canceled", err)
			}
		})
	}
}

// allocated returns the bytes f allocated (all goroutines included).
func allocated(t *testing.T, f func()) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// BenchmarkHugeRange times the reads of TestHugeRangeIsBounded: history in
// 100 steps since the year 1, and totals from the year 1 to the year 9999,
// over a day of results (SQLite).
func BenchmarkHugeRange(b *testing.B) {
	ctx := context.Background()
	now := at(30 * time.Hour)
	st := openT(b, sqliteDSN(b), Options{Now: func() time.Time { return now }})
	var recs []Record
	for ts := at(0); ts.Before(at(29 * time.Hour)); ts = ts.Add(time.Minute) {
		recs = append(recs, mk("h", ts, check.Pass))
	}
	write(b, st, recs...)
	compact(b, st, now)
	year1 := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	year9999 := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.History(ctx, "h", year1, now, now.Sub(year1)/100); err != nil {
			b.Fatal(err)
		}
		if _, err := st.Totals(ctx, "h", year1, year9999); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHistoryMaxPointsMemory: the largest history the API serves (400 days
// in about 5,000 steps) is one span per clock hour and per step; the spans
// grew by appends to 11 MiB per request, so 400 requests at once took
// gigabytes. Sized once, they take under 4 MiB.
func TestHistoryMaxPointsMemory(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { // not parallel: the measure counts every goroutine
			ctx := context.Background()
			now := at(30 * time.Hour)
			st := openT(t, e.dsn(t), Options{Now: func() time.Time { return now }})
			var recs []Record
			for ts := at(28 * time.Hour); ts.Before(now); ts = ts.Add(time.Minute) {
				recs = append(recs, mk("m", ts, check.Pass))
			}
			write(t, st, recs...)
			step := 116 * time.Minute
			from := now.Add(-400 * 24 * time.Hour).Truncate(step)
			var hist []Bucket
			var err error
			alloc := allocated(t, func() {
				if hist, err = st.History(ctx, "m", from, now, step); err != nil {
					t.Fatal(err)
				}
			})
			var runs int64
			for _, b := range hist {
				runs += b.Runs
			}
			if runs != int64(len(recs)) {
				t.Errorf("history holds %d runs, want %d", runs, len(recs))
			}
			t.Logf("400 days in steps of %s allocated %.1f MiB", step, float64(alloc)/(1<<20))
			if limit := uint64(5 << 20); alloc > limit {
				t.Errorf("400 days in steps of %s allocated %.1f MiB, want at most %d MiB", step, float64(alloc)/(1<<20), limit>>20)
			}
		})
	}
}
