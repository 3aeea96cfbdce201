package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/dsn"
)

// Per-link results across replicas (cluster mode, Options.ShareLinks;
// issue 14, "any replica serves the truth"). The replica that runs a link
// check keeps its per-link results in latest_links (one row per check,
// see linksMigration), in the transaction that writes the result, and
// every replica's results feed reads them back with the result, so that
// GET /v2/links (and the link series of /metrics after a takeover) answer
// on any replica.
//
// Write volume. Writing every run would cost, at 1,000 link checks every
// 10 s, 100 row writes a second: 30 KB/s at one URL each, 10 MB/s at 300
// URLs (~100 KB of JSON) each. So a check's row is written only
//   - at its first result written by this process, and whenever another
//     replica wrote the check's latest row since this one last did (its
//     ownership moved: the row may hold the other replica's links);
//   - when the links' statuses changed (URL, status, code, method, final
//     URL, error kind, handle, slug, each location's status): at once when
//     they are small (about linksSmallBytes of JSON or less: a few dozen
//     links, whose row costs little more than the latest row), else at
//     most linksChangeBurst times in a row and then once per
//     linksChangeEvery (a flapping link among hundreds does not rewrite
//     them every run; the pending change is written at the next run
//     allowed);
//   - and every linksRefresh otherwise, so that the durations and
//     checkedAt of the links other replicas show are at most that old.
// Steady state: 1,000 checks / 10 min = 1.7 writes/s (0.5 KB/s at one URL,
// 170 KB/s at 100 KB); at worst, every check flapping every run, 100
// writes/s of small rows (40 KB/s at one URL) or one write per large check
// per 30 s (3.3 MB/s at 100 KB). A row holds at most MaxSharedLinksBytes
// of JSON.
// The other replicas read a check's row only when it was written, each
// once. SQLite (one process) and a PostgreSQL store without ShareLinks
// write nothing here.

const (
	// MaxSharedLinksBytes bounds the JSON of one check's per-link results
	// in latest_links. Beyond it the failing links are kept first, then
	// the passing ones, as many as fit; the row says how many there were
	// (Result.LinksTotal on the replicas that read it).
	MaxSharedLinksBytes = 1 << 20
	// linksRefresh: a check's links are rewritten at least this often,
	// changed or not.
	linksRefresh = 10 * time.Minute
	// linksChangeEvery and linksChangeBurst: changed links are written at
	// once up to linksChangeBurst times, then once per linksChangeEvery.
	linksChangeEvery = 30 * time.Second
	linksChangeBurst = 5
	// linksSmallBytes: changed links whose JSON is estimated at most this
	// long are written at once, whatever the rate.
	linksSmallBytes = 16 << 10
	// maxSharedLinksTotal bounds the total a row read back may claim
	// (link sources return at most 100,000 links).
	maxSharedLinksTotal = 10_000_000
	// maxLinkLocations bounds the locations of one link read back (link
	// quorum allows 16).
	maxLinkLocations = 64
	// linksChunkBytes bounds the JSON of one multi-row upsert.
	linksChunkBytes = 4 << 20
	linksChunkRows  = 50
)

// sharedLinks is latest_links.links: the links kept (at most
// MaxSharedLinksBytes, the failing first when not all fit) and how many
// the run checked.
type sharedLinks struct {
	Total int                `json:"total"`
	Links []check.LinkResult `json:"links"`
}

// shareLinks reports whether Write keeps the per-link results of results
// marked ShareLinks in latest_links (a PostgreSQL store with
// Options.ShareLinks).
func (s *sqlStore) shareLinks() bool { return s.opts.ShareLinks && s.d.notify != nil }

