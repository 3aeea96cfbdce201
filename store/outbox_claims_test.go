package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// claimIDs is the ids of ds.
func claimIDs(ds []Delivery) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// TestClaims: on both engines, claims hand each pending delivery to one
// dispatcher at a time, by due time; a claim lapses after its TTL (counted
// from when the delivery is due), and then another dispatcher takes it;
// only a dispatcher that no one else has taken the delivery from records
// its attempt, and recording finishes the claim.
func TestClaims(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := openT(t, e.dsn(t), Options{})
			now := time.Now()
			var ds []Delivery
			for i := range 5 {
				ds = append(ds, dlv(fmt.Sprintf("n%d", i), "hook", now.Add(-time.Duration(i)*time.Second), "check:x"))
			}
			ds = append(ds, dlv("other", "mail", now, "check:x"), dlv("later", "hook", now.Add(time.Hour), "check:x"))
			ids := commit(t, st, AlertCommit{Deliveries: ds})
			long := time.Minute

			got, err := st.ClaimDeliveries(ctx, Claim{By: "a", Receiver: "hook", Limit: 3, TTL: long})
			if err != nil {
				t.Fatal(err)
			}
			if want := []int64{ids[4], ids[3], ids[2]}; !slices.Equal(claimIDs(got), want) {
				t.Fatalf("a claimed %v, want %v (the earliest due first)", claimIDs(got), want)
			}
			got, err = st.ClaimDeliveries(ctx, Claim{By: "b", Receiver: "hook", Limit: 10, TTL: long})
			if err != nil {
				t.Fatal(err)
			}
			if want := []int64{ids[1], ids[0], ids[6]}; !slices.Equal(claimIDs(got), want) {
				t.Fatalf("b claimed %v, want the rest of hook's: %v", claimIDs(got), want)
			}
			if got, err := st.ClaimDeliveries(ctx, Claim{By: "c", Limit: 10, TTL: long}); err != nil || !slices.Equal(claimIDs(got), []int64{ids[5]}) {
				t.Fatalf("c claimed %v, %v; want only the one nobody holds, %d", claimIDs(got), err, ids[5])
			}
			if _, err := st.RenewClaim(ctx, Claim{By: "b", TTL: long}, ids[4]); !errors.Is(err, ErrNotFound) {
				t.Errorf("b renewing a's claim: %v, want ErrNotFound", err)
			}
			if d, err := st.RenewClaim(ctx, Claim{By: "a", TTL: long}, ids[4]); err != nil || d.ID != ids[4] {
				t.Errorf("a renewing its claim: %+v, %v", d, err)
			}

			// b records an attempt of a's delivery: lost, nothing stored.
			lost, err := st.RecordClaimedAttempts(ctx, "b", []Attempt{{DeliveryID: ids[4], Attempt: 1, Outcome: OutcomeSent},
				{DeliveryID: ids[1], Attempt: 1, Outcome: OutcomeRetry, NextAt: now.Add(5 * time.Second), Error: "503"}})
			if err != nil || !slices.Equal(lost, []int64{ids[4]}) {
				t.Fatalf("b recording a's delivery: lost %v, %v; want [%d]", lost, err, ids[4])
			}
			if as, _ := st.Attempts(ctx, "hook", 10); len(as) != 1 || as[0].DeliveryID != ids[1] {
				t.Fatalf("attempts logged %+v, want only b's own", as)
			}
			// b's retry finished its claim: anyone may claim it now (it
			// is due in 5 s, so the claim holds until then plus the TTL).
			got, err = st.ClaimDeliveries(ctx, Claim{By: "c", Receiver: "hook", Limit: 10, TTL: 50 * time.Millisecond})
			if err != nil || !slices.Equal(claimIDs(got), []int64{ids[1]}) || got[0].Attempts != 1 {
				t.Fatalf("c claimed %+v, %v; want the retried delivery %d, 1 attempt made", got, err, ids[1])
			}
			// a's attempt counts, and finishes its claim; the same batch
			// recorded again (after an unclear failure) is no lost claim.
			aSent := []Attempt{{DeliveryID: ids[4], Attempt: 1, At: now, Outcome: OutcomeSent}}
			if lost, err := st.RecordClaimedAttempts(ctx, "a", aSent); err != nil || len(lost) != 0 {
				t.Fatalf("a recording its delivery: lost %v, %v", lost, err)
			}
			if lost, err := st.RecordClaimedAttempts(ctx, "a", aSent); err != nil || len(lost) != 0 {
				t.Fatalf("a recording its delivery again: lost %v, %v; want none", lost, err)
			}
			if ps, _ := st.PendingDeliveriesOf(ctx, "hook", 10); slices.Contains(claimIDs(ps), ids[4]) {
				t.Errorf("delivery %d still pending after a sent it", ids[4])
			}

			// A claim that lapses: d claims with a short TTL; after it e
			// takes the delivery over, and d's late attempt is lost.
			short := 50 * time.Millisecond
			if got, err := st.ClaimDeliveries(ctx, Claim{By: "d", Receiver: "mail", Limit: 1, TTL: short}); err != nil || len(got) != 0 {
				t.Fatalf("d claimed %v, %v; want nothing (c holds it)", claimIDs(got), err)
			}
			if err := st.ReleaseClaims(ctx, "c"); err != nil {
				t.Fatal(err)
			}
			if got, err := st.ClaimDeliveries(ctx, Claim{By: "d", Receiver: "mail", Limit: 1, TTL: short}); err != nil || !slices.Equal(claimIDs(got), []int64{ids[5]}) {
				t.Fatalf("d claimed %v, %v after c released; want [%d]", claimIDs(got), err, ids[5])
			}
			if got, _ := st.ClaimDeliveries(ctx, Claim{By: "e", Receiver: "mail", Limit: 1, TTL: short}); len(got) != 0 {
				t.Fatalf("e claimed %v while d's claim holds", claimIDs(got))
			}
			time.Sleep(2 * short)
			if got, err := st.ClaimDeliveries(ctx, Claim{By: "e", Receiver: "mail", Limit: 1, TTL: long}); err != nil || !slices.Equal(claimIDs(got), []int64{ids[5]}) {
				t.Fatalf("e claimed %v, %v after d's claim lapsed; want [%d]", claimIDs(got), err, ids[5])
			}
			if lost, err := st.RecordClaimedAttempts(ctx, "d", []Attempt{{DeliveryID: ids[5], Attempt: 1, Outcome: OutcomeDead, Error: "x"}}); err != nil || !slices.Equal(lost, []int64{ids[5]}) {
				t.Fatalf("d recording after e took over: lost %v, %v; want [%d]", lost, err, ids[5])
			}
			if lost, err := st.RecordClaimedAttempts(ctx, "e", []Attempt{{DeliveryID: ids[5], Attempt: 1, Outcome: OutcomeSent}}); err != nil || len(lost) != 0 {
				t.Fatalf("e recording: lost %v, %v", lost, err)
			}
			if lost, err := st.RecordClaimedAttempts(ctx, "d", []Attempt{{DeliveryID: ids[5], Attempt: 1, Outcome: OutcomeDead, Error: "x"}}); err != nil || !slices.Equal(lost, []int64{ids[5]}) {
				t.Fatalf("d recording after e sent it: lost %v, %v; want [%d]", lost, err, ids[5])
			}
			if dead, _ := st.DeadLetters(ctx, 10); len(dead) != 0 {
				t.Errorf("dead letters %+v: d's lost attempt overwrote e's", dead)
			}

			// A claim on a delivery due later holds until it is due plus
			// the TTL.
			if err := st.ReleaseClaims(ctx, "b"); err != nil {
				t.Fatal(err)
			}
			if got, _ := st.ClaimDeliveries(ctx, Claim{By: "f", Receiver: "hook", Limit: 10, TTL: short}); !slices.Contains(claimIDs(got), ids[6]) {
				t.Fatalf("f claimed %v, want the later delivery %d among them", claimIDs(got), ids[6])
			}
			time.Sleep(2 * short)
			if got, _ := st.ClaimDeliveries(ctx, Claim{By: "g", Receiver: "hook", Limit: 10, TTL: short}); slices.Contains(claimIDs(got), ids[6]) {
				t.Errorf("g claimed the later delivery %d: f's claim lapsed before it was due", ids[6])
			}

			// Replay of a dead letter leaves it unclaimed.
			if lost, err := st.RecordClaimedAttempts(ctx, "f", []Attempt{{DeliveryID: ids[6], Attempt: 1, Outcome: OutcomeDead, Error: "410"}}); err != nil || len(lost) != 0 {
				t.Fatalf("f dead-lettering: lost %v, %v", lost, err)
			}
			if _, err := st.Replay(ctx, ids[6], time.Time{}); err != nil {
				t.Fatal(err)
			}
			if got, _ := st.ClaimDeliveries(ctx, Claim{By: "g", Receiver: "hook", Limit: 10, TTL: short}); !slices.Contains(claimIDs(got), ids[6]) {
				t.Errorf("replayed delivery %d not claimable: got %v", ids[6], claimIDs(got))
			}

			if _, err := st.ClaimDeliveries(ctx, Claim{TTL: long}); !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("claim without a claimant: %v, want ErrInvalidRecord", err)
			}
			if _, err := st.RecordClaimedAttempts(ctx, "", nil); !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("record without a claimant: %v, want ErrInvalidRecord", err)
			}
		})
	}
}

