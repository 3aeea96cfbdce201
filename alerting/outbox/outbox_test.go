package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/store"
)

// settle lets the dispatcher finish what it can do now: it records
// finished attempts after batchLinger (virtual time in a bubble).
func settle() {
	time.Sleep(10 * batchLinger)
	synctest.Wait()
}

func secs(s ...float64) []time.Duration {
	var out []time.Duration
	for _, f := range s {
		out = append(out, time.Duration(f*float64(time.Second)))
	}
	return out
}

func TestRetryWait(t *testing.T) {
	for _, tc := range []struct {
		name              string
		backoff, ra, want time.Duration
		jitter, r         float64
	}{
		{"no jitter", 5 * time.Second, 0, 5 * time.Second, 0, 0.9},
		{"jitter low end", 10 * time.Second, 0, 9 * time.Second, 0.1, 0},
		{"jitter middle", 10 * time.Second, 0, 10 * time.Second, 0.1, 0.5},
		{"retry-after longer wins", 5 * time.Second, time.Minute, time.Minute, 0.1, 0.99},
		{"retry-after shorter loses", 40 * time.Second, time.Second, 36 * time.Second, 0.1, 0},
		{"retry-after capped", 5 * time.Second, 24 * time.Hour, 10 * time.Minute, 0.1, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := retryWait(tc.backoff, tc.ra, tc.jitter, tc.r, 10*time.Minute); got != tc.want {
				t.Errorf("retryWait = %s, want %s", got, tc.want)
			}
		})
	}
	for range 1000 {
		w := retryWait(20*time.Second, 0, DefaultJitter, rand.Float64(), DefaultMaxRetryAfter)
		if w < 18*time.Second || w > 22*time.Second {
			t.Fatalf("jittered 20s wait %s outside ±10%%", w)
		}
	}
	var got []time.Duration
	for a := 1; ; a++ {
		b, ok := nextAttempt(DefaultRetry, a)
		if !ok {
			break
		}
		got = append(got, b)
	}
	if want := secs(5, 10, 20, 40, 80); !slices.Equal(got, want) {
		t.Errorf("retry waits after attempts 1.. = %v, want %v", got, want)
	}
}

