package sla

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/probes"
	"github.com/monitor-dev/monitor/store"
)

// TestWithin: the within-SLA rule, one table for every kind.
func TestWithin(t *testing.T) {
	fresh := check.Spec{Kind: "freshness", Config: probes.FreshnessConfig{MaxAge: 10 * time.Minute, CriticalAge: 30 * time.Minute}}
	onlyMax := check.Spec{Kind: "freshness", Config: probes.FreshnessConfig{MaxAge: 10 * time.Minute}}
	age := func(st check.Status, seconds float64) check.Result {
		return check.Result{Status: st, ObservedValue: check.Value(seconds)}
	}
	for _, tc := range []struct {
		name string
		r    check.Result
		sp   check.Spec
		want bool
	}{
		{"freshness FAIL over max_age, under critical_age", age(check.Fail, 20*60), fresh, true},
		{"freshness at critical_age", age(check.Fail, 30*60), fresh, true},
		{"freshness over critical_age", age(check.Fail, 30*60+1), fresh, false},
		{"freshness without critical_age: max_age", age(check.Fail, 10*60+1), onlyMax, false},
		{"freshness PASS at max_age", age(check.Pass, 10*60), onlyMax, true},
		{"freshness UNKNOWN with an age", age(check.Unknown, 1), fresh, false},
		{"freshness FAIL without an age", check.Result{Status: check.Fail}, fresh, false},
		{"db PASS", check.Result{Status: check.Pass}, check.Spec{Kind: "db"}, true},
		{"db FAIL with a value", age(check.Fail, 0.001), check.Spec{Kind: "db"}, false},
	} {
		if got := Within(tc.r, tc.sp); got != tc.want {
			t.Errorf("%s: Within = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestOutagesAgreeWithStore: the outage rows the store keeps, from what
// Stored decided, are the outages sla's state machine gives for the same
// results, across batches and maintenance windows.
func TestOutagesAgreeWithStore(t *testing.T) {
	t0 := time.Date(2026, 10, 1, 10, 0, 0, 0, time.UTC)
	m := time.Minute
	maint := []Maintenance{{Checks: []string{"o"}, Start: t0.Add(4 * m), End: t0.Add(5 * m)},
		{Start: t0.Add(11 * m), End: t0.Add(12 * m)}}
	P, F, U := check.Pass, check.Fail, check.Unknown
	// PASS, FAIL, FAIL, PASS | maintenance FAIL | FAIL, UNKNOWN | FAIL ‖ FAIL,
	// PASS | FAIL, maintenance PASS | FAIL
	statuses := []check.Status{P, F, F, P, F, F, U, F, F, P, F, P, F}
	var recs []store.Record
	for i, s := range statuses {
		recs = append(recs, Stored(check.Result{Check: "o", Kind: "db", Status: s, Severity: check.Info,
			CheckedAt: t0.Add(time.Duration(i) * m)}, check.Spec{Kind: "db"}, maint))
	}
	want := []store.Outage{{Check: "o", Start: t0.Add(1 * m), End: t0.Add(3 * m)}, {Check: "o", Start: t0.Add(5 * m), End: t0.Add(6 * m)},
		{Check: "o", Start: t0.Add(7 * m), End: t0.Add(9 * m)}, {Check: "o", Start: t0.Add(10 * m), End: t0.Add(11 * m)},
		{Check: "o", Start: t0.Add(12 * m)}}
	if got := Outages(recs); !reflect.DeepEqual(got, want) {
		t.Fatalf("Outages = %v, want %v", got, want)
	}

	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "o.db"), store.Options{Now: func() time.Time { return t0.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	for _, batch := range [][]store.Record{recs[:8], recs[8:]} {
		if err := st.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Outages(ctx, "o", t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("store outages = %v, want %v (sla.Outages)", got, want)
	}
}
