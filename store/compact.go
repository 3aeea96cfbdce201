package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

const (
	// rollupDelay is how long after its end an hour is rolled up, so that
	// results still queued in the Writer make it in. Results that arrive
	// for an hour already rolled up send its check back to that hour.
	rollupDelay = 5 * time.Minute
	// rollupChunk hours of one check are rolled up per transaction.
	rollupChunk = 24
	// deleteBatch rows at most are deleted per statement.
	deleteBatch = 5000
)

// Compact rolls up every finished hour not rolled up yet, then deletes raw
// results older than the retention (ts < now − Retention: a result exactly
// at the horizon is kept), hourly rollups whose hour ended at or before
// now − RollupRetention, and outages that ended by then. Raw results not
// yet rolled up are never deleted. Work is done in short transactions, so
// the writer waits for at most one of them at a time.
func (s *sqlStore) Compact(ctx context.Context, now time.Time) error {
	nowMs := now.UnixMilli()
	ids, err := s.checkIDs(ctx)
	if err != nil {
		return fmt.Errorf("store compact: %w", err)
	}
	until := floorHour(nowMs - rollupDelay.Milliseconds())
	for _, id := range ids {
		for {
			done, err := s.rollupChunk(ctx, id, until, nowMs)
			if err != nil {
				return fmt.Errorf("store compact: roll up check %d: %w", id, err)
			}
			if done {
				break
			}
		}
	}

	horizon := nowMs - s.opts.Retention.Milliseconds()
	rollHorizon := nowMs - s.opts.RollupRetention.Milliseconds()
	var raw, rollups int64
	for _, id := range ids {
		var rolled int64
		if err := s.rdb.QueryRowContext(ctx, s.d.rebind("SELECT rolled_until FROM checks WHERE id = ?"), id).Scan(&rolled); err != nil {
			return fmt.Errorf("store compact: %w", err)
		}
		n, err := s.deleteBefore(ctx, "results", "ts", id, min(horizon, rolled))
		raw += n
		if err != nil {
			return fmt.Errorf("store compact: delete results: %w", err)
		}
		n, err = s.deleteBefore(ctx, "rollups_hourly", "hour", id, rollHorizon-hourMs+1)
		rollups += n
		if err != nil {
			return fmt.Errorf("store compact: delete rollups: %w", err)
		}
	}
	res, err := s.wdb.ExecContext(ctx, s.d.rebind("DELETE FROM outages WHERE end_ms IS NOT NULL AND end_ms <= ?"), rollHorizon)
	if err != nil {
		return fmt.Errorf("store compact: delete outages: %w", err)
	}
	outages, _ := res.RowsAffected()
	s.logger.DebugContext(ctx, "store compacted", "checks", len(ids),
		"deleted_results", raw, "deleted_rollups", rollups, "deleted_outages", outages)
	if err := s.compactAlerting(ctx, nowMs); err != nil {
		return fmt.Errorf("store compact: %w", err)
	}
	return nil
}

// compactAlerting deletes, in batches of deleteBatch rows: sent deliveries
// and delivery attempts older than sentRetention, dead letters, ended
// silences and resolved escalations older than Retention, and audit events
// older than AuditRetention. Pending deliveries and open escalations are
// never deleted.
func (s *sqlStore) compactAlerting(ctx context.Context, now int64) error {
	sent := now - sentRetention.Milliseconds()
	horizon := now - s.opts.Retention.Milliseconds()
	audit := now - s.opts.AuditRetention.Milliseconds()
	for _, d := range []struct {
		what, table, key, where string
		args                    []any
	}{
		{"sent deliveries", "deliveries", "id", "state = ? AND done_at < ?", []any{DeliverySent, sent}},
		{"delivery attempts", "delivery_attempts", "id", "at < ?", []any{sent}},
		{"dead letters", "deliveries", "id", "state = ? AND done_at < ?", []any{DeliveryDead, horizon}},
		{"silences", "silences", "id", "ends_at < ?", []any{horizon}},
		{"escalations", "escalations", "id", "status = ? AND resolved_at < ?", []any{EscalationResolved, horizon}},
		{"audit events", "audit_events", "id", "at < ?", []any{audit}},
	} {
		n, err := s.deleteBatched(ctx, d.table, d.key, d.where, d.args...)
		if err != nil {
			return fmt.Errorf("delete %s: %w", d.what, err)
		}
		if n > 0 {
			s.logger.DebugContext(ctx, "store compacted", "deleted_"+strings.ReplaceAll(d.what, " ", "_"), n)
		}
	}
	return nil
}

