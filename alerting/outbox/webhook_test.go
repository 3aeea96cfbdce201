package outbox

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/alerting/webhook"
	"github.com/monitor-dev/monitor/store"
)

// TestWebhookSender: the real webhook sender behind the dispatcher, on the
// real store: 500, then 503 with Retry-After: 30, then no answer, then 200.
// The attempts come at 0, 5 s, 35 s (Retry-After beats the 10 s backoff)
// and 65 s (the 10 s timeout, then 20 s), signed, with one webhook-id; no
// attempt's error shows the URL's token.
func TestWebhookSender(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h hits
		var signed []bool
		client := receiverServer(t, func(w http.ResponseWriter, r *http.Request) {
			n := h.add(r)
			h.mu.Lock()
			signed = append(signed, strings.HasPrefix(r.Header.Get(webhook.HeaderSignature), "v1,"))
			h.mu.Unlock()
			switch n {
			case 1:
				w.WriteHeader(500)
			case 2:
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(503)
			case 3:
				<-r.Context().Done()
			}
		})
		wh, err := webhook.New("hook", &webhook.Config{URL: "http://hook/in?token=s3cr3t",
			Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, receiver.Deps{HTTP: client})
		if err != nil {
			t.Fatal(err)
		}
		st := newStore(t)
		t0 := time.Now()
		ids := enqueue(t, st, "hook", 1, t0)
		stop := run(New(st, map[string]receiver.Sender{"hook": wh}, Options{Jitter: -1}))
		time.Sleep(10 * time.Minute)
		stop()

		if got, want := h.offsets(t0), secs(0, 5, 35, 65); !slices.Equal(got, want) {
			t.Errorf("attempts at %v, want %v", got, want)
		}
		dl := delivery(t, st, ids[0])
		if dl.State != store.DeliverySent || dl.Attempts != 4 {
			t.Errorf("delivery %s after %d attempts, want sent after 4", dl.State, dl.Attempts)
		}
		for i, id := range h.ids {
			if id != dl.NotificationID || !signed[i] {
				t.Errorf("attempt %d: webhook-id %q (want %q), signed %v", i+1, id, dl.NotificationID, signed[i])
			}
		}
		as, _ := st.Attempts(context.Background(), "hook", 10)
		for _, a := range as {
			if strings.Contains(a.Error, "s3cr3t") {
				t.Errorf("attempt %d error shows the token: %q", a.Attempt, a.Error)
			}
		}
	})
}