// TestScheduleHTTP: a receiver answering 500, 500, no answer, 200 gets the
// notification on the 4th try, at the scheduled offsets (first try, then
// 5 s after it, 10 s after the second, 20 s after the third timed out at
// 10 s), always with the same webhook-id.
func TestScheduleHTTP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h hits
		client := receiverServer(t, func(w http.ResponseWriter, r *http.Request) {
			switch h.add(r) {
			case 1, 2:
				w.WriteHeader(500)
			case 3:
				<-r.Context().Done()
			default:
				w.WriteHeader(200)
			}
		})
		st := newStore(t)
		t0 := time.Now()
		ids := enqueue(t, st, "hook", 1, t0)
		d := New(st, map[string]receiver.Sender{"hook": &httpSender{client: client, url: "http://hook/"}}, Options{Jitter: -1})
		stop := run(d)
		time.Sleep(10 * time.Minute)
		stop()

		if got, want := h.offsets(t0), secs(0, 5, 15, 45); !slices.Equal(got, want) {
			t.Errorf("attempts at %v, want %v", got, want)
		}
		dl := delivery(t, st, ids[0])
		if dl.State != store.DeliverySent || dl.Attempts != 4 {
			t.Errorf("delivery %s after %d attempts, want sent after 4", dl.State, dl.Attempts)
		}
		for i, id := range h.ids {
			if id != dl.NotificationID {
				t.Errorf("attempt %d: webhook-id %q, want %q", i+1, id, dl.NotificationID)
			}
		}
		as, _ := st.Attempts(context.Background(), "hook", 10)
		slices.Reverse(as)
		var outcomes, errs []string
		for _, a := range as {
			outcomes = append(outcomes, a.Outcome)
			errs = append(errs, a.Error)
		}
		if want := []string{"retried", "retried", "retried", "sent"}; !slices.Equal(outcomes, want) {
			t.Errorf("outcomes %v, want %v", outcomes, want)
		}
		if as[0].StatusCode != 500 || !strings.Contains(errs[2], "no answer within 10s") || !as[2].NextAt.Equal(t0.Add(45*time.Second)) {
			t.Errorf("attempts recorded as %+v", as)
		}
		if got := testutil.ToFloat64(d.m.total.WithLabelValues("hook", "retried")); got != 3 {
			t.Errorf("retried = %v, want 3", got)
		}
		if got := testutil.ToFloat64(d.m.total.WithLabelValues("hook", "sent")); got != 1 {
			t.Errorf("sent = %v, want 1", got)
		}
		wantHist := `
# HELP monitor_notification_delivery_seconds Time from a notification becoming due to its delivery, retries included.
# TYPE monitor_notification_delivery_seconds histogram
monitor_notification_delivery_seconds_bucket{receiver="hook",le="0.01"} 0
monitor_notification_delivery_seconds_bucket{receiver="hook",le="0.05"} 0
monitor_notification_delivery_seconds_bucket{receiver="hook",le="0.1"} 0
monitor_notification_delivery_seconds_bucket{receiver="hook",le="0.5"} 0
monitor_notification_delivery_seconds_bucket{receiver="hook",le="1"} 0
monitor_notification_delivery_seconds_bucket{receiver="hook",le="5"} 0
monitor_notification_delivery_seconds_bucket{receiver="hook",le="10"} 0
monitor_notification_delivery_seconds_bucket{receiver="hook",le="30"} 0
monitor_notification_delivery_seconds_bucket{receiver="hook",le="60"} 1
monitor_notification_delivery_seconds_bucket{receiver="hook",le="120"} 1
monitor_notification_delivery_seconds_bucket{receiver="hook",le="300"} 1
monitor_notification_delivery_seconds_bucket{receiver="hook",le="600"} 1
monitor_notification_delivery_seconds_bucket{receiver="hook",le="1800"} 1
monitor_notification_delivery_seconds_bucket{receiver="hook",le="+Inf"} 1
monitor_notification_delivery_seconds_sum{receiver="hook"} 45
monitor_notification_delivery_seconds_count{receiver="hook"} 1
# HELP monitor_notifications_pending Outbox deliveries not yet sent (nor dead-lettered).
# TYPE monitor_notifications_pending gauge
monitor_notifications_pending{receiver="hook"} 0
`
		if err := testutil.CollectAndCompare(d.Collector(), strings.NewReader(wantHist),
			"monitor_notification_delivery_seconds", "monitor_notifications_pending"); err != nil {
			t.Error(err)
		}
	})
}

