package store

import (
	"context"
	"time"
)

// The arithmetic of buckets, shared by reads of raw results and by the
// hourly rollups, so that both give the same answers: a rollup is the
// aggregate of one clock hour computed by exactly the code a raw read runs.
// (Reads add up runs of rollups in SQL, where the sum of values may round
// differently: Avg can differ in its last bits, nothing else.)

const (
	hourMs = int64(time.Hour / time.Millisecond)
	// firstHoldMs caps how long a check's first result holds its state
	// (it has no previous result to measure a gap from).
	firstHoldMs = hourMs
)

// Stored codes of statuses and severities.
const (
	stPass    = 0
	stFail    = 1
	stUnknown = 2

	sevInfo     = 0
	sevWarn     = 1
	sevCritical = 2
)

// floorHour returns the start of the clock hour (UTC) holding ms.
func floorHour(ms int64) int64 {
	r := ms % hourMs
	if r < 0 {
		r += hourMs
	}
	return ms - r
}

// sample is one raw result as the aggregates see it.
type sample struct {
	ts       int64
	status   int64
	maint    bool
	within   bool
	hasValue bool
	value    float64
}

// acc accumulates the results and status time of one span or bucket.
type acc struct {
	runs, good, bad, unknown, maint, within, values int64
	min, sum, max                                   float64
	goodMs, badMs, unknownMs, maintMs, withinMs     int64
}

func (a *acc) empty() bool {
	return a.runs == 0 && a.goodMs == 0 && a.badMs == 0 && a.unknownMs == 0 && a.maintMs == 0
}

func (a *acc) addRun(s *sample) {
	a.runs++
	switch {
	case s.maint:
		a.maint++
	case s.status == stPass:
		a.good++
	case s.status == stFail:
		a.bad++
	default:
		a.unknown++
	}
	if !s.maint && s.within {
		a.within++
	}
	if s.hasValue {
		if a.values == 0 || s.value < a.min {
			a.min = s.value
		}
		if a.values == 0 || s.value > a.max {
			a.max = s.value
		}
		a.sum += s.value
		a.values++
	}
}

func (a *acc) addTime(s *sample, ms int64) {
	switch {
	case s.maint:
		a.maintMs += ms
	case s.status == stPass:
		a.goodMs += ms
	case s.status == stFail:
		a.badMs += ms
	default:
		a.unknownMs += ms
	}
	if !s.maint && s.within {
		a.withinMs += ms
	}
}

// merge adds b to a. Merging spans in time order makes the result
// independent of whether a span came from a rollup or from raw results.
func (a *acc) merge(b *acc) {
	if b.values > 0 {
		if a.values == 0 || b.min < a.min {
			a.min = b.min
		}
		if a.values == 0 || b.max > a.max {
			a.max = b.max
		}
	}
	a.runs += b.runs
	a.good += b.good
	a.bad += b.bad
	a.unknown += b.unknown
	a.maint += b.maint
	a.within += b.within
	a.values += b.values
	a.sum += b.sum
	a.goodMs += b.goodMs
	a.badMs += b.badMs
	a.unknownMs += b.unknownMs
	a.maintMs += b.maintMs
	a.withinMs += b.withinMs
}

func (a *acc) bucket(start, end int64) Bucket {
	b := Bucket{
		Start: time.UnixMilli(start).UTC(), Step: time.Duration(end-start) * time.Millisecond,
		Runs: a.runs, Good: a.good, Bad: a.bad, Unknown: a.unknown, Maintenance: a.maint,
		WithinSLA: a.within, Values: a.values,
		GoodTime:        time.Duration(a.goodMs) * time.Millisecond,
		BadTime:         time.Duration(a.badMs) * time.Millisecond,
		UnknownTime:     time.Duration(a.unknownMs) * time.Millisecond,
		MaintenanceTime: time.Duration(a.maintMs) * time.Millisecond,
		WithinSLATime:   time.Duration(a.withinMs) * time.Millisecond,
	}
	if a.values > 0 {
		b.Min, b.Avg, b.Max = a.min, a.sum/float64(a.values), a.max
	}
	return b
}

