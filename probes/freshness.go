package probes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// maxBody bounds what the http source reads from a response.
const maxBody = 1 << 20

// defaultSkew is how far in the future a timestamp may lie before the
// result is UNKNOWN, when the check does not say.
const defaultSkew = time.Minute

// KindFreshness is the kind freshness: the age of the newest record of a source.
const KindFreshness check.Kind = "freshness"

// freshnessKind is the kind freshness: the age of the newest record of a
// source. A timeout is UNKNOWN (the check could not tell the age); a result
// is within the SLA while the age is at most critical_age (max_age when
// there is none), even when it FAILs at max_age.
var freshnessKind = Kind{
	Name:   KindFreshness,
	Keys:   []string{"source", "max_age", "critical_age", "skew"},
	Decode: decodeFreshness,
	Probe:  ProbeFreshness,
	Behaviour: check.Behaviour{
		TimeoutStatus: check.Unknown,
		ComponentType: "component",
		Within:        freshnessWithin,
		Chart:         "Data age",
	},
}

// FreshnessConfig is the configuration of a freshness check
// (check.Spec.Config).
//
// The yaml tags name the check's keys (docs/config.md is generated from
// them and from these comments).
type FreshnessConfig struct {
	// Source is where the newest timestamp is read: exactly one of the
	// sources below. Required.
	Source Source `yaml:"source" ref:"mapping: one source"`
	// MaxAge is the age of the newest record above which the check FAILs
	// with its severity; > 0. Required.
	MaxAge time.Duration `yaml:"max_age"`
	// CriticalAge is the age above which it FAILs CRITICAL; ≥ max_age.
	// Optional. Also the limit of the within_sla SLI.
	CriticalAge time.Duration `yaml:"critical_age"`
	// Skew is how far in the future a timestamp may be before the result is
	// UNKNOWN ("clock skew"); ≥ 0.
	Skew time.Duration `yaml:"skew"`
}

// TakesHeartbeats tells whether the check is fed by POST
// /v2/heartbeats/{check} (check.Spec.TakesHeartbeats).
func (c FreshnessConfig) TakesHeartbeats() bool {
	_, ok := c.Source.(HeartbeatSource)
	return ok
}

// AgeLimits are max_age and critical_age (0 when not set), exported as
// monitor_freshness_max_age_seconds and monitor_freshness_critical_age_seconds.
func (c FreshnessConfig) AgeLimits() (maxAge, criticalAge time.Duration) {
	return c.MaxAge, c.CriticalAge
}

// freshnessConfig is spec's FreshnessConfig (zero when spec is not a
// freshness check).
func freshnessConfig(spec check.Spec) FreshnessConfig {
	c, _ := spec.Config.(FreshnessConfig)
	return c
}

func decodeFreshness(f check.Fields) any {
	// A max_age or critical_age that does not parse is reported once, as
	// such, not again as ≤ 0 or below max_age.
	maxAge, maxAgeOK := positiveDuration(f, "max_age")
	const malformed = time.Duration(math.MinInt64)
	c := FreshnessConfig{
		MaxAge:      maxAge,
		CriticalAge: f.Duration("critical_age", malformed),
		Skew:        f.Duration("skew", defaultSkew),
	}
	criticalOK := c.CriticalAge != malformed
	if !criticalOK {
		c.CriticalAge = 0
	}
	switch {
	case !f.Has("max_age"):
		f.Errorf("", "missing max_age%s", f.In())
	case !maxAgeOK || !criticalOK: // reported as malformed or ≤ 0
	case f.Has("critical_age") && c.CriticalAge < c.MaxAge:
		f.Errorf("critical_age", "critical_age %s < max_age %s%s",
			check.FormatDuration(c.CriticalAge), check.FormatDuration(c.MaxAge), f.In())
	}
	if c.Skew < 0 {
		f.Errorf("skew", "skew must be ≥ 0%s", f.In())
	}

	if !f.Has("source") {
		f.Errorf("", "missing source%s", f.In())
		return c
	}
	var all []string
	for _, st := range freshnessSources {
		all = append(all, st.Keys...)
	}
	src, ok := f.Map("source", "source of "+f.Where(), all...)
	if !ok {
		return c
	}
	var used []sourceType
	var names, wants []string
	for _, st := range freshnessSources {
		wants = append(wants, st.Want)
		if st.used(src) {
			used = append(used, st)
			names = append(names, st.Keys[0])
		}
	}
	switch len(used) {
	case 0:
		f.Errorf("source", "empty source%s (want %s)", f.In(), orList(wants))
	case 1:
		c.Source = used[0].Decode(src)
	default:
		f.Errorf("source", "source%s mixes %s (want only one)", f.In(), andList(names))
	}
	return c
}

