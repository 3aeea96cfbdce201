package outbox

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/internal/testenv"
	"github.com/monitor-dev/monitor/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// engines are the real store engines: a fresh SQLite file, and a fresh
// schema on the PostgreSQL test server.
var engines = []struct {
	name string
	dsn  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "m.db") }},
	{"postgres", func(t *testing.T) string { return testenv.PostgresSchema(t) }},
}

func openStore(t *testing.T, dsn string) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	return st
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestRestartRealStore: the dispatcher stops (as on SIGTERM) with one
// attempt in flight and more deliveries pending; the store is closed and
// reopened, a new dispatcher runs, and every notification is delivered
// once after the restart, with its notification id, over real HTTP.
func TestRestartRealStore(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			var hang atomic.Bool
			hang.Store(true)
			var mu sync.Mutex
			var order []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				mu.Lock()
				order = append(order, r.Header.Get("webhook-id"))
				mu.Unlock()
				if hang.Load() {
					<-r.Context().Done()
				}
			}))
			t.Cleanup(srv.Close)
			seen := func() []string {
				mu.Lock()
				defer mu.Unlock()
				return append([]string(nil), order...)
			}
			senders := map[string]receiver.Sender{"hook": &httpSender{client: srv.Client(), url: srv.URL}}
			dsn := eng.dsn(t)

			st := openStore(t, dsn)
			ids := enqueue(t, st, "hook", 3, time.Now())
			stop := run(New(st, senders, Options{Workers: 1}))
			waitFor(t, "the first attempt", func() bool { return len(seen()) == 1 })
			stop()
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}

			hang.Store(false)
			st = openStore(t, dsn)
			t.Cleanup(func() { _ = st.Close() })
			counts, err := st.PendingCounts(context.Background())
			if err != nil || counts["hook"] != 3 {
				t.Fatalf("pending after restart: %v, %v; want 3", counts, err)
			}
			stop = run(New(st, senders, Options{}))
			waitFor(t, "every delivery sent", func() bool {
				c, err := st.PendingCounts(context.Background())
				return err == nil && c["hook"] == 0
			})
			stop()
			got := seen()
			after := map[string]int{}
			for _, id := range got[1:] {
				after[id]++
			}
			if len(after) != 3 || after[got[0]] != 1 {
				t.Errorf("after the restart the receiver saw %v (first attempt %s), want each of 3 ids once, the interrupted one included", got[1:], got[0])
			}
			as, err := st.Attempts(context.Background(), "hook", 10)
			if err != nil || len(as) != 3 {
				t.Fatalf("attempts %+v, %v; want 3 (the interrupted one is not recorded)", as, err)
			}
			for _, a := range as {
				if a.Outcome != store.OutcomeSent || a.Attempt != 1 || after[a.NotificationID] != 1 {
					t.Errorf("attempt %+v", a)
				}
			}
			_ = ids
		})
	}
}