// encodeSharedLinks returns the JSON of links for latest_links, at most
// limit bytes, and how many links it kept.
func encodeSharedLinks(links []check.LinkResult, limit int) ([]byte, int, error) {
	clean := make([]check.LinkResult, len(links))
	for i, l := range links {
		l.ErrorMessage = cleanText(l.ErrorMessage)
		clean[i] = l
	}
	js, err := json.Marshal(sharedLinks{Total: len(clean), Links: clean})
	if err != nil || len(js) <= limit {
		return js, len(clean), err
	}
	// Too big: the failing links first (in their order), then the
	// passing ones, as many as fit.
	slices.SortStableFunc(clean, func(a, b check.LinkResult) int {
		return cmp.Compare(b2i(a.Status == check.Pass), b2i(b.Status == check.Pass))
	})
	out := fmt.Appendf(make([]byte, 0, limit), `{"total":%d,"links":[`, len(clean))
	kept := 0
	for _, l := range clean {
		one, err := json.Marshal(l)
		if err != nil {
			return nil, 0, err
		}
		if len(out)+len(one)+len(",]}") > limit {
			break
		}
		if kept > 0 {
			out = append(out, ',')
		}
		out = append(out, one...)
		kept++
	}
	return append(out, "]}"...), kept, nil
}

// errSharedLinks is the error of a latest_links row that cannot be used.
var errSharedLinks = errors.New("per-link results not usable")

// decodeSharedLinks reads latest_links.links of the check name back,
// trusting nothing: too long, not JSON, a total below the links kept or
// absurd, a status that is not one, too many or invalid locations are
// errors. Every link's check is set to name.
func decodeSharedLinks(name string, js []byte) ([]check.LinkResult, int, error) {
	if len(js) > MaxSharedLinksBytes {
		return nil, 0, fmt.Errorf("%w: %d bytes, more than %d", errSharedLinks, len(js), MaxSharedLinksBytes)
	}
	var sl sharedLinks
	if err := json.Unmarshal(js, &sl); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errSharedLinks, err)
	}
	if sl.Total < len(sl.Links) || sl.Total > maxSharedLinksTotal {
		return nil, 0, fmt.Errorf("%w: total %d for %d links", errSharedLinks, sl.Total, len(sl.Links))
	}
	for i := range sl.Links {
		l := &sl.Links[i]
		if !l.Status.Valid() {
			return nil, 0, fmt.Errorf("%w: link %d: not a status (%d bytes)", errSharedLinks, i, len(l.Status))
		}
		if len(l.Locations) > maxLinkLocations {
			return nil, 0, fmt.Errorf("%w: link %d: %d locations", errSharedLinks, i, len(l.Locations))
		}
		for loc, ll := range l.Locations {
			if !validLocation(loc) || !ll.Status.Valid() {
				return nil, 0, fmt.Errorf("%w: link %d: an invalid location", errSharedLinks, i)
			}
		}
		l.Check = name
	}
	if len(sl.Links) == 0 {
		sl.Links = nil
	}
	return sl.Links, sl.Total, nil
}

