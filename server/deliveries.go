package server

import (
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/monitor-dev/monitor/alerting/outbox"
	"github.com/monitor-dev/monitor/store"
)

// Bounds of the outbox listings (GET /v2/alerts/deliveries and
// /v2/alerts/dead-letters): ?limit= defaults to 50 and may be at most 100.
const (
	outboxDefaultLimit = 50
	outboxMaxLimit     = 100
	outboxMaxReceiver  = 200
)

type outboxAPI struct {
	d atomic.Pointer[outbox.Dispatcher]
}

// SetOutbox gives the API the notification dispatcher. Until it is set
// (or when alerting is off) the listings are empty and a retry is 404:
// there is no outbox, so nothing was delivered and nothing is dead.
func (s *Server) SetOutbox(d *outbox.Dispatcher) { s.outbox.d.Store(d) }

func (s *Server) routeDeliveries() {
	s.mux.Handle("GET /v2/alerts/deliveries", s.private(http.HandlerFunc(s.deliveries)))
	s.mux.Handle("GET /v2/alerts/dead-letters", s.private(http.HandlerFunc(s.deadLetters)))
	s.mux.Handle("POST /v2/alerts/dead-letters/{id}/retry", s.private(http.HandlerFunc(s.retryDeadLetter)))
}

// outboxLimit reads ?limit=, writing the 400 envelope when it is bad.
func outboxLimit(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return outboxDefaultLimit, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > outboxMaxLimit {
		writeError(w, r, CodeInvalidRequest, "limit must be a whole number from 1 to "+strconv.Itoa(outboxMaxLimit),
			map[string]any{"field": "limit", "got": clip(v), "max": outboxMaxLimit})
		return 0, false
	}
	return n, true
}

// outboxFailed answers a store error.
func (s *Server) outboxFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		w.Header().Set("Retry-After", "5")
		writeError(w, r, CodeUnavailable, "The store is unavailable for now; the monitor keeps retrying it (GET /readyz says why)", nil)
		return
	}
	s.opts.Logger.Error("outbox query failed", "path", r.URL.Path, "err", err)
	writeError(w, r, CodeInternal, "The outbox could not be read", nil)
}

type deliveryAttempt struct {
	ID             int64      `json:"id"` // the delivery's id (a dead letter's id, for a retry)
	Receiver       string     `json:"receiver"`
	NotificationID string     `json:"notificationId"`
	AlertIDs       []string   `json:"alertIds"`
	Attempt        int        `json:"attempt"` // 1 for the first try
	At             time.Time  `json:"at"`
	StatusCode     *int       `json:"statusCode"` // the receiver's HTTP/SMTP status; null when it gave none
	Error          *string    `json:"error"`      // null when sent
	DurationMs     int64      `json:"durationMs"`
	Outcome        string     `json:"outcome"`     // sent, retried or dead_lettered
	NextRetryAt    *time.Time `json:"nextRetryAt"` // when retried
}

// deliveries answers GET /v2/alerts/deliveries?receiver=&limit=: the
// newest delivery attempts, newest first.
func (s *Server) deliveries(w http.ResponseWriter, r *http.Request) {
	limit, ok := outboxLimit(w, r)
	if !ok {
		return
	}
	rcv := r.URL.Query().Get("receiver")
	if len(rcv) > outboxMaxReceiver {
		writeError(w, r, CodeInvalidRequest, "receiver is longer than "+strconv.Itoa(outboxMaxReceiver)+" bytes",
			map[string]any{"field": "receiver", "got": clip(rcv), "max": outboxMaxReceiver})
		return
	}
	out := struct {
		Deliveries []deliveryAttempt `json:"deliveries"`
	}{Deliveries: []deliveryAttempt{}}
	if d := s.outbox.d.Load(); d != nil {
		as, err := d.Attempts(r.Context(), rcv, limit)
		if err != nil {
			s.outboxFailed(w, r, err)
			return
		}
		for _, a := range as {
			e := deliveryAttempt{ID: a.DeliveryID, Receiver: a.Receiver, NotificationID: a.NotificationID,
				AlertIDs: outboxIDs(a.AlertIDs), Attempt: a.Attempt, At: a.At.UTC(), DurationMs: a.Duration.Milliseconds(),
				Outcome: a.Outcome}
			if a.StatusCode != 0 {
				e.StatusCode = &a.StatusCode
			}
			if a.Error != "" {
				e.Error = &a.Error
			}
			if !a.NextAt.IsZero() {
				next := a.NextAt.UTC()
				e.NextRetryAt = &next
			}
			out.Deliveries = append(out.Deliveries, e)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

type deadLetter struct {
	ID             int64     `json:"id"`
	Receiver       string    `json:"receiver"`
	NotificationID string    `json:"notificationId"`
	AlertIDs       []string  `json:"alertIds"`
	Attempts       int       `json:"attempts"`
	LastError      string    `json:"lastError"`
	LastStatus     *int      `json:"lastStatusCode"`
	CreatedAt      time.Time `json:"createdAt"`
	DeadAt         time.Time `json:"deadAt"`
}

// deadLetters answers GET /v2/alerts/dead-letters?limit=: the deliveries
// given up, newest first.
func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request) {
	limit, ok := outboxLimit(w, r)
	if !ok {
		return
	}
	out := struct {
		DeadLetters []deadLetter `json:"deadLetters"`
	}{DeadLetters: []deadLetter{}}
	if d := s.outbox.d.Load(); d != nil {
		ds, err := d.DeadLetters(r.Context(), limit)
		if err != nil {
			s.outboxFailed(w, r, err)
			return
		}
		for _, dl := range ds {
			e := deadLetter{ID: dl.ID, Receiver: dl.Receiver, NotificationID: dl.NotificationID, AlertIDs: outboxIDs(dl.AlertIDs),
				Attempts: dl.Attempts, LastError: dl.LastError, CreatedAt: dl.CreatedAt.UTC(), DeadAt: dl.DoneAt.UTC()}
			if dl.LastStatus != 0 {
				e.LastStatus = &dl.LastStatus
			}
			out.DeadLetters = append(out.DeadLetters, e)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// retryDeadLetter answers POST /v2/alerts/dead-letters/{id}/retry: the
// dead letter is pending again, due now, with the same notification id
// (202); the replay is in the audit trail under the token's name.
func (s *Server) retryDeadLetter(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	d := s.outbox.d.Load()
	if err != nil || id < 1 || d == nil {
		writeError(w, r, CodeNotFound, "No dead letter "+clip(raw), map[string]any{"id": clip(raw)})
		return
	}
	dl, err := d.Replay(r.Context(), id, actorOf(r))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, CodeNotFound, "No dead letter "+clip(raw), map[string]any{"id": clip(raw)})
		return
	}
	if err != nil {
		s.outboxFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct {
		ID             int64     `json:"id"`
		Receiver       string    `json:"receiver"`
		NotificationID string    `json:"notificationId"`
		AlertIDs       []string  `json:"alertIds"`
		State          string    `json:"state"`
		DueAt          time.Time `json:"dueAt"`
	}{dl.ID, dl.Receiver, dl.NotificationID, outboxIDs(dl.AlertIDs), dl.State, dl.DueAt.UTC()})
}

func outboxIDs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
