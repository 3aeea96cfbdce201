package outbox

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/monitor-dev/monitor/store"
)

// memStore is the outbox part of store.AlertStore in memory, with the
// store's documented semantics, for the dispatcher's tests until they run
// on the real store.
type memStore struct {
	mu       sync.Mutex
	next     int64
	dels     map[int64]*store.Delivery
	attempts []store.Attempt
	audit    []store.AuditEvent
	fail     error // every call fails with it when set
	loads    int   // PendingDeliveries calls
}

var errMemNotImplemented = errors.New("memStore: not implemented")

func newMemStore() *memStore { return &memStore{dels: map[int64]*store.Delivery{}} }

func (m *memStore) CommitAlerts(_ context.Context, c store.AlertCommit) ([]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	var ids []int64
	for _, d := range c.Deliveries {
		m.next++
		d.ID = m.next
		d.State = store.DeliveryPending
		if d.DueAt.IsZero() {
			d.DueAt = d.CreatedAt
		}
		m.dels[d.ID] = &d
		ids = append(ids, d.ID)
	}
	m.audit = append(m.audit, c.Audit...)
	return ids, nil
}

func (m *memStore) LoadAlerts(context.Context) ([]store.AlertRow, error) {
	return nil, errMemNotImplemented
}

func (m *memStore) sorted(keep func(*store.Delivery) bool) []store.Delivery {
	var out []store.Delivery
	for _, d := range m.dels {
		if keep(d) {
			out = append(out, *d)
		}
	}
	slices.SortFunc(out, func(a, b store.Delivery) int {
		return cmp.Or(a.DueAt.Compare(b.DueAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

func (m *memStore) PendingDeliveries(_ context.Context, limit int) ([]store.Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	m.loads++
	out := m.sorted(func(d *store.Delivery) bool { return d.State == store.DeliveryPending })
	return out[:min(limit, len(out))], nil
}

func (m *memStore) RecordAttempts(_ context.Context, as []store.Attempt) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	for _, a := range as {
		d := m.dels[a.DeliveryID]
		if d == nil {
			return store.ErrNotFound
		}
		d.Attempts, d.LastError, d.LastStatus = a.Attempt, a.Error, a.StatusCode
		switch a.Outcome {
		case store.OutcomeSent:
			d.State, d.DoneAt = store.DeliverySent, a.At.Add(a.Duration)
		case store.OutcomeDead:
			d.State, d.DoneAt = store.DeliveryDead, a.At.Add(a.Duration)
		default:
			d.DueAt = a.NextAt
		}
		m.attempts = append(m.attempts, a)
	}
	return nil
}

func (m *memStore) Attempts(_ context.Context, receiver string, limit int) ([]store.Attempt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Attempt
	for i := len(m.attempts) - 1; i >= 0 && len(out) < limit; i-- {
		if receiver == "" || m.attempts[i].Receiver == receiver {
			out = append(out, m.attempts[i])
		}
	}
	return out, nil
}

func (m *memStore) DeadLetters(_ context.Context, limit int) ([]store.Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.sorted(func(d *store.Delivery) bool { return d.State == store.DeliveryDead })
	slices.Reverse(out)
	return out[:min(limit, len(out))], nil
}

func (m *memStore) Replay(_ context.Context, id int64, now time.Time) (store.Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.dels[id]
	if d == nil || d.State != store.DeliveryDead {
		return store.Delivery{}, store.ErrNotFound
	}
	d.State, d.DueAt, d.Attempts, d.DoneAt = store.DeliveryPending, now, 0, time.Time{}
	return *d, nil
}

func (m *memStore) PendingCounts(context.Context) (map[string]int, error) {
	return m.counts(store.DeliveryPending)
}

func (m *memStore) DeadLetterCounts(context.Context) (map[string]int, error) {
	return m.counts(store.DeliveryDead)
}

func (m *memStore) counts(state string) (map[string]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	out := map[string]int{}
	for _, d := range m.dels {
		if d.State == state {
			out[d.Receiver]++
		}
	}
	return out, nil
}

func (m *memStore) SaveSilence(context.Context, store.Silence) error { return errMemNotImplemented }
func (m *memStore) Silences(context.Context, time.Time) ([]store.Silence, error) {
	return nil, errMemNotImplemented
}
func (m *memStore) SaveEscalation(context.Context, store.Escalation) error {
	return errMemNotImplemented
}
func (m *memStore) Escalation(context.Context, string) (store.Escalation, error) {
	return store.Escalation{}, errMemNotImplemented
}
func (m *memStore) Escalations(context.Context, string, int) ([]store.Escalation, error) {
	return nil, errMemNotImplemented
}

func (m *memStore) Audit(_ context.Context, evs []store.AuditEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audit = append(m.audit, evs...)
	return nil
}

func (m *memStore) AuditEvents(_ context.Context, q store.AuditQuery) ([]store.AuditEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.AuditEvent
	for i := len(m.audit) - 1; i >= 0 && len(out) < q.Limit; i-- {
		if q.Action == "" || m.audit[i].Action == q.Action {
			out = append(out, m.audit[i])
		}
	}
	return out, nil
}
