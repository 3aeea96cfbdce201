package cronspec

import (
	"errors"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		expr, err string
	}{
		{"*/5 * * * *", ""},
		{"30 */5 * * * *", ""},
		{"CRON_TZ=Europe/Paris 0 3 * * *", ""},
		{"TZ=UTC 0 */5 * * * *", ""},
		{"@hourly", ""},
		{"@every 90s", ""},
		{"0 0 29 2 *", ""}, // leap days come within 5 years
		{"99 99 99 99 99", "end of range (99) above maximum (59): 99"},
		{"*/0 * * * *", "step of range should be a positive number: */0"},
		{"0 0 30 2 *", "never fires (no matching time in the next 5 years)"},
		{"60 * * * * *", "end of range (60) above maximum (59): 60"},
		{"CRON_TZ=Mars/Olympus 0 3 * * *", "provided bad location Mars/Olympus: unknown time zone Mars/Olympus"},
		{"CRON_TZ=UTC", "missing schedule after CRON_TZ=UTC"},
		{"* * * *", "expected exactly 5 fields, found 4: [* * * *]"},
		{"@fortnightly", "unrecognized descriptor: @fortnightly"},
		{"@every -5m", "@every -5m is under a second"},
		{"@every 0s", "@every 0s is under a second"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := Parse(tc.expr, time.UTC, now)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.err {
				t.Fatalf("Parse(%q) = %q, want %q", tc.expr, got, tc.err)
			}
		})
	}
	if _, err := Parse("0 0 30 2 *", time.UTC, now); !errors.Is(err, ErrNeverFires) {
		t.Fatalf("err = %v, want ErrNeverFires", err)
	}
}

// TestAgreesWithGocron: every expression Parse refuses, gocron refuses
// when the job is added, and the other way round.
func TestAgreesWithGocron(t *testing.T) {
	s, err := gocron.NewScheduler(gocron.WithLocation(time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown() })
	for _, expr := range []string{
		"*/5 * * * *", "30 */5 * * * *", "CRON_TZ=Europe/Paris 0 3 * * *", "TZ=UTC 0 */5 * * * *",
		"@hourly", "@every 90s", "0 0 29 2 *", "99 99 99 99 99", "*/0 * * * *", "0 0 30 2 *",
		"60 * * * * *", "CRON_TZ=Mars/Olympus 0 3 * * *", "* * * *", "@fortnightly", "1-5/2 * * * MON-FRI",
	} {
		_, perr := Parse(expr, time.UTC, time.Now())
		j, gerr := s.NewJob(gocron.CronJob(expr, WithSeconds(expr)), gocron.NewTask(func() {}))
		if gerr == nil {
			_ = s.RemoveJob(j.ID())
		}
		if (perr == nil) != (gerr == nil) {
			t.Errorf("%q: Parse says %v, gocron says %v", expr, perr, gerr)
		}
	}
}
