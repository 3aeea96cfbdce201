package cluster

import (
	"testing"
	"time"
)

// TestStateString: what health shows in each state, never the error
// (which, even redacted, may name the database's user, host and name).
func TestStateString(t *testing.T) {
	since := time.Date(2026, 11, 30, 6, 40, 1, 0, time.FixedZone("CET", 3600))
	for _, c := range []struct {
		s    State
		want string
	}{
		{State{}, "starting"},
		{State{OK: true, Since: since}, "ok"},
		{State{Since: since, Err: `cluster heartbeat: failed to connect to user=alice database=prod host=db.internal: timeout`},
			"no database since 2026-11-30T05:40:01Z: not running checks"},
	} {
		if got := c.s.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.s, got, c.want)
		}
	}
}

// TestOptionsDefaults: zero options get the defaults, and timings with
// which leases would lapse between rounds are replaced by them.
func TestOptionsDefaults(t *testing.T) {
	for _, c := range []struct {
		in                    Options
		ttl, interval, margin time.Duration
	}{
		{Options{}, 15 * time.Second, 5 * time.Second, 3 * time.Second},
		{Options{TTL: 30 * time.Second, Interval: time.Second, Margin: time.Second}, 30 * time.Second, time.Second, time.Second},
		{Options{TTL: 30 * time.Second, Interval: 29 * time.Second, Margin: time.Second}, 30 * time.Second, 10 * time.Second, time.Second},
		{Options{TTL: 30 * time.Second, Margin: 20 * time.Second}, 30 * time.Second, 10 * time.Second, 6 * time.Second},
	} {
		n := New(nil, c.in)
		if o := n.opts; o.TTL != c.ttl || o.Interval != c.interval || o.Margin != c.margin || o.ID == "" {
			t.Errorf("%+v: TTL %v, Interval %v, Margin %v, ID %q; want %v, %v, %v", c.in, o.TTL, o.Interval, o.Margin, o.ID, c.ttl, c.interval, c.margin)
		}
	}
}
