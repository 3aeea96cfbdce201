package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// collector is a feed's callback that keeps what it got and signals each
// delivery.
type collector struct {
	mu     sync.Mutex
	got    map[string][]check.Result // by check, in delivery order
	calls  int
	signal chan struct{}
}

func newCollector() *collector {
	return &collector{got: map[string][]check.Result{}, signal: make(chan struct{}, 1)}
}

func (c *collector) deliver(rs []check.Result) {
	c.mu.Lock()
	for _, r := range rs {
		c.got[r.Check] = append(c.got[r.Check], r)
	}
	c.calls++
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// last returns the last result delivered of name.
func (c *collector) last(name string) (check.Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rs := c.got[name]
	if len(rs) == 0 {
		return check.Result{}, false
	}
	return rs[len(rs)-1], true
}

// waitFor waits up to within for ok to hold, checking it at each
// delivery.
func (c *collector) waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for !ok() {
		select {
		case <-c.signal:
		case <-deadline.C:
			if !ok() {
				t.Fatalf("%s: not within %s", what, within)
			}
		}
	}
}

// at returns a waiter for name's result of when.
func (c *collector) has(name string, when time.Time) func() bool {
	return func() bool {
		r, ok := c.last(name)
		return ok && r.CheckedAt.Equal(when)
	}
}

func openFeed(t *testing.T, st Store, c *collector, opts FeedOptions) *Feed {
	t.Helper()
	f, err := NewFeed(st, c.deliver, opts)
	if err != nil {
		t.Fatalf("NewFeed: %v", err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// noPoll keeps the fallback poll out of tests of the notifications.
var noPoll = FeedOptions{Poll: time.Hour}

// Two replicas share one schema: what A writes reaches B's feed within a
// second, through a notification; the rows already there come with the
// first connection; an older result, or one already delivered, is not
// delivered again.
func TestFeedDeliversOtherReplicasWrites(t *testing.T) {
	dsn := postgresDSN(t)
	a, b := openT(t, dsn, Options{}), openT(t, dsn, Options{})
	write(t, a, mk("db", at(0), check.Pass))

	c := newCollector()
	f := openFeed(t, b, c, noPoll)
	c.waitFor(t, 5*time.Second, "the row written before the feed started", c.has("db", at(0)))

	want := mk("api", at(time.Minute), check.Fail).val(0.25)
	write(t, a, want, mk("db", at(time.Minute), check.Pass))
	c.waitFor(t, time.Second, "A's write at B's feed", func() bool {
		return c.has("api", at(time.Minute))() && c.has("db", at(time.Minute))()
	})
	got, _ := c.last("api")
	if got.Status != check.Fail || got.Message != want.Message || got.Severity != check.Critical ||
		got.ObservedValue == nil || *got.ObservedValue != 0.25 || got.Kind != "db" {
		t.Errorf("api arrived as %+v, want the result written", got)
	}

	// Older than the latest: stored, latest unchanged, nothing to deliver;
	// the next write is delivered alone.
	write(t, a, mk("db", at(30*time.Second), check.Fail))
	write(t, a, mk("api", at(2*time.Minute), check.Pass))
	c.waitFor(t, time.Second, "the next write", c.has("api", at(2*time.Minute)))
	c.mu.Lock()
	dbs := len(c.got["db"])
	c.mu.Unlock()
	if dbs != 2 {
		t.Errorf("db delivered %d times, want 2 (the old result is not latest)", dbs)
	}
	if st := f.Stats(); st.Connects != 1 || st.Notifications < 2 || st.Polls != 0 {
		t.Errorf("stats %+v: want 1 connect, the notifications, no poll", st)
	}
}

// One Write of 2,000 checks: their ids take more than one notification
// payload; every result arrives.
func TestFeedLargeBatchArrivesWhole(t *testing.T) {
	dsn := postgresDSN(t)
	a, b := openT(t, dsn, Options{}), openT(t, dsn, Options{})
	c := newCollector()
	f := openFeed(t, b, c, noPoll)
	waitUntil(t, 5*time.Second, "connected", f.Connected)

	const n = 2000
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = mk(fmt.Sprintf("check_%04d", i), at(time.Minute), check.Pass)
	}
	write(t, a, recs...)
	all := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.got) == n
	}
	c.waitFor(t, 5*time.Second, "2,000 results", all)
	for i := range n {
		if r, ok := c.last(fmt.Sprintf("check_%04d", i)); !ok || !r.CheckedAt.Equal(at(time.Minute)) {
			t.Fatalf("check_%04d: got %v %v", i, ok, r.CheckedAt)
		}
	}
	if st := f.Stats(); st.Notifications < 2 || st.Delivered != n {
		t.Errorf("stats %+v: want the ids over several notifications, %d delivered", st, n)
	}
}

