package statuspage

import (
	"context"
	"sync"
	"time"
)

// DaySums are one check's sums over one UTC day, as the bars need them.
type DaySums struct {
	Good, Bad   time.Duration // time PASS and FAIL, outside maintenance
	Maintenance bool          // some of the day was in maintenance
	Runs        bool          // the check ran that day
	// Values counts the results with an observed value; Avg and Max are
	// over those (for the component's chart).
	Values   int64
	Avg, Max float64
}

// cacheMargin is how long after a day ends it is taken as final: results
// arriving late (a store that was down, a daemon restarting) still land
// in it meanwhile.
const cacheMargin = 3 * time.Hour

// maxCached bounds the cache: 1000 checks × 90 days.
const maxCached = 1000 * Days

// Cache keeps the daily sums of finished days between builds. It is safe
// for concurrent use; the zero value is not: use NewCache.
type Cache struct {
	mu   sync.Mutex
	days map[cacheKey]DaySums
}

type cacheKey struct {
	check string
	day   int64 // Unix seconds of the day's start
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{days: map[cacheKey]DaySums{}} }

// lookup returns the cached days of check from the first, in order, up to
// the first day not cached.
func (c *Cache) lookup(check string, days []time.Time) []DaySums {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []DaySums
	for _, d := range days {
		s, ok := c.days[cacheKey{check, d.Unix()}]
		if !ok {
			break
		}
		out = append(out, s)
	}
	return out
}

// keep caches the days that ended more than cacheMargin before now, and
// forgets the week before oldest (older ones go when the cache is full).
func (c *Cache) keep(check string, days []time.Time, sums []DaySums, now, oldest time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.days) > maxCached {
		clear(c.days)
	}
	for i := 1; i <= 7; i++ { // the days that aged out since the last builds
		delete(c.days, cacheKey{check, oldest.Add(-time.Duration(i) * day).Unix()})
	}
	for i, d := range days {
		if d.Add(day + cacheMargin).After(now) {
			break
		}
		c.days[cacheKey{check, d.Unix()}] = sums[i]
	}
}

// checkDays returns one check's sums for each of days: the finished days
// from the cache, the others from the store's daily rollups.
func checkDays(ctx context.Context, h History, cache *Cache, check string, days []time.Time, now time.Time) ([]DaySums, error) {
	out := make([]DaySums, len(days))
	n := copy(out, cache.lookup(check, days))
	if n == len(days) {
		return out, nil
	}
	from, to := days[n], days[len(days)-1].Add(day)
	bs, err := h.History(ctx, check, from, to, day)
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		d := n + int(b.Start.Sub(from)/day)
		if d < n || d >= len(days) {
			continue
		}
		s := &out[d]
		s.Good += b.GoodTime
		s.Bad += b.BadTime
		s.Maintenance = s.Maintenance || b.MaintenanceTime > 0 || b.Maintenance > 0
		s.Runs = s.Runs || b.Runs > 0
		if b.Values > 0 {
			n := s.Values + b.Values
			s.Avg = (s.Avg*float64(s.Values) + b.Avg*float64(b.Values)) / float64(n)
			s.Max = max(s.Max, b.Max)
			s.Values = n
		}
	}
	cache.keep(check, days[n:], out[n:], now, days[0])
	return out, nil
}
