package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/testenv"
)

// kindLink is a kind with per-item results, as package probes registers
// "link" (which the store's tests do not import).
const kindLink check.Kind = "link"

func init() { check.RegisterKind(kindLink, check.Behaviour{Items: true}) }

// linkRec is a link check's result with links, marked for sharing as the
// Writer marks it.
func linkRec(name string, when time.Time, links ...check.LinkResult) Record {
	st := check.Pass
	for i := range links {
		links[i].Check, links[i].CheckedAt = name, when
		if links[i].Status != check.Pass {
			st = check.Fail
		}
	}
	r := mk(name, when, st)
	r.Kind, r.Links, r.ShareLinks = kindLink, links, true
	return r
}

func okLink(url string) check.LinkResult {
	return check.LinkResult{URL: url, Status: check.Pass, StatusCode: 200, Method: "HEAD", FinalURL: url, DurationMs: 3}
}

func badLink(url string, code int) check.LinkResult {
	return check.LinkResult{URL: url, Status: check.Fail, StatusCode: code, Method: "GET", FinalURL: url,
		DurationMs: 9, Error: check.LinkErrHTTPStatus, ErrorMessage: fmt.Sprintf("HTTP %d", code)}
}

// linksRow reads a check's latest_links row: its ts and JSON (ts -1 when
// it has none).
func linksRow(t *testing.T, st *sqlStore, name string) (int64, string) {
	t.Helper()
	var ts int64
	var js string
	err := st.rdb.QueryRow(`SELECT k.ts, k.links FROM latest_links k JOIN checks c ON c.id = k.check_id WHERE c.name = $1`, name).Scan(&ts, &js)
	if err != nil {
		return -1, ""
	}
	return ts, js
}

// A link check run by replica A: its per-link results reach replica B's
// results feed and B's Latest with the result; the next runs with the same
// statuses write no row (B still has the links with each result); a
// changed status is written at once; a db check gets no links.
func TestLinksReachOtherReplicas(t *testing.T) {
	dsn := postgresDSN(t)
	share := Options{ShareLinks: true}
	a, b := openT(t, dsn, share), openT(t, dsn, share)
	c := newCollector()
	f := openFeed(t, b, c, noPoll)
	waitUntil(t, 5*time.Second, "connected", f.Connected)

	write(t, a, linkRec("links", at(0), okLink("https://example.com/a?token=s3cret"), badLink("https://example.com/b", 503)),
		mk("db", at(0), check.Pass))
	c.waitFor(t, 2*time.Second, "A's link result at B", c.has("links", at(0)))
	got, _ := c.last("links")
	if len(got.Links) != 2 || got.Links[0].URL != "https://example.com/a?token=s3cret" || got.Links[0].Status != check.Pass ||
		got.Links[1].Status != check.Fail || got.Links[1].StatusCode != 503 || got.Links[1].Error != check.LinkErrHTTPStatus ||
		got.Links[1].Check != "links" || got.LinksTotal != 0 {
		t.Fatalf("links at B: %+v (total %d)", got.Links, got.LinksTotal)
	}
	if got.Status != check.Fail {
		t.Errorf("status %s, want FAIL", got.Status)
	}
	latest, err := b.Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(latest) != 2 || latest[1].Check != "links" || len(latest[1].Links) != 2 || len(latest[0].Links) != 0 {
		t.Fatalf("B's Latest: %+v", latest)
	}
	ts0, _ := linksRow(t, a, "links")
	if ts0 != at(0).UnixMilli() {
		t.Fatalf("latest_links ts %d, want %d", ts0, at(0).UnixMilli())
	}

	// Same statuses (other durations): no row written, B keeps the links.
	same := linkRec("links", at(10*time.Second), okLink("https://example.com/a?token=s3cret"), badLink("https://example.com/b", 503))
	same.Links[0].DurationMs = 42
	write(t, a, same)
	c.waitFor(t, 2*time.Second, "the next run at B", c.has("links", at(10*time.Second)))
	if ts, _ := linksRow(t, a, "links"); ts != ts0 {
		t.Errorf("latest_links rewritten (ts %d) though no status changed", ts)
	}
	got, _ = c.last("links")
	if len(got.Links) != 2 || got.Links[1].StatusCode != 503 {
		t.Errorf("links at B after an unchanged run: %+v", got.Links)
	}

	// A status changed: written at once.
	write(t, a, linkRec("links", at(20*time.Second), okLink("https://example.com/a?token=s3cret"), okLink("https://example.com/b")))
	c.waitFor(t, 2*time.Second, "the changed run at B", c.has("links", at(20*time.Second)))
	got, _ = c.last("links")
	if len(got.Links) != 2 || got.Links[1].Status != check.Pass || got.Status != check.Pass {
		t.Errorf("links at B after a change: %+v", got.Links)
	}
	if db, _ := c.last("db"); db.Links != nil {
		t.Errorf("a db check got links: %+v", db.Links)
	}
}

