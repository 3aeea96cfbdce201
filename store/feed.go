package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/monitor-dev/monitor/check"
)

// ErrFeedUnsupported is returned by NewFeed for a store that has no results
// feed: SQLite, which one process owns.
var ErrFeedUnsupported = errors.New("results feed: needs a PostgreSQL store")

// Defaults of FeedOptions.
const (
	DefaultFeedPoll       = 5 * time.Second
	DefaultFeedMinBackoff = 100 * time.Millisecond
	DefaultFeedMaxBackoff = 10 * time.Second
)

// feedQueryTimeout bounds each statement of the feed, and its connection.
const feedQueryTimeout = 10 * time.Second

// FeedOptions tune a Feed. The zero value gives the defaults.
type FeedOptions struct {
	// Poll is how often the feed checks, with one cheap statement
	// (count(*) and sum(ts) of the latest rows), that it missed no
	// notification; default 5 s.
	Poll time.Duration
	// MinBackoff and MaxBackoff bound the wait before connecting again
	// after the connection failed (defaults 100 ms and 10 s; doubled from
	// the first to the second, with jitter).
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
}

// FeedStats counts what a Feed did since NewFeed.
type FeedStats struct {
	// Connects counts the connections established (the first included);
	// each one is followed by a full resync.
	Connects uint64
	// Notifications counts the notifications of this store's schema.
	Notifications uint64
	// Queries counts the statements the feed ran, LISTEN and the polls
	// included.
	Queries uint64
	// Polls counts the fallback polls; PollMisses those that found a
	// latest row the notifications had not brought.
	Polls, PollMisses uint64
	// Delivered counts the results handed to the callback.
	Delivered uint64
}

// Feed keeps a replica up to date with the latest results that every
// replica writes to a shared PostgreSQL store ("any replica serves the
// truth"). On a connection of its own it LISTENs on FeedChannel, and on
// each notification (sent by Write at commit; see FeedChannel) it reads
// the latest rows of the checks named and hands those that advanced to
// its callback. On every (re)connection it reads all latest rows (a full
// resync), so that nothing written while it was away is missed; every
// Poll it checks with one cheap statement that no notification was lost.
// When PostgreSQL goes away it connects again with backoff, logging it.
//
// The callback gets each result once, when it is newer than the one it
// last got of its check (its own replica's writes come back too: the
// hub drops those, see hub.PublishRemote). It runs on the feed's
// goroutine, one call at a time, and must not block for long.
type Feed struct {
	cfg     *pgx.ConnConfig
	deliver func([]check.Result)
	opts    FeedOptions
	logger  *slog.Logger

	cancel    context.CancelFunc
	runCtx    context.Context // run's: ends at Close
	done      chan struct{}
	closeOnce sync.Once

	connected atomic.Bool
	pid       atomic.Uint32 // backend pid of the current connection
	again     atomic.Bool   // Resync asked
	wakeMu    sync.Mutex
	wake      context.CancelFunc // ends the current wait for a notification
	stats     struct {
		connects, notifications, queries, polls, pollMisses, delivered atomic.Uint64
	}
	// unread counts the payloads on FeedChannel it could not read: any
	// session on the database may NOTIFY there, so only the 1st, 2nd,
	// 4th, 8th... is logged.
	unread atomic.Uint64

	// Owned by the feed's goroutine: the ts (ms) of the latest row of
	// every check id delivered, their count and sum (what the poll
	// compares with the table's); and the name of every check id seen
	// (ids never change and checks are never deleted, so it only grows):
	// a notification's load reads latest alone, by its primary key, and
	// asks checks only for the ids it does not know.
	known map[int64]int64
	sum   int64
	names map[int64]string
	// links are the per-link results of the link checks (latest_links,
	// see links.go) by check id, as of their row's ts: read when that
	// advances, attached to every result of the check delivered.
	links map[int64]feedLinks
}

// feedLinks are a check's per-link results as read from latest_links.
type feedLinks struct {
	ts    int64
	links []check.LinkResult
	total int
}

