package cluster

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// Member is one replica as it registers itself in cluster_members.
type Member struct {
	// ID is unique per process start (NewID); ownership hashes it.
	ID string
	// Location labels where the replica runs (multi-location checks).
	Location string
	// Listen is the replica's HTTP address, for operators and peers.
	Listen string
	// Host and PID name the process.
	Host string
	PID  int
	// StartedAt is when the member first registered, by the server's
	// clock (filled by Heartbeat and Live).
	StartedAt time.Time
}

// NewID returns a member id for this process start: host, pid and a
// random suffix, so that a restarted process is a new member even with
// the same pid (its predecessor's leases lapse, they are not inherited).
func NewID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Members registers one member and lists the live ones. Heartbeat is meant
// to be called every TTL/3 (Node does).
type Members struct {
	db   *sql.DB
	self Member
	ttl  time.Duration
}

// NewMembers returns the membership of self (ID must be set; Host and PID
// default to this process's) with the given TTL: a member is live while
// its last heartbeat is younger than ttl by the server's clock.
func NewMembers(db *sql.DB, self Member, ttl time.Duration) *Members {
	if self.Host == "" {
		self.Host, _ = os.Hostname()
	}
	if self.PID == 0 {
		self.PID = os.Getpid()
	}
	return &Members{db: db, self: self, ttl: ttl}
}

// Self returns the member this Members registers.
func (m *Members) Self() Member { return m.self }

// heartbeatSQL upserts our row with the server's now() and returns it with
// every other live member, in one round trip (a data-modifying CTE's rows
// are not visible to the rest of its statement, hence the UNION).
const heartbeatSQL = `WITH me AS (
	INSERT INTO cluster_members (id, location, listen, host, pid, started_at, heartbeat_at)
	VALUES ($1, $2, $3, $4, $5, now(), now())
	ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(),
		location = EXCLUDED.location, listen = EXCLUDED.listen
	RETURNING id, location, listen, host, pid, started_at
)
SELECT id, location, listen, host, pid, started_at FROM me
UNION ALL
SELECT id, location, listen, host, pid, started_at FROM cluster_members
WHERE id <> $1 AND heartbeat_at > now() - $6::bigint * interval '1 microsecond' AND heartbeat_at <= now()`

// A heartbeat is written with the server's now(); one in the future was
// written by something else and never counts as live (it would own checks
// forever without running them).
const liveSQL = `SELECT id, location, listen, host, pid, started_at FROM cluster_members
WHERE heartbeat_at > now() - $1::bigint * interval '1 microsecond' AND heartbeat_at <= now()`

// Heartbeat registers or renews this member and returns the live members,
// itself included, ordered by id.
func (m *Members) Heartbeat(ctx context.Context) ([]Member, error) {
	s := m.self
	rows, err := m.db.QueryContext(ctx, heartbeatSQL, s.ID, s.Location, s.Listen, s.Host, s.PID, m.ttl.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("cluster heartbeat: %w", err)
	}
	ms, err := scanMembers(rows)
	if err != nil {
		return nil, fmt.Errorf("cluster heartbeat: %w", err)
	}
	return ms, nil
}

// Live returns the live members ordered by id, without renewing this one.
func (m *Members) Live(ctx context.Context) ([]Member, error) {
	rows, err := m.db.QueryContext(ctx, liveSQL, m.ttl.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("cluster members: %w", err)
	}
	ms, err := scanMembers(rows)
	if err != nil {
		return nil, fmt.Errorf("cluster members: %w", err)
	}
	return ms, nil
}

// Close deletes this member's row, so that the others stop counting it at
// once instead of after the TTL.
func (m *Members) Close(ctx context.Context) error {
	if _, err := m.db.ExecContext(ctx, "DELETE FROM cluster_members WHERE id = $1", m.self.ID); err != nil {
		return fmt.Errorf("cluster leave: %w", err)
	}
	return nil
}

func scanMembers(rows *sql.Rows) ([]Member, error) {
	defer rows.Close()
	var ms []Member
	for rows.Next() {
		var x Member
		if err := rows.Scan(&x.ID, &x.Location, &x.Listen, &x.Host, &x.PID, &x.StartedAt); err != nil {
			return nil, err
		}
		ms = append(ms, x)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sortMembers(ms)
	return ms, nil
}

func sortMembers(ms []Member) {
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
}