// TestClaimsConcurrent: three store handles on one PostgreSQL schema (three
// replicas) claim 500 deliveries at once, ten at a time, and record them
// sent: each delivery is claimed by exactly one, none is left.
func TestClaimsConcurrent(t *testing.T) {
	dsn := postgresDSN(t)
	ctx := context.Background()
	sts := []*sqlStore{openT(t, dsn, Options{}), openT(t, dsn, Options{}), openT(t, dsn, Options{})}
	now := time.Now()
	var ds []Delivery
	for i := range 500 {
		ds = append(ds, dlv(fmt.Sprintf("n%03d", i), "hook", now, "check:x"))
	}
	commit(t, sts[0], AlertCommit{Deliveries: ds})
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i, st := range sts {
		by := fmt.Sprintf("replica-%d", i)
		wg.Go(func() {
			for {
				got, err := st.ClaimDeliveries(ctx, Claim{By: by, Receiver: "hook", Limit: 10, TTL: time.Minute})
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				as := make([]Attempt, len(got))
				mu.Lock()
				for j, d := range got {
					if other, ok := seen[d.ID]; ok {
						mu.Unlock()
						errs <- fmt.Errorf("delivery %d claimed by %s and %s", d.ID, other, by)
						return
					}
					seen[d.ID] = by
					as[j] = Attempt{DeliveryID: d.ID, Attempt: 1, Outcome: OutcomeSent}
				}
				mu.Unlock()
				if lost, err := st.RecordClaimedAttempts(ctx, by, as); err != nil || len(lost) > 0 {
					errs <- fmt.Errorf("%s recording: lost %v, %v", by, lost, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(seen) != 500 {
		t.Errorf("%d deliveries claimed, want 500", len(seen))
	}
	if c, _ := sts[1].PendingCounts(ctx); c["hook"] != 0 {
		t.Errorf("%d still pending", c["hook"])
	}
	if n := count(t, sts[2].rdb, "SELECT COUNT(*) FROM delivery_attempts"); n != 500 {
		t.Errorf("%d attempts logged, want 500", n)
	}
}

// TestMigrationsInAnyOrder: the list is sorted by version whatever the
// order its entries were added in, and the newest is the highest.
func TestMigrationsInAnyOrder(t *testing.T) {
	if !slices.IsSortedFunc(migrations, func(a, b migration) int { return a.version - b.version }) {
		t.Errorf("migrations not sorted by version")
	}
	if got := latestVersion(); got < claimsMigration.version {
		t.Errorf("latest version %d, want at least %d", got, claimsMigration.version)
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			st := openT(t, e.dsn(t), Options{})
			if n := count(t, st.rdb, st.d.rebind("SELECT COUNT(*) FROM schema_migrations WHERE version = ?"), claimsMigration.version); n != 1 {
				t.Errorf("version %d recorded %d times", claimsMigration.version, n)
			}
		})
	}
}

// TestOwnerDropsClaims: the store's only daemon (Options.Owner) takes over
// the claims a daemon that died left, at once; a second handle without
// Owner (a replica) leaves them.
func TestOwnerDropsClaims(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := e.dsn(t)
			st := openT(t, dsn, Options{})
			ids := commit(t, st, AlertCommit{Deliveries: []Delivery{dlv("n1", "hook", time.Now(), "check:x")}})
			if got, err := st.ClaimDeliveries(ctx, Claim{By: "died", Limit: 10, TTL: time.Hour}); err != nil || len(got) != 1 {
				t.Fatalf("claimed %v, %v", claimIDs(got), err)
			}
			replica := openT(t, dsn, Options{})
			if got, _ := replica.ClaimDeliveries(ctx, Claim{By: "replica", Limit: 10, TTL: time.Hour}); len(got) != 0 {
				t.Fatalf("a replica took %v while the claim holds", claimIDs(got))
			}
			_ = replica.Close()
			_ = st.Close()
			owner := openT(t, dsn, Options{Owner: &Owner{Listen: "test"}})
			if got, err := owner.ClaimDeliveries(ctx, Claim{By: "next", Limit: 10, TTL: time.Hour}); err != nil || !slices.Equal(claimIDs(got), ids) {
				t.Errorf("the owner claimed %v, %v; want %v at once", claimIDs(got), err, ids)
			}
		})
	}
}

// TestLazyClaims: a Lazy store claims once open, and says ErrUnavailable
// before.
func TestLazyClaims(t *testing.T) {
	ctx := context.Background()
	l := NewLazy(sqliteDSN(t), Options{}, nil)
	c := Claim{By: "a", Limit: 10, TTL: time.Minute}
	if _, err := l.ClaimDeliveries(ctx, c); err != ErrUnavailable {
		t.Errorf("ClaimDeliveries on a closed Lazy: %v", err)
	}
	if _, err := l.RenewClaim(ctx, c, 1); err != ErrUnavailable {
		t.Errorf("RenewClaim on a closed Lazy: %v", err)
	}
	if _, err := l.RecordClaimedAttempts(ctx, "a", nil); err != ErrUnavailable {
		t.Errorf("RecordClaimedAttempts on a closed Lazy: %v", err)
	}
	if err := l.ReleaseClaims(ctx, "a"); err != ErrUnavailable {
		t.Errorf("ReleaseClaims on a closed Lazy: %v", err)
	}
	if err := l.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	ids := commit(t, l, AlertCommit{Deliveries: []Delivery{dlv("n1", "hook", time.Now(), "check:x")}})
	got, err := l.ClaimDeliveries(ctx, c)
	if err != nil || !slices.Equal(claimIDs(got), ids) {
		t.Fatalf("claimed %v, %v; want %v", claimIDs(got), err, ids)
	}
	if _, err := l.RenewClaim(ctx, c, ids[0]); err != nil {
		t.Errorf("RenewClaim: %v", err)
	}
	if lost, err := l.RecordClaimedAttempts(ctx, "a", []Attempt{{DeliveryID: ids[0], Attempt: 1, Outcome: OutcomeSent}}); err != nil || len(lost) != 0 {
		t.Errorf("RecordClaimedAttempts: lost %v, %v", lost, err)
	}
	if err := l.ReleaseClaims(ctx, "a"); err != nil {
		t.Errorf("ReleaseClaims: %v", err)
	}
}