// NewFeed starts the results feed of st, a PostgreSQL store (Open's, or a
// Lazy one that is open), handing the results that advanced to deliver.
// Close stops it.
func NewFeed(st Store, deliver func([]check.Result), opts FeedOptions) (*Feed, error) {
	if l, ok := st.(*Lazy); ok {
		l.mu.Lock()
		st = l.st
		l.mu.Unlock()
		if st == nil {
			return nil, fmt.Errorf("results feed: %w", ErrUnavailable)
		}
	}
	s, ok := st.(*sqlStore)
	if !ok || s.feedConfig == nil {
		return nil, ErrFeedUnsupported
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultFeedPoll
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultFeedMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultFeedMaxBackoff, opts.MinBackoff)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Feed{cfg: s.feedConfig.Copy(), deliver: deliver, opts: opts, logger: opts.Logger,
		cancel: cancel, done: make(chan struct{}), known: map[int64]int64{},
		names: map[int64]string{}, links: map[int64]feedLinks{}, runCtx: ctx}
	go f.run(ctx)
	return f, nil
}

// Close stops the feed and closes its connection; it waits for the
// callback to return.
func (f *Feed) Close() error {
	f.closeOnce.Do(func() {
		f.cancel()
		<-f.done
	})
	return nil
}

// Resync makes the feed hand every latest row to its callback again, the
// ones it delivered before included, soon (it does not wait): after a
// reload added checks whose results the callback dropped while they were
// not configured.
func (f *Feed) Resync() {
	f.again.Store(true)
	f.wakeMu.Lock()
	if f.wake != nil {
		f.wake()
	}
	f.wakeMu.Unlock()
}

// Connected reports whether the feed is listening and resynced: while it
// is false, results of other replicas may be missing.
func (f *Feed) Connected() bool { return f.connected.Load() }

// Stats returns what the feed did so far.
func (f *Feed) Stats() FeedStats {
	s := &f.stats
	return FeedStats{Connects: s.connects.Load(), Notifications: s.notifications.Load(),
		Queries: s.queries.Load(), Polls: s.polls.Load(), PollMisses: s.pollMisses.Load(),
		Delivered: s.delivered.Load()}
}

// backendPID is the PostgreSQL process id of the feed's connection, 0
// while it has none (for tests that cut it).
func (f *Feed) backendPID() uint32 { return f.pid.Load() }

func (f *Feed) run(ctx context.Context) {
	defer close(f.done)
	wait := f.opts.MinBackoff
	for {
		resynced, err := f.session(ctx)
		f.connected.Store(false)
		f.pid.Store(0)
		if ctx.Err() != nil {
			return
		}
		if resynced {
			wait = f.opts.MinBackoff
		}
		f.logger.Warn("results feed: not connected to PostgreSQL; results of other replicas are not followed until it is",
			"err", err, "retry_in", wait.Round(time.Millisecond))
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, f.opts.MaxBackoff)
	}
}

