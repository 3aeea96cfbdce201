package store

import (
	"context"
	"testing"
	"time"
)

func TestPendingDeliveriesOf(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := eng.dsn(t)
			l := NewLazy(dsn, Options{}, nil)
			if _, err := l.PendingDeliveriesOf(ctx, "b", 10); err != ErrUnavailable {
				t.Fatalf("closed Lazy: %v, want ErrUnavailable", err)
			}
			if err := l.Open(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = l.Close() })
			var ds []Delivery
			for i, rcv := range []string{"a", "b", "a", "b", "a"} {
				at := T0.Add(time.Duration(5-i) * time.Second) // later ones due first
				ds = append(ds, Delivery{NotificationID: "n" + string(rune('0'+i)), Receiver: rcv, AlertIDs: []string{"check:x"},
					Body: []byte(`{}`), State: DeliveryPending, CreatedAt: at, DueAt: at})
			}
			ids, err := l.CommitAlerts(ctx, AlertCommit{Deliveries: ds})
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.PendingDeliveriesOf(ctx, "b", 10)
			if err != nil || len(got) != 2 || got[0].ID != ids[3] || got[1].ID != ids[1] {
				t.Fatalf("pending of b: %+v, %v; want deliveries %d then %d (by due time)", got, err, ids[3], ids[1])
			}
			if err := l.RecordAttempts(ctx, []Attempt{{DeliveryID: ids[3], Receiver: "b", Attempt: 1, At: T0.Add(time.Minute),
				Outcome: OutcomeSent}}); err != nil {
				t.Fatal(err)
			}
			got, err = l.PendingDeliveriesOf(ctx, "b", 10)
			if err != nil || len(got) != 1 || got[0].ID != ids[1] {
				t.Errorf("pending of b after one was sent: %+v, %v", got, err)
			}
			if got, _ := l.PendingDeliveriesOf(ctx, "a", 2); len(got) != 2 || got[0].ID != ids[4] {
				t.Errorf("pending of a, limit 2: %+v", got)
			}
		})
	}
}
