// Package store keeps the history of results: every result for the
// retention period, hourly rollups for 400 days, outages, and the latest
// result per check for a restart. One database/sql implementation serves
// SQLite (the embedded default) and PostgreSQL, with dialect quirks kept
// small and apart.
package store

import (
	"context"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// Record is one result as stored.
type Record struct {
	check.Result
	// Maintenance marks a result taken during a maintenance window: it is
	// kept, but SLIs do not count it.
	Maintenance bool
	// WithinSLA is, for freshness checks with an SLA threshold, whether the
	// observed age was within it (the freshness SLI: share of time under
	// the threshold). For other checks it equals Status == PASS. The
	// writer sets it with sla.Within; the store keeps it.
	WithinSLA bool
	// Down marks a result that puts the check in an outage, as sla.Down
	// decides (a FAIL outside maintenance). The store keeps outage rows by
	// it: one starts at a Down result after one that was not, and ends at
	// the check's next result that is not Down.
	Down bool
	// ShareLinks marks a link check's result whose Links are its per-link
	// results to keep for the other replicas (Options.ShareLinks; set by
	// the Writer): they go to latest_links, not with the result. Without
	// it, Links are kept with the latest result, if any.
	ShareLinks bool
}

// Bucket aggregates the results of one check over [Start, Start+Step).
type Bucket struct {
	Start time.Time
	Step  time.Duration
	// Runs counts every result; Good, Bad and Unknown count PASS, FAIL and
	// UNKNOWN results outside maintenance; Maintenance counts those inside.
	Runs, Good, Bad, Unknown, Maintenance int64
	// WithinSLA counts results outside maintenance with WithinSLA set.
	WithinSLA int64
	// Values counts results with an observed value; Min, Avg and Max are
	// over those (zero when Values is 0).
	Values        int64
	Min, Avg, Max float64
	// GoodTime, BadTime, UnknownTime and MaintenanceTime are the time spent
	// in each state inside the bucket, and WithinSLATime the time outside
	// maintenance under a result with WithinSLA set. A result holds its
	// state from its CheckedAt until the check's next result, but at most
	// twice the gap since the check's previous result (one hour for a
	// check's first result), and never past now.
	GoodTime, BadTime, UnknownTime, MaintenanceTime, WithinSLATime time.Duration
}

// Outage is a stretch of consecutive Down results of one check (see
// Record.Down; sla defines it). End is zero while it lasts.
type Outage struct {
	Check      string
	Start, End time.Time
}

// Store is the history. Every method takes a context; implementations are
// safe for concurrent use.
type Store interface {
	// Write stores records in one transaction, and keeps outages and the
	// latest result per check up to date.
	Write(ctx context.Context, recs []Record) error
	// Latest returns the newest result of every check.
	Latest(ctx context.Context) ([]check.Result, error)
	// History returns buckets of step (≥ 1m) over [from, to) for one check,
	// oldest first (the last one ends at to); buckets with neither results
	// nor status time are left out. It reads hourly
	// rollups where they cover the range and step is a whole number of
	// hours, raw results elsewhere.
	History(ctx context.Context, name string, from, to time.Time, step time.Duration) ([]Bucket, error)
	// Totals sums [from, to) into one bucket, from hourly rollups for whole
	// hours and raw results for the edges.
	Totals(ctx context.Context, name string, from, to time.Time) (Bucket, error)
	// Outages returns the outages of one check that overlap [from, to).
	Outages(ctx context.Context, name string, from, to time.Time) ([]Outage, error)
	// Beat records the last heartbeat pushed to a heartbeat check, so that
	// a restart keeps it; one older than the stored one changes nothing.
	Beat(ctx context.Context, check string, at time.Time) error
	// Beats returns the last heartbeat of every check that has one.
	Beats(ctx context.Context) (map[string]time.Time, error)
	// Compact rolls up finished hours and deletes raw results older than
	// the retention and rollups older than 400 days, in small batches.
	Compact(ctx context.Context, now time.Time) error
	Close() error

	AlertStore
}