// session connects, listens, resyncs and follows notifications until the
// connection fails (err) or ctx ends (nil). resynced tells whether it got
// as far as following.
func (f *Feed) session(ctx context.Context) (resynced bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, feedQueryTimeout)
	conn, err := pgx.ConnectConfig(cctx, f.cfg)
	cancel()
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = conn.Close(cctx)
		cancel()
	}()
	f.pid.Store(conn.PgConn().PID())
	// LISTEN before the resync: a write that commits in between is both
	// read and notified, never neither.
	var schema string
	err = f.query(ctx, func(ctx context.Context) error {
		if _, err := conn.Exec(ctx, "LISTEN "+FeedChannel); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		return nil
	}, func(ctx context.Context) error {
		if err := conn.QueryRow(ctx, "SELECT coalesce(current_schema(), '')").Scan(&schema); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
		return nil
	}, func(ctx context.Context) error { return f.resync(ctx, conn, f.again.Swap(false)) })
	if err != nil {
		return false, err
	}
	f.stats.connects.Add(1)
	f.connected.Store(true)
	f.logger.Info("results feed: following the results of every replica", "schema", schema)

	next := time.Now().Add(f.opts.Poll)
	for {
		if f.again.Swap(false) {
			if err := f.query(ctx, func(ctx context.Context) error { return f.resync(ctx, conn, true) }); err != nil {
				return true, err
			}
		}
		wctx, cancel := context.WithDeadline(ctx, next)
		f.wakeMu.Lock()
		f.wake = cancel
		f.wakeMu.Unlock()
		if f.again.Load() {
			cancel()
		}
		n, err := conn.WaitForNotification(wctx)
		f.wakeMu.Lock()
		f.wake = nil
		f.wakeMu.Unlock()
		cancel()
		switch {
		case ctx.Err() != nil:
			return true, nil
		case err != nil && conn.IsClosed():
			return true, fmt.Errorf("wait for notification: %w", err)
		case err != nil && pgconn.Timeout(err):
			if err := f.query(ctx, func(ctx context.Context) error { return f.poll(ctx, conn) }); err != nil {
				return true, err
			}
			next = time.Now().Add(f.opts.Poll)
			continue
		case errors.Is(err, context.Canceled): // Resync woke it
			continue
		case err != nil:
			return true, fmt.Errorf("wait for notification: %w", err)
		}
		// Take the notifications already received with it, to read their
		// rows in one statement (a done context returns only those).
		ids := f.ids(nil, n, schema)
		done, cancel := context.WithCancel(ctx)
		cancel()
		for {
			n, err := conn.WaitForNotification(done)
			if err != nil || n == nil {
				break
			}
			ids = f.ids(ids, n, schema)
		}
		if len(ids) == 0 {
			continue
		}
		if err := f.query(ctx, func(ctx context.Context) error { return f.load(ctx, conn, ids) }); err != nil {
			return true, err
		}
	}
}

// query runs steps in order, each with its own timeout, counting them.
func (f *Feed) query(ctx context.Context, steps ...func(context.Context) error) error {
	for _, step := range steps {
		qctx, cancel := context.WithTimeout(ctx, feedQueryTimeout)
		err := step(qctx)
		cancel()
		f.stats.queries.Add(1)
		if err != nil {
			return err
		}
	}
	return nil
}

// ids appends the ids of n when it is of schema; a payload it cannot read
// means a newer writer: the next poll finds its rows.
func (f *Feed) ids(ids []int64, n *pgconn.Notification, schema string) []int64 {
	if n.Channel != FeedChannel {
		return ids
	}
	sch, got, ok := parseFeedPayload(n.Payload)
	if !ok {
		if c := f.unread.Add(1); c&(c-1) == 0 { // a power of two: bounded logs under a flood
			f.logger.Warn("results feed: notification payload not understood; the next poll catches up",
				"payload_bytes", len(n.Payload), "not_understood_so_far", c)
		}
		return ids
	}
	if sch != schema {
		return ids
	}
	f.stats.notifications.Add(1)
	return append(ids, got...)
}

// latestJoined reads every latest row with the ts of its per-link results
// (NULL: none) and its check's name: for the full resync only (rare; it
// scans checks), which also learns the names.
const latestJoined = `SELECT l.check_id, l.ts, l.result, k.ts, c.name FROM latest l JOIN checks c ON c.id = l.check_id
LEFT JOIN latest_links k ON k.check_id = l.check_id`

// latestByID reads the latest rows of the ids $1 with the ts of their
// per-link results, without their names, by the primary keys.
const latestByID = `SELECT l.check_id, l.ts, l.result, k.ts FROM latest l LEFT JOIN latest_links k ON k.check_id = l.check_id
WHERE l.check_id = ANY($1)`

// linksByID reads the per-link results of the ids $1, each only when at
// most $2 (MaxSharedLinksBytes) bytes long, and their length.
const linksByID = `SELECT check_id, ts, CASE WHEN octet_length(links) <= $2 THEN links END, octet_length(links)
FROM latest_links WHERE check_id = ANY($1)`

// namesByID reads the names of the check ids $1, by checks' primary key.
const namesByID = "SELECT id, name FROM checks WHERE id = ANY($1)"

