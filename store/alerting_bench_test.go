package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// benchOutbox measures the outbox as the engine and a dispatcher use it:
// each round enqueues batch deliveries (with their alerts and an audit
// event) in one CommitAlerts, reads the pending ones back as a woken
// dispatcher does, and records their attempts as sent in RecordAttempts
// batches of at most 64. It reports deliveries/s. Run it with
//
//	go test ./store -run '^$' -bench Outbox -benchtime 5s
func benchOutbox(b *testing.B, dsn string, batch int) {
	st := openT(b, dsn, Options{})
	ctx := context.Background()
	const attemptBatch = 64
	// A notification of one alert, about the size of a real one.
	payload := []byte(fmt.Sprintf(`{"id":"n","status":"firing","groupKey":"{}:{check=\"x\"}","receiver":"webhook","alerts":[{"id":"check:x","summary":%q}]}`,
		strings.Repeat("connection refused ", 40)))
	now := time.Now()
	n := 0
	for b.Loop() {
		c := AlertCommit{Deliveries: make([]Delivery, batch), Alerts: make([]AlertRow, batch)}
		for i := range batch {
			n++
			alert := fmt.Sprintf("check:check_%04d", n%1000)
			c.Alerts[i] = AlertRow{ID: alert, Firing: true, Data: []byte(`{"status":"firing","severity":"CRITICAL"}`), UpdatedAt: now}
			c.Deliveries[i] = Delivery{NotificationID: fmt.Sprintf("n-%d", n), Receiver: "webhook", AlertIDs: []string{alert},
				Body: payload, CreatedAt: now, DueAt: now}
		}
		c.Audit = []AuditEvent{{At: now, Actor: "system", Action: "alert.firing", Target: c.Alerts[0].ID}}
		if _, err := st.CommitAlerts(ctx, c); err != nil {
			b.Fatal(err)
		}
		ps, err := st.PendingDeliveries(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		if len(ps) != batch {
			b.Fatalf("%d pending, want %d", len(ps), batch)
		}
		for start := 0; start < len(ps); start += attemptBatch {
			part := ps[start:min(start+attemptBatch, len(ps))]
			as := make([]Attempt, len(part))
			for i, d := range part {
				as[i] = Attempt{DeliveryID: d.ID, Attempt: 1, At: now, Duration: time.Millisecond, StatusCode: 200, Outcome: OutcomeSent}
			}
			if err := st.RecordAttempts(ctx, as); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "deliveries/s")
}

func BenchmarkOutboxSQLite(b *testing.B) {
	for _, batch := range []int{64, 1} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchOutbox(b, sqliteDSN(b), batch) })
	}
}

func BenchmarkOutboxPostgres(b *testing.B) {
	for _, batch := range []int{64, 1} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchOutbox(b, postgresDSN(b), batch) })
	}
}
