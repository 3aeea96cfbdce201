package outbox

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/alerting/webhook"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/testenv"
	"github.com/monitor-dev/monitor/store"
)

// idReceiver is a real webhook receiver on 127.0.0.1 that counts the
// notifications it gets by webhook-id (the idempotency key), as a
// receiver that deduplicates would see them. While hold is set it answers
// nobody (until the sender gives up).
type idReceiver struct {
	srv  *httptest.Server
	hold atomic.Bool

	mu  sync.Mutex
	ids map[string][]time.Time // webhook-id → when each copy arrived
}

func newIDReceiver(t *testing.T) *idReceiver {
	r := &idReceiver{ids: map[string][]time.Time{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		id := req.Header.Get(webhook.HeaderID)
		r.mu.Lock()
		r.ids[id] = append(r.ids[id], time.Now())
		r.mu.Unlock()
		if r.hold.Load() {
			<-req.Context().Done()
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// sender is the real webhook sender posting to r.
func (r *idReceiver) sender(t *testing.T) receiver.Sender {
	t.Helper()
	s, err := webhook.New("hook", &webhook.Config{URL: check.Secret(r.srv.URL + "/hook")}, receiver.Deps{HTTP: r.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// copies returns how many copies of each id arrived, the total, and
// those that arrived at or after since.
func (r *idReceiver) copies(since time.Time) (all map[string]int, total int, after map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	all, after = map[string]int{}, map[string]int{}
	for id, ats := range r.ids {
		all[id] = len(ats)
		total += len(ats)
		for _, at := range ats {
			if !at.Before(since) {
				after[id]++
			}
		}
	}
	return all, total, after
}

// earliest is the first arrival of any copy at or after since.
func (r *idReceiver) earliest(since time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var first time.Time
	for _, ats := range r.ids {
		for _, at := range ats {
			if !at.Before(since) && (first.IsZero() || at.Before(first)) {
				first = at
			}
		}
	}
	return first
}

// notificationIDs returns the notification ids of deliveries ids.
func notificationIDs(t *testing.T, st store.AlertStore, ids []int64) map[string]bool {
	t.Helper()
	ps, err := st.PendingDeliveries(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]bool{}
	for _, id := range ids {
		want[id] = true
	}
	out := map[string]bool{}
	for _, d := range ps {
		if want[d.ID] {
			out[d.NotificationID] = true
		}
	}
	if len(out) != len(ids) {
		t.Fatalf("%d of %d deliveries pending", len(out), len(ids))
	}
	return out
}

// waitLong is waitFor with room for hundreds of real HTTP deliveries on a
// loaded machine.
func waitLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sharedEngines are the engines where several handles (replicas) share
// one store: PostgreSQL with three dispatchers, and one SQLite file opened
// twice.
var sharedEngines = []struct {
	name        string
	dispatchers int
	dsn         func(t *testing.T) string
}{
	{"postgres", 3, func(t *testing.T) string { return testenv.PostgresSchema(t) }},
	{"sqlite", 2, func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "m.db") }},
}

// TestDispatchersSendOnce: several dispatchers, each on its own handle of
// one store (one per replica), deliver 500 notifications committed in
// five batches to a real webhook receiver: each webhook-id arrives exactly
// once, every delivery is recorded sent after one attempt, and no claim
// is lost.
func TestDispatchersSendOnce(t *testing.T) {
	for _, eng := range sharedEngines {
		t.Run(eng.name, func(t *testing.T) {
			rcv := newIDReceiver(t)
			dsn := eng.dsn(t)
			var ds []*Dispatcher
			var stops []func()
			var sts []store.Store
			for i := range eng.dispatchers {
				st := openStore(t, dsn)
				t.Cleanup(func() { _ = st.Close() })
				sts = append(sts, st)
				d := New(st, map[string]receiver.Sender{"hook": rcv.sender(t)},
					Options{ID: fmt.Sprintf("replica-%d", i), PollInterval: 50 * time.Millisecond})
				ds = append(ds, d)
				stops = append(stops, run(d))
			}
			want := map[string]bool{}
			for range 5 {
				ids := enqueue(t, sts[0], "hook", 100, time.Now())
				for id := range notificationIDs(t, sts[0], ids) {
					want[id] = true
				}
				for _, d := range ds {
					d.Wake()
				}
			}
			waitLong(t, "every delivery recorded", func() bool {
				c, err := sts[0].PendingCounts(context.Background())
				return err == nil && c["hook"] == 0
			})
			for _, stop := range stops {
				stop()
			}

			all, total, _ := rcv.copies(time.Time{})
			if total != 500 || len(all) != 500 {
				t.Errorf("receiver got %d notifications with %d distinct ids, want 500 and 500", total, len(all))
			}
			for id, n := range all {
				if n != 1 || !want[id] {
					t.Errorf("webhook-id %s arrived %d times (enqueued: %v), want once", id, n, want[id])
				}
			}
			sent, lost := 0.0, 0.0
			for _, d := range ds {
				n := testutil.ToFloat64(d.m.total.WithLabelValues("hook", store.OutcomeSent))
				t.Logf("%s sent %v", d.ID(), n)
				sent += n
				lost += testutil.ToFloat64(d.m.lost.WithLabelValues("hook"))
			}
			if sent != 500 || lost != 0 {
				t.Errorf("dispatchers counted %v sent and %v lost claims, want 500 and 0", sent, lost)
			}
			as, err := sts[1].Attempts(context.Background(), "hook", 1000)
			if err != nil || len(as) != 500 {
				t.Fatalf("%d attempts logged (%v), want 500", len(as), err)
			}
			for _, a := range as {
				if a.Attempt != 1 || a.Outcome != store.OutcomeSent {
					t.Errorf("attempt %+v, want the first, sent", a)
				}
			}
		})
	}
}

// TestCrashedClaimsResent: a dispatcher claims 20 deliveries and dies
// without sending them (its claims, taken through the store, are never
// finished); a live dispatcher sends them once the claims lapse, not
// before, each once, with the notification ids they were enqueued with.
func TestCrashedClaimsResent(t *testing.T) {
	for _, eng := range sharedEngines {
		t.Run(eng.name, func(t *testing.T) {
			ctx := context.Background()
			rcv := newIDReceiver(t)
			dsn := eng.dsn(t)
			crashed := openStore(t, dsn)
			ids := enqueue(t, crashed, "hook", 20, time.Now())
			want := notificationIDs(t, crashed, ids)
			const ttl = time.Second
			claimedAt := time.Now()
			got, err := crashed.(Claimer).ClaimDeliveries(ctx, store.Claim{By: "crashed", Receiver: "hook", Limit: 100, TTL: ttl})
			if err != nil || len(got) != 20 {
				t.Fatalf("claimed %d, %v; want 20", len(got), err)
			}
			_ = crashed.Close()

			st := openStore(t, dsn)
			t.Cleanup(func() { _ = st.Close() })
			d := New(st, map[string]receiver.Sender{"hook": rcv.sender(t)}, Options{ID: "live", PollInterval: 50 * time.Millisecond})
			stop := run(d)
			defer stop()
			waitLong(t, "every delivery recorded", func() bool {
				c, err := st.PendingCounts(ctx)
				return err == nil && c["hook"] == 0
			})
			all, total, _ := rcv.copies(time.Time{})
			if total != 20 {
				t.Errorf("receiver got %d notifications, want 20", total)
			}
			for id := range want {
				if all[id] != 1 {
					t.Errorf("webhook-id %s arrived %d times, want once", id, all[id])
				}
			}
			if first := rcv.earliest(time.Time{}); first.Before(claimedAt.Add(ttl)) {
				t.Errorf("first delivery %s after the crashed claims, before they lapsed (%s)", first.Sub(claimedAt), ttl)
			}
		})
	}
}

// TestDispatcherKilledMidSend: a dispatcher dies (its store handle goes,
// then its process) while two attempts are in flight at a receiver that
// does not answer and the rest of its claimed deliveries wait in memory.
// Another dispatcher sends every one of them after the dead one's claims
// lapse: the two interrupted notifications arrive again with the same
// webhook-id (at-least-once), the others once; nothing is lost.
func TestDispatcherKilledMidSend(t *testing.T) {
	for _, eng := range sharedEngines {
		t.Run(eng.name, func(t *testing.T) {
			ctx := context.Background()
			rcv := newIDReceiver(t)
			rcv.hold.Store(true)
			dsn := eng.dsn(t)
			opts := Options{Workers: 2, AttemptTimeout: 2 * time.Second, ClaimTTL: 2500 * time.Millisecond,
				PollInterval: 50 * time.Millisecond}

			stA := openStore(t, dsn)
			ids := enqueue(t, stA, "hook", 10, time.Now())
			want := notificationIDs(t, stA, ids)
			start := time.Now()
			optsA := opts
			optsA.ID = "a"
			stopA := run(New(stA, map[string]receiver.Sender{"hook": rcv.sender(t)}, optsA))
			waitLong(t, "two attempts in flight", func() bool { _, n, _ := rcv.copies(time.Time{}); return n == 2 })
			_ = stA.Close() // the crash: nothing A does from here reaches the store
			stopA()
			killed := time.Now()
			inFlight, _, _ := rcv.copies(time.Time{})
			rcv.hold.Store(false)

			stB := openStore(t, dsn)
			t.Cleanup(func() { _ = stB.Close() })
			optsB := opts
			optsB.ID = "b"
			b := New(stB, map[string]receiver.Sender{"hook": rcv.sender(t)}, optsB)
			stop := run(b)
			defer stop()
			waitLong(t, "every delivery recorded", func() bool {
				c, err := stB.PendingCounts(ctx)
				return err == nil && c["hook"] == 0
			})
			_, _, after := rcv.copies(killed)
			for id := range want {
				if after[id] != 1 {
					t.Errorf("webhook-id %s arrived %d times after the crash, want once", id, after[id])
				}
			}
			if len(after) != 10 {
				t.Errorf("%d ids arrived after the crash, want the 10 enqueued", len(after))
			}
			for id := range inFlight {
				if !want[id] || after[id] != 1 {
					t.Errorf("interrupted webhook-id %s (enqueued: %v) arrived %d times again, want once", id, want[id], after[id])
				}
			}
			if first := rcv.earliest(killed); first.Before(start.Add(opts.ClaimTTL)) {
				t.Errorf("b sent %s after a started, before a's claims could lapse (%s)", first.Sub(start), opts.ClaimTTL)
			}
			as, err := stB.Attempts(ctx, "hook", 100)
			if err != nil || len(as) != 10 {
				t.Fatalf("%d attempts logged (%v), want 10: b's", len(as), err)
			}
			for _, a := range as {
				if a.Attempt != 1 || a.Outcome != store.OutcomeSent {
					t.Errorf("attempt %+v, want the first, sent (a's interrupted ones are not recorded)", a)
				}
			}
		})
	}
}

// senderFunc is a receiver.Sender.
type senderFunc func(ctx context.Context, n receiver.Notification) error

func (f senderFunc) Send(ctx context.Context, n receiver.Notification) error { return f(ctx, n) }

// TestLostClaim: dispatcher a's sender hangs past its attempt timeout and
// its claim (a sender that ignores its context); after the claim lapses
// dispatcher b takes the delivery over and sends it. When a's attempt
// finally returns, a does not record it over b's: it counts a lost claim,
// and the store keeps b's one attempt.
func TestLostClaim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStore(t)
		t0 := time.Now()
		ids := enqueue(t, st, "hook", 1, t0)
		var mu sync.Mutex
		var aGot, bGot []string
		var aAt, bAt []time.Duration
		a := New(st, map[string]receiver.Sender{"hook": senderFunc(func(_ context.Context, n receiver.Notification) error {
			time.Sleep(30 * time.Second)
			mu.Lock()
			aGot, aAt = append(aGot, n.ID), append(aAt, time.Since(t0))
			mu.Unlock()
			return nil
		})}, Options{ID: "a"})
		b := New(st, map[string]receiver.Sender{"hook": senderFunc(func(_ context.Context, n receiver.Notification) error {
			mu.Lock()
			bGot, bAt = append(bGot, n.ID), append(bAt, time.Since(t0))
			mu.Unlock()
			return nil
		})}, Options{ID: "b"})
		stopA := run(a)
		defer stopA()
		settle()
		stopB := run(b)
		defer stopB()
		time.Sleep(time.Minute)
		settle()

		mu.Lock()
		defer mu.Unlock()
		// a claimed at 0 with the default TTL, 2 × the 10 s attempt
		// timeout; b polls every 10 s.
		if len(bGot) != 1 || bAt[0] < 20*time.Second || bAt[0] > 31*time.Second {
			t.Errorf("b sent %v at %v, want once after a's claim lapsed at 20 s", bGot, bAt)
		}
		if len(aGot) != 1 || len(bGot) == 1 && aGot[0] != bGot[0] {
			t.Errorf("a sent %v, b sent %v: want one each, with one id", aGot, bGot)
		}
		if got := testutil.ToFloat64(a.m.lost.WithLabelValues("hook")); got != 1 {
			t.Errorf("a's lost claims = %v, want 1", got)
		}
		if got := testutil.ToFloat64(a.m.total.WithLabelValues("hook", store.OutcomeSent)); got != 0 {
			t.Errorf("a counted %v sent, want 0 (its attempt was not recorded)", got)
		}
		if got := testutil.ToFloat64(b.m.total.WithLabelValues("hook", store.OutcomeSent)); got != 1 {
			t.Errorf("b counted %v sent, want 1", got)
		}
		as, err := st.Attempts(context.Background(), "hook", 10)
		if err != nil || len(as) != 1 || as[0].DeliveryID != ids[0] || as[0].Attempt != 1 || as[0].Outcome != store.OutcomeSent {
			t.Errorf("attempts %+v, %v; want b's one", as, err)
		}
		if dl := delivery(t, st, ids[0]); dl.State != store.DeliverySent {
			t.Errorf("delivery is %s, want sent", dl.State)
		}
	})
}