// The feed's connection is cut (as by a PostgreSQL restart): it connects
// again and resyncs, so a result written while it was away arrives; after
// Close no goroutine of the feed is left.
func TestFeedReconnectsAndResyncs(t *testing.T) {
	dsn := postgresDSN(t)
	a, b := openT(t, dsn, Options{}), openT(t, dsn, Options{})
	write(t, a, mk("db", at(0), check.Pass))
	before := runtime.NumGoroutine()

	c := newCollector()
	f, err := NewFeed(b, c.deliver, FeedOptions{Poll: time.Hour, MinBackoff: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c.waitFor(t, 5*time.Second, "first resync", c.has("db", at(0)))

	for round := 1; round <= 2; round++ {
		pid := f.backendPID()
		var ok bool
		if err := a.wdb.QueryRow("SELECT pg_terminate_backend($1)", int64(pid)).Scan(&ok); err != nil || !ok {
			t.Fatalf("terminate the feed's backend %d: %v %v", pid, ok, err)
		}
		waitUntil(t, 5*time.Second, "the feed sees the cut", func() bool { return !f.Connected() })
		when := at(time.Duration(round) * time.Minute)
		write(t, a, mk("db", when, check.Fail)) // while it is away
		c.waitFor(t, 5*time.Second, "the result written during the cut", c.has("db", when))
		waitUntil(t, 5*time.Second, "connected again", f.Connected)
		if st := f.Stats(); st.Connects != uint64(round+1) {
			t.Fatalf("after cut %d: %d connects, want %d", round, st.Connects, round+1)
		}
	}
	// Following again: a notification arrives.
	write(t, a, mk("db", at(time.Hour), check.Pass))
	c.waitFor(t, time.Second, "a write after the reconnection", c.has("db", at(time.Hour)))

	pid := int64(f.backendPID())
	_ = f.Close()
	waitUntil(t, 5*time.Second, fmt.Sprintf("goroutines back to %d after Close", before), func() bool {
		return runtime.NumGoroutine() <= before
	})
	waitUntil(t, 5*time.Second, "the feed's connection gone after Close", func() bool {
		return count(t, a.wdb, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid) == 0
	})
}

// waitUntil polls ok every 10 ms for up to within.
func waitUntil(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(within); !ok(); {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A latest row that advanced without a notification (one lost) is found
// by the fallback poll.
func TestFeedPollFindsLostNotification(t *testing.T) {
	dsn := postgresDSN(t)
	a, b := openT(t, dsn, Options{}), openT(t, dsn, Options{})
	write(t, a, mk("db", at(0), check.Pass), mk("api", at(0), check.Pass))
	c := newCollector()
	f := openFeed(t, b, c, FeedOptions{Poll: 100 * time.Millisecond})
	c.waitFor(t, 5*time.Second, "first resync", c.has("api", at(0)))

	// As Write would, without its notification.
	r := mk("api", at(time.Minute), check.Fail)
	js, err := encodeResult(&row{rec: &r})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.wdb.Exec(`UPDATE latest SET ts = $1, result = $2
		WHERE check_id = (SELECT id FROM checks WHERE name = 'api')`, at(time.Minute).UnixMilli(), string(js)); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, 5*time.Second, "the result the poll finds", c.has("api", at(time.Minute)))
	if st := f.Stats(); st.PollMisses == 0 || st.Notifications != 0 {
		t.Errorf("stats %+v: want a poll miss and no notification", st)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.got["db"]) != 1 {
		t.Errorf("db delivered %d times, want once (the poll reads only what advanced)", len(c.got["db"]))
	}
}

// Stores in other schemas of the database share the channel; their
// notifications are not this store's. PostgreSQL delivers notifications in
// commit order, so once this schema's is in, the other one was seen.
func TestFeedIgnoresOtherSchemas(t *testing.T) {
	a := openT(t, postgresDSN(t), Options{})
	other := openT(t, postgresDSN(t), Options{})
	c := newCollector()
	f := openFeed(t, a, c, noPoll)
	waitUntil(t, 5*time.Second, "connected", f.Connected)
	write(t, other, mk("elsewhere", at(0), check.Pass))
	write(t, a, mk("here", at(0), check.Pass))
	c.waitFor(t, time.Second, "this schema's write", c.has("here", at(0)))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.got) != 1 {
		t.Errorf("delivered %v, want only this schema's check", slices.Collect(maps.Keys(c.got)))
	}
	if st := f.Stats(); st.Notifications != 1 {
		t.Errorf("%d notifications counted, want 1 (the other schema's is not)", st.Notifications)
	}
}

func TestFeedNeedsPostgres(t *testing.T) {
	st := openT(t, sqliteDSN(t), Options{})
	if _, err := NewFeed(st, func([]check.Result) {}, FeedOptions{}); !errors.Is(err, ErrFeedUnsupported) {
		t.Fatalf("NewFeed on SQLite: %v, want ErrFeedUnsupported", err)
	}
	l := NewLazy(sqliteDSN(t), Options{}, nil)
	if _, err := NewFeed(l, func([]check.Result) {}, FeedOptions{}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("NewFeed on a Lazy store not open: %v, want ErrUnavailable", err)
	}
}

// Payloads stay under PostgreSQL's 8000 bytes with the longest schema
// name, and read back as written.
func TestFeedPayloads(t *testing.T) {
	var ids []int64
	for i := range int64(5000) {
		ids = append(ids, 1_000_000_000+i*7919)
	}
	schema := strings.Repeat("s", 63)
	var back []int64
	ps := feedPayloads(ids)
	if len(ps) < 6 {
		t.Fatalf("%d payloads for 5,000 ids of 10 digits, want ≥ 6", len(ps))
	}
	for _, p := range ps {
		full := schema + "\n" + p
		if len(full) >= 8000 {
			t.Fatalf("payload of %d bytes", len(full))
		}
		sch, got, ok := parseFeedPayload(full)
		if !ok || sch != schema {
			t.Fatalf("payload read as %q %v", sch, ok)
		}
		back = append(back, got...)
	}
	if !slices.Equal(back, ids) {
		t.Fatal("the ids read back differ")
	}
	if feedPayloads(nil) != nil {
		t.Fatal("no ids: want no payload")
	}
	for _, bad := range []string{"", "s", "s\n", "s\n1,x", "s\n1,,2"} {
		if _, _, ok := parseFeedPayload(bad); ok {
			t.Errorf("payload %q read as valid", bad)
		}
	}
}

// Resync hands every latest row again, at once: what a reload that added
// checks needs.
func TestFeedResync(t *testing.T) {
	dsn := postgresDSN(t)
	a, b := openT(t, dsn, Options{}), openT(t, dsn, Options{})
	write(t, a, mk("db", at(0), check.Pass), mk("api", at(0), check.Pass))
	c := newCollector()
	f := openFeed(t, b, c, noPoll)
	c.waitFor(t, 5*time.Second, "first resync", func() bool { return c.has("db", at(0))() && c.has("api", at(0))() })
	waitUntil(t, 5*time.Second, "connected", f.Connected)
	f.Resync()
	twice := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.got["db"]) == 2 && len(c.got["api"]) == 2
	}
	c.waitFor(t, time.Second, "every row again", twice)
	write(t, a, mk("db", at(time.Minute), check.Pass)) // still following
	c.waitFor(t, time.Second, "a write after Resync", c.has("db", at(time.Minute)))
	if st := f.Stats(); st.Connects != 1 {
		t.Errorf("%d connects, want 1 (Resync keeps the connection)", st.Connects)
	}
}