// resync reads every latest row: those that advanced (all of them the
// first time, or with all) are delivered, and known is rebuilt from the
// table. On an error nothing changes: the next resync delivers them.
func (f *Feed) resync(ctx context.Context, conn *pgx.Conn, all bool) error {
	rows, err := conn.Query(ctx, latestJoined)
	if err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	prev := f.known
	if all {
		prev = nil
	}
	out, stamps, err := f.collect(rows, prev, true)
	if err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	if err := f.attachLinks(conn, out, stamps, true); err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	f.known, f.sum = make(map[int64]int64, len(stamps)), 0
	for _, st := range stamps {
		f.known[st.id] = st.ts
		f.sum += st.ts
	}
	f.hand(out)
	return nil
}

// load reads the latest rows of ids and delivers those that advanced. It
// first reads the names of the ids it does not know, if any.
func (f *Feed) load(ctx context.Context, conn *pgx.Conn, ids []int64) error {
	if err := f.learnNames(ctx, conn, ids); err != nil {
		return fmt.Errorf("load latest results: %w", err)
	}
	rows, err := conn.Query(ctx, latestByID, ids)
	if err != nil {
		return fmt.Errorf("load latest results: %w", err)
	}
	out, stamps, err := f.collect(rows, f.known, false)
	if err != nil {
		return fmt.Errorf("load latest results: %w", err)
	}
	if err := f.attachLinks(conn, out, stamps, false); err != nil {
		return fmt.Errorf("load latest results: %w", err)
	}
	for _, st := range stamps {
		if cur, ok := f.known[st.id]; !ok || st.ts > cur {
			f.sum += st.ts - cur
			f.known[st.id] = st.ts
		}
	}
	f.hand(out)
	return nil
}