// deleteBatched deletes the rows of table matching where, at most
// deleteBatch per statement (each its own transaction), and returns how
// many it deleted.
func (s *sqlStore) deleteBatched(ctx context.Context, table, key, where string, args ...any) (int64, error) {
	q := s.d.rebind(fmt.Sprintf("DELETE FROM %[1]s WHERE %[2]s IN (SELECT %[2]s FROM %[1]s WHERE %[3]s LIMIT %[4]d)",
		table, key, where, deleteBatch))
	var total int64
	for {
		res, err := s.wdb.ExecContext(ctx, q, args...)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n < deleteBatch {
			return total, nil
		}
	}
}

func (s *sqlStore) checkIDs(ctx context.Context) ([]int64, error) {
	rs, err := s.rdb.QueryContext(ctx, "SELECT id FROM checks ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var ids []int64
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rs.Err()
}

// rollupChunk rolls up at most rollupChunk hours of one check, starting at
// its rolled_until, and reports whether the check is rolled up to until.
// Each hour is computed afresh from raw results, replacing what was there,
// so running it again gives the same rollups.
func (s *sqlStore) rollupChunk(ctx context.Context, id, until, now int64) (done bool, err error) {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback() }()
	if err := s.d.lock(ctx, tx, lockWrite); err != nil {
		return false, err
	}
	var start int64
	if err := tx.QueryRowContext(ctx, s.d.rebind("SELECT rolled_until FROM checks WHERE id = ?"), id).Scan(&start); err != nil {
		return false, err
	}
	if start == 0 {
		var first sql.NullInt64
		if err := tx.QueryRowContext(ctx, s.d.rebind("SELECT MIN(ts) FROM results WHERE check_id = ?"), id).Scan(&first); err != nil {
			return false, err
		}
		if !first.Valid {
			return true, nil
		}
		start = floorHour(first.Int64)
	}
	if start >= until {
		return true, nil
	}
	end := min(until, start+rollupChunk*hourMs)
	spans := make([]span, 0, rollupChunk)
	for h := start; h < end; h += hourMs {
		spans = append(spans, span{start: h, end: h + hourMs})
	}
	if err := s.aggregateRaw(ctx, tx, id, spans, now); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, s.d.rebind(
		"DELETE FROM rollups_hourly WHERE check_id = ? AND hour >= ? AND hour < ?"), id, start, end); err != nil {
		return false, err
	}
	next := end
	written := false
	for i := range spans {
		a := &spans[i].a
		if a.empty() {
			continue
		}
		written = true
		var mn, sum, mx *float64
		if a.values > 0 {
			mn, sum, mx = &a.min, &a.sum, &a.max
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind("INSERT INTO rollups_hourly (check_id, hour, "+rollupColumns+
			") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
			id, spans[i].start, a.runs, a.good, a.bad, a.unknown, a.maint, a.within, a.values, mn, sum, mx,
			a.goodMs, a.badMs, a.unknownMs, a.maintMs, a.withinMs); err != nil {
			return false, err
		}
	}
	if !written {
		// Nothing in these hours and nothing held into them: skip to the
		// hour of the next result.
		var nx sql.NullInt64
		if err := tx.QueryRowContext(ctx, s.d.rebind(
			"SELECT MIN(ts) FROM results WHERE check_id = ? AND ts >= ?"), id, end).Scan(&nx); err != nil {
			return false, err
		}
		next = until
		if nx.Valid {
			next = min(until, max(end, floorHour(nx.Int64)))
		}
	}
	if _, err := tx.ExecContext(ctx, s.d.rebind("UPDATE checks SET rolled_until = ? WHERE id = ?"), next, id); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	return next >= until, nil
}

// deleteBefore deletes a check's rows of table with col < before, at most
// deleteBatch rows per statement (each its own transaction).
func (s *sqlStore) deleteBefore(ctx context.Context, table, col string, id, before int64) (int64, error) {
	cutQ := s.d.rebind(fmt.Sprintf("SELECT %[2]s FROM %[1]s WHERE check_id = ? AND %[2]s < ? ORDER BY %[2]s LIMIT 1 OFFSET %[3]d",
		table, col, deleteBatch-1))
	delUpTo := s.d.rebind(fmt.Sprintf("DELETE FROM %s WHERE check_id = ? AND %s <= ?", table, col))
	delBefore := s.d.rebind(fmt.Sprintf("DELETE FROM %s WHERE check_id = ? AND %s < ?", table, col))
	var total int64
	for {
		var cut int64
		err := s.rdb.QueryRowContext(ctx, cutQ, id, before).Scan(&cut)
		last := errors.Is(err, sql.ErrNoRows)
		if err != nil && !last {
			return total, err
		}
		var res sql.Result
		if last {
			res, err = s.wdb.ExecContext(ctx, delBefore, id, before)
		} else {
			res, err = s.wdb.ExecContext(ctx, delUpTo, id, cut)
		}
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
		if last {
			return total, nil
		}
	}
}