func freshnessWithin(r check.Result, sp check.Spec) bool {
	if r.Status == check.Unknown || r.ObservedValue == nil {
		return r.Status == check.Pass
	}
	c := freshnessConfig(sp)
	limit := c.CriticalAge
	if limit <= 0 {
		limit = c.MaxAge
	}
	return time.Duration(*r.ObservedValue*float64(time.Second)) <= limit
}

// ProbeFreshness reads the time of the newest record from the check's source
// and compares its age (by env's clock) with MaxAge and CriticalAge:
//
//	age ≤ max_age           PASS/INFO   "newest row is 3m12s old (max 15m)"
//	age > max_age           FAIL        "newest row is 17m12s old (max 15m)"
//	age > critical_age      FAIL/CRITICAL "newest row is 1h1m old (critical 1h)"
//
// A source it cannot read, no rows, NULL, an unparsable value or a timestamp
// further in the future than Skew gives UNKNOWN with the reason. The observed
// value is the age in seconds; Result.NewestAt is the newest timestamp.
func ProbeFreshness(ctx context.Context, spec check.Spec, env *Env) check.Result {
	ctx, cancel, timeout := withDeadline(ctx, spec)
	defer cancel()
	c := freshnessConfig(spec)
	if c.MaxAge <= 0 {
		return failed(spec.UnknownResult("max_age is not configured"), check.ReasonError)
	}
	newest, reason, why := readNewest(ctx, spec, env, timeout)
	if why != "" {
		return failed(spec.UnknownResult(env.redact(why)), reason)
	}
	return judgeAge(spec, c.Source.Subject(), newest, env.now())
}

// judgeAge turns the newest timestamp into the result.
func judgeAge(spec check.Spec, what string, newest, now time.Time) check.Result {
	c := freshnessConfig(spec)
	skew := c.Skew
	if skew <= 0 {
		skew = defaultSkew
	}
	age := now.Sub(newest)
	if age < 0 {
		if -age > skew {
			return failed(spec.UnknownResult(fmt.Sprintf("clock skew: %s is %s in the future", what, humanDuration(-age))), check.ReasonClockSkew)
		}
		age = 0
	}
	var res check.Result
	switch {
	case c.CriticalAge > 0 && age > c.CriticalAge:
		res = spec.FailResult(fmt.Sprintf("%s is %s old (critical %s)", what, humanDuration(age), thresholdText(c.CriticalAge)))
		res.Severity, res.Reason = check.Critical, check.ReasonStale
	case age > c.MaxAge:
		res = failed(spec.FailResult(fmt.Sprintf("%s is %s old (max %s)", what, humanDuration(age), thresholdText(c.MaxAge))), check.ReasonStale)
	default:
		res = spec.PassResult(fmt.Sprintf("%s is %s old (max %s)", what, humanDuration(age), thresholdText(c.MaxAge)))
	}
	res.ObservedValue = check.Value(math.Round(age.Seconds()*1000) / 1000)
	res.ObservedUnit = "s"
	res.NewestAt = newest
	return res
}

// readNewest returns the newest timestamp of the check's source, or why it
// has none.
func readNewest(ctx context.Context, spec check.Spec, env *Env, timeout time.Duration) (time.Time, check.Reason, string) {
	src := freshnessConfig(spec).Source
	if src == nil {
		return time.Time{}, check.ReasonError, "no source configured"
	}
	return src.Newest(ctx, spec, env, timeout)
}

