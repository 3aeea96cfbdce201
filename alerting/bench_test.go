package alerting

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/hub"
	"github.com/monitor-dev/monitor/store"
)

// benchEngine is an engine on a memStore with n checks in 10 components,
// grouped by component, all firing and told.
func benchEngine(b *testing.B, n int) (*Engine, []check.Spec, *clock) {
	cfg := cfgWith(Route{Match: Match{Severity: check.Critical}, Receivers: []string{"a", "b", "c"},
		GroupBy: []string{LabelComponent}, GroupWait: 30 * time.Second, GroupInterval: 5 * time.Minute})
	clk := &clock{t: t0}
	e := New(cfg, Options{Store: newMemStore(), Now: clk.Now})
	var specs []check.Spec
	for i := range n {
		specs = append(specs, spec(fmt.Sprintf("c%05d", i), check.Critical, fmt.Sprintf("comp%d", i%10)))
	}
	e.SetSpecs(specs)
	if err := e.Restore(context.Background()); err != nil {
		b.Fatal(err)
	}
	for range 2 {
		for _, sp := range specs {
			e.Observe(check.Result{Check: sp.Name, Kind: sp.Kind, Status: check.Fail, Severity: check.Critical}, hub.Change{Spec: sp})
		}
	}
	clk.advance(time.Minute)
	e.step(context.Background())
	return e, specs, clk
}

// BenchmarkObserve: one result of a firing check (the probe's goroutine
// pays this).
func BenchmarkObserve(b *testing.B) {
	e, specs, _ := benchEngine(b, 1000)
	b.ResetTimer()
	for i := range b.N {
		sp := specs[i%len(specs)]
		e.Observe(check.Result{Check: sp.Name, Kind: sp.Kind, Status: check.Fail, Severity: check.Critical}, hub.Change{Spec: sp})
	}
}

// BenchmarkStep: one tick with 1,000 firing alerts (Observe waits at most
// this long for the mutex).
func BenchmarkStep(b *testing.B) {
	e, _, clk := benchEngine(b, 1000)
	b.ResetTimer()
	for range b.N {
		clk.advance(time.Second)
		e.step(context.Background())
	}
}

// BenchmarkStormSQLite: 1,000 checks of 10 components fire at once, on
// the real SQLite store: the tick that writes their 1,000 rows and audit
// events, and the one that writes the 10 groups' notifications to 3
// receivers.
func BenchmarkStormSQLite(b *testing.B) {
	dir := b.TempDir()
	ctx := context.Background()
	for i := range b.N {
		st, err := store.Open(ctx, fmt.Sprintf("sqlite://%s/m%d.db", dir, i), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		cfg := cfgWith(Route{Receivers: []string{"a", "b", "c"}, GroupBy: []string{LabelComponent}, GroupWait: 30 * time.Second})
		clk := &clock{t: t0}
		e := New(cfg, Options{Store: st, Now: clk.Now})
		var specs []check.Spec
		for j := range 1000 {
			specs = append(specs, spec(fmt.Sprintf("c%05d", j), check.Critical, fmt.Sprintf("comp%d", j%10)))
		}
		e.SetSpecs(specs)
		if err := e.Restore(ctx); err != nil {
			b.Fatal(err)
		}
		for range 2 {
			for _, sp := range specs {
				e.Observe(check.Result{Check: sp.Name, Kind: sp.Kind, Status: check.Fail, Severity: check.Critical}, hub.Change{Spec: sp})
			}
		}
		start := time.Now()
		clk.advance(time.Second)
		e.step(ctx)
		first := time.Since(start)
		start = time.Now()
		clk.advance(30 * time.Second)
		e.step(ctx)
		second := time.Since(start)
		b.ReportMetric(float64(first.Milliseconds()), "ms-rows")
		b.ReportMetric(float64(second.Milliseconds()), "ms-notify")
		ds, err := st.PendingDeliveries(ctx, 100)
		if err != nil || len(ds) != 30 {
			b.Fatalf("%d deliveries (%v), want 30", len(ds), err)
		}
		_ = st.Close()
	}
}
