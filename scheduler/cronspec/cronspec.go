// Package cronspec parses cron expressions exactly as the scheduler does
// (gocron v2, through robfig/cron/v3), so that the config can refuse at
// load time every expression the scheduler would refuse at run time.
package cronspec

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ErrNeverFires is returned for an expression that parses but matches no
// time in the next five years, like "0 0 30 2 *" (February 30th).
var ErrNeverFires = errors.New("never fires (no matching time in the next 5 years)")

// WithSeconds reports whether expr has six fields, the first being
// seconds. A CRON_TZ= or TZ= prefix does not count as a field.
func WithSeconds(expr string) bool {
	_, rest := splitZone(expr)
	return len(strings.Fields(rest)) == 6
}

// Parse parses expr as gocron's CronJob(expr, WithSeconds(expr)) does on a
// scheduler whose location is loc: five fields (minute hour day month
// weekday), six (seconds first), an @hourly-style descriptor or @every
// DURATION, each optionally after CRON_TZ=Zone or TZ=Zone. It also refuses
// what gocron refuses when the job is added: an expression with no next
// run after now. One rule is stricter than gocron: @every under a second
// (robfig/cron would run it every second).
func Parse(expr string, loc *time.Location, now time.Time) (s cron.Schedule, err error) {
	zone, rest := splitZone(expr)
	if zone != "" && strings.TrimSpace(rest) == "" {
		// robfig/cron slices past the end of such a spec and panics.
		return nil, errors.New("missing schedule after " + zone)
	}
	if f := strings.Fields(rest); len(f) == 2 && f[0] == "@every" {
		// robfig/cron turns any @every under a second, even a negative
		// one, into every second.
		if d, err := time.ParseDuration(f[1]); err == nil && d < time.Second {
			return nil, fmt.Errorf("@every %s is under a second", f[1])
		}
	}
	withLocation := expr
	if zone == "" {
		withLocation = "CRON_TZ=" + loc.String() + " " + expr
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("unparsable expression: %v", r)
		}
	}()
	if WithSeconds(expr) {
		p := cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
		s, err = p.Parse(withLocation)
	} else {
		s, err = cron.ParseStandard(withLocation)
	}
	if err != nil {
		return nil, err
	}
	if s.Next(now).IsZero() {
		return nil, ErrNeverFires
	}
	return s, nil
}

// splitZone splits a leading CRON_TZ=Zone or TZ=Zone (as robfig/cron
// reads it: up to the first space) from the rest of expr.
func splitZone(expr string) (zone, rest string) {
	if !strings.HasPrefix(expr, "TZ=") && !strings.HasPrefix(expr, "CRON_TZ=") {
		return "", expr
	}
	zone, rest, _ = strings.Cut(expr, " ")
	return zone, rest
}