// timeFromValue reads a timestamp from what a driver or JSON decoder
// returned: a time, a string in a common layout, or epoch seconds
// (milliseconds above 1e12, microseconds above 1e15, nanoseconds above 1e18).
func timeFromValue(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		if x.IsZero() {
			return time.Time{}, errors.New("zero timestamp")
		}
		return x, nil
	case string:
		return parseTimestamp(x)
	case []byte:
		return parseTimestamp(string(x))
	case json.Number:
		return parseTimestamp(x.String())
	case int64:
		return fromEpochInt(x), nil
	case int32:
		return fromEpochInt(int64(x)), nil
	case int:
		return fromEpochInt(int64(x)), nil
	case uint64:
		if x > math.MaxInt64 {
			return time.Time{}, fmt.Errorf("epoch %d out of range", x)
		}
		return fromEpochInt(int64(x)), nil
	case float64:
		return fromEpochFloat(x)
	case float32:
		return fromEpochFloat(float64(x))
	}
	return time.Time{}, fmt.Errorf("cannot read a timestamp from a %T", v)
}

// timestampLayouts are tried in order. time.Parse accepts a fractional
// second after the seconds even when the layout has none; layouts without a
// zone read as UTC.
var timestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05Z0700",
	"2006-01-02 15:04:05Z07", // PostgreSQL's text form: +00
	"2006-01-02 15:04:05 -0700 MST",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 Z07:00",
	"2006-01-02 15:04:05",
	time.RFC1123Z,
	time.RFC1123,
	"2006-01-02",
}

// parseTimestamp reads a timestamp string: RFC 3339, SQL-style
// "2006-01-02 15:04:05[.fraction][zone]" (no zone = UTC), HTTP dates, or
// numeric epoch seconds/milliseconds.
func parseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty value")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return fromEpochInt(n), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return fromEpochFloat(f)
	}
	if i := strings.Index(s, " m="); i > 0 { // Go's time.String monotonic suffix
		s = s[:i]
	}
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	shown := s
	if len(shown) > 40 {
		shown = shown[:40] + "…"
	}
	return time.Time{}, fmt.Errorf("unrecognised timestamp %q", shown)
}

func fromEpochInt(n int64) time.Time {
	abs := n
	if abs < 0 {
		abs = -abs
	}
	switch {
	case abs > 1e18:
		return time.Unix(0, n)
	case abs > 1e15:
		return time.UnixMicro(n)
	case abs > 1e12:
		return time.UnixMilli(n)
	}
	return time.Unix(n, 0)
}

func fromEpochFloat(f float64) (time.Time, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, fmt.Errorf("invalid epoch %v", f)
	}
	switch a := math.Abs(f); {
	case a > 1e18:
		f /= 1e9
	case a > 1e15:
		f /= 1e6
	case a > 1e12:
		f /= 1e3
	}
	if math.Abs(f) > 1e11 { // beyond year 5000: not a timestamp
		return time.Time{}, fmt.Errorf("epoch %v out of range", f)
	}
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64(math.Round((f-sec)*1e9))), nil
}

// humanDuration prints an age the way a person reads it: seconds and
// minutes below an hour (45s, 17m12s), hours and minutes below a day
// (1h2m), then days (1 day, 3.2 days) and, from 365 days, years (6.9
// years) with one decimal, never a run of units like 2524d17h24m54s.
func humanDuration(d time.Duration) string {
	const (
		day  = 24 * time.Hour
		year = 365 * day
	)
	d = d.Round(time.Second)
	switch {
	case d <= 0:
		return "0s"
	case d < time.Hour:
		return compactDuration(d)
	case d < day:
		return compactDuration(d.Round(time.Minute))
	case d < year:
		return decimalUnits(float64(d)/float64(day), "day")
	}
	return decimalUnits(float64(d)/float64(year+6*time.Hour), "year")
}

// compactDuration writes d without zero units: 45s, 17m12s, 1h2m, 1h.
func compactDuration(d time.Duration) string {
	var b strings.Builder
	for _, u := range []struct {
		size time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.size; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.size
		}
	}
	return b.String()
}

// decimalUnits writes v with one decimal (none when it is whole) and the
// unit, singular only for exactly 1: "1 day", "3.2 days", "6.9 years".
func decimalUnits(v float64, unit string) string {
	s := strconv.FormatFloat(math.Round(v*10)/10, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if s != "1" {
		unit += "s"
	}
	return s + " " + unit
}

// thresholdText prints a configured threshold: whole seconds like an age,
// anything finer as written (1.5s).
func thresholdText(d time.Duration) string {
	if d%time.Second != 0 {
		return shortDuration(d)
	}
	return humanDuration(d)
}

// noTime is a source read that gave no timestamp, for why.
func noTime(reason check.Reason, why string) (time.Time, check.Reason, string) {
	return time.Time{}, reason, why
}