// span is a piece of a query inside one bucket: either a run of whole
// clock hours read from their rollups (done), or one clock hour, or the
// part of one inside the bucket, read from raw results.
type span struct {
	start, end int64
	bucket     int
	done       bool // filled from rollups
	a          acc
}

// buildSpans cuts [lo, hi) into buckets of step starting at base (base ≤
// lo, base ≡ the query's start modulo step; buckets are numbered from the
// one holding lo) and each bucket into spans, in time order: the rolled-up
// runs of hours given in rolled (done spans, sorted, each inside one bucket
// and starting on a clock hour), and raw spans cut at clock hours around
// them. It returns the spans and the number of buckets. The caller bounds
// hi − lo (see sqlStore.clamp), so the spans stay few; ctx is checked every
// spanCheckEvery spans all the same.
func buildSpans(ctx context.Context, base, lo, hi, step int64, rolled []span) ([]span, int, error) {
	// At most one span per clock hour plus one per bucket: sized once, as
	// growing it by appends allocated four times its final size (11 MiB
	// for 400 days at a step of 116m, instead of 2.6).
	spans := make([]span, 0, (hi-lo)/hourMs+(hi-base)/step+2)
	nb, r := 0, 0
	for bs := base; bs < hi; bs += step {
		be := min(bs+step, hi)
		for s := max(bs, lo); s < be; {
			if len(spans)%spanCheckEvery == spanCheckEvery-1 {
				if err := ctx.Err(); err != nil {
					return nil, 0, err
				}
			}
			for r < len(rolled) && rolled[r].start < s {
				r++ // not on a clock hour of this bucket: cannot happen; read raw instead
			}
			if r < len(rolled) && rolled[r].start == s && rolled[r].end <= be {
				sp := rolled[r]
				sp.bucket = nb
				spans = append(spans, sp)
				s, r = sp.end, r+1
				continue
			}
			e := min(floorHour(s)+hourMs, be)
			spans = append(spans, span{start: s, end: e, bucket: nb})
			s = e
		}
		nb++
	}
	return spans, nb, nil
}

// spanCheckEvery spans, buildSpans checks its context.
const spanCheckEvery = 4096

// feeder turns a check's samples, pushed in time order, into the counts and
// status time of contiguous spans. Samples before the first span are
// pushed too (up to two), for the state they hold into it.
type feeder struct {
	spans  []span
	lo, hi int64
	now    int64

	cur     sample
	hasCur  bool
	prevTs  int64
	hasPrev bool
	tc, cc  int // cursors into spans for time and for counts
}

func newFeeder(spans []span, now int64) *feeder {
	return &feeder{spans: spans, lo: spans[0].start, hi: spans[len(spans)-1].end, now: now}
}

func (f *feeder) push(s sample) {
	if f.hasCur {
		f.hold(s.ts, true)
		f.prevTs, f.hasPrev = f.cur.ts, true
	}
	f.cur, f.hasCur = s, true
	if s.ts < f.lo || s.ts >= f.hi {
		return
	}
	for f.spans[f.cc].end <= s.ts {
		f.cc++
	}
	f.spans[f.cc].a.addRun(&s)
}

// finish ends the last sample's hold at next (the check's following result,
// if there is one).
func (f *feeder) finish(next int64, hasNext bool) {
	if f.hasCur {
		f.hold(next, hasNext)
		f.hasCur = false
	}
}

// hold spreads the current sample's status time over the spans.
func (f *feeder) hold(next int64, hasNext bool) {
	s := &f.cur
	limit := firstHoldMs
	if f.hasPrev {
		limit = 2 * (s.ts - f.prevTs)
	}
	end := s.ts + limit
	if hasNext && next < end {
		end = next
	}
	end = min(end, f.now, f.hi)
	start := max(s.ts, f.lo)
	if end <= start {
		return
	}
	for f.tc < len(f.spans) && f.spans[f.tc].end <= start {
		f.tc++
	}
	for j := f.tc; j < len(f.spans) && f.spans[j].start < end; j++ {
		sp := &f.spans[j]
		if ov := min(end, sp.end) - max(start, sp.start); ov > 0 {
			sp.a.addTime(s, ov)
		}
	}
}
