package server

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/monitor-dev/monitor/alerting/outbox"
	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/internal/testenv"
	"github.com/monitor-dev/monitor/store"
)

// outboxEngines are the store engines the outbox endpoints are tested on.
var outboxEngines = []struct {
	name string
	dsn  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "m.db") }},
	{"postgres", func(t *testing.T) string { return testenv.PostgresSchema(t) }},
}

// senderFunc is a Sender that answers as its function says.
type senderFunc func(n receiver.Notification) error

func (f senderFunc) Send(_ context.Context, n receiver.Notification) error { return f(n) }

type deliveriesBody struct {
	Deliveries []struct {
		ID             int64    `json:"id"`
		Receiver       string   `json:"receiver"`
		NotificationID string   `json:"notificationId"`
		AlertIDs       []string `json:"alertIds"`
		Attempt        int      `json:"attempt"`
		At             string   `json:"at"`
		StatusCode     *int     `json:"statusCode"`
		Error          *string  `json:"error"`
		DurationMs     *int64   `json:"durationMs"`
		Outcome        string   `json:"outcome"`
		NextRetryAt    *string  `json:"nextRetryAt"`
	} `json:"deliveries"`
}

type deadLettersBody struct {
	DeadLetters []struct {
		ID        int64    `json:"id"`
		Receiver  string   `json:"receiver"`
		AlertIDs  []string `json:"alertIds"`
		Attempts  int      `json:"attempts"`
		LastError string   `json:"lastError"`
		CreatedAt string   `json:"createdAt"`
	} `json:"deadLetters"`
}

func decodeT(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
}

