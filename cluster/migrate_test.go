package cluster

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"

	"github.com/monitor-dev/monitor/internal/testenv"
	"github.com/monitor-dev/monitor/store"
)

// TestTwoReplicasStartTogether: two replicas starting at the same moment
// on an empty schema each open the store (which migrates, under an
// advisory lock) and join the cluster; the cluster migration is applied
// once and both see each other.
func TestTwoReplicasStartTogether(t *testing.T) {
	d := testenv.PostgresSchema(t)
	ctx := context.Background()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		nodes [2]*Node
		errs  [2]error
	)
	for i := range nodes {
		wg.Go(func() {
			<-start
			st, err := store.Open(ctx, d, store.Options{})
			if err != nil {
				errs[i] = err
				return
			}
			defer st.Close()
			nodes[i] = New(openDB(t, d, "", nil), Options{TTL: testTTL})
			errs[i] = nodes[i].Round(ctx)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	db := openDB(t, d, "", nil)
	if n := count(t, db, "SELECT count(*) FROM schema_migrations WHERE version = 5"); n != 1 {
		t.Errorf("migration 5 recorded %d times, want 1", n)
	}
	// The replica that went second sees both.
	for _, nd := range nodes {
		if err := nd.Round(ctx); err != nil {
			t.Fatal(err)
		}
		if got := len(nd.Members()); got != 2 {
			t.Errorf("%s sees %d members, want 2", nd.ID(), got)
		}
	}
	for _, nd := range nodes {
		if err := nd.Close(ctx); err != nil {
			t.Error(err)
		}
	}
	for _, table := range []string{"cluster_members", "cluster_leases"} {
		if got := count(t, db, "SELECT count(*) FROM "+table); got != 0 {
			t.Errorf("%s holds %d rows after both replicas left, want 0", table, got)
		}
	}
}

func count(t *testing.T, db *sql.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestOpen: Open connects with a pool of its own; its errors never show
// the DSN's password; a non-PostgreSQL DSN is refused.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	d := schema(t)
	n, err := Open(ctx, d, Options{TTL: testTTL, Listen: "127.0.0.1:8080", Location: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	n.SetChecks([]string{"a", "b", "a"})
	if err := n.Round(ctx); err != nil {
		t.Fatal(err)
	}
	if got := n.Held(); len(got) != 2 || !n.IsLeader() || n.State().String() != "ok" {
		t.Errorf("alone, the node holds %q, leads %v, state %q; want [a b], true, ok", got, n.IsLeader(), n.State())
	}
	if m := n.Members(); len(m) != 1 || m[0].ID != n.ID() || m[0].Location != "eu" || m[0].Listen != "127.0.0.1:8080" || m[0].PID == 0 || m[0].StartedAt.IsZero() {
		t.Errorf("members = %+v", m)
	}
	watcher := NewMembers(openDB(t, d, "", nil), Member{ID: "watcher"}, testTTL)
	if live, err := watcher.Live(ctx); err != nil || len(live) != 1 || live[0].ID != n.ID() {
		t.Errorf("Live = %+v, %v; want the node alone", live, err)
	}
	// A row whose heartbeat lies in the future (not written by a member:
	// members write now()) is not live, so it owns nothing.
	if _, err := openDB(t, d, "", nil).ExecContext(ctx, `INSERT INTO cluster_members
		(id, location, listen, host, pid, started_at, heartbeat_at)
		VALUES ('ghost', 'eu', '', '', 1, now(), now() + interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	if live, err := watcher.Live(ctx); err != nil || len(live) != 1 || live[0].ID != n.ID() {
		t.Errorf("Live with a future heartbeat row = %+v, %v; want the node alone", live, err)
	}
	if err := n.Round(ctx); err != nil {
		t.Fatal(err)
	}
	if m := n.Members(); len(m) != 1 {
		t.Errorf("members with a future heartbeat row = %+v, want the node alone", m)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if live, err := watcher.Live(ctx); err != nil || len(live) != 0 {
		t.Errorf("Live after Close = %+v, %v; want none", live, err)
	}

	const secret = "s3cr3t-pw"
	for _, bad := range []string{
		"postgres://monitor:" + secret + "@127.0.0.1:1/test?connect_timeout=2",
		"postgres://monitor:" + secret + "@127.0.0.1:1/test?sslmode=bogus",
		"sqlite://x.db",
	} {
		_, err := Open(ctx, bad, Options{})
		if err == nil {
			t.Errorf("Open(%q) succeeded", bad)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Open's error shows the password: %v", err)
		}
		t.Logf("%v", err)
	}
}

// TestLeaderPrunes: the leader deletes the rows of members gone for long
// and the leases of names no one has claimed for as long; live rows stay.
func TestLeaderPrunes(t *testing.T) {
	ctx := context.Background()
	d := schema(t)
	db := openDB(t, d, "", nil)
	for _, q := range []string{
		`INSERT INTO cluster_members VALUES ('gone', '', '', 'h', 1, now() - interval '1 hour', now() - interval '1 hour')`,
		`INSERT INTO cluster_members VALUES ('late', '', '', 'h', 2, now(), now() - interval '2 second')`,
		`INSERT INTO cluster_leases VALUES ('removed check', 'gone', now() - interval '1 hour')`,
		`INSERT INTO cluster_leases VALUES ('lapsed check', 'late', now() - interval '2 second')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	n := New(db, Options{TTL: testTTL})
	if err := n.Round(ctx); err != nil {
		t.Fatal(err)
	}
	if !n.IsLeader() {
		t.Fatal("the only member does not lead")
	}
	if got := count(t, db, "SELECT count(*) FROM cluster_members WHERE id IN ('gone', 'late')"); got != 1 {
		t.Errorf("%d of the stale member rows left, want 1 (late, gone for less than 10 TTLs)", got)
	}
	if got := count(t, db, "SELECT count(*) FROM cluster_leases WHERE owner IN ('gone', 'late')"); got != 1 {
		t.Errorf("%d of the stale leases left, want 1 (lapsed for less than 10 TTLs)", got)
	}
}
