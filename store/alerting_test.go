package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// TestAlertStore runs the alerting suite against both engines.
func TestAlertStore(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			e.dsn(t) // skips the whole suite when the server is missing
			for _, tc := range []struct {
				name string
				fn   func(t *testing.T, e engine)
			}{
				{"CommitAndLoad", testCommitAndLoad},
				{"CommitRetriedDoesNotEnqueueTwice", testCommitRetried},
				{"CommitAtomic", testCommitAtomic},
				{"SurvivesRestart", testAlertingRestart},
				{"DueOrdering", testDueOrdering},
				{"RecordAttempts", testRecordAttempts},
				{"Replay", testReplay},
				{"PendingCounts", testPendingCounts},
				{"AttemptsByReceiver", testAttemptsByReceiver},
				{"AuditEvents", testAuditEvents},
				{"SilencesAndEscalations", testSilencesEscalations},
				{"Compaction", testAlertingCompaction},
				{"Validation", testAlertingValidation},
				{"ConcurrentWithResults", testAlertingConcurrent},
			} {
				t.Run(tc.name, func(t *testing.T) { tc.fn(t, e) })
			}
		})
	}
}

func body(id string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"status":"firing","alerts":[]}`, id))
}

func dlv(nid, receiver string, due time.Time, alerts ...string) Delivery {
	return Delivery{NotificationID: nid, Receiver: receiver, AlertIDs: alerts, Body: body(nid),
		CreatedAt: due, DueAt: due}
}

func commit(t testing.TB, st Store, c AlertCommit) []int64 {
	t.Helper()
	ids, err := st.CommitAlerts(context.Background(), c)
	if err != nil {
		t.Fatalf("CommitAlerts: %v", err)
	}
	return ids
}

// deliveryByID reads one delivery directly.
func deliveryByID(t testing.TB, st *sqlStore, id int64) Delivery {
	t.Helper()
	d, err := scanDelivery(st.rdb.QueryRow(st.d.rebind("SELECT "+deliveryColumns+" FROM deliveries WHERE id = ?"), id))
	if err != nil {
		t.Fatalf("delivery %d: %v", id, err)
	}
	return d
}

func pending(t testing.TB, st Store, limit int) []Delivery {
	t.Helper()
	ds, err := st.PendingDeliveries(context.Background(), limit)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func record(t testing.TB, st Store, as ...Attempt) {
	t.Helper()
	if err := st.RecordAttempts(context.Background(), as); err != nil {
		t.Fatalf("RecordAttempts: %v", err)
	}
}

func notifIDs(ds []Delivery) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.NotificationID)
	}
	return out
}

func testCommitAndLoad(t *testing.T, e engine) {
	st := openT(t, e.dsn(t), Options{})
	ctx := context.Background()
	a := AlertRow{ID: "check:alpha", Firing: true, Data: []byte(`{"status":"firing","count":3}`), UpdatedAt: at(time.Minute)}
	b := AlertRow{ID: "slo:alpha:page_1h", Firing: false, Data: []byte(`{"status":"resolved"}`), UpdatedAt: at(2 * time.Minute)}
	ids := commit(t, st, AlertCommit{
		Alerts: []AlertRow{a, b},
		Deliveries: []Delivery{
			dlv("n-2", "oncall", at(time.Minute), "check:alpha"),
			dlv("n-1", "oncall", at(time.Minute), "check:alpha", "slo:alpha:page_1h"),
			dlv("n-1", "slack", at(time.Minute), "check:alpha"),
		},
		Audit: []AuditEvent{{At: at(time.Minute), Actor: "system", Action: "alert.firing", Target: "check:alpha",
			Details: map[string]any{"severity": "CRITICAL"}}},
	})
	if len(ids) != 3 || ids[0] == ids[1] || ids[1] == ids[2] || ids[0] == ids[2] {
		t.Fatalf("ids = %v, want 3 distinct", ids)
	}
	for i, want := range []string{"n-2", "n-1", "n-1"} {
		if d := deliveryByID(t, st, ids[i]); d.NotificationID != want {
			t.Errorf("ids[%d] = %d is notification %q, want %q (IDs must follow the input order)", i, ids[i], d.NotificationID, want)
		}
	}

	got, err := st.LoadAlerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []AlertRow{a, b}; !reflect.DeepEqual(got, want) {
		t.Fatalf("LoadAlerts = %+v, want %+v", got, want)
	}

	ps := pending(t, st, 10)
	if len(ps) != 3 {
		t.Fatalf("pending = %+v", ps)
	}
	d := deliveryByID(t, st, ids[1])
	want := Delivery{ID: ids[1], NotificationID: "n-1", Receiver: "oncall", AlertIDs: []string{"check:alpha", "slo:alpha:page_1h"},
		Body: body("n-1"), State: DeliveryPending, CreatedAt: at(time.Minute), DueAt: at(time.Minute)}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("delivery = %+v\nwant %+v", d, want)
	}

	// An update and a delete in a later commit.
	a.Firing, a.Data, a.UpdatedAt = false, []byte(`{"status":"resolved"}`), at(5*time.Minute)
	if ids := commit(t, st, AlertCommit{Alerts: []AlertRow{a}, Deleted: []string{b.ID, "check:never"}}); ids != nil {
		t.Errorf("ids of a commit without deliveries = %v", ids)
	}
	got, _ = st.LoadAlerts(ctx)
	if want := []AlertRow{a}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after update and delete: %+v, want %+v", got, want)
	}
	if n := count(t, st.rdb, "SELECT COUNT(*) FROM audit_events"); n != 1 {
		t.Errorf("audit events = %d, want 1", n)
	}
}

func testCommitRetried(t *testing.T, e engine) {
	st := openT(t, e.dsn(t), Options{})
	c := AlertCommit{Deliveries: []Delivery{dlv("n-1", "oncall", at(0), "check:a"), dlv("n-2", "oncall", at(0), "check:b")}}
	first := commit(t, st, c)
	// The same commit again, as after an unclear failure, and a commit
	// naming one of them twice.
	again := commit(t, st, c)
	if !reflect.DeepEqual(first, again) {
		t.Errorf("retried commit ids = %v, want %v", again, first)
	}
	twice := commit(t, st, AlertCommit{Deliveries: []Delivery{dlv("n-3", "oncall", at(0)), dlv("n-3", "oncall", at(0))}})
	if twice[0] != twice[1] {
		t.Errorf("one notification named twice got ids %v", twice)
	}
	if ps := pending(t, st, 100); len(ps) != 3 {
		t.Errorf("pending = %v, want n-1, n-2, n-3 once each", notifIDs(ps))
	}
}

// installAuditTrap makes the database refuse an audit event with action
// "boom": a failure in the middle of a commit, after its alerts and
// deliveries were written.
func installAuditTrap(t *testing.T, st *sqlStore) {
	t.Helper()
	var stmts []string
	if st.d == postgresDialect {
		stmts = []string{
			`CREATE FUNCTION audit_trap() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN IF NEW.action = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$`,
			`CREATE TRIGGER audit_trap BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_trap()`,
		}
	} else {
		stmts = []string{`CREATE TRIGGER audit_trap BEFORE INSERT ON audit_events WHEN NEW.action = 'boom'
			BEGIN SELECT RAISE(ABORT, 'boom'); END`}
	}
	for _, s := range stmts {
		if _, err := st.wdb.Exec(s); err != nil {
			t.Fatalf("install trap: %v", err)
		}
	}
}

func testCommitAtomic(t *testing.T, e engine) {
	st := openT(t, e.dsn(t), Options{})
	ctx := context.Background()
	before := AlertRow{ID: "check:alpha", Firing: false, Data: []byte(`{"v":1}`), UpdatedAt: at(0)}
	commit(t, st, AlertCommit{Alerts: []AlertRow{before}})
	installAuditTrap(t, st)

	bad := AlertCommit{
		Alerts:     []AlertRow{{ID: "check:alpha", Firing: true, Data: []byte(`{"v":2}`), UpdatedAt: at(time.Minute)}, {ID: "check:beta", Data: []byte(`{}`)}},
		Deleted:    []string{"check:alpha"},
		Deliveries: []Delivery{dlv("n-1", "oncall", at(time.Minute), "check:alpha")},
		Audit:      []AuditEvent{{Action: "alert.firing", Actor: "system"}, {Action: "boom", Actor: "system"}},
	}
	if _, err := st.CommitAlerts(ctx, bad); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("commit with a failing audit insert: err = %v, want the trap's error", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	bad.Audit = bad.Audit[:1]
	if _, err := st.CommitAlerts(cancelled, bad); !errors.Is(err, context.Canceled) {
		t.Fatalf("commit with a cancelled context: err = %v", err)
	}

	got, err := st.LoadAlerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []AlertRow{before}; !reflect.DeepEqual(got, want) {
		t.Errorf("alerts after failed commits = %+v, want %+v", got, want)
	}
	if ps := pending(t, st, 10); len(ps) != 0 {
		t.Errorf("failed commits enqueued %v", notifIDs(ps))
	}
	if n := count(t, st.rdb, "SELECT COUNT(*) FROM audit_events"); n != 0 {
		t.Errorf("failed commits wrote %d audit events", n)
	}
	// The store still works afterwards, and the delivery IDs go on.
	bad.Audit = nil
	if ids := commit(t, st, bad); len(ids) != 1 || ids[0] <= 0 {
		t.Errorf("ids = %v", ids)
	}
}

func testAlertingRestart(t *testing.T, e engine) {
	dsn := e.dsn(t)
	ctx := context.Background()
	st := openT(t, dsn, Options{})
	alert := AlertRow{ID: "check:alpha", Firing: true, Data: []byte(`{"status":"firing"}`), UpdatedAt: at(time.Minute)}
	ids := commit(t, st, AlertCommit{
		Alerts:     []AlertRow{alert},
		Deliveries: []Delivery{dlv("n-1", "oncall", at(time.Minute), "check:alpha"), dlv("n-2", "slack", at(time.Minute), "check:alpha")},
		Audit:      []AuditEvent{{At: at(time.Minute), Actor: "system", Action: "alert.firing", Target: "check:alpha"}},
	})
	record(t, st, Attempt{DeliveryID: ids[0], Attempt: 1, At: at(time.Minute), StatusCode: 500, Error: "HTTP 500",
		Outcome: OutcomeRetry, NextAt: at(time.Minute + 5*time.Second)})
	sil := Silence{ID: "s-1", Matchers: map[string]string{"check": "targeting_*"}, StartsAt: at(0), EndsAt: at(time.Hour),
		Comment: "deploy", CreatedBy: "ops", CreatedAt: at(0)}
	esc := Escalation{ID: "e-1", Handle: "acme", Severity: "HIGH", Summary: "checkout down", Status: EscalationOpen,
		CreatedAt: at(0), CreatedBy: "ops"}
	if err := st.SaveSilence(ctx, sil); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveEscalation(ctx, esc); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openT(t, dsn, Options{})
	alerts, err := st.LoadAlerts(ctx)
	if err != nil || !reflect.DeepEqual(alerts, []AlertRow{alert}) {
		t.Errorf("alerts after reopen = %+v, %v", alerts, err)
	}
	ps := pending(t, st, 10)
	if len(ps) != 2 || ps[0].NotificationID != "n-2" || ps[1].NotificationID != "n-1" || ps[1].Attempts != 1 ||
		!ps[1].DueAt.Equal(at(time.Minute+5*time.Second)) || ps[1].LastError != "HTTP 500" {
		t.Errorf("pending after reopen = %+v", ps)
	}
	sils, err := st.Silences(ctx, at(0))
	if err != nil || !reflect.DeepEqual(sils, []Silence{sil}) {
		t.Errorf("silences after reopen = %+v, %v", sils, err)
	}
	got, err := st.Escalation(ctx, "e-1")
	if err != nil || !reflect.DeepEqual(got, esc) {
		t.Errorf("escalation after reopen = %+v, %v", got, err)
	}
	evs, err := st.AuditEvents(ctx, AuditQuery{Limit: 10})
	if err != nil || len(evs) != 1 || evs[0].Action != "alert.firing" {
		t.Errorf("audit after reopen = %+v, %v", evs, err)
	}
	// IDs are not reused after a restart.
	if more := commit(t, st, AlertCommit{Deliveries: []Delivery{dlv("n-3", "oncall", at(time.Hour))}}); more[0] <= ids[1] {
		t.Errorf("new id %d after reopen, want > %d", more[0], ids[1])
	}
}

func testDueOrdering(t *testing.T, e engine) {
	st := openT(t, e.dsn(t), Options{})
	commit(t, st, AlertCommit{Deliveries: []Delivery{
		dlv("late", "oncall", at(3*time.Minute)),
		dlv("early-a", "oncall", at(time.Minute)),
		dlv("early-b", "slack", at(time.Minute)),
		dlv("mid", "slack", at(2*time.Minute)),
	}})
	ps := pending(t, st, 100)
	// Same DueAt: by ID, which follows the input order.
	if got, want := notifIDs(ps), []string{"early-a", "early-b", "mid", "late"}; !reflect.DeepEqual(got, want) {
		t.Errorf("pending = %v, want %v", got, want)
	}
	if got := notifIDs(pending(t, st, 2)); !reflect.DeepEqual(got, []string{"early-a", "early-b"}) {
		t.Errorf("limit 2 = %v", got)
	}
	if got := pending(t, st, 0); len(got) != 1 {
		t.Errorf("limit 0 is clamped to 1, got %d", len(got))
	}
	// A retry moves a delivery behind the others.
	record(t, st, Attempt{DeliveryID: ps[0].ID, Attempt: 1, At: at(time.Minute), Outcome: OutcomeRetry, NextAt: at(10 * time.Minute)})
	if got, want := notifIDs(pending(t, st, 100)), []string{"early-b", "mid", "late", "early-a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after a retry: %v, want %v", got, want)
	}
}

func testRecordAttempts(t *testing.T, e engine) {
	st := openT(t, e.dsn(t), Options{})
	ctx := context.Background()
	ids := commit(t, st, AlertCommit{Deliveries: []Delivery{
		dlv("n-sent", "oncall", at(0), "check:a"),
		dlv("n-dead", "oncall", at(0), "check:b"),
		dlv("n-retry", "oncall", at(0), "check:c"),
	}})
	batch := []Attempt{
		// n-sent: fails once, then succeeds, in one batch (out of order).
		{DeliveryID: ids[0], Attempt: 2, At: at(6 * time.Second), Duration: 40 * time.Millisecond, StatusCode: 200, Error: "ignored", Outcome: OutcomeSent},
		{DeliveryID: ids[0], Attempt: 1, At: at(0), Duration: 2 * time.Second, StatusCode: 503, Error: "HTTP 503",
			Outcome: OutcomeRetry, NextAt: at(5 * time.Second)},
		{DeliveryID: ids[1], Attempt: 6, At: at(time.Minute), StatusCode: 0, Error: "dial tcp: connection refused", Outcome: OutcomeDead},
		{DeliveryID: ids[2], Attempt: 1, At: at(0), StatusCode: 429, Error: "HTTP 429", Outcome: OutcomeRetry, NextAt: at(30 * time.Second)},
	}
	record(t, st, batch...)

	sent := deliveryByID(t, st, ids[0])
	if sent.State != DeliverySent || sent.Attempts != 2 || !sent.DoneAt.Equal(at(6*time.Second)) || sent.LastStatus != 200 || sent.LastError != "" {
		t.Errorf("sent delivery = %+v", sent)
	}
	dead := deliveryByID(t, st, ids[1])
	if dead.State != DeliveryDead || dead.Attempts != 6 || !dead.DoneAt.Equal(at(time.Minute)) || dead.LastError != "dial tcp: connection refused" {
		t.Errorf("dead delivery = %+v", dead)
	}
	retry := deliveryByID(t, st, ids[2])
	if retry.State != DeliveryPending || retry.Attempts != 1 || !retry.DueAt.Equal(at(30*time.Second)) ||
		retry.LastStatus != 429 || !retry.DoneAt.IsZero() {
		t.Errorf("retried delivery = %+v", retry)
	}
	if got := notifIDs(pending(t, st, 10)); !reflect.DeepEqual(got, []string{"n-retry"}) {
		t.Errorf("pending = %v", got)
	}
	dls, err := st.DeadLetters(ctx, 10)
	if err != nil || len(dls) != 1 || dls[0].ID != ids[1] {
		t.Errorf("dead letters = %+v, %v", dls, err)
	}

	log, err := st.Attempts(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 4 {
		t.Fatalf("attempt log has %d entries, want 4: %+v", len(log), log)
	}
	first := log[len(log)-1] // oldest of the newest-first list with the lowest id on ties
	if first.DeliveryID != ids[0] || first.Attempt != 1 || first.Receiver != "oncall" || first.NotificationID != "n-sent" ||
		!reflect.DeepEqual(first.AlertIDs, []string{"check:a"}) || first.Duration != 2*time.Second ||
		first.StatusCode != 503 || first.Error != "HTTP 503" || first.Outcome != OutcomeRetry || !first.NextAt.Equal(at(5*time.Second)) {
		t.Errorf("first attempt = %+v", first)
	}
	if log[0].Outcome != OutcomeDead || log[0].Error == "" || !log[0].NextAt.IsZero() {
		t.Errorf("newest attempt = %+v", log[0])
	}

	// The same batch again (a retry after an unclear failure) and a stale
	// attempt change nothing.
	record(t, st, batch...)
	record(t, st, Attempt{DeliveryID: ids[2], Attempt: 1, At: at(time.Hour), Outcome: OutcomeDead})
	if n := count(t, st.rdb, "SELECT COUNT(*) FROM delivery_attempts"); n != 4 {
		t.Errorf("attempt log has %d entries after a repeated batch, want 4", n)
	}
	if d := deliveryByID(t, st, ids[2]); d.State != DeliveryPending || d.Attempts != 1 {
		t.Errorf("stale attempt changed the delivery: %+v", d)
	}
	// An unknown delivery is left out, the rest of the batch applies.
	record(t, st, Attempt{DeliveryID: 999999, Attempt: 1, Outcome: OutcomeSent},
		Attempt{DeliveryID: ids[2], Attempt: 2, At: at(31 * time.Second), StatusCode: 204, Outcome: OutcomeSent})
	if d := deliveryByID(t, st, ids[2]); d.State != DeliverySent {
		t.Errorf("delivery after its second attempt = %+v", d)
	}
}

func testReplay(t *testing.T, e engine) {
	st := openT(t, e.dsn(t), Options{})
	ctx := context.Background()
	ids := commit(t, st, AlertCommit{Deliveries: []Delivery{
		dlv("n-dead", "oncall", at(0), "check:a"), dlv("n-pending", "oncall", at(0)), dlv("n-sent", "oncall", at(0)),
	}})
	record(t, st,
		Attempt{DeliveryID: ids[0], Attempt: 6, At: at(time.Minute), StatusCode: 500, Error: "HTTP 500", Outcome: OutcomeDead},
		Attempt{DeliveryID: ids[2], Attempt: 1, At: at(0), StatusCode: 200, Outcome: OutcomeSent})

	now := at(time.Hour)
	d, err := st.Replay(ctx, ids[0], now)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != ids[0] || d.State != DeliveryPending || d.Attempts != 0 || !d.DueAt.Equal(now) || !d.DoneAt.IsZero() ||
		d.NotificationID != "n-dead" || !d.CreatedAt.Equal(at(0)) || string(d.Body) != string(body("n-dead")) {
		t.Errorf("replayed = %+v", d)
	}
	if !reflect.DeepEqual(deliveryByID(t, st, ids[0]), d) {
		t.Errorf("stored %+v, returned %+v", deliveryByID(t, st, ids[0]), d)
	}
	if dls, _ := st.DeadLetters(ctx, 10); len(dls) != 0 {
		t.Errorf("dead letters after replay: %+v", dls)
	}
	// Attempts count from zero again.
	record(t, st, Attempt{DeliveryID: ids[0], Attempt: 1, At: now, StatusCode: 200, Outcome: OutcomeSent})
	if got := deliveryByID(t, st, ids[0]); got.State != DeliverySent || got.Attempts != 1 {
		t.Errorf("after the replayed attempt: %+v", got)
	}

	for _, id := range []int64{ids[0], ids[1], ids[2], 424242} { // now sent, pending, sent, unknown
		if _, err := st.Replay(ctx, id, now); !errors.Is(err, ErrNotFound) {
			t.Errorf("Replay(%d) err = %v, want ErrNotFound", id, err)
		}
	}
	if d := deliveryByID(t, st, ids[1]); d.State != DeliveryPending || !d.DueAt.Equal(at(0)) {
		t.Errorf("a refused replay changed delivery %+v", d)
	}
}

func testPendingCounts(t *testing.T, e engine) {
	st := openT(t, e.dsn(t), Options{})
	ctx := context.Background()
	got, err := st.PendingCounts(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty store: %v, %v", got, err)
	}
	ids := commit(t, st, AlertCommit{Deliveries: []Delivery{
		dlv("1", "oncall", at(0)), dlv("2", "oncall", at(0)), dlv("3", "oncall", at(0)), dlv("1", "slack", at(0)), dlv("2", "slack", at(0)),
	}})
	record(t, st, Attempt{DeliveryID: ids[0], Attempt: 1, Outcome: OutcomeSent},
		Attempt{DeliveryID: ids[3], Attempt: 1, Outcome: OutcomeDead},
		Attempt{DeliveryID: ids[4], Attempt: 1, Outcome: OutcomeRetry, NextAt: at(time.Minute)})
	got, err = st.PendingCounts(ctx)
	if want := map[string]int{"oncall": 2, "slack": 1}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("PendingCounts = %v, %v, want %v", got, err, want)
	}
	got, err = st.DeadLetterCounts(ctx)
	if want := map[string]int{"slack": 1}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("DeadLetterCounts = %v, %v, want %v", got, err, want)
	}
	if _, err := st.Replay(ctx, ids[3], at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, err = st.DeadLetterCounts(ctx); err != nil || len(got) != 0 {
		t.Errorf("DeadLetterCounts after the replay = %v, %v, want none", got, err)
	}
}

func testAttemptsByReceiver(t *testing.T, e engine) {
	st := openT(t, e.dsn(t), Options{})
	ctx := context.Background()
	ids := commit(t, st, AlertCommit{Deliveries: []Delivery{dlv("1", "oncall", at(0)), dlv("1", "slack", at(0))}})
	var as []Attempt
	for i := 1; i <= 5; i++ {
		for j, id := range ids {
			as = append(as, Attempt{DeliveryID: id, Attempt: i, At: at(time.Duration(10*i+j) * time.Second), StatusCode: 500,
				Outcome: OutcomeRetry, NextAt: at(time.Hour)})
		}
	}
	record(t, st, as...)
	all, err := st.Attempts(ctx, "", 100)
	if err != nil || len(all) != 10 {
		t.Fatalf("all attempts: %d, %v", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].At.After(all[i-1].At) {
			t.Errorf("attempts not newest first: %v then %v", all[i-1].At, all[i].At)
		}
	}
	slack, err := st.Attempts(ctx, "slack", 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range slack {
		got = append(got, fmt.Sprintf("%s#%d", a.Receiver, a.Attempt))
	}
	if want := []string{"slack#5", "slack#4", "slack#3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("slack, limit 3 = %v, want %v", got, want)
	}
	if none, err := st.Attempts(ctx, "pagerduty", 10); err != nil || len(none) != 0 {
		t.Errorf("unknown receiver: %v, %v", none, err)
	}
}

func testAuditEvents(t *testing.T, e engine) {
	st := openT(t, e.dsn(t), Options{})
	ctx := context.Background()
	var evs []AuditEvent
	for i := range 120 {
		action := "alert.firing"
		if i%3 == 0 {
			action = "silence.created"
		}
		evs = append(evs, AuditEvent{At: at(time.Duration(i) * time.Minute), Actor: "ops", Action: action,
			Target: fmt.Sprintf("t-%d", i), Details: map[string]any{"n": float64(i), "why": "test"}})
	}
	if err := st.Audit(ctx, evs[:60]); err != nil {
		t.Fatal(err)
	}
	commit(t, st, AlertCommit{Audit: evs[60:]})

	all, err := st.AuditEvents(ctx, AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 100 {
		t.Errorf("limit 1000 gave %d events, want the maximum 100", len(all))
	}
	if all[0].Target != "t-119" || all[0].ID == 0 || !all[0].At.Equal(at(119*time.Minute)) ||
		!reflect.DeepEqual(all[0].Details, map[string]any{"n": float64(119), "why": "test"}) || all[0].Actor != "ops" {
		t.Errorf("newest = %+v", all[0])
	}
	for i := 1; i < len(all); i++ {
		if !all[i].At.Before(all[i-1].At) {
			t.Fatalf("not newest first at %d", i)
		}
	}
	got, err := st.AuditEvents(ctx, AuditQuery{Limit: 50, Since: at(100 * time.Minute), Action: "silence.created"})
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, e := range got {
		targets = append(targets, e.Target)
	}
	if want := []string{"t-117", "t-114", "t-111", "t-108", "t-105", "t-102"}; !reflect.DeepEqual(targets, want) {
		t.Errorf("since 100m, silence.created = %v, want %v", targets, want)
	}
	if got, _ := st.AuditEvents(ctx, AuditQuery{Limit: 2, Since: at(118 * time.Minute)}); len(got) != 2 || got[0].Target != "t-119" {
		t.Errorf("since 118m, limit 2 = %+v", got)
	}
	// An event without details reads back without them; huge details are
	// replaced.
	huge := strings.Repeat("x", maxDetails)
	if err := st.Audit(ctx, []AuditEvent{{At: at(200 * time.Minute), Actor: "config", Action: "config.reloaded"},
		{At: at(201 * time.Minute), Actor: "system", Action: "delivery.dead_lettered", Details: map[string]any{"error": huge}}}); err != nil {
		t.Fatal(err)
	}
	got, _ = st.AuditEvents(ctx, AuditQuery{Limit: 2})
	if len(got) != 2 || !reflect.DeepEqual(got[0].Details, map[string]any{"truncated": true}) || got[1].Details != nil {
		t.Errorf("details = %+v", got)
	}
}

func testSilencesEscalations(t *testing.T, e engine) {
	st := openT(t, e.dsn(t), Options{})
	ctx := context.Background()
	s1 := Silence{ID: "s-1", Matchers: map[string]string{"check": "targeting_*", "component": "ads"}, StartsAt: at(time.Hour),
		EndsAt: at(3 * time.Hour), Comment: "maintenance", CreatedBy: "ops", CreatedAt: at(0)}
	s2 := Silence{ID: "s-2", Matchers: map[string]string{"check": "billing"}, StartsAt: at(0), EndsAt: at(2 * time.Hour),
		CreatedBy: "ops", CreatedAt: at(0)}
	for _, s := range []Silence{s1, s2} {
		if err := st.SaveSilence(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Silences(ctx, at(0))
	if err != nil || !reflect.DeepEqual(got, []Silence{s2, s1}) {
		t.Errorf("Silences = %+v, %v (want by StartsAt)", got, err)
	}
	// Expiring s2 (replaced with an end now) takes it out of later reads.
	s2.EndsAt = at(30 * time.Minute)
	if err := st.SaveSilence(ctx, s2); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Silences(ctx, at(30*time.Minute)); !reflect.DeepEqual(got, []Silence{s1}) {
		t.Errorf("after expiry = %+v", got)
	}

	e1 := Escalation{ID: "e-1", Handle: "acme", Severity: "HIGH", Summary: "checkout down", Details: "since 10:00",
		Status: EscalationOpen, Public: true, CreatedAt: at(0), CreatedBy: "ops"}
	e2 := Escalation{ID: "e-2", Handle: "globex", Severity: "LOW", Summary: "slow", Status: EscalationOpen,
		CreatedAt: at(time.Minute), CreatedBy: "support"}
	for _, x := range []Escalation{e1, e2} {
		if err := st.SaveEscalation(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	e1.Status, e1.ResolvedAt, e1.ResolvedBy = EscalationResolved, at(time.Hour), "ops"
	if err := st.SaveEscalation(ctx, e1); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Escalation(ctx, "e-1"); err != nil || !reflect.DeepEqual(got, e1) {
		t.Errorf("Escalation(e-1) = %+v, %v", got, err)
	}
	if _, err := st.Escalation(ctx, "e-9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown escalation: %v", err)
	}
	if all, _ := st.Escalations(ctx, "", 10); !reflect.DeepEqual(all, []Escalation{e2, e1}) {
		t.Errorf("all escalations = %+v (want newest first)", all)
	}
	if open, _ := st.Escalations(ctx, EscalationOpen, 10); !reflect.DeepEqual(open, []Escalation{e2}) {
		t.Errorf("open escalations = %+v", open)
	}
	if one, _ := st.Escalations(ctx, "", 1); len(one) != 1 || one[0].ID != "e-2" {
		t.Errorf("limit 1 = %+v", one)
	}
}

func testAlertingCompaction(t *testing.T, e engine) {
	st := openT(t, e.dsn(t), Options{Retention: 30 * 24 * time.Hour, AuditRetention: 60 * 24 * time.Hour})
	ctx := context.Background()
	day := 24 * time.Hour
	now := at(100 * day)
	old := now.Add(-8 * day)      // past the 7 days of sent deliveries and attempts
	ancient := now.Add(-31 * day) // past the retention
	ids := commit(t, st, AlertCommit{Deliveries: []Delivery{
		dlv("sent-old", "r", old), dlv("sent-new", "r", now.Add(-day)), dlv("dead-old", "r", ancient),
		dlv("dead-young", "r", old), dlv("pending-old", "r", ancient),
	}})
	record(t, st,
		Attempt{DeliveryID: ids[0], Attempt: 1, At: old, Outcome: OutcomeSent},
		Attempt{DeliveryID: ids[1], Attempt: 1, At: now.Add(-day), Outcome: OutcomeSent},
		Attempt{DeliveryID: ids[2], Attempt: 1, At: ancient, Outcome: OutcomeDead},
		Attempt{DeliveryID: ids[3], Attempt: 1, At: old, Outcome: OutcomeDead},
		Attempt{DeliveryID: ids[4], Attempt: 1, At: ancient, Outcome: OutcomeRetry, NextAt: ancient})
	for _, s := range []Silence{
		{ID: "ended-long-ago", StartsAt: ancient.Add(-day), EndsAt: ancient},
		{ID: "ended-recently", StartsAt: old, EndsAt: old.Add(time.Hour)},
	} {
		if err := st.SaveSilence(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range []Escalation{
		{ID: "resolved-old", Severity: "LOW", Status: EscalationResolved, CreatedAt: ancient, ResolvedAt: ancient},
		{ID: "resolved-young", Severity: "LOW", Status: EscalationResolved, CreatedAt: ancient, ResolvedAt: old},
		{ID: "open-old", Severity: "HIGH", Status: EscalationOpen, CreatedAt: ancient},
	} {
		if err := st.SaveEscalation(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Audit(ctx, []AuditEvent{
		{At: now.Add(-61 * day), Action: "too.old"}, {At: now.Add(-59 * day), Action: "kept"},
	}); err != nil {
		t.Fatal(err)
	}

	compact(t, st, now)

	var left []string
	rs, err := st.rdb.Query("SELECT notification_id FROM deliveries ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var n string
		_ = rs.Scan(&n)
		left = append(left, n)
	}
	rs.Close()
	if want := []string{"sent-new", "dead-young", "pending-old"}; !reflect.DeepEqual(left, want) {
		t.Errorf("deliveries left = %v, want %v", left, want)
	}
	if n := count(t, st.rdb, "SELECT COUNT(*) FROM delivery_attempts"); n != 1 {
		t.Errorf("attempts left = %d, want 1 (the one of the last 7 days)", n)
	}
	if sils, _ := st.Silences(ctx, time.Time{}); len(sils) != 1 || sils[0].ID != "ended-recently" {
		t.Errorf("silences left = %+v", sils)
	}
	var escs []string
	all, _ := st.Escalations(ctx, "", 10)
	for _, x := range all {
		escs = append(escs, x.ID)
	}
	if want := []string{"open-old", "resolved-old", "resolved-young"}; len(escs) != 2 || !strings.Contains(strings.Join(escs, ","), "open-old") ||
		!strings.Contains(strings.Join(escs, ","), "resolved-young") {
		t.Errorf("escalations left = %v, want all of %v but resolved-old", escs, want)
	}
	if evs, _ := st.AuditEvents(ctx, AuditQuery{Limit: 100}); len(evs) != 1 || evs[0].Action != "kept" {
		t.Errorf("audit left = %+v", evs)
	}
}

func testAlertingValidation(t *testing.T, e engine) {
	st := openT(t, e.dsn(t), Options{})
	ctx := context.Background()
	for name, c := range map[string]AlertCommit{
		"empty alert id":      {Alerts: []AlertRow{{Data: []byte(`{}`)}}},
		"alert data not json": {Alerts: []AlertRow{{ID: "a", Data: []byte(`{`)}}},
		"huge alert data":     {Alerts: []AlertRow{{ID: "a", Data: []byte(`"` + strings.Repeat("x", maxAlertData) + `"`)}}},
		"long alert id":       {Alerts: []AlertRow{{ID: strings.Repeat("a", maxID+1), Data: []byte(`{}`)}}},
		"NUL in id":           {Deleted: []string{"a\x00b"}},
		"no notification id":  {Deliveries: []Delivery{{Receiver: "r", Body: []byte(`{}`)}}},
		"no receiver":         {Deliveries: []Delivery{{NotificationID: "n", Body: []byte(`{}`)}}},
		"body not json":       {Deliveries: []Delivery{{NotificationID: "n", Receiver: "r", Body: []byte("hello")}}},
		"empty alert id list": {Deliveries: []Delivery{{NotificationID: "n", Receiver: "r", AlertIDs: []string{""}, Body: []byte(`{}`)}}},
		"audit without action": {Alerts: []AlertRow{{ID: "ok", Data: []byte(`{}`)}},
			Audit: []AuditEvent{{Actor: "x"}}},
	} {
		if _, err := st.CommitAlerts(ctx, c); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: err = %v, want ErrInvalidRecord", name, err)
		}
	}
	if alerts, _ := st.LoadAlerts(ctx); len(alerts) != 0 {
		t.Errorf("invalid commits stored %+v", alerts)
	}
	for name, as := range map[string]Attempt{
		"no delivery": {Attempt: 1, Outcome: OutcomeSent},
		"attempt 0":   {DeliveryID: 1, Outcome: OutcomeSent},
		"bad outcome": {DeliveryID: 1, Attempt: 1, Outcome: "maybe"},
	} {
		if err := st.RecordAttempts(ctx, []Attempt{as}); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if err := st.SaveSilence(ctx, Silence{ID: "s", StartsAt: at(0)}); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("silence without end: %v", err)
	}
	if err := st.SaveEscalation(ctx, Escalation{ID: "e", Severity: "URGENT", Status: EscalationOpen}); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("escalation severity URGENT: %v", err)
	}
	// Long and awkward text is cut, not refused.
	long := strings.Repeat("é", maxLongText) + "\x00\xff"
	if err := st.SaveEscalation(ctx, Escalation{ID: "e", Severity: "LOW", Status: EscalationOpen, Summary: long,
		Details: long, Handle: long}); err != nil {
		t.Fatal(err)
	}
	got, err := st.Escalation(ctx, "e")
	if err != nil || len(got.Details) > maxLongText || len(got.Handle) > maxName || !strings.HasSuffix(got.Details, "…") {
		t.Errorf("cut escalation: %d, %d bytes, %v", len(got.Details), len(got.Handle), err)
	}
	ids := commit(t, st, AlertCommit{Deliveries: []Delivery{dlv("n", "r", at(0))}})
	record(t, st, Attempt{DeliveryID: ids[0], Attempt: 1, Outcome: OutcomeRetry, Error: strings.Repeat("e", 100_000) + "\x00"})
	if d := deliveryByID(t, st, ids[0]); len(d.LastError) > maxError || strings.Contains(d.LastError, "\x00") {
		t.Errorf("last error kept %d bytes", len(d.LastError))
	}
}

// testAlertingConcurrent runs alert commits, attempts and result writes at
// once: on SQLite they share the one writing connection and must take
// turns, never deadlock.
func testAlertingConcurrent(t *testing.T, e engine) {
	st := openT(t, e.dsn(t), Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Go(func() {
		for i := range 50 {
			if err := st.Write(ctx, []Record{mk("alpha", at(time.Duration(i)*time.Second), check.Pass)}); err != nil {
				errs <- err
				return
			}
		}
	})
	for w := range 2 {
		wg.Go(func() {
			for i := range 50 {
				ids, err := st.CommitAlerts(ctx, AlertCommit{
					Alerts:     []AlertRow{{ID: fmt.Sprintf("check:%d", i%5), Data: []byte(`{}`)}},
					Deliveries: []Delivery{dlv(fmt.Sprintf("n-%d-%d", w, i), "r", at(0))},
					Audit:      []AuditEvent{{Action: "alert.firing"}},
				})
				if err == nil {
					err = st.RecordAttempts(ctx, []Attempt{{DeliveryID: ids[0], Attempt: 1, Outcome: OutcomeSent}})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := count(t, st.rdb, "SELECT COUNT(*) FROM deliveries WHERE state = 'sent'"); n != 100 {
		t.Errorf("sent deliveries = %d, want 100", n)
	}
}
