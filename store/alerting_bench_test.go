package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
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

// benchClaims measures the outbox shared by dispatchers dispatchers, each
// on its own store handle (one per replica): b.N pending deliveries are
// enqueued first, then every dispatcher claims up to 64 at a time and
// records them sent, as a dispatcher does, until none is left. It reports
// deliveries/s claimed and recorded, all dispatchers together, and checks
// that each delivery was claimed once. (Claims alone, never recorded,
// would pile up at the head of the outbox for every later claim to skip,
// which no dispatcher does.) Run it with
//
//	go test ./store -run '^$' -bench OutboxClaimsPostgres -benchtime 20000x -count 5
func benchClaims(b *testing.B, dsn string, dispatchers int) {
	ctx := context.Background()
	sts := make([]*sqlStore, dispatchers)
	for i := range sts {
		sts[i] = openT(b, dsn, Options{})
	}
	payload := []byte(fmt.Sprintf(`{"id":"n","status":"firing","groupKey":"{}:{check=\"x\"}","receiver":"webhook","alerts":[{"id":"check:x","summary":%q}]}`,
		strings.Repeat("connection refused ", 40)))
	now := time.Now()
	for start := 0; start < b.N; start += 500 {
		c := AlertCommit{}
		for i := start; i < min(start+500, b.N); i++ {
			c.Deliveries = append(c.Deliveries, Delivery{NotificationID: fmt.Sprintf("n-%d", i), Receiver: "webhook",
				AlertIDs: []string{"check:x"}, Body: payload, CreatedAt: now, DueAt: now})
		}
		if _, err := sts[0].CommitAlerts(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	claimed := make([]int, dispatchers)
	errs := make(chan error, dispatchers)
	b.ResetTimer()
	var wg sync.WaitGroup
	for i, st := range sts {
		by := fmt.Sprintf("replica-%d", i)
		wg.Go(func() {
			for {
				ds, err := st.ClaimDeliveries(ctx, Claim{By: by, Receiver: "webhook", Limit: 64, TTL: time.Minute})
				if err != nil {
					errs <- err
					return
				}
				if len(ds) == 0 {
					return
				}
				claimed[i] += len(ds)
				as := make([]Attempt, len(ds))
				for j, d := range ds {
					as[j] = Attempt{DeliveryID: d.ID, Attempt: 1, At: now, Duration: time.Millisecond, StatusCode: 200, Outcome: OutcomeSent}
				}
				if lost, err := st.RecordClaimedAttempts(ctx, by, as); err != nil || len(lost) > 0 {
					errs <- fmt.Errorf("%s: lost %v, %v", by, lost, err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	total := 0
	for _, n := range claimed {
		total += n
	}
	if total != b.N {
		b.Fatalf("%d deliveries claimed, want %d (each once)", total, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(0, "ns/op")
}

func BenchmarkOutboxClaimsPostgres(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("dispatchers=%d", n), func(b *testing.B) { benchClaims(b, postgresDSN(b), n) })
	}
}

func BenchmarkOutboxClaimsSQLite(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("dispatchers=%d", n), func(b *testing.B) { benchClaims(b, sqliteDSN(b), n) })
	}
}
