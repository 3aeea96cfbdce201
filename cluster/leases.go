package cluster

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"time"
)

// LeaderLease is the name of the leader's lease. Check names cannot hold
// control characters (config validation), so no check can be named so;
// PostgreSQL text cannot hold NUL, hence \x01.
const LeaderLease = "\x01leader"

// Leases claims, renews and releases leases on names for one owner.
//
// Sync is called every round (TTL/3) with the names the owner should hold;
// Holds tells whether a name may be worked on now. A lease counts locally
// from the monotonic time its claiming statement was sent, plus the TTL,
// minus the margin: the server granted it until its own now() + TTL, and
// its now() is later than our send, so the local view ends first, by the
// margin, whatever the two clocks say.
type Leases struct {
	db     *sql.DB
	owner  string
	ttl    time.Duration
	margin time.Duration
	// releaseAfter is how long a name no longer wanted stays unheld
	// locally before its row is deleted, so that no observer of Holds
	// (nor a run started just before) can overlap with the next owner.
	releaseAfter time.Duration
	now          func() time.Time

	mu sync.Mutex
	// valid holds, per held name, the local instant its lease ends.
	valid map[string]time.Time
	// promised holds, per name, the latest end of a run Holds allowed.
	promised map[string]time.Time
	// dropped holds names held before but no longer wanted, with the
	// instant they were dropped; their rows wait for release.
	dropped map[string]time.Time
	// dirty is set when a statement failed: the server may have done
	// work we did not see, so the next sync deletes every row of ours
	// that is not wanted.
	dirty bool
}

// NewLeases returns the leases of owner. ttl is the lease length by the
// server's clock; margin (0 < margin < ttl) is taken off it locally;
// releaseAfter is how long a dropped name waits before its row is deleted
// (Node uses the round interval).
func NewLeases(db *sql.DB, owner string, ttl, margin, releaseAfter time.Duration) *Leases {
	return &Leases{db: db, owner: owner, ttl: ttl, margin: margin, releaseAfter: releaseAfter, now: time.Now,
		valid: map[string]time.Time{}, promised: map[string]time.Time{}, dropped: map[string]time.Time{}}
}

// claimSQL claims or renews every name of $2 in one statement: a name is
// ours when it is free, ours already, or its lease has expired by the
// server's clock. Rows are taken in the array's order (sorted by Sync), so
// that two members' claims lock rows in one order and never deadlock.
const claimSQL = `INSERT INTO cluster_leases AS l (name, owner, expires_at)
SELECT w.name, $1, now() + $3::bigint * interval '1 microsecond'
FROM unnest($2::text[]) WITH ORDINALITY AS w(name, i)
ORDER BY w.i
ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
WHERE l.owner = EXCLUDED.owner OR l.expires_at < now()
RETURNING l.name`

// releaseSQL deletes our rows of the names $2; releaseAllSQL deletes our
// rows except the names of $2 (a hashed NOT IN: 10,000 names cost one hash
// table, not 10,000 comparisons per row). Both skip rows another member's
// claim has locked, so that they never wait while holding locks.
const (
	releaseSQL = `DELETE FROM cluster_leases WHERE name IN (
	SELECT name FROM cluster_leases WHERE owner = $1 AND name = ANY($2::text[])
	FOR UPDATE SKIP LOCKED)`
	releaseAllSQL = `DELETE FROM cluster_leases WHERE name IN (
	SELECT name FROM cluster_leases WHERE owner = $1 AND name NOT IN (SELECT unnest($2::text[]))
	FOR UPDATE SKIP LOCKED)`
)

// Sync claims or renews the leases of want (in one statement) and releases
// the names held before that are no longer wanted (in a second one, once
// they have been dropped locally for releaseAfter and no run Holds allowed
// may still be going). On error nothing is renewed: the leases held lapse
// locally within the TTL, and the next successful Sync restores them.
//
// Sync is not safe for concurrent use with itself (one loop calls it);
// Holds and Held are safe from any goroutine.
func (l *Leases) Sync(ctx context.Context, want []string) error {
	want = slices.Clone(want)
	slices.Sort(want)
	want = slices.Compact(want)

	now := l.now()
	l.mu.Lock()
	for name := range l.valid {
		if _, ok := slices.BinarySearch(want, name); !ok {
			delete(l.valid, name)
			l.dropped[name] = now
		}
	}
	dirty := l.dirty
	var keep, release []string // dropped rows to keep for now, or to delete
	for name, at := range l.dropped {
		if _, ok := slices.BinarySearch(want, name); ok {
			delete(l.dropped, name) // wanted again: the claim renews it
			continue
		}
		if now.Sub(at) < l.releaseAfter || l.promised[name].After(now) {
			keep = append(keep, name)
		} else {
			release = append(release, name)
		}
	}
	for name, until := range l.promised {
		if !until.After(now) {
			delete(l.promised, name)
		}
	}
	l.mu.Unlock()

	var err error
	switch {
	case dirty:
		_, err = l.db.ExecContext(ctx, releaseAllSQL, l.owner, append(keep, want...))
	case len(release) > 0:
		_, err = l.db.ExecContext(ctx, releaseSQL, l.owner, release)
	}
	if err != nil {
		l.setDirty()
		return fmt.Errorf("cluster lease release: %w", err)
	}
	if dirty || len(release) > 0 {
		l.mu.Lock()
		for _, name := range release {
			delete(l.dropped, name)
		}
		l.dirty = false
		l.mu.Unlock()
	}
	if len(want) == 0 {
		return nil
	}

	sent := l.now()
	got, err := l.claim(ctx, want)
	if err != nil {
		l.setDirty()
		return fmt.Errorf("cluster lease claim: %w", err)
	}
	until := sent.Add(l.ttl - l.margin)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, name := range want {
		if _, ok := got[name]; ok {
			l.valid[name] = until
		} else {
			delete(l.valid, name) // another member holds it
		}
	}
	return nil
}

func (l *Leases) claim(ctx context.Context, want []string) (map[string]struct{}, error) {
	rows, err := l.db.QueryContext(ctx, claimSQL, l.owner, want, l.ttl.Microseconds())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	got := make(map[string]struct{}, len(want))
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		got[name] = struct{}{}
	}
	return got, rows.Err()
}

func (l *Leases) setDirty() {
	l.mu.Lock()
	l.dirty = true
	l.mu.Unlock()
}

// Holds reports whether name's lease is held with at least need left, and
// if so promises not to release it before need has passed: ask with the
// run's timeout just before each run.
func (l *Leases) Holds(name string, need time.Duration) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	until, ok := l.valid[name]
	end := now.Add(need)
	if !ok || !end.Before(until) {
		return false
	}
	if end.After(l.promised[name]) {
		l.promised[name] = end
	}
	return true
}

// Held returns the names held now, sorted.
func (l *Leases) Held() []string {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var names []string
	for name, until := range l.valid {
		if until.After(now) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Release gives every lease up at once (a clean stop: the caller has
// stopped running checks). Locally nothing is held afterwards, even when
// the statement fails (the rows then expire by themselves).
func (l *Leases) Release(ctx context.Context) error {
	l.mu.Lock()
	clear(l.valid)
	clear(l.dropped)
	clear(l.promised)
	l.mu.Unlock()
	if _, err := l.db.ExecContext(ctx, releaseAllSQL, l.owner, []string{}); err != nil {
		return fmt.Errorf("cluster lease release: %w", err)
	}
	return nil
}
