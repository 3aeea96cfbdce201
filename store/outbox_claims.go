package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Claims let several outbox dispatchers (one per replica) share one outbox
// so that each delivery is attempted by one of them at a time. A
// dispatcher claims pending deliveries before it attempts them: the claim
// names it (claimed_by) and holds until claimed_until, in unix ms of the
// store's clock (PostgreSQL: the server's clock, never a replica's;
// SQLite: the store's Options.Now, or the Claim's Now, on one host).
// Recording an attempt (sent, retry scheduled, dead-lettered) clears the
// claim. A claim that is never finished (its dispatcher crashed) lapses at
// claimed_until, and another dispatcher claims the delivery and sends it
// again with the same notification id: at-least-once across a crash,
// once otherwise.

// Claim asks for deliveries on behalf of one dispatcher.
type Claim struct {
	// By names the dispatcher: unique per process run (a replica that
	// restarts is a new dispatcher).
	By string
	// Receiver limits ClaimDeliveries to one receiver's deliveries; ""
	// takes any receiver's.
	Receiver string
	// Limit bounds the deliveries of one ClaimDeliveries (clamped to
	// 1..1000).
	Limit int
	// TTL is how long a claim holds after the delivery is due: a delivery
	// due at DueAt, claimed at Now, is held until Now + max(DueAt-Now, 0)
	// + TTL (the wait is measured on Now's clock, the rest on the store's,
	// so that clocks that disagree do not shorten a claim).
	TTL time.Duration
	// Now is the dispatcher's clock at the claim (zero: the store's).
	Now time.Time
}

// maxClaimBy bounds a dispatcher's id.
const maxClaimBy = 256

func (c *Claim) check() error {
	switch {
	case c.By == "" || len(c.By) > maxClaimBy:
		return invalid("claimant id empty or longer than %d bytes", maxClaimBy)
	case c.TTL < time.Millisecond:
		return invalid("claim TTL %s below 1ms", c.TTL)
	}
	return nil
}

// nowSQL is the store's clock in unix ms as an SQL expression: the
// server's statement time on PostgreSQL, a parameter on SQLite (the
// returned args, to be placed where the expression is).
func (s *sqlStore) nowSQL() (string, []any) {
	if s.d == postgresDialect {
		return "CAST(EXTRACT(EPOCH FROM statement_timestamp()) * 1000 AS BIGINT)", nil
	}
	return "CAST(? AS BIGINT)", []any{toMs(s.opts.Now())}
}

// expand replaces each {{now}} of query with the store's clock, and each
// {{skip_locked}} with FOR UPDATE SKIP LOCKED (PostgreSQL) or nothing
// (SQLite: one writer, nothing to skip), and places the clock's
// parameters among args, which are given in the order of the query's
// other ? placeholders.
func (s *sqlStore) expand(query string, args ...any) (string, []any) {
	expr, nowArgs := s.nowSQL()
	skip := ""
	if s.d == postgresDialect {
		skip = " FOR UPDATE SKIP LOCKED"
	}
	var b strings.Builder
	out := make([]any, 0, len(args)+4)
	next := 0
	for i := 0; i < len(query); {
		switch {
		case strings.HasPrefix(query[i:], "{{now}}"):
			b.WriteString(expr)
			out = append(out, nowArgs...)
			i += len("{{now}}")
		case strings.HasPrefix(query[i:], "{{skip_locked}}"):
			b.WriteString(skip)
			i += len("{{skip_locked}}")
		case query[i] == '?':
			b.WriteByte('?')
			out = append(out, args[next])
			next++
			i++
		default:
			b.WriteByte(query[i])
			i++
		}
	}
	return s.d.rebind(b.String()), out
}

// claimUntilSQL is the claim's end: the store's now, plus the wait until
// the delivery is due as the claimant counts it, plus the TTL. Its
// parameters: the claimant's now (ms, twice), the TTL (ms).
const claimUntilSQL = `{{now}} + (CASE WHEN due_at > ? THEN due_at - ? ELSE 0 END) + ?`