// TestOutageDeadLetterReplay: an outage longer than the schedule
// dead-letters the delivery after the first try and 5 retries, with an
// audit event; a replay once the receiver is back delivers it with the
// same notification id.
func TestOutageDeadLetterReplay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h hits
		var down atomic.Bool
		down.Store(true)
		client := receiverServer(t, func(w http.ResponseWriter, r *http.Request) {
			h.add(r)
			if down.Load() {
				w.WriteHeader(503)
			}
		})
		st := newStore(t)
		t0 := time.Now()
		ids := enqueue(t, st, "hook", 1, t0)
		d := New(st, map[string]receiver.Sender{"hook": &httpSender{client: client, url: "http://hook/"}}, Options{Jitter: -1})
		stop := run(d)
		defer stop()
		time.Sleep(time.Hour)
		settle()

		if got, want := h.offsets(t0), secs(0, 5, 15, 35, 75, 155); !slices.Equal(got, want) {
			t.Errorf("attempts at %v, want %v", got, want)
		}
		dead, _ := st.DeadLetters(context.Background(), 10)
		if len(dead) != 1 || dead[0].ID != ids[0] || dead[0].Attempts != 6 || dead[0].LastStatus != 503 {
			t.Fatalf("dead letters %+v, want delivery %d after 6 attempts", dead, ids[0])
		}
		evs, _ := st.AuditEvents(context.Background(), store.AuditQuery{Limit: 10, Action: ActionGivenUp})
		if len(evs) != 1 || evs[0].Actor != "system" || evs[0].Target != target(ids[0]) {
			t.Errorf("given-up audit events %+v", evs)
		}
		if got := testutil.ToFloat64(d.m.total.WithLabelValues("hook", "dead_lettered")); got != 1 {
			t.Errorf("dead_lettered = %v, want 1", got)
		}
		if got := testutil.ToFloat64(d.m.total.WithLabelValues("hook", "retried")); got != 5 {
			t.Errorf("retried = %v, want 5", got)
		}
		deadLetters := func(want int) {
			t.Helper()
			exp := fmt.Sprintf(`# HELP monitor_notifications_dead_letters Deliveries given up and kept as dead letters (until replayed or past retention).
# TYPE monitor_notifications_dead_letters gauge
monitor_notifications_dead_letters{receiver="hook"} %d
`, want)
			if err := testutil.CollectAndCompare(d.Collector(), strings.NewReader(exp), "monitor_notifications_dead_letters"); err != nil {
				t.Error(err)
			}
		}
		deadLetters(1)
		// The store's count agrees after the next poll.
		time.Sleep(DefaultPollInterval)
		settle()
		deadLetters(1)

		if _, err := d.Replay(context.Background(), 999, "ops"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Replay of an unknown id: %v, want ErrNotFound", err)
		}
		down.Store(false)
		replayAt := time.Now()
		if _, err := d.Replay(context.Background(), ids[0], "ops"); err != nil {
			t.Fatal(err)
		}
		settle()
		if h.count() != 7 || h.ids[6] != h.ids[0] {
			t.Fatalf("after replay: %d attempts, ids %v; want a 7th with the first id", h.count(), h.ids)
		}
		if got := h.offsets(replayAt)[6]; got != 0 {
			t.Errorf("replayed delivery attempted %s after the replay, want at once", got)
		}
		if dl := delivery(t, st, ids[0]); dl.State != store.DeliverySent {
			t.Errorf("replayed delivery is %s, want sent", dl.State)
		}
		deadLetters(0)
		evs, _ = st.AuditEvents(context.Background(), store.AuditQuery{Limit: 10, Action: ActionReplayed})
		if len(evs) != 1 || evs[0].Actor != "ops" || evs[0].Target != target(ids[0]) {
			t.Errorf("replay audit events %+v", evs)
		}
	})
}

// TestRetryAfter: a 429 with Retry-After: 60 delays the next try to 60 s
// (not the 5 s backoff, even jittered up); a Retry-After of an hour is
// capped at 10 minutes.
func TestRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h hits
		client := receiverServer(t, func(w http.ResponseWriter, r *http.Request) {
			switch h.add(r) {
			case 1:
				w.Header().Set("Retry-After", "60")
				w.WriteHeader(429)
			case 2:
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(503)
			}
		})
		st := newStore(t)
		t0 := time.Now()
		enqueue(t, st, "hook", 1, t0)
		d := New(st, map[string]receiver.Sender{"hook": &httpSender{client: client, url: "http://hook/"}},
			Options{Rand: func() float64 { return 0.999 }})
		stop := run(d)
		time.Sleep(time.Hour)
		stop()
		if got, want := h.offsets(t0), secs(0, 60, 660); !slices.Equal(got, want) {
			t.Errorf("attempts at %v, want %v", got, want)
		}
	})
}