// learnNames reads from checks the names of those of ids not in names.
// A check's row commits with (or before) its first latest row, so a
// notified or polled id has one.
func (f *Feed) learnNames(ctx context.Context, conn *pgx.Conn, ids []int64) error {
	var unknown []int64
	seen := map[int64]bool{}
	for _, id := range ids {
		if _, ok := f.names[id]; !ok && !seen[id] {
			seen[id] = true
			unknown = append(unknown, id)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	rows, err := conn.Query(ctx, namesByID, unknown)
	if err != nil {
		return fmt.Errorf("check names: %w", err)
	}
	var id int64
	var name string
	_, err = pgx.ForEachRow(rows, []any{&id, &name}, func() error {
		f.names[id] = name
		return nil
	})
	if err != nil {
		return fmt.Errorf("check names: %w", err)
	}
	return nil
}

// stamp is the ts (ms) of one check's latest row, and of its per-link
// results (-1: none).
type stamp struct{ id, ts, linksTs int64 }

// delivery is a result to deliver, with its check's stamp.
type delivery struct {
	r check.Result
	stamp
}

// collect reads latest rows, latestJoined's (joined: their names are
// learnt) or latestByID's (named from names): the stamps of all of them,
// and the results of those newer than in prev. A row whose name is
// unknown (which a check's row committing first rules out) is skipped
// unstamped, so the next poll loads it again.
func (f *Feed) collect(rows pgx.Rows, prev map[int64]int64, joined bool) ([]delivery, []stamp, error) {
	defer rows.Close()
	var out []delivery
	var stamps []stamp
	var id, ts int64
	var linksTs *int64
	var name string
	var js []byte
	dest := []any{&id, &ts, &js, &linksTs}
	if joined {
		dest = append(dest, &name)
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, err
		}
		if joined {
			f.names[id] = name
		} else if n, ok := f.names[id]; ok {
			name = n
		} else {
			f.logger.Warn("results feed: latest row of a check id with no name; the next poll reads it again", "check_id", id)
			continue
		}
		st := stamp{id, ts, -1}
		if linksTs != nil {
			st.linksTs = *linksTs
		}
		stamps = append(stamps, st)
		if was, ok := prev[id]; ok && ts <= was {
			continue
		}
		r, err := decodeLatest(name, js)
		if err != nil {
			f.logger.Warn("results feed: cannot decode stored latest result", "check", name, "err", err)
			continue
		}
		out = append(out, delivery{r, st})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return out, stamps, nil
}

// attachLinks reads the per-link results that advanced of the checks of
// stamps (all of them when whole: a resync, which also forgets those of
// checks that have none any more), and sets every result of out's from
// what it holds. A row that cannot be used gives its check no links,
// logged, until it is written again.
func (f *Feed) attachLinks(conn *pgx.Conn, out []delivery, stamps []stamp, whole bool) error {
	var need []int64
	for _, st := range stamps {
		cur, ok := f.links[st.id]
		switch {
		case st.linksTs < 0:
			delete(f.links, st.id)
		case !ok || cur.ts != st.linksTs:
			need = append(need, st.id)
		}
	}
	if whole && len(f.links) > len(stamps) {
		present := make(map[int64]bool, len(stamps))
		for _, st := range stamps {
			present[st.id] = true
		}
		for id := range f.links {
			if !present[id] {
				delete(f.links, id)
			}
		}
	}
	// In chunks of linksReadChunk checks (at most 16 MiB), each with its
	// own timeout: a resync may read every link check's.
	for len(need) > 0 {
		chunk := need[:min(len(need), linksReadChunk)]
		need = need[len(chunk):]
		if err := f.query(f.runCtx, func(ctx context.Context) error { return f.readLinks(ctx, conn, chunk) }); err != nil {
			return err
		}
	}
	for i := range out {
		if l, ok := f.links[out[i].id]; ok {
			withLinks(&out[i].r, l.links, l.total)
		}
	}
	return nil
}

// linksReadChunk is how many checks' per-link results one statement reads.
const linksReadChunk = 16

// readLinks reads the per-link results of ids into f.links.
func (f *Feed) readLinks(ctx context.Context, conn *pgx.Conn, ids []int64) error {
	rows, err := conn.Query(ctx, linksByID, ids, MaxSharedLinksBytes)
	if err != nil {
		return fmt.Errorf("per-link results: %w", err)
	}
	var id, ts, n int64
	var js []byte
	_, err = pgx.ForEachRow(rows, []any{&id, &ts, &js, &n}, func() error {
		links, total := readSharedLinks(f.logger, f.names[id], js, n)
		f.links[id] = feedLinks{ts: ts, links: links, total: total}
		return nil
	})
	if err != nil {
		return fmt.Errorf("per-link results: %w", err)
	}
	return nil
}

func (f *Feed) hand(out []delivery) {
	if len(out) == 0 {
		return
	}
	rs := make([]check.Result, len(out))
	for i := range out {
		rs[i] = out[i].r
	}
	f.stats.delivered.Add(uint64(len(out)))
	f.deliver(rs)
}

// poll compares the count and sum of the latest rows' ts with what the
// feed delivered (ts only grows, so a row that advanced changes the sum).
// When they differ it reads every (check_id, ts) and loads the rows that
// advanced: a notification was lost, or is on its way (then it finds them
// delivered).
func (f *Feed) poll(ctx context.Context, conn *pgx.Conn) error {
	f.stats.polls.Add(1)
	var n, sum int64
	if err := conn.QueryRow(ctx, "SELECT count(*), coalesce(sum(ts), 0)::bigint FROM latest").Scan(&n, &sum); err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	if n == int64(len(f.known)) && sum == f.sum {
		return nil
	}
	rows, err := conn.Query(ctx, "SELECT check_id, ts FROM latest")
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	var ids []int64
	present := make(map[int64]bool, n)
	var id, ts int64
	_, err = pgx.ForEachRow(rows, []any{&id, &ts}, func() error {
		present[id] = true
		if cur, ok := f.known[id]; !ok || ts > cur {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	for id, ts := range f.known {
		if !present[id] { // deleted: forget it
			delete(f.known, id)
			delete(f.links, id)
			f.sum -= ts
		}
	}
	if len(ids) == 0 {
		return nil
	}
	f.stats.pollMisses.Add(1)
	f.logger.Info("results feed: the poll found results no notification brought", "checks", len(ids))
	return f.load(ctx, conn, ids)
}
