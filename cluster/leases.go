package cluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// LeaderLease is the name of the leader's lease. Check names cannot hold
// control characters (config validation), so no check can be named so;
// PostgreSQL text cannot hold NUL, hence \x01.
const LeaderLease = "\x01leader"

// ErrLeaseLapsed is the cause of a context of Bind cancelled because a
// lease it was bound to lapsed locally: not renewed in time, lost to
// another member, or given up (Release).
var ErrLeaseLapsed = errors.New("cluster: this replica's lease lapsed (another replica may run the check now)")

// Leases claims, renews and releases leases on names for one owner.
//
// Sync is called every round (TTL/3) with the names the owner should hold;
// Holds tells whether a name may be worked on now, and Bind gives a piece
// of work (a run) a context that ends as soon as the lease lapses locally,
// so that a run may last any time while the lease is renewed. A lease
// counts locally from the monotonic time its claiming statement was sent,
// plus the TTL, minus the margin: the server granted it until its own
// now() + TTL, and its now() is later than our send, so the local view
// ends first, by the margin, whatever the two clocks say.
type Leases struct {
	db     *sql.DB
	owner  string
	ttl    time.Duration
	margin time.Duration
	// releaseAfter is how long a name no longer wanted stays unheld
	// locally before its row is deleted, so that no observer of Holds
	// can overlap with the next owner (a run bound to it keeps the row
	// until it ends or the lease lapses).
	releaseAfter time.Duration
	now          func() time.Time

	mu sync.Mutex
	// valid holds, per held name, the local instant its lease ends.
	valid map[string]time.Time
	// bound holds, per name with runs bound to its lease (Bind), those
	// runs and the timer that cancels them at the lease's local end. Only
	// running work costs a timer: an idle lease costs its map entry.
	bound map[string]*binding
	// lastRun numbers the runs of Bind.
	lastRun uint64
	// dropped holds names held before but no longer wanted, with the
	// instant they were dropped; their rows wait for release.
	dropped map[string]time.Time
	// acquired are the names a Sync claimed that were not held up to it,
	// until TakeAcquired.
	acquired []string
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
		valid: map[string]time.Time{}, bound: map[string]*binding{}, dropped: map[string]time.Time{}}
}

// binding is the runs bound to one name's lease, and the lease's local
// end, which their timer waits for: renewed by Sync while the name is
// wanted and claimed, left as it was once the name is dropped.
type binding struct {
	until time.Time
	timer *time.Timer
	runs  map[uint64]context.CancelCauseFunc
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
// they have been dropped locally for releaseAfter and no run is bound to
// them). On error nothing is renewed: the leases held lapse locally within
// the TTL (cancelling the runs bound to them), and the next successful
// Sync restores them. A name wanted but claimed by another member lapses
// at once. A dropped name is no longer renewed: a run bound to it goes on
// until it ends or the lease's local end, whichever comes first.
//
// Sync is not safe for concurrent use with itself (one loop calls it);
// Holds and Held are safe from any goroutine.
func (l *Leases) Sync(ctx context.Context, want []string) error {
	want = sortedSet(want)

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
		if now.Sub(at) < l.releaseAfter || l.bound[name] != nil {
			keep = append(keep, name)
		} else {
			release = append(release, name)
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
		b := l.bound[name]
		if _, ok := got[name]; ok {
			if prev, held := l.valid[name]; !held || !sent.Before(prev) {
				l.acquired = append(l.acquired, name) // not held up to this claim
			}
			l.valid[name] = until
			if b != nil {
				b.until = until // its timer sees the renewal when it fires
			}
		} else {
			delete(l.valid, name) // another member holds it
			if b != nil {
				l.lapseLocked(name, b)
			}
		}
	}
	return nil
}

// TakeAcquired returns the names whose lease Sync gained since the last
// call (claimed while not held: new, taken over, or held again after a
// lapse), and forgets them.
func (l *Leases) TakeAcquired() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.acquired
	l.acquired = nil
	return out
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

// Holds reports whether name's lease is held now. Work that may outlast
// a moment asks Bind instead.
func (l *Leases) Holds(name string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	until, ok := l.valid[name]
	return ok && now.Before(until)
}

// Bind returns a context derived from parent that is cancelled, with the
// cause ErrLeaseLapsed, as soon as the lease of any of names lapses
// locally: its local end passes without a renewal, a Sync finds it held
// by another member, or Release gives it up. ok is false, and nothing is
// bound, unless every one of names is held now. Call stop when the work
// ends: it releases the context, and lets Sync release the row of a name
// dropped meanwhile. Runs renewed without a gap are never cut short,
// however long they last.
//
// The cost is one timer per name with work bound to it, armed for the
// lease's local end and moved on when it fires after a renewal; nothing
// while no work is bound.
func (l *Leases) Bind(parent context.Context, names ...string) (ctx context.Context, stop context.CancelFunc, ok bool) {
	names = sortedSet(names)
	if len(names) == 0 {
		return nil, nil, false
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, name := range names {
		if until, ok := l.valid[name]; !ok || !now.Before(until) {
			return nil, nil, false
		}
	}
	ctx, cancel := context.WithCancelCause(parent)
	l.lastRun++
	id := l.lastRun
	for _, name := range names {
		b := l.bound[name]
		if b == nil {
			b = &binding{until: l.valid[name], runs: map[uint64]context.CancelCauseFunc{}}
			l.bound[name] = b
			b.timer = time.AfterFunc(b.until.Sub(now), func() { l.expire(name, b) })
		}
		b.runs[id] = cancel
	}
	stop = func() {
		l.mu.Lock()
		for _, name := range names {
			if b := l.bound[name]; b != nil {
				delete(b.runs, id)
				if len(b.runs) == 0 {
					b.timer.Stop()
					delete(l.bound, name)
				}
			}
		}
		l.mu.Unlock()
		cancel(nil)
	}
	return ctx, stop, true
}

// expire is the timer of b, name's binding: it cancels the runs bound to
// the lease when its local end has passed, or waits for the renewed end.
func (l *Leases) expire(name string, b *binding) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bound[name] != b {
		return // its runs ended, or lapsed already
	}
	if left := b.until.Sub(now); left > 0 {
		b.timer.Reset(left)
		return
	}
	l.lapseLocked(name, b)
}

// lapseLocked cancels the runs bound to name's lease. l.mu is held.
func (l *Leases) lapseLocked(name string, b *binding) {
	b.timer.Stop()
	delete(l.bound, name)
	for _, cancel := range b.runs {
		cancel(ErrLeaseLapsed)
	}
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
// stopped running checks; runs still bound are cancelled). Locally nothing
// is held afterwards, even when the statement fails (the rows then expire
// by themselves).
func (l *Leases) Release(ctx context.Context) error {
	l.mu.Lock()
	clear(l.valid)
	clear(l.dropped)
	for name, b := range l.bound {
		l.lapseLocked(name, b)
	}
	l.mu.Unlock()
	if _, err := l.db.ExecContext(ctx, releaseAllSQL, l.owner, []string{}); err != nil {
		return fmt.Errorf("cluster lease release: %w", err)
	}
	return nil
}