// TestDeadReceiverIsolated: a receiver that never answers, with a backlog
// far larger than its queue, does not delay another receiver; the dead
// one holds at most QueueSize deliveries in memory.
func TestDeadReceiverIsolated(t *testing.T) {
	for _, perReceiver := range []bool{false, true} {
		name := "global load"
		if perReceiver {
			name = "per-receiver load"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var okHits hits
				okClient := receiverServer(t, func(w http.ResponseWriter, r *http.Request) { okHits.add(r) })
				deadClient := receiverServer(t, func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					<-r.Context().Done()
				})
				var st store.AlertStore = newStore(t)
				if !perReceiver {
					st = globalOnly{st}
				}
				t0 := time.Now()
				backlog := 300
				if perReceiver {
					backlog = 5000 // more than a global load reads
				}
				enqueue(t, st, "dead", backlog, t0)
				time.Sleep(time.Second)
				enqueue(t, st, "ok", 40, time.Now())
				d := New(st, map[string]receiver.Sender{
					"dead": &httpSender{client: deadClient, url: "http://dead/"},
					"ok":   &httpSender{client: okClient, url: "http://ok/"},
				}, Options{QueueSize: 16, Workers: 2})
				stop := run(d)
				defer stop()
				settle()
				if n := okHits.count(); n != 40 {
					t.Errorf("healthy receiver got %d of 40 notifications at once", n)
				}
				for range 10 {
					time.Sleep(7 * time.Second)
					settle()
					d.mu.Lock()
					q := d.queues["dead"]
					d.mu.Unlock()
					q.mu.Lock()
					n := len(q.ids)
					q.mu.Unlock()
					if n > 16 {
						t.Fatalf("dead receiver holds %d deliveries in memory, want at most 16", n)
					}
				}
				if got := testutil.ToFloat64(d.m.total.WithLabelValues("ok", "sent")); got != 40 {
					t.Errorf("ok sent = %v, want 40", got)
				}
			})
		})
	}
}

// TestUnconfiguredReceiver: deliveries of a receiver that is not (or no
// longer) configured are dead-lettered with a clear error, not retried.
func TestUnconfiguredReceiver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h hits
		client := receiverServer(t, func(w http.ResponseWriter, r *http.Request) {
			h.add(r)
			w.WriteHeader(500)
		})
		st := newStore(t)
		gone := enqueue(t, st, "gone", 2, time.Now())
		kept := enqueue(t, st, "hook", 1, time.Now())
		d := New(st, map[string]receiver.Sender{"hook": &httpSender{client: client, url: "http://hook/"}}, Options{})
		stop := run(d)
		defer stop()
		settle()
		for _, id := range gone {
			dl := delivery(t, st, id)
			if dl.State != store.DeliveryDead || dl.LastError != `receiver "gone" is not configured` {
				t.Errorf("delivery of an unknown receiver: %s, %q", dl.State, dl.LastError)
			}
		}
		// A reload drops "hook" while its delivery waits for a retry.
		d.SetSenders(map[string]receiver.Sender{}, nil)
		settle()
		if dl := delivery(t, st, kept[0]); dl.State != store.DeliveryDead || dl.LastError != `receiver "hook" is not configured` {
			t.Errorf("delivery of a removed receiver: %s, %q", dl.State, dl.LastError)
		}
		if h.count() != 1 {
			t.Errorf("removed receiver got %d attempts, want 1", h.count())
		}
	})
}

