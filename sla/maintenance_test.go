package sla

import (
	"testing"
	"time"

	"github.com/monitor-dev/monitor/scheduler/cronspec"
)

func TestInMaintenanceEdges(t *testing.T) {
	s := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	w := []Maintenance{{Checks: []string{"a"}, Start: s, End: s.Add(time.Hour)}}
	for _, tc := range []struct {
		check string
		at    time.Time
		in    bool
	}{
		{"a", s.Add(-time.Nanosecond), false},
		{"a", s, true},
		{"a", s.Add(time.Hour - time.Nanosecond), true},
		{"a", s.Add(time.Hour), false},
		{"b", s.Add(time.Minute), false},
	} {
		if got := InMaintenance(w, tc.check, "", tc.at); got != tc.in {
			t.Errorf("%s at %s: %v, want %v", tc.check, tc.at.Format(time.RFC3339Nano), got, tc.in)
		}
	}
	if !InMaintenance([]Maintenance{{Start: s, End: s.Add(time.Hour)}}, "any", "", s) {
		t.Error("a window without checks covers every check")
	}
}

// TestInMaintenanceCovers: names, globs and components each bring a check
// into a window; nothing else does.
func TestInMaintenanceCovers(t *testing.T) {
	s := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	w := []Maintenance{{Checks: []string{"api", "targeting_*"}, Components: []string{"Core"}, Start: s, End: s.Add(time.Hour)}}
	at := s.Add(time.Minute)
	for _, tc := range []struct {
		check, component string
		in               bool
	}{
		{"api", "", true},
		{"api_db", "", false},
		{"targeting_profile", "Analytics", true},
		{"targeting", "", false},
		{"redirects", "Core", true},
		{"redirects", "Core ", false},
		{"redirects", "", false},
		{"[", "", false},
	} {
		if got := InMaintenance(w, tc.check, tc.component, at); got != tc.in {
			t.Errorf("%q (component %q): %v, want %v", tc.check, tc.component, got, tc.in)
		}
	}
}

// TestInMaintenanceRecurring: "0 3 * * SUN" for 30m covers 03:00 to 03:30
// (excluded) UTC on Sundays, whichever Sunday, and nothing else.
func TestInMaintenanceRecurring(t *testing.T) {
	sched, err := cronspec.Parse("0 3 * * SUN", time.UTC, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	w := []Maintenance{{Checks: []string{"targeting_*"}, Cron: sched, Duration: 30 * time.Minute}}
	sunday := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC) // a Sunday
	for _, tc := range []struct {
		name string
		at   time.Time
		in   bool
	}{
		{"just before", sunday.Add(-time.Nanosecond), false},
		{"at the activation", sunday, true},
		{"inside", sunday.Add(17*time.Minute + 500*time.Millisecond), true},
		{"last instant", sunday.Add(30*time.Minute - time.Nanosecond), true},
		{"end excluded", sunday.Add(30 * time.Minute), false},
		{"later that day", sunday.Add(5 * time.Hour), false},
		{"Monday 03:10", sunday.Add(24*time.Hour + 10*time.Minute), false},
		{"a week later", sunday.AddDate(0, 0, 7).Add(29 * time.Minute), true},
		{"ten years later", time.Date(2036, 11, 30, 3, 5, 0, 0, time.UTC), true}, // a Sunday
		{"in another zone", sunday.Add(10 * time.Minute).In(time.FixedZone("UTC+9", 9*3600)), true},
	} {
		if got := InMaintenance(w, "targeting_profile", "", tc.at); got != tc.in {
			t.Errorf("%s (%s): %v, want %v", tc.name, tc.at.Format(time.RFC3339Nano), got, tc.in)
		}
	}
	if InMaintenance(w, "api", "", sunday) {
		t.Error("a recurring window covers a check it does not name")
	}

	// Windows longer than the period overlap: */10 for 15m is always on.
	every10, err := cronspec.Parse("*/10 * * * *", time.UTC, sunday)
	if err != nil {
		t.Fatal(err)
	}
	long := []Maintenance{{Cron: every10, Duration: 15 * time.Minute}}
	for m := range 60 {
		if at := sunday.Add(time.Duration(m)*time.Minute + 59*time.Second); !InMaintenance(long, "x", "", at) {
			t.Errorf("overlapping windows: off at %s", at.Format(time.TimeOnly))
		}
	}

	// A time zone in the expression: 03:00 in Paris is 02:00 UTC in winter.
	paris, err := cronspec.Parse("CRON_TZ=Europe/Paris 0 3 * * SUN", time.UTC, sunday)
	if err != nil {
		t.Fatal(err)
	}
	pw := []Maintenance{{Cron: paris, Duration: 30 * time.Minute}}
	if !InMaintenance(pw, "x", "", sunday.Add(-time.Hour)) || InMaintenance(pw, "x", "", sunday) {
		t.Error("CRON_TZ=Europe/Paris 0 3 * * SUN should cover 02:00-02:30 UTC in November")
	}
}

// BenchmarkInMaintenanceRecurring: one schedule step per question, however
// long ago the schedule started.
func BenchmarkInMaintenanceRecurring(b *testing.B) {
	sched, err := cronspec.Parse("0 3 * * SUN", time.UTC, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	w := []Maintenance{{Checks: []string{"targeting_*"}, Cron: sched, Duration: 30 * time.Minute}}
	at := time.Date(2026, 11, 29, 3, 10, 0, 0, time.UTC)
	for b.Loop() {
		InMaintenance(w, "targeting_profile", "", at)
	}
}
