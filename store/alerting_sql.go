package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds of the alerting tables.
const (
	// maxListLimit bounds the rows of one list (deliveries, attempts, dead
	// letters, escalations); a limit outside 1..maxListLimit is clamped.
	maxListLimit = 1000
	// maxAuditLimit bounds one read of the audit trail (AuditQuery.Limit).
	maxAuditLimit = 100
	// maxSilencesRead bounds one Silences read.
	maxSilencesRead = 10_000
	// maxID bounds identifiers (alert, notification, silence, escalation
	// ids, receiver names): they are rejected, not cut, when longer, as a
	// cut id would name something else.
	maxID = 1024
	// maxName bounds actors, actions, targets, handles and token names;
	// longer ones are cut.
	maxName = 256
	// maxLongText bounds an escalation's details and a silence's comment.
	maxLongText = 8 << 10
	// maxAlertData and maxBody bound an alert's state and a notification's
	// JSON; larger ones are rejected (JSON cannot be cut).
	maxAlertData = 1 << 20
	maxBody      = 4 << 20
	// maxAlertIDs bounds the alerts of one delivery.
	maxAlertIDs = 10_000
	// maxMatchers bounds a silence's matchers, maxMatcherText each key
	// and value.
	maxMatchers    = 100
	maxMatcherText = 1024
	// maxDetails bounds an audit event's encoded details; larger ones are
	// replaced by {"truncated": true}.
	maxDetails = 16 << 10
	// maxError bounds an attempt's error; longer ones are cut.
	maxError = 1024
	// alertChunk rows go into one multi-row statement.
	alertChunk = 100
	// sentRetention keeps sent deliveries and the attempt log this long.
	sentRetention = 7 * 24 * time.Hour
)

// Escalation statuses and severities the store accepts.
const (
	EscalationOpen     = "open"
	EscalationResolved = "resolved"
)

var escalationSeverities = []string{"LOW", "MEDIUM", "HIGH"}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidRecord, fmt.Sprintf(format, args...))
}

// checkIdent rejects an empty, too long or unstorable identifier.
func checkIdent(what, id string) error {
	switch {
	case id == "":
		return invalid("empty %s", what)
	case len(id) > maxID:
		return invalid("%s longer than %d bytes", what, maxID)
	case !utf8.ValidString(id) || strings.IndexByte(id, 0) >= 0:
		return invalid("%s is not valid UTF-8 text", what)
	}
	return nil
}

// clip makes s storable by both engines (valid UTF-8, no NUL) and cuts it
// to at most n bytes on a rune boundary, ending with an ellipsis.
func clip(s string, n int) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// checkJSON rejects data that is not a JSON text of at most limit bytes
// (both engines keep it as text).
func checkJSON(what string, data []byte, limit int) error {
	switch {
	case len(data) > limit:
		return invalid("%s larger than %d bytes", what, limit)
	case !utf8.Valid(data) || !json.Valid(data):
		return invalid("%s is not valid JSON", what)
	}
	return nil
}

func clampLimit(n, hi int) int { return min(max(n, 1), hi) }

func toMs(t time.Time) int64 { return t.UnixMilli() }

