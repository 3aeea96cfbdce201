package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// BenchmarkFeed10kChecks follows, on replica B's Feed, what replica A
// writes for 10,000 checks: each b.Loop iteration is one Write of 500
// results (the Writer's batch), and "paced" writes two a second, the
// 1,000 results/s of 10,000 checks at a 10 s interval; "unpaced" writes as
// fast as it can (what the feed keeps up with). Reported: the latency from
// the end of a Write (its commit) to the last of its 500 results handed to
// B's callback (median and max), the feed's statements per second on
// PostgreSQL, its notifications per Write, and the resync of 10,000 rows
// on connecting.
//
//	go test ./store -run '^$' -bench Feed10kChecks -benchtime 40x
func BenchmarkFeed10kChecks(b *testing.B) {
	for _, paced := range []bool{true, false} {
		name := "unpaced"
		if paced {
			name = "paced-1000-per-s"
		}
		b.Run(name, func(b *testing.B) { benchFeed(b, paced) })
	}
}

func benchFeed(b *testing.B, paced bool) {
	const checks, batch = 10_000, 500
	dsn := postgresDSN(b)
	a, rb := openT(b, dsn, Options{}), openT(b, dsn, Options{})
	ctx := context.Background()
	names := make([]string, checks)
	for i := range names {
		names[i] = fmt.Sprintf("check_%05d_connectivity", i)
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	recs := make([]Record, batch)
	fill := func(k int) {
		at := base.Add(time.Duration(k) * 500 * time.Millisecond)
		for i := range recs {
			recs[i] = mk(names[(k*batch+i)%checks], at, check.Pass).val(0.004)
		}
	}
	for k := range checks / batch { // every check has a latest row
		fill(k)
		if err := a.Write(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	next := checks / batch

	var (
		mu      sync.Mutex
		pending = map[int64]int{} // CheckedAt (ms) of a Write → results still to come
		done    = map[int64]time.Time{}
		resync  = make(chan time.Time, 1)
		seen    int
	)
	deliver := func(rs []check.Result) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if seen < checks {
			if seen += len(rs); seen >= checks {
				resync <- now
			}
			return
		}
		for _, r := range rs {
			ms := r.CheckedAt.UnixMilli()
			if pending[ms]--; pending[ms] == 0 {
				done[ms] = now
			}
		}
	}
	start := time.Now()
	f, err := NewFeed(rb, deliver, FeedOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var resyncTook time.Duration
	select {
	case at := <-resync:
		resyncTook = at.Sub(start)
	case <-time.After(30 * time.Second):
		b.Fatal("no resync of 10,000 rows within 30 s")
	}

	committed := map[int64]time.Time{}
	st0 := f.Stats()
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; b.Loop(); i++ {
		if paced {
			if d := time.Until(t0.Add(time.Duration(i) * 500 * time.Millisecond)); d > 0 {
				time.Sleep(d)
			}
		}
		fill(next)
		ms := recs[0].CheckedAt.UnixMilli()
		mu.Lock()
		pending[ms] += batch
		mu.Unlock()
		if err := a.Write(ctx, recs); err != nil {
			b.Fatal(err)
		}
		committed[ms] = time.Now()
		next++
	}
	wrote := time.Since(t0)
	// Wait for the last Writes to arrive.
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := len(done)
		mu.Unlock()
		if n == len(committed) {
			break
		}
		if time.Now().After(end) {
			b.Fatalf("%d of %d Writes arrived whole within 10 s", n, len(committed))
		}
	}
	b.StopTimer()
	st := f.Stats()
	var lat []time.Duration
	mu.Lock()
	for ms, c := range committed {
		lat = append(lat, max(done[ms].Sub(c), 0))
	}
	mu.Unlock()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(st.Queries-st0.Queries)/wrote.Seconds(), "feed-queries/s")
	b.ReportMetric(float64(st.Notifications-st0.Notifications)/float64(len(committed)), "notifies/write")
	b.ReportMetric(float64(len(committed)*batch)/wrote.Seconds(), "results/s")
	b.ReportMetric(float64(resyncTook.Microseconds())/1000, "resync-ms") // connect, LISTEN, read 10,000 rows
}

// BenchmarkFeedNotifyPostgres is what the feed adds to a Write: an empty
// transaction with and without the notification statement (the ids of
// 100 checks, the checks of BenchmarkWritePostgres's batches, and of
// 2,000, three payloads).
//
//	go test ./store -run '^$' -bench FeedNotifyPostgres -count 6
func BenchmarkFeedNotifyPostgres(b *testing.B) {
	st := openT(b, postgresDSN(b), Options{})
	ctx := context.Background()
	for _, n := range []int{0, 100, 2000} {
		ids := make([]int64, n)
		for i := range ids {
			ids[i] = int64(i + 1)
		}
		b.Run(fmt.Sprintf("ids-%d", n), func(b *testing.B) {
			for b.Loop() {
				tx, err := st.wdb.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				if n > 0 {
					if err := notifyFeed(ctx, tx, ids); err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWritePostgresNotify is BenchmarkWritePostgres with and without
// the feed's notification, side by side in one process (the shared
// machine's noise hits both alike):
//
//	go test ./store -run '^$' -bench WritePostgresNotify -count 6
func BenchmarkWritePostgresNotify(b *testing.B) {
	for _, notify := range []bool{false, true} {
		name := "without"
		if notify {
			name = "with"
		}
		b.Run(name, func(b *testing.B) {
			st := openT(b, postgresDSN(b), Options{})
			if !notify {
				d := postgresDialect
				st.d = &dialect{name: d.name, idColumn: d.idColumn, serialColumn: d.serialColumn,
					withoutRowID: d.withoutRowID, placeholder: d.placeholder, lock: d.lock}
			}
			l := newLoad(100)
			recs := make([]Record, 500)
			ctx := context.Background()
			for b.Loop() {
				l.fill(recs)
				if err := st.Write(ctx, recs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