// ClaimDeliveries claims up to c.Limit pending deliveries (of c.Receiver,
// or of any receiver) that no other dispatcher holds a live claim on, by
// DueAt then ID, and returns them. On PostgreSQL the rows are picked with
// FOR UPDATE SKIP LOCKED in the one statement that claims them, so
// dispatchers claiming at the same time get disjoint sets without
// waiting for each other.
func (s *sqlStore) ClaimDeliveries(ctx context.Context, c Claim) ([]Delivery, error) {
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("store claim deliveries: %w", err)
	}
	now := toMs(s.nowOr(c.Now))
	where := "state = ?"
	args := []any{c.By, now, now, c.TTL.Milliseconds(), DeliveryPending}
	if c.Receiver != "" {
		where += " AND receiver = ?"
		args = append(args, c.Receiver)
	}
	args = append(args, clampLimit(c.Limit, maxListLimit))
	// PostgreSQL: = ANY(ARRAY(...)) makes the picked ids a parameter of
	// the update, which then finds them by primary key (with IN it may
	// join them to a scan of the whole table, sent deliveries included).
	in, out := "id IN (", ")"
	if s.d == postgresDialect {
		in, out = "id = ANY(ARRAY(", "))"
	}
	q, qargs := s.expand(`UPDATE deliveries SET claimed_by = ?, claimed_until = `+claimUntilSQL+`
		WHERE `+in+`SELECT id FROM deliveries WHERE `+where+`
			AND (claimed_until IS NULL OR claimed_until <= {{now}})
			ORDER BY due_at, id LIMIT ?{{skip_locked}}`+out+`
		RETURNING `+deliveryColumns, args...)
	ds, err := s.claimed(ctx, q, qargs)
	if err != nil {
		return nil, fmt.Errorf("store claim deliveries: %w", err)
	}
	slices.SortFunc(ds, func(a, b Delivery) int { return cmp.Or(a.DueAt.Compare(b.DueAt), cmp.Compare(a.ID, b.ID)) })
	return ds, nil
}

// RenewClaim claims delivery id again for c.By (c.Receiver and c.Limit
// are not used): it extends c.By's own claim, or takes the delivery when
// no other dispatcher holds a live claim on it, and returns it as stored
// (its Attempts and DueAt may have changed since it was loaded).
// ErrNotFound when it is not pending or another dispatcher holds it.
//
// It waits for a dispatcher that is recording an attempt of the delivery
// (no SKIP LOCKED), and then sees what that one recorded: one row, so no
// lock order to deadlock on.
func (s *sqlStore) RenewClaim(ctx context.Context, c Claim, id int64) (Delivery, error) {
	if err := c.check(); err != nil {
		return Delivery{}, fmt.Errorf("store renew claim: %w", err)
	}
	now := toMs(s.nowOr(c.Now))
	q, qargs := s.expand(`UPDATE deliveries SET claimed_by = ?, claimed_until = `+claimUntilSQL+`
		WHERE id = ? AND state = ? AND (claimed_by = ? OR claimed_until IS NULL OR claimed_until <= {{now}})
		RETURNING `+deliveryColumns, c.By, now, now, c.TTL.Milliseconds(), id, DeliveryPending, c.By)
	d, err := scanDelivery(s.wdb.QueryRowContext(ctx, q, qargs...))
	if errors.Is(err, sql.ErrNoRows) {
		return Delivery{}, fmt.Errorf("store renew claim: delivery %d is not pending or is claimed by another dispatcher: %w", id, ErrNotFound)
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("store renew claim: delivery %d: %w", id, err)
	}
	return d, nil
}

// claimed runs a claiming statement on the writing connection and reads
// the deliveries it returns.
func (s *sqlStore) claimed(ctx context.Context, q string, args []any) ([]Delivery, error) {
	return queryDeliveries(ctx, s.wdb, q, args)
}