// TestRestartResumes: deliveries pending when the dispatcher stops (one of
// them in the middle of an attempt) are delivered by the next one, each
// once, with the same notification id.
func TestRestartResumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h hits
		var hang atomic.Bool
		hang.Store(true)
		client := receiverServer(t, func(w http.ResponseWriter, r *http.Request) {
			h.add(r)
			if hang.Load() {
				<-r.Context().Done()
			}
		})
		st := newStore(t)
		ids := enqueue(t, st, "hook", 3, time.Now())
		senders := map[string]receiver.Sender{"hook": &httpSender{client: client, url: "http://hook/"}}
		d := New(st, senders, Options{Workers: 1})
		stop := run(d)
		time.Sleep(time.Second) // one attempt in flight
		settle()
		stop()
		if h.count() != 1 {
			t.Fatalf("%d attempts before the restart, want 1 in flight", h.count())
		}
		for _, id := range ids {
			if dl := delivery(t, st, id); dl.State != store.DeliveryPending || dl.Attempts != 0 {
				t.Fatalf("after stop: delivery %d is %s after %d attempts, want pending, none recorded", id, dl.State, dl.Attempts)
			}
		}
		hang.Store(false)
		d = New(st, senders, Options{})
		stop = run(d)
		settle()
		stop()
		seen := map[string]int{}
		for _, id := range h.ids[1:] {
			seen[id]++
		}
		for _, id := range ids {
			dl := delivery(t, st, id)
			if dl.State != store.DeliverySent || seen[dl.NotificationID] != 1 {
				t.Errorf("delivery %d: %s, delivered %d times after restart", id, dl.State, seen[dl.NotificationID])
			}
		}
		if h.ids[0] != h.ids[1] && h.ids[0] != h.ids[2] && h.ids[0] != h.ids[3] {
			t.Errorf("the interrupted notification %s was not resumed with its id", h.ids[0])
		}
	})
}

// TestStopLetsAnAttemptFinish: an attempt under way when the dispatcher
// stops (a clean shutdown, a replica's rolling restart) finishes within the
// grace and is recorded: the receiver, which already has it, does not get
// it again from the next run.
func TestStopLetsAnAttemptFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h hits
		client := receiverServer(t, func(w http.ResponseWriter, r *http.Request) {
			h.add(r)
			time.Sleep(time.Second) // a slow receiver: the stop comes meanwhile
		})
		st := newStore(t)
		ids := enqueue(t, st, "hook", 1, time.Now())
		senders := map[string]receiver.Sender{"hook": &httpSender{client: client, url: "http://hook/"}}
		stop := run(New(st, senders, Options{Workers: 1}))
		time.Sleep(500 * time.Millisecond) // the attempt is under way
		stop()
		if dl := delivery(t, st, ids[0]); dl.State != store.DeliverySent || dl.Attempts != 1 {
			t.Fatalf("after the stop: %s after %d attempts, want sent after 1", dl.State, dl.Attempts)
		}
		stop = run(New(st, senders, Options{Workers: 1}))
		settle()
		stop()
		if h.count() != 1 {
			t.Fatalf("the receiver got the notification %d times, want once", h.count())
		}
	})
}

// TestStoreDown: while the store fails, nothing is lost; once it is back
// the deliveries go out.
func TestStoreDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h hits
		client := receiverServer(t, func(w http.ResponseWriter, r *http.Request) { h.add(r) })
		st := newMemStore()
		ids := enqueue(t, st, "hook", 2, time.Now())
		st.mu.Lock()
		st.fail = errors.New("database is down")
		st.mu.Unlock()
		d := New(st, map[string]receiver.Sender{"hook": &httpSender{client: client, url: "http://hook/"}}, Options{})
		stop := run(d)
		defer stop()
		time.Sleep(time.Minute)
		if h.count() != 0 {
			t.Fatalf("%d attempts while the store was down", h.count())
		}
		st.mu.Lock()
		st.fail = nil
		st.mu.Unlock()
		time.Sleep(DefaultPollInterval)
		settle()
		for _, id := range ids {
			if dl := delivery(t, st, id); dl.State != store.DeliverySent {
				t.Errorf("delivery %d is %s once the store is back", id, dl.State)
			}
		}
	})
}

func TestMetricsLint(t *testing.T) {
	d := New(newMemStore(), map[string]receiver.Sender{"hook": nil}, Options{})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(d.Collector())
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
	if n := testutil.CollectAndCount(d.Collector(), "monitor_notifications_total"); n != 3 {
		t.Errorf("%d monitor_notifications_total series for one receiver, want 3 (one per outcome)", n)
	}
}