// nullMs is t in unix ms, or NULL when t is zero.
func nullMs(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func fromMs(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func fromNullMs(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return fromMs(ms.Int64)
}

func (s *sqlStore) nowOr(t time.Time) time.Time {
	if t.IsZero() {
		return s.opts.Now()
	}
	return t
}

// alertTx runs fn in one write transaction: on the writing connection
// (SQLite: the one connection every writer queues for, so alert writes and
// result writes take turns) under the alerting lock (PostgreSQL, so that
// concurrent alert writers never deadlock on each other's rows).
func (s *sqlStore) alertTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.alertsTx(ctx, true, fn)
}

// alertsTx is alertTx, with the alerting lock only when lock is set.
func (s *sqlStore) alertsTx(ctx context.Context, lock bool, fn func(tx *sql.Tx) error) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if lock {
		if err := s.d.lock(ctx, tx, lockAlerts); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// --- alerts and the outbox -------------------------------------------------

type deliveryRow struct {
	notificationID, receiver string
	alertIDs, body           string
	createdAt, dueAt         int64
}

type auditRow struct {
	at                    int64
	actor, action, target string
	details               *string
}

func (s *sqlStore) prepareAudit(events []AuditEvent) ([]auditRow, error) {
	rows := make([]auditRow, len(events))
	for i, e := range events {
		if e.Action == "" {
			return nil, invalid("audit event %d: no action", i)
		}
		r := auditRow{at: toMs(s.nowOr(e.At)), actor: clip(e.Actor, maxName), action: clip(e.Action, maxName),
			target: clip(e.Target, maxID)}
		if len(e.Details) > 0 {
			js, err := json.Marshal(e.Details)
			if err != nil {
				return nil, invalid("audit event %d (%s): details: %v", i, r.action, err)
			}
			if len(js) > maxDetails {
				js = []byte(`{"truncated":true}`)
			}
			d := string(js)
			r.details = &d
		}
		rows[i] = r
	}
	return rows, nil
}

// CommitAlerts writes c in one transaction; see AlertStore. Alerts are
// upserted (the last of one ID wins), then Deleted are deleted, then the
// deliveries enqueued, then the audit events appended. A delivery whose
// (NotificationID, Receiver) is already in the outbox is not enqueued
// again: its existing ID is returned, so a commit retried after an unclear
// failure does not page twice.
func (s *sqlStore) CommitAlerts(ctx context.Context, c AlertCommit) ([]int64, error) {
	if len(c.Alerts)+len(c.Deleted)+len(c.Deliveries)+len(c.Audit) == 0 {
		return nil, nil
	}
	now := s.opts.Now()
	alerts := map[string]AlertRow{}
	for i, a := range c.Alerts {
		if err := checkIdent("alert id", a.ID); err != nil {
			return nil, fmt.Errorf("store alerts: alert %d: %w", i, err)
		}
		if len(a.Data) == 0 {
			a.Data = []byte("{}")
		}
		if err := checkJSON("alert data", a.Data, maxAlertData); err != nil {
			return nil, fmt.Errorf("store alerts: alert %q: %w", a.ID, err)
		}
		if a.UpdatedAt.IsZero() {
			a.UpdatedAt = now
		}
		alerts[a.ID] = a
	}
	deleted := slices.Clone(c.Deleted)
	for _, id := range deleted {
		if err := checkIdent("deleted alert id", id); err != nil {
			return nil, fmt.Errorf("store alerts: %w", err)
		}
	}
	slices.Sort(deleted)
	deleted = slices.Compact(deleted)

	keys := make([][2]string, len(c.Deliveries))
	byKey := map[[2]string]deliveryRow{}
	var order [][2]string // first occurrences, in input order
	for i, d := range c.Deliveries {
		if err := validDelivery(d); err != nil {
			return nil, fmt.Errorf("store alerts: delivery %d: %w", i, err)
		}
		ids, _ := json.Marshal(nonNil(d.AlertIDs))
		created := d.CreatedAt
		if created.IsZero() {
			created = now
		}
		due := d.DueAt
		if due.IsZero() {
			due = created
		}
		k := [2]string{d.NotificationID, d.Receiver}
		keys[i] = k
		if _, dup := byKey[k]; !dup {
			order = append(order, k)
			byKey[k] = deliveryRow{notificationID: d.NotificationID, receiver: d.Receiver, alertIDs: string(ids),
				body: string(d.Body), createdAt: toMs(created), dueAt: toMs(due)}
		}
	}
	audit, err := s.prepareAudit(c.Audit)
	if err != nil {
		return nil, fmt.Errorf("store alerts: %w", err)
	}

	var idOf map[[2]string]int64
	err = s.alertTx(ctx, func(tx *sql.Tx) error {
		if err := s.upsertAlerts(ctx, tx, alerts); err != nil {
			return err
		}
		if err := s.deleteAlerts(ctx, tx, deleted); err != nil {
			return err
		}
		var err error
		if idOf, err = s.insertDeliveries(ctx, tx, order, byKey); err != nil {
			return err
		}
		return s.insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return nil, fmt.Errorf("store alerts: %w", err)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	out := make([]int64, len(keys))
	for i, k := range keys {
		out[i] = idOf[k]
	}
	return out, nil
}

func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

func validDelivery(d Delivery) error {
	if err := checkIdent("notification id", d.NotificationID); err != nil {
		return err
	}
	if err := checkIdent("receiver", d.Receiver); err != nil {
		return err
	}
	if len(d.AlertIDs) > maxAlertIDs {
		return invalid("more than %d alerts", maxAlertIDs)
	}
	for _, id := range d.AlertIDs {
		if err := checkIdent("alert id", id); err != nil {
			return err
		}
	}
	return checkJSON("notification body", d.Body, maxBody)
}

func (s *sqlStore) upsertAlerts(ctx context.Context, tx *sql.Tx, alerts map[string]AlertRow) error {
	ids := make([]string, 0, len(alerts))
	for id := range alerts {
		ids = append(ids, id)
	}
	slices.Sort(ids) // one order for every writer
	const head = "INSERT INTO alerts (id, firing, data, updated_at) VALUES "
	const tail = ` ON CONFLICT (id) DO UPDATE SET firing = excluded.firing, data = excluded.data,
		updated_at = excluded.updated_at`
	for start := 0; start < len(ids); start += alertChunk {
		part := ids[start:min(start+alertChunk, len(ids))]
		args := make([]any, 0, 4*len(part))
		for _, id := range part {
			a := alerts[id]
			args = append(args, a.ID, b2i(a.Firing), string(a.Data), toMs(a.UpdatedAt))
		}
		if _, err := tx.ExecContext(ctx, s.multiRowStmt(head, 4, len(part), tail), args...); err != nil {
			return fmt.Errorf("upsert alerts: %w", err)
		}
	}
	return nil
}

func (s *sqlStore) deleteAlerts(ctx context.Context, tx *sql.Tx, ids []string) error {
	for start := 0; start < len(ids); start += alertChunk {
		part := ids[start:min(start+alertChunk, len(ids))]
		q := s.multiRowTuples("DELETE FROM alerts WHERE id IN (", "?", len(part), ")")
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("delete alerts: %w", err)
		}
	}
	return nil
}

// insertDeliveries enqueues the deliveries of keys, in that order (so
// that their IDs follow it), and returns the ID of each, new or already
// there. RETURNING gives rows in no promised order, so they are matched by
// their unique (notification_id, receiver).
func (s *sqlStore) insertDeliveries(ctx context.Context, tx *sql.Tx, keys [][2]string, byKey map[[2]string]deliveryRow) (map[[2]string]int64, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	const head = `INSERT INTO deliveries (notification_id, receiver, alert_ids, body, state, attempts,
		created_at, due_at, last_error, last_status) VALUES `
	const tail = ` ON CONFLICT (notification_id, receiver) DO UPDATE SET notification_id = excluded.notification_id
		RETURNING id, notification_id, receiver`
	out := make(map[[2]string]int64, len(keys))
	for start := 0; start < len(keys); start += alertChunk {
		part := keys[start:min(start+alertChunk, len(keys))]
		args := make([]any, 0, 10*len(part))
		for _, k := range part {
			d := byKey[k]
			args = append(args, d.notificationID, d.receiver, d.alertIDs, d.body, DeliveryPending, 0,
				d.createdAt, d.dueAt, "", 0)
		}
		rs, err := tx.QueryContext(ctx, s.multiRowStmt(head, 10, len(part), tail), args...)
		if err != nil {
			return nil, fmt.Errorf("enqueue deliveries: %w", err)
		}
		for rs.Next() {
			var id int64
			var k [2]string
			if err := rs.Scan(&id, &k[0], &k[1]); err != nil {
				rs.Close()
				return nil, fmt.Errorf("enqueue deliveries: %w", err)
			}
			out[k] = id
		}
		err = rs.Err()
		rs.Close()
		if err != nil {
			return nil, fmt.Errorf("enqueue deliveries: %w", err)
		}
	}
	for _, k := range keys {
		if out[k] == 0 {
			return nil, fmt.Errorf("enqueue deliveries: no id returned for notification %q", k[0])
		}
	}
	return out, nil
}

func (s *sqlStore) insertAudit(ctx context.Context, tx *sql.Tx, rows []auditRow) error {
	const head = "INSERT INTO audit_events (at, actor, action, target, details) VALUES "
	for start := 0; start < len(rows); start += alertChunk {
		part := rows[start:min(start+alertChunk, len(rows))]
		args := make([]any, 0, 5*len(part))
		for _, r := range part {
			args = append(args, r.at, r.actor, r.action, r.target, r.details)
		}
		if _, err := tx.ExecContext(ctx, s.multiRowStmt(head, 5, len(part), ""), args...); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
	}
	return nil
}

// LoadAlerts returns every stored alert, by ID.
func (s *sqlStore) LoadAlerts(ctx context.Context) ([]AlertRow, error) {
	rs, err := s.rdb.QueryContext(ctx, "SELECT id, firing, data, updated_at FROM alerts ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("store alerts: %w", err)
	}
	defer rs.Close()
	var out []AlertRow
	for rs.Next() {
		var a AlertRow
		var firing, updated int64
		var data string
		if err := rs.Scan(&a.ID, &firing, &data, &updated); err != nil {
			return nil, fmt.Errorf("store alerts: %w", err)
		}
		a.Firing, a.Data, a.UpdatedAt = firing != 0, []byte(data), fromMs(updated)
		out = append(out, a)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store alerts: %w", err)
	}
	return out, nil
}

const deliveryColumns = `id, notification_id, receiver, alert_ids, body, state, attempts, created_at, due_at,
	last_error, last_status, done_at`

func scanDelivery(sc interface{ Scan(...any) error }) (Delivery, error) {
	var d Delivery
	var ids, body string
	var created, due int64
	var done sql.NullInt64
	if err := sc.Scan(&d.ID, &d.NotificationID, &d.Receiver, &ids, &body, &d.State, &d.Attempts, &created, &due,
		&d.LastError, &d.LastStatus, &done); err != nil {
		return d, err
	}
	if err := json.Unmarshal([]byte(ids), &d.AlertIDs); err != nil {
		return d, fmt.Errorf("delivery %d: alert ids: %w", d.ID, err)
	}
	d.Body, d.CreatedAt, d.DueAt, d.DoneAt = []byte(body), fromMs(created), fromMs(due), fromNullMs(done)
	return d, nil
}

func (s *sqlStore) deliveries(ctx context.Context, query string, args ...any) ([]Delivery, error) {
	return queryDeliveries(ctx, s.rdb, s.d.rebind(query), args)
}

// queryDeliveries runs query on db and reads the deliveries it returns.
func queryDeliveries(ctx context.Context, db querier, query string, args []any) ([]Delivery, error) {
	rs, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []Delivery
	for rs.Next() {
		d, err := scanDelivery(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rs.Err()
}

// PendingDeliveries returns up to limit (clamped to 1..1000) pending
// deliveries, by DueAt then ID.
func (s *sqlStore) PendingDeliveries(ctx context.Context, limit int) ([]Delivery, error) {
	out, err := s.deliveries(ctx, "SELECT "+deliveryColumns+
		" FROM deliveries WHERE state = ? ORDER BY due_at, id LIMIT ?", DeliveryPending, clampLimit(limit, maxListLimit))
	if err != nil {
		return nil, fmt.Errorf("store pending deliveries: %w", err)
	}
	return out, nil
}

// DeadLetters lists up to limit (clamped to 1..1000) dead deliveries,
// newest first.
func (s *sqlStore) DeadLetters(ctx context.Context, limit int) ([]Delivery, error) {
	out, err := s.deliveries(ctx, "SELECT "+deliveryColumns+
		" FROM deliveries WHERE state = ? ORDER BY done_at DESC, id DESC LIMIT ?", DeliveryDead, clampLimit(limit, maxListLimit))
	if err != nil {
		return nil, fmt.Errorf("store dead letters: %w", err)
	}
	return out, nil
}

type attemptRow struct {
	a                        Attempt
	receiver, notificationID string
	alertIDs                 string
	err                      string
}

// deliveryState is what RecordAttempts reads of a delivery and writes
// back.
type deliveryState struct {
	id                       int64
	state                    string
	attempts                 int
	dueAt                    int64
	lastError                string
	lastStatus               int
	doneAt                   *int64
	receiver, notificationID string
	alertIDs                 string
	claimedBy                string // "" when not claimed
	claimLive                bool   // claimed, and the claim has not lapsed
	changed                  bool
}

// RecordAttempts stores attempts in one transaction; see AlertStore. An
// attempt applies only to a pending delivery whose stored Attempts is
// below its Attempt, so a batch recorded twice (a retry after an unclear
// failure) changes nothing the second time, and a stale attempt never
// brings back a sent or dead delivery; such attempts are left out of the
// log too. A retried attempt without NextAt is due again at once.
//
// The deliveries are read, their new state computed, then written back
// with one statement per 100 deliveries, and the attempts logged likewise:
// a dispatcher's batch costs a few statements, not a few per attempt.
func (s *sqlStore) RecordAttempts(ctx context.Context, as []Attempt) error {
	_, err := s.recordAttempts(ctx, "", as)
	return err
}

// recordAttempts is RecordAttempts (by "") and RecordClaimedAttempts (by
// a dispatcher's id, which must not be under another dispatcher's live
// claim). Every delivery it changes loses its claim.
func (s *sqlStore) recordAttempts(ctx context.Context, by string, as []Attempt) (lost []int64, err error) {
	if len(as) == 0 {
		return nil, nil
	}
	rows := make([]attemptRow, len(as))
	for i, a := range as {
		switch {
		case a.DeliveryID <= 0:
			return nil, fmt.Errorf("store attempts: attempt %d: %w", i, invalid("no delivery id"))
		case a.Attempt < 1:
			return nil, fmt.Errorf("store attempts: attempt %d: %w", i, invalid("attempt number %d", a.Attempt))
		case a.Outcome != OutcomeSent && a.Outcome != OutcomeRetry && a.Outcome != OutcomeDead:
			return nil, fmt.Errorf("store attempts: attempt %d: %w", i, invalid("outcome %.32q", a.Outcome))
		}
		a.At = s.nowOr(a.At)
		if a.Outcome == OutcomeRetry && a.NextAt.IsZero() {
			a.NextAt = a.At
		}
		if a.Outcome != OutcomeRetry {
			a.NextAt = time.Time{}
		}
		a.Duration = max(a.Duration, 0)
		e := clip(a.Error, maxError)
		if a.Outcome == OutcomeSent {
			e = ""
		}
		rows[i] = attemptRow{a: a, err: e}
	}
	slices.SortStableFunc(rows, func(x, y attemptRow) int {
		return cmp.Or(cmp.Compare(x.a.DeliveryID, y.a.DeliveryID), cmp.Compare(x.a.Attempt, y.a.Attempt))
	})
	var ids []int64
	for i, r := range rows {
		if i == 0 || r.a.DeliveryID != rows[i-1].a.DeliveryID {
			ids = append(ids, r.a.DeliveryID)
		}
	}
	skipped := 0
	// A dispatcher's claimed attempts (PostgreSQL) do without the
	// alerting lock, so that dispatchers record at the same time: they
	// lock the rows of their deliveries, in id order, and no other writer
	// waits for a row while holding one of those.
	err = s.alertsTx(ctx, by == "", func(tx *sql.Tx) error {
		lost, skipped = nil, 0 // a retried transaction starts afresh
		states, err := s.readDeliveryStates(ctx, tx, ids, by != "")
		if err != nil {
			return err
		}
		logged := rows[:0]
		for _, r := range rows {
			d := states[r.a.DeliveryID]
			if d != nil && by != "" && d.claimedBy != by && (d.claimLive || d.state != DeliveryPending || d.attempts >= r.a.Attempt) {
				// Another dispatcher holds it, or took it over and
				// recorded an attempt since by claimed it; or this very
				// attempt was recorded already (a batch recorded again
				// after an unclear failure), which the log tells.
				if !d.claimLive {
					mine, err := s.attemptLogged(ctx, tx, r.a)
					if err != nil {
						return err
					}
					if mine {
						skipped++
						continue
					}
				}
				if len(lost) == 0 || lost[len(lost)-1] != d.id {
					lost = append(lost, d.id)
				}
				continue
			}
			if d == nil || d.state != DeliveryPending || d.attempts >= r.a.Attempt {
				skipped++
				continue
			}
			a := r.a
			d.attempts, d.lastError, d.lastStatus, d.changed = a.Attempt, r.err, a.StatusCode, true
			switch a.Outcome {
			case OutcomeSent, OutcomeDead:
				d.state = DeliverySent
				if a.Outcome == OutcomeDead {
					d.state = DeliveryDead
				}
				done := toMs(a.At)
				d.doneAt = &done
			case OutcomeRetry:
				d.dueAt = toMs(a.NextAt)
			}
			r.receiver, r.notificationID, r.alertIDs = d.receiver, d.notificationID, d.alertIDs
			logged = append(logged, r)
		}
		if err := s.writeDeliveryStates(ctx, tx, ids, states); err != nil {
			return err
		}
		return s.insertAttempts(ctx, tx, logged)
	})
	if err != nil {
		return nil, fmt.Errorf("store attempts: %w", err)
	}
	if skipped > 0 {
		s.logger.DebugContext(ctx, "delivery attempts left out: not pending or already recorded", "count", skipped)
	}
	return lost, nil
}

// readDeliveryStates reads the deliveries ids. With lock (PostgreSQL) it
// locks their rows until the transaction ends, so that no dispatcher
// claims one between this read and the write of its new state.
// attemptLogged reports whether the log holds attempt a already: its
// delivery, number, start and outcome.
func (s *sqlStore) attemptLogged(ctx context.Context, tx *sql.Tx, a Attempt) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM delivery_attempts
		WHERE delivery_id = ? AND attempt = ? AND at = ? AND outcome = ?`),
		a.DeliveryID, a.Attempt, toMs(a.At), a.Outcome).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read attempt log: %w", err)
	}
	return n > 0, nil
}

func (s *sqlStore) readDeliveryStates(ctx context.Context, tx *sql.Tx, ids []int64, lock bool) (map[int64]*deliveryState, error) {
	out := make(map[int64]*deliveryState, len(ids))
	tail := ")"
	if lock && s.d == postgresDialect {
		tail = ") ORDER BY id FOR UPDATE"
	}
	for start := 0; start < len(ids); start += alertChunk {
		part := ids[start:min(start+alertChunk, len(ids))]
		nowExpr, nowArgs := s.nowSQL()
		args := make([]any, 0, len(part)+len(nowArgs))
		args = append(args, nowArgs...)
		for _, id := range part {
			args = append(args, id)
		}
		q := s.multiRowTuples(`SELECT id, state, attempts, due_at, last_error, last_status, done_at, receiver,
			notification_id, alert_ids, COALESCE(claimed_by, ''),
			CASE WHEN claimed_until > `+nowExpr+` THEN 1 ELSE 0 END
			FROM deliveries WHERE id IN (`, "?", len(part), tail)
		rs, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("read deliveries: %w", err)
		}
		for rs.Next() {
			var d deliveryState
			var done sql.NullInt64
			var live int
			if err := rs.Scan(&d.id, &d.state, &d.attempts, &d.dueAt, &d.lastError, &d.lastStatus, &done,
				&d.receiver, &d.notificationID, &d.alertIDs, &d.claimedBy, &live); err != nil {
				rs.Close()
				return nil, fmt.Errorf("read deliveries: %w", err)
			}
			if done.Valid {
				d.doneAt = &done.Int64
			}
			d.claimLive = live != 0
			out[d.id] = &d
		}
		err = rs.Err()
		rs.Close()
		if err != nil {
			return nil, fmt.Errorf("read deliveries: %w", err)
		}
	}
	return out, nil
}

// writeDeliveryStates writes back the changed deliveries, and clears their
// claims (an attempt recorded finishes the claim), up to alertChunk
// per UPDATE ... FROM (VALUES ...) (both engines name the columns of a
// VALUES list column1, column2, ...; the casts type PostgreSQL's
// parameters).
func (s *sqlStore) writeDeliveryStates(ctx context.Context, tx *sql.Tx, ids []int64, states map[int64]*deliveryState) error {
	var changed []*deliveryState
	for _, id := range ids {
		if d := states[id]; d != nil && d.changed {
			changed = append(changed, d)
		}
	}
	const head = "UPDATE deliveries SET attempts = v.column2, state = v.column3, due_at = v.column4, " +
		"last_error = v.column5, last_status = v.column6, done_at = v.column7, " +
		"claimed_by = NULL, claimed_until = NULL FROM (VALUES "
	const tuple = "(CAST(? AS BIGINT), CAST(? AS INTEGER), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS TEXT), " +
		"CAST(? AS INTEGER), CAST(? AS BIGINT))"
	const tail = ") AS v WHERE deliveries.id = v.column1"
	for start := 0; start < len(changed); start += alertChunk {
		part := changed[start:min(start+alertChunk, len(changed))]
		args := make([]any, 0, 7*len(part))
		for _, d := range part {
			args = append(args, d.id, d.attempts, d.state, d.dueAt, d.lastError, d.lastStatus, d.doneAt)
		}
		if _, err := tx.ExecContext(ctx, s.multiRowTuples(head, tuple, len(part), tail), args...); err != nil {
			return fmt.Errorf("update deliveries: %w", err)
		}
	}
	return nil
}

func (s *sqlStore) insertAttempts(ctx context.Context, tx *sql.Tx, rows []attemptRow) error {
	const head = `INSERT INTO delivery_attempts (delivery_id, receiver, notification_id, alert_ids, attempt, at,
		duration_us, status_code, error, outcome, next_at) VALUES `
	for start := 0; start < len(rows); start += alertChunk {
		part := rows[start:min(start+alertChunk, len(rows))]
		args := make([]any, 0, 11*len(part))
		for _, r := range part {
			a := r.a
			args = append(args, a.DeliveryID, r.receiver, r.notificationID, r.alertIDs, a.Attempt, toMs(a.At),
				a.Duration.Microseconds(), a.StatusCode, r.err, a.Outcome, nullMs(a.NextAt))
		}
		if _, err := tx.ExecContext(ctx, s.multiRowStmt(head, 11, len(part), ""), args...); err != nil {
			return fmt.Errorf("log attempts: %w", err)
		}
	}
	return nil
}

// Attempts lists the newest attempts (of one receiver, or all when
// receiver is ""), newest first, at most limit (clamped to 1..1000).
func (s *sqlStore) Attempts(ctx context.Context, receiver string, limit int) ([]Attempt, error) {
	q := `SELECT delivery_id, receiver, notification_id, alert_ids, attempt, at, duration_us, status_code, error,
		outcome, next_at FROM delivery_attempts`
	args := []any{}
	if receiver != "" {
		q += " WHERE receiver = ?"
		args = append(args, receiver)
	}
	q += " ORDER BY at DESC, id DESC LIMIT ?"
	args = append(args, clampLimit(limit, maxListLimit))
	rs, err := s.rdb.QueryContext(ctx, s.d.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("store attempts: %w", err)
	}
	defer rs.Close()
	var out []Attempt
	for rs.Next() {
		var a Attempt
		var ids string
		var at, us int64
		var next sql.NullInt64
		if err := rs.Scan(&a.DeliveryID, &a.Receiver, &a.NotificationID, &ids, &a.Attempt, &at, &us, &a.StatusCode,
			&a.Error, &a.Outcome, &next); err != nil {
			return nil, fmt.Errorf("store attempts: %w", err)
		}
		if err := json.Unmarshal([]byte(ids), &a.AlertIDs); err != nil {
			return nil, fmt.Errorf("store attempts: delivery %d: alert ids: %w", a.DeliveryID, err)
		}
		a.At, a.Duration, a.NextAt = fromMs(at), time.Duration(us)*time.Microsecond, fromNullMs(next)
		out = append(out, a)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store attempts: %w", err)
	}
	return out, nil
}

// Replay makes dead delivery id pending again, due at now (the store's
// clock when zero); see AlertStore. Its last error and status stay until
// the next attempt.
func (s *sqlStore) Replay(ctx context.Context, id int64, now time.Time) (Delivery, error) {
	now = s.nowOr(now)
	var d Delivery
	err := s.alertTx(ctx, func(tx *sql.Tx) error {
		var err error
		d, err = scanDelivery(tx.QueryRowContext(ctx, s.d.rebind(`UPDATE deliveries
			SET state = ?, attempts = 0, due_at = ?, done_at = NULL, claimed_by = NULL, claimed_until = NULL
			WHERE id = ? AND state = ? RETURNING `+deliveryColumns),
			DeliveryPending, toMs(now), id, DeliveryDead))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Delivery{}, fmt.Errorf("store replay: delivery %d is not a dead letter: %w", id, ErrNotFound)
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("store replay: %w", err)
	}
	return d, nil
}

// PendingCounts returns the number of pending deliveries per receiver
// (receivers without any are absent).
func (s *sqlStore) PendingCounts(ctx context.Context) (map[string]int, error) {
	out, err := s.countByReceiver(ctx, DeliveryPending)
	if err != nil {
		return nil, fmt.Errorf("store pending counts: %w", err)
	}
	return out, nil
}

// DeadLetterCounts returns the number of dead letters per receiver
// (receivers without any are absent).
func (s *sqlStore) DeadLetterCounts(ctx context.Context) (map[string]int, error) {
	out, err := s.countByReceiver(ctx, DeliveryDead)
	if err != nil {
		return nil, fmt.Errorf("store dead letter counts: %w", err)
	}
	return out, nil
}

// countByReceiver counts the deliveries in state per receiver.
func (s *sqlStore) countByReceiver(ctx context.Context, state string) (map[string]int, error) {
	rs, err := s.rdb.QueryContext(ctx, s.d.rebind(
		"SELECT receiver, COUNT(*) FROM deliveries WHERE state = ? GROUP BY receiver"), state)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	out := map[string]int{}
	for rs.Next() {
		var r string
		var n int
		if err := rs.Scan(&r, &n); err != nil {
			return nil, err
		}
		out[r] = n
	}
	return out, rs.Err()
}

// --- silences and escalations ---------------------------------------------

// SaveSilence inserts or replaces a silence (by ID). It needs an ID and an
// EndsAt; CreatedAt defaults to now.
func (s *sqlStore) SaveSilence(ctx context.Context, si Silence) error {
	if err := checkIdent("silence id", si.ID); err != nil {
		return fmt.Errorf("store silence: %w", err)
	}
	if si.EndsAt.IsZero() {
		return fmt.Errorf("store silence %q: %w", si.ID, invalid("no end"))
	}
	if len(si.Matchers) > maxMatchers {
		return fmt.Errorf("store silence %q: %w", si.ID, invalid("more than %d matchers", maxMatchers))
	}
	for k, v := range si.Matchers {
		if k == "" || len(k) > maxMatcherText || len(v) > maxMatcherText {
			return fmt.Errorf("store silence %q: %w", si.ID, invalid("matcher %.64q: empty or longer than %d bytes", k, maxMatcherText))
		}
	}
	m := si.Matchers
	if m == nil {
		m = map[string]string{}
	}
	js, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("store silence %q: %w", si.ID, err)
	}
	_, err = s.wdb.ExecContext(ctx, s.d.rebind(`INSERT INTO silences (id, matchers, starts_at, ends_at, comment,
		created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET matchers = excluded.matchers, starts_at = excluded.starts_at,
		ends_at = excluded.ends_at, comment = excluded.comment, created_by = excluded.created_by,
		created_at = excluded.created_at`),
		si.ID, string(js), toMs(si.StartsAt), toMs(si.EndsAt), clip(si.Comment, maxLongText),
		clip(si.CreatedBy, maxName), toMs(s.nowOr(si.CreatedAt)))
	if err != nil {
		return fmt.Errorf("store silence: %w", err)
	}
	return nil
}

// Silences returns the silences that end after since, by StartsAt (at
// most 10,000).
func (s *sqlStore) Silences(ctx context.Context, since time.Time) ([]Silence, error) {
	rs, err := s.rdb.QueryContext(ctx, s.d.rebind(`SELECT id, matchers, starts_at, ends_at, comment, created_by,
		created_at FROM silences WHERE ends_at > ? ORDER BY starts_at, id LIMIT ?`), toMs(since), maxSilencesRead)
	if err != nil {
		return nil, fmt.Errorf("store silences: %w", err)
	}
	defer rs.Close()
	var out []Silence
	for rs.Next() {
		var si Silence
		var m string
		var starts, ends, created int64
		if err := rs.Scan(&si.ID, &m, &starts, &ends, &si.Comment, &si.CreatedBy, &created); err != nil {
			return nil, fmt.Errorf("store silences: %w", err)
		}
		if err := json.Unmarshal([]byte(m), &si.Matchers); err != nil {
			return nil, fmt.Errorf("store silences: silence %q: matchers: %w", si.ID, err)
		}
		si.StartsAt, si.EndsAt, si.CreatedAt = fromMs(starts), fromMs(ends), fromMs(created)
		out = append(out, si)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store silences: %w", err)
	}
	return out, nil
}

// SaveEscalation inserts or replaces an escalation (by ID). Status must be
// open or resolved and Severity LOW, MEDIUM or HIGH; CreatedAt defaults to
// now.
func (s *sqlStore) SaveEscalation(ctx context.Context, e Escalation) error {
	if err := checkIdent("escalation id", e.ID); err != nil {
		return fmt.Errorf("store escalation: %w", err)
	}
	if e.Status != EscalationOpen && e.Status != EscalationResolved {
		return fmt.Errorf("store escalation %q: %w", e.ID, invalid("status %.32q", e.Status))
	}
	if !slices.Contains(escalationSeverities, e.Severity) {
		return fmt.Errorf("store escalation %q: %w", e.ID, invalid("severity %.32q", e.Severity))
	}
	_, err := s.wdb.ExecContext(ctx, s.d.rebind(`INSERT INTO escalations (id, handle, severity, summary, details,
		status, public, created_at, created_by, resolved_at, resolved_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET handle = excluded.handle, severity = excluded.severity,
		summary = excluded.summary, details = excluded.details, status = excluded.status,
		public = excluded.public, created_at = excluded.created_at, created_by = excluded.created_by,
		resolved_at = excluded.resolved_at, resolved_by = excluded.resolved_by`),
		e.ID, clip(e.Handle, maxName), e.Severity, clip(e.Summary, maxLongText), clip(e.Details, maxLongText),
		e.Status, b2i(e.Public), toMs(s.nowOr(e.CreatedAt)), clip(e.CreatedBy, maxName), nullMs(e.ResolvedAt),
		clip(e.ResolvedBy, maxName))
	if err != nil {
		return fmt.Errorf("store escalation: %w", err)
	}
	return nil
}

const escalationColumns = `id, handle, severity, summary, details, status, public, created_at, created_by,
	resolved_at, resolved_by`

func scanEscalation(sc interface{ Scan(...any) error }) (Escalation, error) {
	var e Escalation
	var public, created int64
	var resolved sql.NullInt64
	err := sc.Scan(&e.ID, &e.Handle, &e.Severity, &e.Summary, &e.Details, &e.Status, &public, &created,
		&e.CreatedBy, &resolved, &e.ResolvedBy)
	e.Public, e.CreatedAt, e.ResolvedAt = public != 0, fromMs(created), fromNullMs(resolved)
	return e, err
}

// Escalation returns one escalation, or ErrNotFound.
func (s *sqlStore) Escalation(ctx context.Context, id string) (Escalation, error) {
	e, err := scanEscalation(s.rdb.QueryRowContext(ctx, s.d.rebind(
		"SELECT "+escalationColumns+" FROM escalations WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Escalation{}, fmt.Errorf("store escalation: %w", ErrNotFound)
	}
	if err != nil {
		return Escalation{}, fmt.Errorf("store escalation: %w", err)
	}
	return e, nil
}

// Escalations lists escalations with status ("" for all), newest first,
// at most limit (clamped to 1..1000).
func (s *sqlStore) Escalations(ctx context.Context, status string, limit int) ([]Escalation, error) {
	q := "SELECT " + escalationColumns + " FROM escalations"
	args := []any{}
	if status != "" {
		q += " WHERE status = ?"
		args = append(args, status)
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, clampLimit(limit, maxListLimit))
	rs, err := s.rdb.QueryContext(ctx, s.d.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("store escalations: %w", err)
	}
	defer rs.Close()
	var out []Escalation
	for rs.Next() {
		e, err := scanEscalation(rs)
		if err != nil {
			return nil, fmt.Errorf("store escalations: %w", err)
		}
		out = append(out, e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store escalations: %w", err)
	}
	return out, nil
}

// --- audit -----------------------------------------------------------------

// Audit appends events to the trail in one transaction. Each needs an
// Action; At defaults to now; details encoded larger than 16 KiB are
// replaced by {"truncated": true}.
func (s *sqlStore) Audit(ctx context.Context, events []AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	rows, err := s.prepareAudit(events)
	if err != nil {
		return fmt.Errorf("store audit: %w", err)
	}
	if err := s.alertTx(ctx, func(tx *sql.Tx) error { return s.insertAudit(ctx, tx, rows) }); err != nil {
		return fmt.Errorf("store audit: %w", err)
	}
	return nil
}

// AuditEvents reads the trail, newest first: at most q.Limit events
// (clamped to 1..100).
func (s *sqlStore) AuditEvents(ctx context.Context, q AuditQuery) ([]AuditEvent, error) {
	query := "SELECT id, at, actor, action, target, details FROM audit_events"
	var where []string
	var args []any
	if !q.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, toMs(q.Since))
	}
	if q.Action != "" {
		where = append(where, "action = ?")
		args = append(args, q.Action)
	}
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY at DESC, id DESC LIMIT ?"
	args = append(args, clampLimit(q.Limit, maxAuditLimit))
	rs, err := s.rdb.QueryContext(ctx, s.d.rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store audit events: %w", err)
	}
	defer rs.Close()
	var out []AuditEvent
	for rs.Next() {
		var e AuditEvent
		var at int64
		var details sql.NullString
		if err := rs.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &details); err != nil {
			return nil, fmt.Errorf("store audit events: %w", err)
		}
		e.At = fromMs(at)
		if details.Valid {
			if err := json.Unmarshal([]byte(details.String), &e.Details); err != nil {
				return nil, fmt.Errorf("store audit events: event %d: details: %w", e.ID, err)
			}
		}
		out = append(out, e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store audit events: %w", err)
	}
	return out, nil
}