// validLocation is cluster.ValidLocation (which this package cannot
// import): 1 to 64 characters of A-Z, a-z, 0-9, _, . and -.
func validLocation(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// linksDigest sums up what a change of which is worth writing at once:
// every link's URL, status, code, method, final URL, error kind, handle,
// slug and each location's status, code and error kind (not durations,
// times or messages, which change every run).
func linksDigest(links []check.LinkResult) uint64 {
	h := fnv.New64a()
	var n [8]byte
	num := func(v int) {
		binary.LittleEndian.PutUint64(n[:], uint64(v))
		_, _ = h.Write(n[:])
	}
	str := func(s string) {
		num(len(s))
		_, _ = h.Write([]byte(s))
	}
	num(len(links))
	for _, l := range links {
		str(l.URL)
		str(string(l.Status))
		num(l.StatusCode)
		str(l.Method)
		str(l.FinalURL)
		str(string(l.Error))
		str(l.Handle)
		str(l.Slug)
		num(len(l.Locations))
		for _, loc := range slices.Sorted(maps.Keys(l.Locations)) {
			ll := l.Locations[loc]
			str(loc)
			str(string(ll.Status))
			num(ll.StatusCode)
			str(string(ll.Error))
		}
	}
	return h.Sum64()
}

// estimateLinksBytes is about the length of the JSON of links, without
// encoding them (an upper bound for plain links).
func estimateLinksBytes(links []check.LinkResult) int {
	n := 32
	for _, l := range links {
		n += 256 + len(l.URL) + len(l.FinalURL) + len(l.ErrorMessage) + len(l.Check) + len(l.Handle) + len(l.Slug) +
			len(l.Redirects)*64 + len(l.Locations)*96
		for _, h := range l.Redirects {
			n += len(h.URL)
		}
		for _, ll := range l.Locations {
			n += len(ll.ErrorMessage)
		}
		if n > linksSmallBytes {
			break
		}
	}
	return n
}

// linkMark is what this process last wrote of a check's links.
type linkMark struct {
	digest uint64
	// written is the ts (ms) of the result whose links are stored;
	// latest the ts of the check's latest row this process wrote last.
	written, latest int64
	// tokens (at tokensAt, ms) allow changed links to be written at once.
	tokens    float64
	tokensAt  int64
	truncated bool
}

// due decides whether the links (digest d; small: their JSON is at most
// about linksSmallBytes) of the result at ts are written, given the
// check's latest ts in the database before this write (prev; hadPrev false
// when it had none) and the mark (ok false when none); it returns the mark
// after the write (or after not writing).
func (m linkMark) due(ok bool, d uint64, small bool, ts, prev int64, hadPrev bool) (bool, linkMark) {
	if !ok || !hadPrev || prev != m.latest || ts < m.written {
		// First here, or another replica wrote the check since.
		return true, linkMark{digest: d, written: ts, latest: ts, tokens: linksChangeBurst, tokensAt: ts, truncated: m.truncated}
	}
	next := m
	next.latest = ts
	if ts > m.tokensAt {
		next.tokens = min(linksChangeBurst, m.tokens+float64(ts-m.tokensAt)/float64(linksChangeEvery.Milliseconds()))
		next.tokensAt = ts
	}
	switch {
	case d != m.digest && small:
	case d != m.digest && next.tokens >= 1:
		next.tokens--
	case ts-m.written >= linksRefresh.Milliseconds():
	default:
		return false, next
	}
	next.digest, next.written = d, ts
	return true, next
}

// linkWrite is a check's links chosen to be written by writeTx, and its
// mark once the transaction commits.
type linkWrite struct {
	id   int64
	mark linkMark
	js   []byte
	r    *row
}

// planLinks picks, among the newest rows of writeTx (latest), the results
// marked ShareLinks whose links are due (linkMark.due); prev holds each
// check's latest ts before the write (-1: none). It returns the rows to
// upsert and the marks to keep after commit (for every check of latest
// with a mark, written or not).
func (s *sqlStore) planLinks(ctx context.Context, latest []*row, prev map[int64]int64) ([]linkWrite, map[int64]linkMark, error) {
	var writes []linkWrite
	var marks map[int64]linkMark
	s.linkMu.Lock()
	defer s.linkMu.Unlock()
	for _, r := range latest {
		m, ok := s.linkMarks[r.id]
		if !r.rec.ShareLinks {
			if ok { // its latest row advanced without links
				m.latest = r.ts
				marks = setMark(marks, r.id, m)
			}
			continue
		}
		p, had := prev[r.id]
		write, next := m.due(ok, linksDigest(r.rec.Links), estimateLinksBytes(r.rec.Links) <= linksSmallBytes,
			r.ts, p, had && p >= 0)
		if write {
			js, kept, err := encodeSharedLinks(r.rec.Links, MaxSharedLinksBytes)
			if err != nil {
				return nil, nil, fmt.Errorf("encode links of %q: %w", r.rec.Check, err)
			}
			truncated := kept < len(r.rec.Links)
			if truncated && !next.truncated {
				s.logger.WarnContext(ctx, "per-link results too large to share with the other replicas: the failing links are kept first",
					"check", r.rec.Check, "links", len(r.rec.Links), "kept", kept, "max_bytes", MaxSharedLinksBytes)
			}
			next.truncated = truncated
			writes = append(writes, linkWrite{id: r.id, mark: next, js: js, r: r})
		}
		marks = setMark(marks, r.id, next)
	}
	return writes, marks, nil
}

func setMark(m map[int64]linkMark, id int64, mark linkMark) map[int64]linkMark {
	if m == nil {
		m = map[int64]linkMark{}
	}
	m[id] = mark
	return m
}

const (
	upsertLinksHead = "INSERT INTO latest_links (check_id, ts, links) VALUES "
	upsertLinksTail = ` ON CONFLICT (check_id) DO UPDATE SET ts = excluded.ts, links = excluded.links
		WHERE latest_links.ts < excluded.ts`
)

// upsertLinks writes the planned rows, in statements of at most
// linksChunkRows rows and about linksChunkBytes of JSON.
func (s *sqlStore) upsertLinks(ctx context.Context, tx *sql.Tx, writes []linkWrite) error {
	for start := 0; start < len(writes); {
		end, size := start, 0
		for end < len(writes) && end-start < linksChunkRows && (end == start || size+len(writes[end].js) <= linksChunkBytes) {
			size += len(writes[end].js)
			end++
		}
		args := make([]any, 0, 3*(end-start))
		for _, w := range writes[start:end] {
			args = append(args, w.id, w.r.ts, string(w.js))
		}
		if _, err := tx.ExecContext(ctx, s.multiRowStmt(upsertLinksHead, 3, end-start, upsertLinksTail), args...); err != nil {
			return fmt.Errorf("update latest links: %w", err)
		}
		start = end
	}
	return nil
}

// keepMarks records the marks of a committed write.
func (s *sqlStore) keepMarks(marks map[int64]linkMark) {
	if len(marks) == 0 {
		return
	}
	s.linkMu.Lock()
	defer s.linkMu.Unlock()
	if s.linkMarks == nil {
		s.linkMarks = map[int64]linkMark{}
	}
	for id, m := range marks {
		s.linkMarks[id] = m
	}
}

// readSharedLinks turns a latest_links row read with its byte length (js
// nil when longer than MaxSharedLinksBytes) into the links of the check
// name; a row that cannot be used is logged and gives no links.
func readSharedLinks(logger *slog.Logger, name string, js []byte, n int64) ([]check.LinkResult, int) {
	if js == nil {
		logger.Warn("per-link results of another replica too large: left out", "check", name,
			"bytes", n, "max_bytes", MaxSharedLinksBytes)
		return nil, 0
	}
	links, total, err := decodeSharedLinks(name, js)
	if err != nil {
		logger.Warn("per-link results of another replica not readable: left out", "check", name, "err", err)
		return nil, 0
	}
	return links, total
}

// withLinks sets r's links from a latest_links row, for a link check.
func withLinks(r *check.Result, links []check.LinkResult, total int) {
	if !r.Kind.Behaviour().Items {
		return
	}
	r.Links = links
	r.LinksTotal = 0
	if total > len(links) {
		r.LinksTotal = total
	}
}

// sharesLinks tells the Writer to keep link checks' links (ShareLinks).
func (s *sqlStore) sharesLinks() bool { return s.shareLinks() }

// sharesLinks tells the Writer to keep link checks' links: with
// ShareLinks on a PostgreSQL DSN (known before the store opens).
func (l *Lazy) sharesLinks() bool {
	e, err := dsn.EngineOf(l.dsn)
	return l.opts.ShareLinks && err == nil && e == dsn.Postgres
}