// RecordClaimedAttempts is RecordAttempts for dispatcher by: an attempt
// counts only when no other dispatcher holds a live claim on its delivery
// (by's own claim, or one that lapsed and was not taken, or none). The
// others are lost claims: by's claim lapsed and another dispatcher took
// the delivery over (or already finished it), so by's attempt must not
// overwrite what that one records. Their delivery ids are returned,
// and nothing of them is stored. An attempt the log already holds (a
// batch recorded again after an unclear failure) is left out, not lost.
func (s *sqlStore) RecordClaimedAttempts(ctx context.Context, by string, as []Attempt) (lost []int64, err error) {
	if by == "" {
		return nil, fmt.Errorf("store attempts: %w", invalid("empty claimant id"))
	}
	return s.recordAttempts(ctx, by, as)
}

// ReleaseClaims gives up every claim of dispatcher by on pending
// deliveries (a dispatcher that stops), so that another one takes them at
// once rather than after their TTL.
func (s *sqlStore) ReleaseClaims(ctx context.Context, by string) error {
	_, err := s.wdb.ExecContext(ctx, s.d.rebind(`UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL
		WHERE state = ? AND claimed_by = ?`), DeliveryPending, by)
	if err != nil {
		return fmt.Errorf("store release claims: %w", err)
	}
	return nil
}

// dropClaims clears every claim: Open does it for the store's only daemon
// (Options.Owner), whose outbox dispatcher is then the only one, so that
// the deliveries a daemon that died had claimed go out as soon as the next
// one starts, not a claim TTL later. Replicas sharing a store (which
// cannot all be its Owner) leave each other's claims alone.
func (s *sqlStore) dropClaims(ctx context.Context) error {
	_, err := s.wdb.ExecContext(ctx, s.d.rebind(`UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL
		WHERE state = ? AND claimed_by IS NOT NULL`), DeliveryPending)
	if err != nil {
		return fmt.Errorf("drop the outbox's claims: %w", err)
	}
	return nil
}

// The claims of Lazy fail with ErrUnavailable while the store is not open.

// claimer is the claiming part of the store.
type claimer interface {
	ClaimDeliveries(ctx context.Context, c Claim) ([]Delivery, error)
	RenewClaim(ctx context.Context, c Claim, id int64) (Delivery, error)
	RecordClaimedAttempts(ctx context.Context, by string, as []Attempt) ([]int64, error)
	ReleaseClaims(ctx context.Context, by string) error
}

var _ claimer = (*sqlStore)(nil)

// ClaimDeliveries claims deliveries in the store; see sqlStore.
func (l *Lazy) ClaimDeliveries(ctx context.Context, c Claim) ([]Delivery, error) {
	if st, ok := l.get().(claimer); ok {
		return st.ClaimDeliveries(ctx, c)
	}
	return nil, ErrUnavailable
}

// RenewClaim renews or takes a claim in the store.
func (l *Lazy) RenewClaim(ctx context.Context, c Claim, id int64) (Delivery, error) {
	if st, ok := l.get().(claimer); ok {
		return st.RenewClaim(ctx, c, id)
	}
	return Delivery{}, ErrUnavailable
}

// RecordClaimedAttempts records a dispatcher's attempts in the store.
func (l *Lazy) RecordClaimedAttempts(ctx context.Context, by string, as []Attempt) ([]int64, error) {
	if st, ok := l.get().(claimer); ok {
		return st.RecordClaimedAttempts(ctx, by, as)
	}
	return nil, ErrUnavailable
}

// ReleaseClaims releases a dispatcher's claims in the store.
func (l *Lazy) ReleaseClaims(ctx context.Context, by string) error {
	if st, ok := l.get().(claimer); ok {
		return st.ReleaseClaims(ctx, by)
	}
	return ErrUnavailable
}
