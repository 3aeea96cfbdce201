package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"github.com/jackc/pgx/v5"

	"github.com/monitor-dev/monitor/check"
)

// Errors of the store.
var (
	ErrInvalidRecord = errors.New("invalid record")
	ErrInvalidRange  = errors.New("invalid time range")
)

// Limits of one read.
const (
	minStep = time.Minute
	// maxBuckets bounds the buckets of one History read, as Prometheus
	// bounds a range query to 11,000 points.
	maxBuckets = 11_000
	// futureSlack: results more than this ahead of the store's clock are
	// not read (a clock gone wrong), so that a read's work stays bounded.
	futureSlack = 24 * time.Hour
	// insertChunk rows go into one INSERT statement (9 parameters each).
	insertChunk = 500
)

// dialect holds what differs between the engines; see specific_*.go.
type dialect struct {
	name     string
	idColumn string // DDL of checks.id
	// serialColumn is the DDL of a 64-bit id that is never reused, even
	// after the newest row is deleted (deliveries, attempts, audit events).
	serialColumn string
	withoutRowID string // table suffix
	placeholder  func(n int) string
	// lock takes a transaction-scoped lock (PostgreSQL); SQLite needs none
	// as its write transactions are IMMEDIATE on a single connection.
	lock func(ctx context.Context, tx *sql.Tx, key int32) error
	// notify, when set (PostgreSQL), tells the results feed (see Feed),
	// inside Write's transaction, the ids of the checks whose latest
	// result advanced; SQLite has no feed.
	notify func(ctx context.Context, tx *sql.Tx, ids []int64) error

	rebound sync.Map // query with ? → query in the dialect
}

// rebind rewrites the ? placeholders of query for the dialect.
func (d *dialect) rebind(query string) string {
	if v, ok := d.rebound.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString(d.placeholder(n))
			continue
		}
		b.WriteRune(r)
	}
	d.rebound.Store(query, b.String())
	return b.String()
}

// sqlStore is the Store of both engines.
type sqlStore struct {
	d       *dialect
	wdb     *sql.DB // writes (SQLite: one connection)
	rdb     *sql.DB // reads; may be wdb
	opts    Options
	logger  *slog.Logger
	closeMu sync.Once

	flock    *flock.Flock // SQLite: the lock file, when Options.Owner is set
	lockConn *sql.Conn    // PostgreSQL: the session holding the owner lock
	// feedConfig (PostgreSQL) is how a Feed opens its own connection.
	feedConfig *pgx.ConnConfig

	mu  sync.RWMutex
	ids map[string]int64 // check name → id; ids never change

	// linkMarks (under linkMu) is what this process last wrote of each
	// link check's per-link results (ShareLinks; see links.go).
	linkMu    sync.Mutex
	linkMarks map[int64]linkMark
}