// The latest result keeps its reason and certificate expiry, for a
// restart and for the replicas that get it through the feed: alerting
// judges a "parent failing" UNKNOWN by its reason.
func TestLatestKeepsReasonAndCert(t *testing.T) {
	cert := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	dep := mk("api", at(0), check.Unknown)
	dep.Reason, dep.Message = check.ReasonParentFailing, "parent db failing"
	tls := mk("site", at(0), check.Pass)
	tls.Kind, tls.CertNotAfter = "http", cert
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			dsn := e.dsn(t)
			a := openT(t, dsn, Options{})
			var c *collector
			if e.name == "postgres" {
				c = newCollector()
				f := openFeed(t, openT(t, dsn, Options{}), c, noPoll)
				waitUntil(t, 5*time.Second, "connected", f.Connected)
			}
			write(t, a, dep, tls)
			got, err := a.Latest(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].Reason != check.ReasonParentFailing || !got[1].CertNotAfter.Equal(cert) ||
				got[1].Reason != "" || !got[0].CertNotAfter.IsZero() {
				t.Fatalf("Latest: %+v", got)
			}
			if c == nil {
				return
			}
			c.waitFor(t, time.Second, "the feed", func() bool { return c.has("api", at(0))() && c.has("site", at(0))() })
			api, _ := c.last("api")
			site, _ := c.last("site")
			if api.Reason != check.ReasonParentFailing || !site.CertNotAfter.Equal(cert) {
				t.Fatalf("feed: api reason %q, site cert %v", api.Reason, site.CertNotAfter)
			}
		})
	}
}