// Without ShareLinks (a single process, and SQLite always) nothing is
// written to latest_links and a marked result's links are not kept.
func TestLinksNotSharedWithoutOption(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			st := openT(t, e.dsn(t), Options{ShareLinks: e.name == "sqlite"}) // SQLite ignores it
			write(t, st, linkRec("links", at(0), badLink("https://example.com/b", 500)))
			if n := count(t, st.rdb, "SELECT count(*) FROM latest_links"); n != 0 {
				t.Errorf("latest_links has %d rows", n)
			}
			latest, err := st.Latest(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(latest) != 1 || latest[0].Links != nil {
				t.Errorf("Latest: %+v", latest)
			}
		})
	}
}

// Over MaxSharedLinksBytes the row keeps the failing links first, as many
// links as fit, and says how many there were: B gets them with LinksTotal.
func TestLinksSizeCap(t *testing.T) {
	dsn := postgresDSN(t)
	logs := &testenv.SyncBuffer{}
	a := openT(t, dsn, Options{ShareLinks: true, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	b := openT(t, dsn, Options{ShareLinks: true})
	c := newCollector()
	f := openFeed(t, b, c, noPoll)
	waitUntil(t, 5*time.Second, "connected", f.Connected)

	const n = 6000 // ~1.5 MiB of JSON
	links := make([]check.LinkResult, n)
	for i := range links {
		links[i] = okLink(fmt.Sprintf("https://example.com/%s/%05d", strings.Repeat("p", 100), i))
	}
	for _, i := range []int{n - 3, n - 2, n - 1} { // failing, and last: kept anyway
		links[i] = badLink(links[i].URL, 500)
	}
	write(t, a, linkRec("big", at(0), links...))
	_, js := linksRow(t, a, "big")
	if len(js) > MaxSharedLinksBytes || len(js) < MaxSharedLinksBytes-2048 {
		t.Errorf("stored %d bytes, want at most %d and close to it", len(js), MaxSharedLinksBytes)
	}
	if !strings.Contains(logs.String(), "too large to share") {
		t.Errorf("no warning logged: %s", logs)
	}
	c.waitFor(t, 2*time.Second, "the big result at B", c.has("big", at(0)))
	got, _ := c.last("big")
	if got.LinksTotal != n || len(got.Links) >= n || len(got.Links) < 1000 {
		t.Fatalf("B has %d links, total %d; want part of %d", len(got.Links), got.LinksTotal, n)
	}
	for i, want := range []int{n - 3, n - 2, n - 1} {
		if l := got.Links[i]; l.URL != links[want].URL || l.Status != check.Fail {
			t.Errorf("link %d at B: %s %s, want the failing %s first", i, l.URL, l.Status, links[want].URL)
		}
	}
}

// A latest_links row that cannot be used (not JSON, a bad status, too
// long) costs its check's links only: B still gets the result, with its
// status, and logs a warning; Latest too.
func TestLinksUnreadableRow(t *testing.T) {
	for _, tc := range []struct {
		name, set, log string
	}{
		{"not json", `'{"total": 1, "links": [{'`, "not readable"},
		{"bad status", `'{"total": 1, "links": [{"url": "https://x", "status": "<b>OK</b>"}]}'`, "not readable"},
		{"total below links", `'{"total": 0, "links": [{"url": "https://x", "status": "PASS"}]}'`, "not readable"},
		{"bad location", `'{"total": 1, "links": [{"url": "https://x", "status": "PASS", "locations": {"<script>": {"status": "PASS"}}}]}'`, "not readable"},
		{"too long", fmt.Sprintf("repeat('x', %d)", MaxSharedLinksBytes+1), "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := postgresDSN(t)
			a := openT(t, dsn, Options{ShareLinks: true})
			logs := &testenv.SyncBuffer{}
			logger := slog.New(slog.NewTextHandler(logs, nil))
			b := openT(t, dsn, Options{ShareLinks: true, Logger: logger})
			c := newCollector()
			f := openFeed(t, b, c, FeedOptions{Poll: time.Hour, Logger: logger})
			waitUntil(t, 5*time.Second, "connected", f.Connected)

			write(t, a, linkRec("links", at(0), badLink("https://example.com/b", 503)))
			c.waitFor(t, 2*time.Second, "the first result", c.has("links", at(0)))
			if _, err := a.wdb.Exec(`UPDATE latest_links SET ts = ts + 1, links = ` + tc.set); err != nil {
				t.Fatal(err)
			}
			// Same statuses: A writes no row, B reads the damaged one.
			write(t, a, linkRec("links", at(10*time.Second), badLink("https://example.com/b", 503)))
			c.waitFor(t, 2*time.Second, "the next result", c.has("links", at(10*time.Second)))
			got, _ := c.last("links")
			if got.Links != nil || got.Status != check.Fail || got.Message == "" {
				t.Errorf("result at B: status %s, links %+v; want FAIL without links", got.Status, got.Links)
			}
			if !strings.Contains(logs.String(), tc.log) {
				t.Errorf("log lacks %q: %s", tc.log, logs)
			}
			latest, err := b.Latest(context.Background())
			if err != nil || len(latest) != 1 || latest[0].Links != nil || latest[0].Status != check.Fail {
				t.Errorf("Latest: %+v, %v", latest, err)
			}
		})
	}
}

// A check whose ownership moved: B writes it (links Y), then A again with
// the links it wrote last (X): A writes them though they did not change
// from its own last write, as the row holds B's.
func TestLinksRewrittenAfterOwnershipMoves(t *testing.T) {
	dsn := postgresDSN(t)
	a, b := openT(t, dsn, Options{ShareLinks: true}), openT(t, dsn, Options{ShareLinks: true})
	x := func(when time.Time) Record { return linkRec("links", when, badLink("https://example.com/x", 500)) }
	write(t, a, x(at(0)))
	write(t, b, linkRec("links", at(10*time.Second), okLink("https://example.com/x")))
	write(t, a, x(at(20*time.Second)))
	ts, js := linksRow(t, a, "links")
	if ts != at(20*time.Second).UnixMilli() || !strings.Contains(js, `"status":"FAIL"`) {
		t.Errorf("latest_links at %d: %s; want A's FAIL of 20s", ts, js)
	}
}

// The write rule: first result, changes of large links at once up to the
// burst and then once per linksChangeEvery, of small ones always, a
// refresh every linksRefresh, and a rewrite whenever another replica wrote
// the check since.
func TestLinksDue(t *testing.T) {
	const sec = int64(1000)
	var m linkMark
	ok := false
	prev, had := int64(-1), false
	step := func(d uint64, ts int64) bool {
		t.Helper()
		w, next := m.due(ok, d, false, ts, prev, had)
		m, ok, prev, had = next, true, ts, true
		return w
	}
	if !step(1, 0) {
		t.Fatal("first result not written")
	}
	if step(1, 10*sec) || step(1, 20*sec) {
		t.Error("unchanged links written")
	}
	writes := 0
	ts := 20 * sec
	for i := range 10 { // flapping every 10 s for 100 s
		ts += 10 * sec
		if step(uint64(2+i%2), ts) {
			writes++
		}
	}
	// 5 at once, then one per 30 s: the refill over 100 s gives 3 more.
	if writes < 7 || writes > 9 {
		t.Errorf("%d writes of 10 flapping runs, want the burst and then one per 30s", writes)
	}
	// Unchanged for 700 s: one refresh, linksRefresh after the last write.
	last := m.written
	var refreshed []int64
	for range 70 {
		ts += 10 * sec
		if step(m.digest, ts) {
			refreshed = append(refreshed, ts)
		}
	}
	if len(refreshed) != 1 || refreshed[0]-last != linksRefresh.Milliseconds() {
		t.Errorf("refreshes at %v (last write %d), want one %s after it", refreshed, last, linksRefresh)
	}
	// Another replica wrote since (the check's latest is not ours).
	if w, _ := m.due(true, m.digest, false, ts+10*sec, ts+5*sec, true); !w {
		t.Error("not rewritten after another replica's write")
	}
	// Small links: every change is written, however often.
	for i := range 20 {
		ts += 10 * sec
		if w, next := m.due(true, uint64(100+i), true, ts, m.latest, true); !w {
			t.Fatalf("small change %d not written", i)
		} else {
			m = next
		}
	}
}

// The Writer keeps one set of links per check, the newest queued result's,
// and marks that result only: with ShareLinks it reaches latest_links; a
// SQLite store's Writer drops links.
func TestWriterSharesNewestLinks(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			lazy := NewLazy(e.dsn(t), Options{ShareLinks: true}, nil)
			if err := lazy.Open(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = lazy.Close() })
			w := NewWriter(lazy, WriterOptions{FlushEvery: time.Hour})
			for i := range 3 {
				r := linkRec("links", at(time.Duration(i)*time.Second), badLink(fmt.Sprintf("https://example.com/%d", i), 500))
				r.ShareLinks = false // as the daemon enqueues it
				w.Enqueue(r)
			}
			w.mu.Lock()
			for i := range w.n {
				if r := w.ring[(w.head+i)%len(w.ring)]; r.Links != nil || r.ShareLinks {
					t.Errorf("queued result %d carries links", i)
				}
			}
			kept := len(w.links)
			w.mu.Unlock()
			if err := w.Close(ctx); err != nil {
				t.Fatal(err)
			}
			st := lazy.get().(*sqlStore)
			ts, js := linksRow(t, st, "links")
			if e.name == "sqlite" {
				if kept != 0 || ts != -1 {
					t.Errorf("SQLite: %d links kept in the queue, row %d %s", kept, ts, js)
				}
				return
			}
			if kept != 1 || ts != at(2*time.Second).UnixMilli() || !strings.Contains(js, "https://example.com/2") ||
				strings.Contains(js, "https://example.com/1") {
				t.Errorf("kept %d; latest_links %d %s: want the newest result's links", kept, ts, js)
			}
			if len(w.links) != 0 {
				t.Errorf("%d links left in the writer after writing", len(w.links))
			}
		})
	}
}

// A feed's first resync reads every link check's links, in chunks of
// linksReadChunk: each of 40 checks written before it started arrives
// with its own links.
func TestLinksResyncReadsAll(t *testing.T) {
	dsn := postgresDSN(t)
	a, b := openT(t, dsn, Options{ShareLinks: true}), openT(t, dsn, Options{ShareLinks: true})
	const n = 40
	var recs []Record
	for i := range n {
		recs = append(recs, linkRec(fmt.Sprintf("links%02d", i), at(0), badLink(fmt.Sprintf("https://example.com/%d", i), 500+i)))
	}
	write(t, a, recs...)
	c := newCollector()
	f := openFeed(t, b, c, noPoll)
	c.waitFor(t, 5*time.Second, "every check", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.got) == n
	})
	for i := range n {
		got, _ := c.last(fmt.Sprintf("links%02d", i))
		if len(got.Links) != 1 || got.Links[0].StatusCode != 500+i || got.Links[0].Check != got.Check {
			t.Errorf("%s: links %+v", got.Check, got.Links)
		}
	}
	if st := f.Stats(); st.Queries < 3+n/linksReadChunk {
		t.Errorf("%d queries: want the links read in chunks of %d", st.Queries, linksReadChunk)
	}
}