func newSQLStore(d *dialect, w, r *sql.DB, opts Options) *sqlStore {
	return &sqlStore{d: d, wdb: w, rdb: r, opts: opts, logger: opts.Logger, ids: map[string]int64{}}
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (s *sqlStore) Close() error {
	var err error
	s.closeMu.Do(func() {
		if s.lockConn != nil {
			unlockPostgres(s.lockConn)
		}
		err = s.wdb.Close()
		if s.rdb != s.wdb {
			err = errors.Join(err, s.rdb.Close())
		}
		if s.flock != nil {
			err = errors.Join(err, s.flock.Unlock())
		}
	})
	return err
}

// validate rejects what Write cannot store.
func validate(r *Record) error {
	switch {
	case r.Check == "":
		return fmt.Errorf("%w: no check name", ErrInvalidRecord)
	case r.CheckedAt.IsZero():
		return fmt.Errorf("%w: check %q: no checkedAt", ErrInvalidRecord, r.Check)
	case !r.Status.Valid():
		return fmt.Errorf("%w: check %q: status %q", ErrInvalidRecord, r.Check, r.Status)
	case !r.Severity.Valid():
		return fmt.Errorf("%w: check %q: severity %q", ErrInvalidRecord, r.Check, r.Severity)
	}
	return nil
}

// row is a record ready for the database.
type row struct {
	rec      *Record
	ts       int64
	status   int64
	severity int64
	value    *float64
	message  *string
	id       int64
}

func statusCode(s check.Status) int64 {
	switch s {
	case check.Fail:
		return stFail
	case check.Unknown:
		return stUnknown
	}
	return stPass
}

func severityCode(s check.Severity) int64 {
	switch s {
	case check.Warn:
		return sevWarn
	case check.Critical:
		return sevCritical
	}
	return sevInfo
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// cleanText makes a message storable by both engines: valid UTF-8, no NUL
// bytes, at most check.MaxMessage bytes.
func cleanText(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return check.Truncate(strings.ToValidUTF8(s, "\uFFFD"))
}

// Write stores recs in one transaction. Results are keyed by (check,
// checkedAt to the millisecond): a result already stored is skipped, so a
// batch retried after an unclear failure is harmless. Per check, results
// newer than the stored latest one advance the latest result and the
// outages, in time order; older ones are stored but change neither.
func (s *sqlStore) Write(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	rows := make([]row, len(recs))
	for i := range recs {
		r := &recs[i]
		if err := validate(r); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		w := row{rec: r, ts: r.CheckedAt.UnixMilli(), status: statusCode(r.Status), severity: severityCode(r.Severity)}
		if v := r.ObservedValue; v != nil && !math.IsNaN(*v) && !math.IsInf(*v, 0) {
			w.value = v
		}
		if r.Status != check.Pass {
			m := cleanText(r.Message)
			w.message = &m
		}
		rows[i] = w
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		return cmp.Or(strings.Compare(a.rec.Check, b.rec.Check), cmp.Compare(a.ts, b.ts))
	})

	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store write: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	newIDs, marks, err := s.writeTx(ctx, tx, rows)
	if err != nil {
		return fmt.Errorf("store write: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store write: commit: %w", err)
	}
	s.keepMarks(marks)
	if len(newIDs) > 0 {
		s.mu.Lock()
		for name, id := range newIDs {
			s.ids[name] = id
		}
		s.mu.Unlock()
	}
	return nil
}

type checkState struct {
	rolledUntil int64
	lastTs      int64
	hasLast     bool
	outageStart int64
	outageOpen  bool
}

type outageOp struct {
	id, start int64
	end       *int64
}

// writeTx writes rows inside tx; it returns the check ids it created and
// the link marks to keep once tx commits (see planLinks).
func (s *sqlStore) writeTx(ctx context.Context, tx *sql.Tx, rows []row) (map[string]int64, map[int64]linkMark, error) {
	if err := s.d.lock(ctx, tx, lockWrite); err != nil {
		return nil, nil, fmt.Errorf("lock: %w", err)
	}
	newIDs, err := s.resolveIDs(ctx, tx, rows)
	if err != nil {
		return nil, nil, err
	}
	states, err := s.loadStates(ctx, tx, rows)
	if err != nil {
		return nil, nil, err
	}
	if err := s.insertResults(ctx, tx, rows); err != nil {
		return nil, nil, err
	}
	var prevLatest map[int64]int64 // check id → latest ts before this write, -1 for none (ShareLinks)
	if s.shareLinks() {
		prevLatest = make(map[int64]int64, len(states))
	}

	// Hours from safeHour on still have all their raw results.
	safeHour := floorHour(s.opts.Now().UnixMilli()-s.opts.Retention.Milliseconds()) + hourMs
	var (
		latest  []*row
		inserts []outageOp // new outages, possibly closed in this batch
		closes  []outageOp // outages open before this batch, closed now
		lowers  [][2]int64 // check id, new rolled_until
	)
	for i := 0; i < len(rows); {
		j := i
		for j < len(rows) && rows[j].id == rows[i].id {
			j++
		}
		id := rows[i].id
		st := states[id]
		if st == nil {
			st = &checkState{}
		}
		if prevLatest != nil {
			prevLatest[id] = -1
			if st.hasLast {
				prevLatest[id] = st.lastTs
			}
		}
		pending := -1 // index in inserts of this check's outage opened here
		var newest *row
		minHour := int64(math.MaxInt64)
		for k := i; k < j; k++ {
			r := &rows[k]
			if h := floorHour(r.ts); h >= safeHour {
				minHour = min(minHour, h)
			}
			if st.hasLast && r.ts <= st.lastTs {
				continue // late or already stored
			}
			st.lastTs, st.hasLast, newest = r.ts, true, r
			failing := r.rec.Down // sla decides; the store persists its transitions
			switch {
			case failing && !st.outageOpen:
				st.outageOpen, st.outageStart = true, r.ts
				inserts = append(inserts, outageOp{id: id, start: r.ts})
				pending = len(inserts) - 1
			case !failing && st.outageOpen:
				end := r.ts
				if pending >= 0 {
					inserts[pending].end = &end
					pending = -1
				} else {
					closes = append(closes, outageOp{id: id, start: st.outageStart, end: &end})
				}
				st.outageOpen = false
			}
		}
		if newest != nil {
			latest = append(latest, newest)
		}
		if st.rolledUntil > minHour {
			// Results for hours already rolled up: roll them up again (not
			// past the retention, where raw results are incomplete).
			lowers = append(lowers, [2]int64{id, minHour})
		}
		i = j
	}

	for _, o := range inserts {
		if _, err := tx.ExecContext(ctx, s.d.rebind(
			"INSERT INTO outages (check_id, start_ms, end_ms) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"),
			o.id, o.start, o.end); err != nil {
			return nil, nil, fmt.Errorf("open outage: %w", err)
		}
	}
	for _, o := range closes {
		if _, err := tx.ExecContext(ctx, s.d.rebind(
			"UPDATE outages SET end_ms = ? WHERE check_id = ? AND start_ms = ?"),
			*o.end, o.id, o.start); err != nil {
			return nil, nil, fmt.Errorf("close outage: %w", err)
		}
	}
	for _, l := range lowers {
		if _, err := tx.ExecContext(ctx, s.d.rebind(
			"UPDATE checks SET rolled_until = ? WHERE id = ? AND rolled_until > ?"),
			l[1], l[0], l[1]); err != nil {
			return nil, nil, fmt.Errorf("reopen rollups: %w", err)
		}
	}
	if err := s.upsertLatest(ctx, tx, latest); err != nil {
		return nil, nil, err
	}
	var marks map[int64]linkMark
	if prevLatest != nil {
		writes, m, err := s.planLinks(ctx, latest, prevLatest)
		if err != nil {
			return nil, nil, err
		}
		if err := s.upsertLinks(ctx, tx, writes); err != nil {
			return nil, nil, err
		}
		marks = m
	}
	if s.d.notify != nil && len(latest) > 0 {
		ids := make([]int64, len(latest))
		for i, r := range latest {
			ids[i] = r.id
		}
		if err := s.d.notify(ctx, tx, ids); err != nil {
			return nil, nil, fmt.Errorf("notify results feed: %w", err)
		}
	}
	return newIDs, marks, nil
}

// resolveIDs sets rows[*].id, creating checks as needed. New ids are
// returned, to be cached once the transaction commits.
func (s *sqlStore) resolveIDs(ctx context.Context, tx *sql.Tx, rows []row) (map[string]int64, error) {
	var newIDs map[string]int64
	s.mu.RLock()
	for i := range rows {
		rows[i].id = s.ids[rows[i].rec.Check]
	}
	s.mu.RUnlock()
	for i := range rows {
		if rows[i].id != 0 {
			continue
		}
		name := rows[i].rec.Check
		id, ok := newIDs[name]
		if !ok {
			if _, err := tx.ExecContext(ctx, s.d.rebind(
				"INSERT INTO checks (name) VALUES (?) ON CONFLICT (name) DO NOTHING"), name); err != nil {
				return nil, fmt.Errorf("add check: %w", err)
			}
			if err := tx.QueryRowContext(ctx, s.d.rebind("SELECT id FROM checks WHERE name = ?"), name).Scan(&id); err != nil {
				return nil, fmt.Errorf("add check: %w", err)
			}
			if newIDs == nil {
				newIDs = map[string]int64{}
			}
			newIDs[name] = id
		}
		rows[i].id = id
	}
	return newIDs, nil
}

// loadStates reads, under the write lock, what the outage and rollup
// bookkeeping needs of the checks of rows (grouped by id); only those: at
// 10,000 checks, reading every check's for each batch of 500 results
// allocated ~4 MB per batch, 15 % of the daemon's allocations (bench/scale).
func (s *sqlStore) loadStates(ctx context.Context, tx *sql.Tx, rows []row) (map[int64]*checkState, error) {
	var ids []any
	for i := range rows {
		if i == 0 || rows[i].id != rows[i-1].id {
			ids = append(ids, rows[i].id)
		}
	}
	states := make(map[int64]*checkState, len(ids))
	for start := 0; start < len(ids); start += insertChunk {
		chunk := ids[start:min(start+insertChunk, len(ids))]
		// Padded to a power of two with the last id (a repeat changes
		// nothing), so that few statement texts are cached.
		n := 8
		for n < len(chunk) {
			n *= 2
		}
		args := make([]any, n)
		for i := range args {
			args[i] = chunk[min(i, len(chunk)-1)]
		}
		if err := s.loadStateChunk(ctx, tx, states, args); err != nil {
			return nil, err
		}
	}
	return states, nil
}

func (s *sqlStore) loadStateChunk(ctx context.Context, tx *sql.Tx, states map[int64]*checkState, ids []any) error {
	rs, err := tx.QueryContext(ctx, s.multiRowTuples(
		"SELECT c.id, c.rolled_until, l.ts FROM checks c LEFT JOIN latest l ON l.check_id = c.id WHERE c.id IN (", "?", len(ids), ")"),
		ids...)
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var id, rolled int64
		var last sql.NullInt64
		if err := rs.Scan(&id, &rolled, &last); err != nil {
			return fmt.Errorf("load state: %w", err)
		}
		states[id] = &checkState{rolledUntil: rolled, lastTs: last.Int64, hasLast: last.Valid}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	rs.Close()
	rs, err = tx.QueryContext(ctx, s.multiRowTuples(
		"SELECT check_id, start_ms FROM outages WHERE end_ms IS NULL AND check_id IN (", "?", len(ids), ")"),
		ids...)
	if err != nil {
		return fmt.Errorf("load outages: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var id, start int64
		if err := rs.Scan(&id, &start); err != nil {
			return fmt.Errorf("load outages: %w", err)
		}
		if st := states[id]; st != nil && (!st.outageOpen || start > st.outageStart) {
			st.outageOpen, st.outageStart = true, start
		}
	}
	return rs.Err()
}

// multiRow caches multi-row statements: head, then n tuples of cols
// placeholders, then tail.
var multiRow sync.Map

func (s *sqlStore) multiRowStmt(head string, cols, n int, tail string) string {
	return s.multiRowTuples(head, "("+strings.TrimSuffix(strings.Repeat("?,", cols), ",")+")", n, tail)
}

// multiRowTuples is multiRowStmt with the tuple given, e.g. with casts.
func (s *sqlStore) multiRowTuples(head, tuple string, n int, tail string) string {
	key := fmt.Sprint(s.d.name, "\x00", head, "\x00", tuple, "\x00", n, "\x00", tail)
	if v, ok := multiRow.Load(key); ok {
		return v.(string)
	}
	var b strings.Builder
	b.WriteString(head)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(tuple)
	}
	b.WriteString(tail)
	q := s.d.rebind(b.String())
	s.d.rebound.Delete(b.String()) // one-off texts stay out of the rebind cache
	multiRow.Store(key, q)
	return q
}

const (
	insertResultsHead = "INSERT INTO results (check_id, ts, status, severity, maintenance, within_sla, value, duration_ms, message) VALUES "
	insertResultsTail = " ON CONFLICT DO NOTHING"
	upsertLatestHead  = "INSERT INTO latest (check_id, ts, result) VALUES "
	upsertLatestTail  = ` ON CONFLICT (check_id) DO UPDATE SET ts = excluded.ts, result = excluded.result
		WHERE latest.ts < excluded.ts`
)

func (s *sqlStore) insertResults(ctx context.Context, tx *sql.Tx, rows []row) error {
	args := make([]any, 0, 9*min(len(rows), insertChunk))
	for start := 0; start < len(rows); start += insertChunk {
		chunk := rows[start:min(start+insertChunk, len(rows))]
		args = args[:0]
		for i := range chunk {
			r := &chunk[i]
			dur := min(max(r.rec.Duration.Milliseconds(), 0), math.MaxInt32)
			args = append(args, r.id, r.ts, r.status, r.severity, b2i(r.rec.Maintenance), b2i(r.rec.WithinSLA),
				r.value, dur, r.message)
		}
		if _, err := tx.ExecContext(ctx, s.multiRowStmt(insertResultsHead, 9, len(chunk), insertResultsTail), args...); err != nil {
			return fmt.Errorf("insert results: %w", err)
		}
	}
	return nil
}

// storedResult is the latest result as kept in latest.result: everything a
// restart needs, unlike the contract's JSON shape.
type storedResult struct {
	Name          string             `json:"name"`
	Kind          check.Kind         `json:"kind,omitempty"`
	Status        check.Status       `json:"status"`
	Severity      check.Severity     `json:"severity"`
	Message       string             `json:"message,omitempty"`
	ObservedValue *float64           `json:"observedValue,omitempty"`
	ObservedUnit  string             `json:"observedUnit,omitempty"`
	CheckedAt     time.Time          `json:"checkedAt"`
	DurationNs    int64              `json:"durationNs,omitempty"`
	NewestAt      time.Time          `json:"newestAt,omitzero"`
	Links         []check.LinkResult `json:"links,omitempty"`
	// Connections: a db check's headroom reading, so that its series
	// survive a restart as the freshness age does.
	Connections *check.DBConnections `json:"connections,omitempty"`
	// Reason and CertNotAfter, so that a replica that gets the result
	// through the results feed judges it as the one that ran it (alerting
	// does not page for a "parent failing" UNKNOWN) and exports the
	// certificate's expiry.
	Reason       check.Reason `json:"reason,omitempty"`
	CertNotAfter time.Time    `json:"certNotAfter,omitzero"`
}

func encodeResult(r *row) ([]byte, error) {
	rec := r.rec
	var links []check.LinkResult
	if !rec.ShareLinks { // else in latest_links (a store without ShareLinks keeps none)
		links = make([]check.LinkResult, len(rec.Links))
	}
	for i, l := range rec.Links[:len(links)] {
		l.ErrorMessage = cleanText(l.ErrorMessage)
		links[i] = l
	}
	return json.Marshal(storedResult{
		Name: rec.Check, Kind: rec.Kind, Status: rec.Status, Severity: rec.Severity,
		Message: cleanText(rec.Message), ObservedValue: r.value, ObservedUnit: rec.ObservedUnit,
		CheckedAt: rec.CheckedAt.UTC(), DurationNs: int64(rec.Duration), NewestAt: rec.NewestAt.UTC(),
		Links: links, Connections: rec.Connections, Reason: rec.Reason, CertNotAfter: rec.CertNotAfter.UTC(),
	})
}

func (s *sqlStore) upsertLatest(ctx context.Context, tx *sql.Tx, rows []*row) error {
	const chunk = 100
	args := make([]any, 0, 3*min(len(rows), chunk))
	for start := 0; start < len(rows); start += chunk {
		part := rows[start:min(start+chunk, len(rows))]
		args = args[:0]
		for _, r := range part {
			js, err := encodeResult(r)
			if err != nil {
				return fmt.Errorf("encode latest result of %q: %w", r.rec.Check, err)
			}
			args = append(args, r.id, r.ts, string(js))
		}
		if _, err := tx.ExecContext(ctx, s.multiRowStmt(upsertLatestHead, 3, len(part), upsertLatestTail), args...); err != nil {
			return fmt.Errorf("update latest: %w", err)
		}
	}
	return nil
}

// Latest returns the newest result of every check, sorted by name. A
// result that cannot be decoded is logged and left out.
// With ShareLinks, link checks come with their latest per-link results.
func (s *sqlStore) Latest(ctx context.Context) ([]check.Result, error) {
	query, args := "SELECT c.name, l.result FROM latest l JOIN checks c ON c.id = l.check_id ORDER BY c.name", []any(nil)
	shared := s.shareLinks()
	if shared {
		query, args = latestWithLinks, []any{MaxSharedLinksBytes}
	}
	rs, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store latest: %w", err)
	}
	defer rs.Close()
	var out []check.Result
	for rs.Next() {
		var name, js string
		var links []byte
		var n sql.NullInt64
		dest := []any{&name, &js}
		if shared {
			dest = append(dest, &links, &n)
		}
		if err := rs.Scan(dest...); err != nil {
			return nil, fmt.Errorf("store latest: %w", err)
		}
		r, err := decodeLatest(name, []byte(js))
		if err != nil {
			s.logger.WarnContext(ctx, "cannot decode stored latest result", "check", name, "err", err)
			continue
		}
		if n.Valid {
			l, total := readSharedLinks(s.logger, name, links, n.Int64)
			withLinks(&r, l, total)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store latest: %w", err)
	}
	return out, nil
}

// latestWithLinks is Latest's query with the per-link results (PostgreSQL;
// $1 is MaxSharedLinksBytes: a longer row is not read, only its length).
const latestWithLinks = `SELECT c.name, l.result, CASE WHEN octet_length(k.links) <= $1 THEN k.links END, octet_length(k.links)
FROM latest l JOIN checks c ON c.id = l.check_id LEFT JOIN latest_links k ON k.check_id = l.check_id ORDER BY c.name`

// decodeLatest turns latest.result (see storedResult) back into the
// result of the check name.
func decodeLatest(name string, js []byte) (check.Result, error) {
	var sr storedResult
	if err := json.Unmarshal(js, &sr); err != nil {
		return check.Result{}, err
	}
	return check.Result{
		Check: name, Kind: sr.Kind, Status: sr.Status, Severity: sr.Severity, Message: sr.Message,
		ObservedValue: sr.ObservedValue, ObservedUnit: sr.ObservedUnit, CheckedAt: sr.CheckedAt,
		Duration: time.Duration(sr.DurationNs), NewestAt: sr.NewestAt, Links: sr.Links,
		Connections: sr.Connections, Reason: sr.Reason, CertNotAfter: sr.CertNotAfter,
	}, nil
}

// checkID finds a check's id; ok is false for a check never written.
func (s *sqlStore) checkID(ctx context.Context, name string) (int64, bool, error) {
	s.mu.RLock()
	id, ok := s.ids[name]
	s.mu.RUnlock()
	if ok {
		return id, true, nil
	}
	err := s.rdb.QueryRowContext(ctx, s.d.rebind("SELECT id FROM checks WHERE name = ?"), name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	s.mu.Lock()
	s.ids[name] = id
	s.mu.Unlock()
	return id, true, nil
}

// History returns buckets of step over [from, to); see Store.
func (s *sqlStore) History(ctx context.Context, name string, from, to time.Time, step time.Duration) ([]Bucket, error) {
	if step < minStep {
		return nil, fmt.Errorf("%w: step %s is under %s", ErrInvalidRange, step, minStep)
	}
	lo, hi := from.UnixMilli(), to.UnixMilli()
	if hi <= lo {
		return nil, nil
	}
	stepMs := step.Milliseconds()
	if (hi-lo+stepMs-1)/stepMs > maxBuckets {
		return nil, fmt.Errorf("%w: more than %d buckets of %s", ErrInvalidRange, maxBuckets, step)
	}
	accs, first, err := s.aggregate(ctx, name, lo, hi, stepMs)
	if err != nil || accs == nil {
		return nil, err
	}
	var out []Bucket
	for b := range accs {
		if accs[b].empty() {
			continue
		}
		start := lo + int64(first+b)*stepMs
		out = append(out, accs[b].bucket(start, min(start+stepMs, hi)))
	}
	return out, nil
}

// Totals sums [from, to) into one bucket; see Store.
func (s *sqlStore) Totals(ctx context.Context, name string, from, to time.Time) (Bucket, error) {
	lo, hi := from.UnixMilli(), to.UnixMilli()
	if hi <= lo {
		return Bucket{Start: from.UTC()}, nil
	}
	accs, _, err := s.aggregate(ctx, name, lo, hi, hi-lo)
	if err != nil {
		return Bucket{}, err
	}
	var a acc
	if len(accs) > 0 {
		a = accs[0]
	}
	return a.bucket(lo, hi), nil
}

// aggregate fills one acc per bucket of step over [lo, hi): the whole
// clock hours of each bucket from their rollups where they have one
// (readRollups), everything else from raw results, one span per clock hour
// (aggregateRaw): the partial hours at the edges of buckets, and the whole
// hours without a rollup (not rolled up yet, before a check's first result,
// or a gap in the history). Only the part of [lo, hi) the store can hold
// is read (readWindow), so the work is bounded by the retention whatever
// the range asked: accs[i] is bucket first+i, and the buckets outside that
// part, empty, are not returned. It returns nil for an unknown check.
func (s *sqlStore) aggregate(ctx context.Context, name string, lo, hi, step int64) (accs []acc, first int, err error) {
	id, ok, err := s.checkID(ctx, name)
	if err != nil {
		return nil, 0, fmt.Errorf("store read: %w", err)
	}
	if !ok {
		return nil, 0, nil
	}
	clo, chi := s.readWindow(lo, hi)
	if chi <= clo {
		return nil, 0, nil
	}
	first = int((clo - lo) / step)
	base := lo + int64(first)*step
	rolled, err := s.readRollups(ctx, id, base, clo, chi, step)
	if err != nil {
		return nil, 0, fmt.Errorf("store read: %w", err)
	}
	spans, nb, err := buildSpans(ctx, base, clo, chi, step, rolled)
	if err != nil {
		return nil, 0, fmt.Errorf("store read: %w", err)
	}
	now := s.opts.Now().UnixMilli()
	for i := 0; i < len(spans); {
		if spans[i].done {
			i++
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, 0, fmt.Errorf("store read: %w", err)
		}
		j := i + 1
		for j < len(spans) && !spans[j].done && spans[j].start == spans[j-1].end {
			j++
		}
		if err := s.aggregateRaw(ctx, s.rdb, id, spans[i:j], now); err != nil {
			return nil, 0, fmt.Errorf("store read: %w", err)
		}
		i = j
	}
	accs = make([]acc, nb)
	for i := range spans {
		accs[spans[i].bucket].merge(&spans[i].a)
	}
	return accs, first, nil
}

// readWindow returns the part of [lo, hi) that can hold history: nothing
// older than the longer retention (never less than the default 400 days of
// rollups, and an hour more, as compaction may lag) is kept, and nothing
// more than futureSlack ahead of now is believed.
func (s *sqlStore) readWindow(lo, hi int64) (int64, int64) {
	now := s.opts.Now().UnixMilli()
	keep := max(s.opts.Retention, s.opts.RollupRetention, DefaultRollupRetention).Milliseconds()
	return max(lo, floorHour(now-keep)-hourMs), min(hi, now+futureSlack.Milliseconds())
}

const rollupColumns = "runs, good, bad, unknown, maintenance, within_sla, n_values, min_value, sum_value, max_value, good_ms, bad_ms, unknown_ms, maintenance_ms, within_sla_ms"

// Reads of rollups. Parameters: check id, the first and the last whole
// hour of the range, then for buckets: lo, step, step − 1h (an hour counts
// only if it lies wholly inside its bucket) and lo, step (its bucket).
const (
	rollupWhere       = " FROM rollups_hourly WHERE check_id = ? AND hour >= ? AND hour <= ?"
	rollupWholeInside = " AND (hour - ?) % ? <= ?"

	// rollupRowsQuery reads the rollups hour by hour.
	rollupRowsQuery = "SELECT hour, " + rollupColumns + rollupWhere + rollupWholeInside + " ORDER BY hour"

	// rollupSumSelect adds up rollups, with their number and first and
	// last hour. The sums of integers are cast as PostgreSQL's SUM of a
	// BIGINT is a NUMERIC.
	rollupSumSelect = `SELECT COUNT(*), MIN(hour), MAX(hour),
	CAST(SUM(runs) AS BIGINT), CAST(SUM(good) AS BIGINT), CAST(SUM(bad) AS BIGINT),
	CAST(SUM(unknown) AS BIGINT), CAST(SUM(maintenance) AS BIGINT), CAST(SUM(within_sla) AS BIGINT),
	CAST(SUM(n_values) AS BIGINT), MIN(min_value), SUM(sum_value), MAX(max_value),
	CAST(SUM(good_ms) AS BIGINT), CAST(SUM(bad_ms) AS BIGINT), CAST(SUM(unknown_ms) AS BIGINT),
	CAST(SUM(maintenance_ms) AS BIGINT), CAST(SUM(within_sla_ms) AS BIGINT)` + rollupWhere

	// rollupSumQuery adds up the rollups of the range: one row, or none
	// when there is no rollup (GROUP BY check_id, which is fixed).
	rollupSumQuery = rollupSumSelect + " GROUP BY check_id"
	// rollupSumsQuery adds them up per bucket: one row per bucket that has
	// rollups.
	rollupSumsQuery = rollupSumSelect + rollupWholeInside + " GROUP BY (hour - ?) / ? ORDER BY MIN(hour)"
)

// minSumStep is the shortest step whose buckets have their rollups added
// up by the database. For shorter ones, with a few hours in each bucket,
// reading the rows is cheaper (on SQLite, GROUP BY sorts every row).
const minSumStep = 4 * hourMs

// readRollups returns, for buckets of step from base (≤ lo) over [lo, hi),
// the whole clock hours that have a rollup, as done spans in time order,
// each inside one bucket.
//
// Fast path: the database adds up the rollups of each bucket (one row per
// bucket instead of one per hour). When every hour from the bucket's first
// rollup to its last one has a rollup, they make one span; the hours
// before the first and after the last are read from raw results.
//
// Fallback: a bucket with a gap between its rollups, and every bucket of a
// step under minSumStep, gets one span per rollup row.
//
// The database's SUM(sum_value) may round differently from adding hours
// one by one in Go, so Avg can differ in its last bits from a read of raw
// results; the counts, times, Min and Max are exact.
func (s *sqlStore) readRollups(ctx context.Context, id, base, lo, hi, step int64) ([]span, error) {
	first := floorHour(lo)
	if first < lo {
		first += hourMs
	}
	last := hi - hourMs // the last whole hour starts at or before
	if step < hourMs || first > last {
		return nil, nil // no whole hour fits in a bucket
	}
	var rs *sql.Rows
	var err error
	switch {
	case step >= hi-base: // one bucket
		rs, err = s.rdb.QueryContext(ctx, s.d.rebind(rollupSumQuery), id, first, last)
	case step >= minSumStep:
		rs, err = s.rdb.QueryContext(ctx, s.d.rebind(rollupSumsQuery), id, first, last, base, step, step-hourMs, base, step)
	default:
		return s.rollupRows(ctx, id, first, last, base, step)
	}
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []span
	var gaps [][2]int64 // first and last hour of the buckets with a gap
	var n, firstHour, lastHour int64
	var r rollupScan
	dest := append([]any{&n, &firstHour, &lastHour}, r.dest()...)
	for rs.Next() {
		if err := rs.Scan(dest...); err != nil {
			return nil, err
		}
		if n == (lastHour-firstHour)/hourMs+1 { // no gap
			out = append(out, span{start: firstHour, end: lastHour + hourMs, done: true, a: r.acc()})
		} else {
			gaps = append(gaps, [2]int64{firstHour, lastHour})
		}
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	rs.Close() // before the next query: a :memory: database has one connection
	if len(gaps) == 0 {
		return out, nil
	}
	for _, g := range gaps {
		rows, err := s.rollupRows(ctx, id, g[0], g[1], base, step)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	slices.SortFunc(out, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	return out, nil
}

// rollupRows returns one done span per rollup of the whole hours from first
// to last (inclusive) of buckets of step from lo.
func (s *sqlStore) rollupRows(ctx context.Context, id, first, last, lo, step int64) ([]span, error) {
	rs, err := s.rdb.QueryContext(ctx, s.d.rebind(rollupRowsQuery), id, first, last, lo, step, step-hourMs)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []span
	var hour int64
	var r rollupScan
	dest := append([]any{&hour}, r.dest()...)
	for rs.Next() {
		if err := rs.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, span{start: hour, end: hour + hourMs, done: true, a: r.acc()})
	}
	return out, rs.Err()
}

// rollupScan receives a row of rollupColumns, or of their sums.
type rollupScan struct {
	a             acc
	min, sum, max sql.NullFloat64 // NULL without values
}

// dest returns the Scan destinations of rollupColumns.
func (r *rollupScan) dest() []any {
	a := &r.a
	return []any{&a.runs, &a.good, &a.bad, &a.unknown, &a.maint, &a.within, &a.values, &r.min, &r.sum, &r.max,
		&a.goodMs, &a.badMs, &a.unknownMs, &a.maintMs, &a.withinMs}
}

func (r *rollupScan) acc() acc {
	a := r.a
	a.min, a.sum, a.max = r.min.Float64, r.sum.Float64, r.max.Float64
	return a
}

// aggregateRaw fills contiguous spans from raw results: the two results
// before them (for the state they hold into the first span), those inside,
// and the first one after (where the last hold ends).
func (s *sqlStore) aggregateRaw(ctx context.Context, q querier, id int64, spans []span, now int64) error {
	f := newFeeder(spans, now)
	lo, hi := f.lo, f.hi

	prev, err := s.samples(ctx, q, "WHERE check_id = ? AND ts < ? ORDER BY ts DESC LIMIT 2", id, lo)
	if err != nil {
		return err
	}
	for i := len(prev) - 1; i >= 0; i-- {
		f.push(prev[i])
	}
	rs, err := q.QueryContext(ctx, s.d.rebind(
		"SELECT ts, status, maintenance, within_sla, value FROM results WHERE check_id = ? AND ts >= ? AND ts < ? ORDER BY ts"),
		id, lo, hi)
	if err != nil {
		return err
	}
	for rs.Next() {
		sm, err := scanSample(rs)
		if err != nil {
			rs.Close()
			return err
		}
		f.push(sm)
	}
	if err := rs.Err(); err != nil {
		rs.Close()
		return err
	}
	rs.Close()
	if !f.hasCur {
		return nil
	}
	var next int64
	err = q.QueryRowContext(ctx, s.d.rebind(
		"SELECT ts FROM results WHERE check_id = ? AND ts >= ? ORDER BY ts LIMIT 1"), id, hi).Scan(&next)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		f.finish(0, false)
	case err != nil:
		return err
	default:
		f.finish(next, true)
	}
	return nil
}

func (s *sqlStore) samples(ctx context.Context, q querier, where string, args ...any) ([]sample, error) {
	rs, err := q.QueryContext(ctx, s.d.rebind("SELECT ts, status, maintenance, within_sla, value FROM results "+where), args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []sample
	for rs.Next() {
		sm, err := scanSample(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, sm)
	}
	return out, rs.Err()
}

func scanSample(rs *sql.Rows) (sample, error) {
	var sm sample
	var maint, within int64
	var v sql.NullFloat64
	if err := rs.Scan(&sm.ts, &sm.status, &maint, &within, &v); err != nil {
		return sm, err
	}
	sm.maint, sm.within, sm.hasValue, sm.value = maint != 0, within != 0, v.Valid, v.Float64
	return sm, nil
}

// Outages returns the outages of one check overlapping [from, to), oldest
// first.
func (s *sqlStore) Outages(ctx context.Context, name string, from, to time.Time) ([]Outage, error) {
	id, ok, err := s.checkID(ctx, name)
	if err != nil || !ok {
		return nil, err
	}
	rs, err := s.rdb.QueryContext(ctx, s.d.rebind(`SELECT start_ms, end_ms FROM outages
		WHERE check_id = ? AND start_ms < ? AND (end_ms IS NULL OR end_ms > ?) ORDER BY start_ms`),
		id, to.UnixMilli(), from.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("store outages: %w", err)
	}
	defer rs.Close()
	var out []Outage
	for rs.Next() {
		var start int64
		var end sql.NullInt64
		if err := rs.Scan(&start, &end); err != nil {
			return nil, fmt.Errorf("store outages: %w", err)
		}
		o := Outage{Check: name, Start: time.UnixMilli(start).UTC()}
		if end.Valid {
			o.End = time.UnixMilli(end.Int64).UTC()
		}
		out = append(out, o)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store outages: %w", err)
	}
	return out, nil
}
