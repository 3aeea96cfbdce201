package statuspage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/store"
)

// BenchmarkBuild builds and writes the page of 50 components (one check
// each) with 90 days of history in a real SQLite store: a result every 30
// minutes, compacted into hourly rollups as the daemon does, with a few
// outages. Run it with
//
//	go test ./statuspage -run '^$' -bench Build -benchtime 20x
//
// The target is under 200 ms per build. bench/statuspage/run.sh takes the
// median of -count runs; the store is filled once per process (that takes
// longer than the builds), so -count costs only the builds.
func BenchmarkBuild(b *testing.B) {
	b.Run("cold", func(b *testing.B) { benchBuild(b, nil) })
	// warm: the daemon's rebuilds keep a Cache; only today is read again.
	b.Run("warm", func(b *testing.B) { benchBuild(b, NewCache()) })
}

// benchData is BenchmarkBuild's filled store and inputs, shared by its
// sub-benchmarks and -count runs; TestMain removes benchDir.
var (
	benchData  *Inputs
	benchStore store.Store
	benchDir   string
)

func benchInputs(b *testing.B) Inputs {
	if benchData != nil {
		return *benchData
	}
	const components = 50
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "statuspage-bench-")
	if err != nil {
		b.Fatal(err)
	}
	benchDir = dir
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "monitor.db"), store.Options{Now: clock})
	if err != nil {
		b.Fatal(err)
	}
	benchStore = st
	rng := rand.New(rand.NewPCG(1, 2))
	var sp []check.Spec
	var order []ComponentOrder
	for i := range components {
		name := fmt.Sprintf("component_%02d_db", i)
		comp := fmt.Sprintf("Component %02d", i)
		sp = append(sp, check.Spec{Name: name, Kind: "db", Interval: 30 * time.Minute, Timeout: 5 * time.Second,
			Severity: check.Critical, Component: comp})
		order = append(order, ComponentOrder{Name: comp, Group: fmt.Sprintf("Group %d", i/10)})
	}
	var recs []store.Record
	flush := func() {
		if err := st.Write(ctx, recs); err != nil {
			b.Fatal(err)
		}
		recs = recs[:0]
	}
	var latest []check.Result
	for _, s := range sp {
		down := 0
		var r check.Result
		for at := now.Add(-Days * day).Truncate(time.Hour); at.Before(now); at = at.Add(30 * time.Minute) {
			r = check.Result{Check: s.Name, Kind: s.Kind, Status: check.Pass, Severity: check.Info, Message: "ok",
				CheckedAt: at, ObservedValue: check.Value(0.004), ObservedUnit: "s"}
			if down == 0 && rng.IntN(500) == 0 {
				down = 1 + rng.IntN(4)
			}
			if down > 0 {
				down--
				r.Status, r.Severity, r.Message = check.Fail, check.Critical, "connection refused"
			}
			recs = append(recs, sla.Stored(r, s, nil))
			if len(recs) == 5000 {
				flush()
			}
		}
		latest = append(latest, r)
	}
	flush()
	if err := st.Compact(ctx, now); err != nil {
		b.Fatal(err)
	}
	benchData = &Inputs{Settings: Settings{Title: "Bench", Components: order}, Specs: sp, Results: latest, History: st, Now: clock}
	return *benchData
}

// closeBenchData closes and removes BenchmarkBuild's store, if one was made.
func closeBenchData() {
	if benchStore != nil {
		_ = benchStore.Close()
	}
	if benchDir != "" {
		_ = os.RemoveAll(benchDir)
	}
}

func benchBuild(b *testing.B, cache *Cache) {
	ctx := context.Background()
	in := benchInputs(b)
	in.Cache = cache
	if cache != nil {
		// Fill the cache first, as the daemon's first build does: the timed
		// builds are the daemon's rebuilds (b.Loop resets the timer).
		if _, err := Build(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	out := filepath.Join(b.TempDir(), "site")
	size := 0
	var last map[string][]byte
	for b.Loop() {
		p, err := Build(ctx, in)
		if err != nil || p.HistoryErr != nil {
			b.Fatal(err, p.HistoryErr)
		}
		files, err := p.Files()
		if err != nil {
			b.Fatal(err)
		}
		if err := WriteDir(out, files); err != nil {
			b.Fatal(err)
		}
		last = files
		size = 0
		for _, f := range files {
			size += len(f)
		}
	}
	b.ReportMetric(float64(size), "bytes")
	b.ReportMetric(float64(len(last["index.html"])), "index-bytes")
	// STATUSPAGE_BENCH_SITE=DIR keeps a copy of the site, for
	// bench/statuspage to serve a page with 90 days of history.
	if dir := os.Getenv("STATUSPAGE_BENCH_SITE"); dir != "" {
		if err := WriteDir(dir, last); err != nil {
			b.Fatal(err)
		}
	}
}