// TestDeliveriesAPI: one notification is sent, another (to a receiver that
// fails for good) dead-lettered; the API lists the attempts and the dead
// letter, and a retry through the API delivers it with its notification id.
func TestDeliveriesAPI(t *testing.T) {
	for _, eng := range outboxEngines {
		t.Run(eng.name, func(t *testing.T) {
			ctx := context.Background()
			st, err := store.Open(ctx, eng.dsn(t), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			f := newFixture(t, "secret-token")
			auth := map[string]string{"Authorization": "Bearer secret-token"}

			var brokenFixed atomic.Bool
			var redelivered atomic.Value
			senders := map[string]receiver.Sender{
				"ok": senderFunc(func(receiver.Notification) error { return nil }),
				"broken": senderFunc(func(n receiver.Notification) error {
					if brokenFixed.Load() {
						redelivered.Store(n.ID)
						return nil
					}
					return &receiver.SendError{StatusCode: 410, Permanent: true, Err: errors.New("gone")}
				}),
			}
			d := outbox.New(st, senders, outbox.Options{Retry: []time.Duration{}})
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); d.Run(rctx) }()
			t.Cleanup(func() { cancel(); <-done })

			// Not wired yet: empty listings, and no dead letter to retry.
			_, body := f.do(t, "GET", "/v2/alerts/deliveries", auth)
			if string(body) != "{\"deliveries\":[]}\n" {
				t.Errorf("deliveries without an outbox: %s", body)
			}
			resp, body := f.do(t, "POST", "/v2/alerts/dead-letters/1/retry", auth)
			assertEnvelope(t, resp, body, 404, CodeNotFound)
			f.s.SetOutbox(d)

			now := time.Now().UTC().Truncate(time.Millisecond)
			var ds []store.Delivery
			for _, rcv := range []string{"ok", "broken"} {
				b, _ := json.Marshal(receiver.Notification{ID: "ntf_" + rcv, Receiver: rcv, Status: receiver.StatusFiring,
					Alerts: []receiver.Alert{{ID: "check:conn", Check: "conn", Status: receiver.StatusFiring}}, CreatedAt: now})
				ds = append(ds, store.Delivery{NotificationID: "ntf_" + rcv, Receiver: rcv, AlertIDs: []string{"check:conn"},
					Body: b, State: store.DeliveryPending, CreatedAt: now, DueAt: now})
			}
			ids, err := st.CommitAlerts(ctx, store.AlertCommit{Deliveries: ds})
			if err != nil {
				t.Fatal(err)
			}
			d.Wake()
			var got deliveriesBody
			for deadline := time.Now().Add(10 * time.Second); ; {
				_, body = f.do(t, "GET", "/v2/alerts/deliveries", auth)
				got = deliveriesBody{}
				decodeT(t, body, &got)
				if len(got.Deliveries) == 2 || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			if len(got.Deliveries) != 2 {
				t.Fatalf("deliveries: %s", body)
			}
			byRcv := map[string]int{}
			for i, e := range got.Deliveries {
				byRcv[e.Receiver] = i
				if e.Attempt != 1 || e.DurationMs == nil || len(e.AlertIDs) != 1 || e.AlertIDs[0] != "check:conn" ||
					e.NotificationID != "ntf_"+e.Receiver || e.NextRetryAt != nil {
					t.Errorf("delivery %+v", e)
				}
				if at, err := time.Parse(time.RFC3339Nano, e.At); err != nil || at.Before(now.Add(-time.Second)) {
					t.Errorf("at %q", e.At)
				}
			}
			if e := got.Deliveries[byRcv["ok"]]; e.ID != ids[0] || e.Outcome != "sent" || e.Error != nil || e.StatusCode != nil {
				t.Errorf("sent delivery %+v", e)
			}
			if e := got.Deliveries[byRcv["broken"]]; e.ID != ids[1] || e.Outcome != "dead_lettered" || e.Error == nil ||
				*e.Error != "status 410: gone" || e.StatusCode == nil || *e.StatusCode != 410 {
				t.Errorf("dead-lettered delivery %+v", e)
			}
			_, body = f.do(t, "GET", "/v2/alerts/deliveries?receiver=ok&limit=1", auth)
			got = deliveriesBody{}
			decodeT(t, body, &got)
			if len(got.Deliveries) != 1 || got.Deliveries[0].Receiver != "ok" {
				t.Errorf("deliveries of ok: %s", body)
			}
			for _, bad := range []string{"0", "101", "x", "-1"} {
				resp, body := f.do(t, "GET", "/v2/alerts/deliveries?limit="+bad, auth)
				assertEnvelope(t, resp, body, 400, CodeInvalidRequest)
			}
			resp, body = f.do(t, "GET", "/v2/alerts/deliveries", nil)
			assertEnvelope(t, resp, body, 401, CodeMissingToken)

			_, body = f.do(t, "GET", "/v2/alerts/dead-letters", auth)
			var dead deadLettersBody
			decodeT(t, body, &dead)
			if len(dead.DeadLetters) != 1 || dead.DeadLetters[0].ID != ids[1] || dead.DeadLetters[0].Receiver != "broken" ||
				dead.DeadLetters[0].Attempts != 1 || dead.DeadLetters[0].LastError != "status 410: gone" ||
				len(dead.DeadLetters[0].AlertIDs) != 1 || dead.DeadLetters[0].CreatedAt != now.Format(time.RFC3339Nano) {
				t.Errorf("dead letters: %s", body)
			}
			resp, body = f.do(t, "GET", "/v2/alerts/dead-letters?limit=500", auth)
			assertEnvelope(t, resp, body, 400, CodeInvalidRequest)

			for _, id := range []string{"abc", "0", "-3", "999999"} {
				resp, body := f.do(t, "POST", "/v2/alerts/dead-letters/"+id+"/retry", auth)
				assertEnvelope(t, resp, body, 404, CodeNotFound)
			}
			resp, body = f.do(t, "POST", "/v2/alerts/dead-letters/"+itoa(ids[0])+"/retry", auth)
			assertEnvelope(t, resp, body, 404, CodeNotFound) // sent, not dead

			brokenFixed.Store(true)
			resp, body = f.do(t, "POST", "/v2/alerts/dead-letters/"+itoa(ids[1])+"/retry", auth)
			if resp.StatusCode != 202 {
				t.Fatalf("retry: %d %s", resp.StatusCode, body)
			}
			for deadline := time.Now().Add(10 * time.Second); redelivered.Load() == nil && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			if id, _ := redelivered.Load().(string); id != "ntf_broken" {
				t.Fatalf("replayed notification id %q, want ntf_broken", id)
			}
			evs, err := st.AuditEvents(ctx, store.AuditQuery{Limit: 10, Action: outbox.ActionReplayed})
			if err != nil || len(evs) != 1 || evs[0].Actor == "" || evs[0].Actor == "system" || evs[0].Target != "delivery:"+itoa(ids[1]) {
				t.Errorf("replay audit events %+v, %v", evs, err)
			}
			resp, body = f.do(t, "POST", "/v2/alerts/dead-letters/"+itoa(ids[1])+"/retry", auth)
			assertEnvelope(t, resp, body, 404, CodeNotFound) // pending or sent now, not dead
		})
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestOutboxStoreDown: while the store is down, the deliveries, dead
// letters and replay answer 503 unavailable with Retry-After, as the rest
// of the alerting API does (not 500), without the store's address; a bad
// limit names the field, as on /v2/audit-events.
func TestOutboxStoreDown(t *testing.T) {
	f := newFixture(t, "tok")
	st := store.NewLazy("postgres://monitor:hunter2@127.0.0.1:1/db", store.Options{}, nil)
	f.s.SetOutbox(outbox.New(st, map[string]receiver.Sender{}, outbox.Options{}))
	for _, rt := range []struct{ method, path string }{
		{"GET", "/v2/alerts/deliveries"},
		{"GET", "/v2/alerts/dead-letters"},
		{"POST", "/v2/alerts/dead-letters/1/retry"},
	} {
		resp, body := f.call(t, rt.method, rt.path, "tok", "")
		assertEnvelope(t, resp, body, 503, CodeUnavailable)
		if resp.Header.Get("Retry-After") == "" || strings.Contains(string(body), "hunter2") || strings.Contains(string(body), "127.0.0.1") {
			t.Errorf("%s %s: %s (Retry-After %q)", rt.method, rt.path, body, resp.Header.Get("Retry-After"))
		}
	}
	for _, path := range []string{"/v2/alerts/deliveries?limit=1e9", "/v2/alerts/dead-letters?limit=-1"} {
		resp, body := f.call(t, "GET", path, "tok", "")
		assertEnvelope(t, resp, body, 400, CodeInvalidRequest)
		if d := details(t, body); d["field"] != "limit" || d["max"] != float64(outboxMaxLimit) {
			t.Errorf("GET %s: details %v, want the field limit and its max", path, d)
		}
	}
}