// A notified load reads latest alone, by its primary key: the names of
// the checks it knows come from the feed's memory, not from a join that
// scans checks each time (at 10,000 checks and 3 replicas, 15 scans/s).
// While checks is locked, notified results still arrive; over a burst of
// them, the feed scans checks at most once, for its first resync.
func TestFeedLoadReadsNoChecks(t *testing.T) {
	ctx := context.Background()
	st := openT(t, postgresDSN(t), Options{})
	db := st.wdb
	// Seeded and written by hand, so that only the feed reads checks.
	names := []string{"db", "api", "web"}
	ids := make([]int64, len(names))
	put := func(i int, when time.Time) {
		t.Helper()
		r := mk(names[i], when, check.Pass)
		js, err := encodeResult(&row{rec: &r})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO latest (check_id, ts, result) VALUES ($1, $2, $3)
			ON CONFLICT (check_id) DO UPDATE SET ts = excluded.ts, result = excluded.result`,
			ids[i], when.UnixMilli(), string(js)); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(notifyQuery, feedPayloads(ids[i:i+1])); err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range names {
		if err := db.QueryRow("INSERT INTO checks (name) VALUES ($1) RETURNING id", name).Scan(&ids[i]); err != nil {
			t.Fatal(err)
		}
		put(i, at(0))
	}
	seqScans := func() int64 {
		return count(t, db, "SELECT seq_scan FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = 'checks'")
	}
	before := seqScans()

	c := newCollector()
	f := openFeed(t, st, c, noPoll)
	c.waitFor(t, 5*time.Second, "first resync", func() bool { return c.has("web", at(0))() })
	waitUntil(t, 5*time.Second, "connected", f.Connected)
	const burst = 20
	for n := 1; n <= burst; n++ {
		when := at(time.Duration(n) * time.Second)
		put(n%len(names), when)
		c.waitFor(t, time.Second, fmt.Sprintf("notified write %d", n), c.has(names[n%len(names)], when))
	}

	// checks locked: a load that read it would wait for the lock.
	lock, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "BEGIN; LOCK TABLE checks IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	put(0, at(time.Hour))
	deadline := time.Now().Add(2 * time.Second)
	for !c.has("db", at(time.Hour))() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !c.has("db", at(time.Hour))() {
		t.Errorf("a notified write did not arrive while checks was locked: the load reads checks")
	}
	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, 5*time.Second, "the write after the lock", c.has("db", at(time.Hour)))

	// A backend flushes its statistics when it exits: close the feed, wait
	// for its backend to go, then for the counter to settle.
	pid := int64(f.backendPID())
	_ = f.Close()
	waitUntil(t, 5*time.Second, "the feed's backend gone", func() bool {
		return count(t, db, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid) == 0
	})
	time.Sleep(200 * time.Millisecond)
	after := seqScans()
	t.Logf("seq_scan of checks: %d before the feed, %d after its resync and %d notified loads", before, after, burst+1)
	if after-before > 1 {
		t.Errorf("the feed scanned checks %d times over its resync and %d notified loads, want at most once (the resync's join)",
			after-before, burst+1)
	}
}

// lineCounter counts the lines written to it.
type lineCounter struct {
	mu sync.Mutex
	n  int
}

func (l *lineCounter) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.n += bytes.Count(p, []byte("\n"))
	l.mu.Unlock()
	return len(p), nil
}

// TestFeedUnreadPayloadsLogBounded: any session on the database may
// NOTIFY on the feed's channel; 200 payloads it cannot read log a handful
// of lines (1st, 2nd, 4th...), not one each, and the feed goes on.
func TestFeedUnreadPayloadsLogBounded(t *testing.T) {
	a := openT(t, postgresDSN(t), Options{})
	c := newCollector()
	var lines lineCounter
	opts := noPoll
	opts.Logger = slog.New(slog.NewTextHandler(&lines, nil))
	f := openFeed(t, a, c, opts)
	waitUntil(t, 5*time.Second, "connected", f.Connected)
	db, err := sql.Open("pgx", postgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 200 {
		if _, err := db.Exec("SELECT pg_notify($1, $2)", FeedChannel, fmt.Sprintf("junk %d,x", i)); err != nil {
			t.Fatal(err)
		}
	}
	write(t, a, mk("here", at(0), check.Pass))
	c.waitFor(t, 5*time.Second, "the write after the junk", c.has("here", at(0)))
	lines.mu.Lock()
	defer lines.mu.Unlock()
	if lines.n > 9 {
		t.Errorf("%d log lines for 200 unreadable payloads, want at most 9 (1st, 2nd, 4th ... 128th, and slack)", lines.n)
	}
}
