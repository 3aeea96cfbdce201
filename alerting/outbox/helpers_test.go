package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/store"
)

// pipeNet is an in-memory network for a real net/http server and client
// inside a testing/synctest bubble: goroutines blocked on net.Pipe are
// durably blocked, so virtual time advances while a receiver "hangs",
// which a loopback socket would prevent.
type pipeNet struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeNet() *pipeNet { return &pipeNet{conns: make(chan net.Conn), done: make(chan struct{})} }

func (p *pipeNet) Accept() (net.Conn, error) {
	select {
	case c := <-p.conns:
		return c, nil
	case <-p.done:
		return nil, net.ErrClosed
	}
}

func (p *pipeNet) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}

func (p *pipeNet) Addr() net.Addr { return pipeAddr{} }

func (p *pipeNet) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	c, s := net.Pipe()
	select {
	case p.conns <- s:
		return c, nil
	case <-p.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// receiverServer starts a real HTTP server with h on a pipeNet and returns
// a client that reaches it (keep-alives off, so nothing lingers). The
// server stops at the end of the test (inside the bubble that started it).
func receiverServer(t *testing.T, h http.HandlerFunc) *http.Client {
	t.Helper()
	pn := newPipeNet()
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(pn)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return &http.Client{Transport: &http.Transport{DialContext: pn.dial, DisableKeepAlives: true}}
}

// httpSender is a small webhook-like sender: it posts the notification as
// JSON with its id in webhook-id, and classifies the answer as the
// receivers do (5xx, 408 and 429 retry, other 4xx are permanent, a
// Retry-After in seconds is honoured).
type httpSender struct {
	client *http.Client
	url    string
}

func (s *httpSender) Send(ctx context.Context, n receiver.Notification) error {
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", n.ID)
	resp, err := s.client.Do(req)
	if err != nil {
		return &receiver.SendError{Err: errors.New("request failed")}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	se := &receiver.SendError{StatusCode: resp.StatusCode, Err: errors.New(http.StatusText(resp.StatusCode))}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		se.RetryAfter = time.Duration(secs) * time.Second
	}
	se.Permanent = resp.StatusCode/100 == 4 && resp.StatusCode != 408 && resp.StatusCode != 429
	return se
}

// enqueue commits n notifications for receiver rcv, due at at, and
// returns their delivery ids.
func enqueue(t *testing.T, st store.AlertStore, rcv string, n int, at time.Time) []int64 {
	t.Helper()
	var ds []store.Delivery
	for i := range n {
		id := fmt.Sprintf("ntf_%s_%d_%d", rcv, at.UnixNano(), i)
		alertID := fmt.Sprintf("check:c%d", i)
		body, err := json.Marshal(receiver.Notification{ID: id, Status: receiver.StatusFiring, GroupKey: alertID,
			Receiver: rcv, Alerts: []receiver.Alert{{ID: alertID, Check: fmt.Sprintf("c%d", i), Status: receiver.StatusFiring}},
			CreatedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, store.Delivery{NotificationID: id, Receiver: rcv, AlertIDs: []string{alertID}, Body: body,
			State: store.DeliveryPending, CreatedAt: at, DueAt: at})
	}
	ids, err := st.CommitAlerts(context.Background(), store.AlertCommit{Deliveries: ds})
	if err != nil {
		t.Fatalf("CommitAlerts: %v", err)
	}
	return ids
}

// run starts d and returns a function that stops it and waits for Run to
// return.
func run(d *Dispatcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// hits records what a receiver saw.
type hits struct {
	mu  sync.Mutex
	at  []time.Time
	ids []string
}

func (h *hits) add(r *http.Request) int {
	// Reading the body lets the server notice a client that gives up
	// (its request context ends), as a real receiver would.
	_, _ = io.Copy(io.Discard, r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.at = append(h.at, time.Now())
	h.ids = append(h.ids, r.Header.Get("webhook-id"))
	return len(h.at)
}

func (h *hits) offsets(t0 time.Time) []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []time.Duration
	for _, at := range h.at {
		out = append(out, at.Sub(t0))
	}
	return out
}

func (h *hits) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.at)
}

// delivery returns the stored delivery id, found among the pending
// deliveries and the dead letters, or else (sent) with the attempts the
// log holds for it.
func delivery(t *testing.T, st store.AlertStore, id int64) store.Delivery {
	t.Helper()
	ctx := context.Background()
	pending, err := st.PendingDeliveries(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	dead, err := st.DeadLetters(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range append(pending, dead...) {
		if d.ID == id {
			return d
		}
	}
	as, err := st.Attempts(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	d := store.Delivery{ID: id}
	for _, a := range as {
		if a.DeliveryID == id {
			d.Attempts = max(d.Attempts, a.Attempt)
			d.NotificationID = a.NotificationID
			if a.Outcome == store.OutcomeSent {
				d.State = store.DeliverySent
			}
		}
	}
	if d.State == "" {
		t.Fatalf("delivery %d is neither pending, dead nor sent", id)
	}
	return d
}

// newStore opens a fresh SQLite store, closed at the end of the test (in
// a synctest bubble: inside it).
func newStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "m.db"), store.Options{})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// globalOnly hides the store's per-receiver query, so that the dispatcher
// loads with PendingDeliveries alone.
type globalOnly struct{ store.AlertStore }
