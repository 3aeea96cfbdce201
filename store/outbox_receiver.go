package store

import (
	"context"
	"fmt"
)

// PendingDeliveriesOf returns up to limit pending deliveries of one
// receiver, by DueAt then ID: the outbox dispatcher's per-receiver load
// (alerting/outbox.ReceiverPending), so that one receiver's backlog never
// hides another's deliveries.
func (s *sqlStore) PendingDeliveriesOf(ctx context.Context, receiver string, limit int) ([]Delivery, error) {
	out, err := s.deliveries(ctx, "SELECT "+deliveryColumns+
		" FROM deliveries WHERE state = ? AND receiver = ? ORDER BY due_at, id LIMIT ?",
		DeliveryPending, receiver, clampLimit(limit, maxListLimit))
	if err != nil {
		return nil, fmt.Errorf("store pending deliveries of a receiver: %w", err)
	}
	return out, nil
}

// PendingDeliveriesOf is the per-receiver load of the store, or
// ErrUnavailable while it is not open.
func (l *Lazy) PendingDeliveriesOf(ctx context.Context, receiver string, limit int) ([]Delivery, error) {
	if st, ok := l.get().(interface {
		PendingDeliveriesOf(context.Context, string, int) ([]Delivery, error)
	}); ok {
		return st.PendingDeliveriesOf(ctx, receiver, limit)
	}
	return nil, ErrUnavailable
}
