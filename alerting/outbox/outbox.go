// Package outbox delivers the notifications that the alerting engine wrote
// to the store's outbox: per-receiver queues and workers, the contract's
// retry schedule (first try, then 5 s, 10 s, 20 s, 40 s and 80 s, each
// jittered by ±10 % and never sooner than the receiver's Retry-After), dead
// letters, replays, and the monitor_notifications_* metrics.
//
// A retry's wait counts from the end of the failed attempt (a timed-out
// attempt ends at its timeout, Options.AttemptTimeout). A permanent error
// (receiver.SendError.Permanent), an exhausted schedule or a receiver that
// is not configured any more dead-letters the delivery: it is counted, logged
// and audited (delivery.given_up, actor "system"), and stays in the store
// until Replay makes it pending again with the same notification id.
//
// The store is the queue: a delivery is pending in it until an attempt
// that succeeded or gave up is recorded, so a restart resumes it with the
// same notification id (at-least-once). In memory the dispatcher keeps at
// most Options.QueueSize deliveries per receiver and loads more from the
// store as they drain: a dead receiver's backlog stays on disk, and a slow
// or dead receiver holds up nobody but itself.
//
// Several dispatchers (one per replica) may share one store when it
// claims (Claimer; the SQL store does): a dispatcher claims deliveries
// before it attempts them (on PostgreSQL with FOR UPDATE SKIP LOCKED, so
// dispatchers never wait for each other), attempts only what it holds a
// claim on with at least AttemptTimeout left, and its recorded attempt
// finishes the claim. Each notification is then sent by one dispatcher;
// one that crashes leaves its claims to lapse after ClaimTTL, and another
// sends them again with the same notification id (at-least-once). A
// dispatcher whose claim lapsed and was taken over does not record its
// attempt: it logs it and counts it in
// monitor_notifications_claims_lost_total.
package outbox

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/store"
)

// Audit actions of the dispatcher.
const (
	ActionGivenUp  = "delivery.given_up" // dead-lettered (actor "system")
	ActionReplayed = "delivery.replayed" // a dead letter made pending again
)

// Options tune the dispatcher; zero values take the defaults.
type Options struct {
	// Workers is the number of concurrent attempts per receiver (default
	// 4).
	Workers int
	// QueueSize bounds the deliveries of one receiver held in memory
	// (default 256); the rest wait in the store.
	QueueSize int
	// Retry is the schedule: one wait per retry after the first try, then
	// the delivery is dead-lettered. nil takes DefaultRetry; an empty,
	// non-nil slice means no retries.
	Retry []time.Duration
	// Jitter spreads each retry wait uniformly by ±Jitter of itself
	// (default 0.1); a negative value turns it off.
	Jitter float64
	// AttemptTimeout bounds one Send (default 10 s).
	AttemptTimeout time.Duration
	// MaxRetryAfter caps a receiver's Retry-After (default 10 min).
	MaxRetryAfter time.Duration
	// BatchSize bounds the attempts recorded in one store transaction
	// (default 256).
	BatchSize int
	// PollInterval is how often the store is read for deliveries besides
	// Wake (default 10 s): a store that was down, or a missed Wake.
	PollInterval time.Duration
	// Now is the clock (default time.Now). Waits use package time's
	// timers, so a test runs the dispatcher in a testing/synctest bubble.
	Now func() time.Time
	// Rand returns uniform numbers in [0, 1) for the jitter (default
	// math/rand/v2.Float64).
	Rand func() float64
	// ID names this dispatcher in its claims (default host-pid-random):
	// unique per process run.
	ID string
	// ClaimTTL is how long a claim holds after its delivery is due
	// (default 2 × AttemptTimeout; at least 1.25 × AttemptTimeout, or the
	// default is taken): how long a crashed dispatcher's deliveries wait
	// before another sends them.
	ClaimTTL time.Duration
	Logger   *slog.Logger
}

// Claimer is the claiming part a store may add to store.AlertStore (the
// SQL store and store.Lazy have it; see store.Claim): with it several
// dispatchers share the outbox. Without it the dispatcher assumes it is
// the only one.
type Claimer interface {
	ClaimDeliveries(ctx context.Context, c store.Claim) ([]store.Delivery, error)
	RenewClaim(ctx context.Context, c store.Claim, id int64) (store.Delivery, error)
	RecordClaimedAttempts(ctx context.Context, by string, as []store.Attempt) (lost []int64, err error)
	ReleaseClaims(ctx context.Context, by string) error
}

// Dispatcher delivers the outbox's pending deliveries.
type Dispatcher struct {
	st     store.AlertStore
	claims Claimer // nil: the store does not claim
	opts   Options
	log    *slog.Logger

	mu     sync.Mutex
	queues map[string]*queue
	retry  []time.Duration
	runCtx context.Context // while Run runs: the workers' parent

	wake    chan struct{}
	results chan result
	// stuck says that the last load found no delivery to take although
	// the counts promised some: refilling after each batch would spin, so
	// only Wake and the poll load then.
	stuck bool

	m *metrics
}

// result is a finished attempt, to be recorded.
type result struct {
	q  *queue
	it *item
	a  store.Attempt
}

// New returns a dispatcher of the deliveries in st to senders (by receiver
// name). Run starts it.
func New(st store.AlertStore, senders map[string]receiver.Sender, opts Options) *Dispatcher {
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Retry == nil {
		opts.Retry = DefaultRetry
	}
	if opts.Jitter == 0 {
		opts.Jitter = DefaultJitter
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = DefaultAttemptTimeout
	}
	if opts.MaxRetryAfter <= 0 {
		opts.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ClaimTTL < opts.AttemptTimeout+opts.AttemptTimeout/4 {
		opts.ClaimTTL = 2 * opts.AttemptTimeout
	}
	if opts.ID == "" {
		opts.ID = defaultID()
	}
	d := &Dispatcher{
		st: st, opts: opts, log: opts.Logger,
		queues:  map[string]*queue{},
		retry:   slices.Clone(opts.Retry),
		wake:    make(chan struct{}, 1),
		results: make(chan result, opts.BatchSize),
		m:       newMetrics(),
	}
	d.claims, _ = st.(Claimer)
	d.SetSenders(senders, opts.Retry)
	return d
}

// defaultID is host-pid-random: unique per process run.
func defaultID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "monitor"
	}
	return fmt.Sprintf("%s-%d-%06x", host, os.Getpid(), rand.Uint32()&0xffffff)
}

// ID is the dispatcher's name in its claims.
func (d *Dispatcher) ID() string { return d.opts.ID }

// claimEnd is when a claim made at t0 (the dispatcher's clock) on a
// delivery due at due ends for the dispatcher: a tenth of the TTL before
// the store lets another dispatcher take it.
func (d *Dispatcher) claimEnd(t0, due time.Time) time.Time {
	return t0.Add(max(due.Sub(t0), 0) + d.opts.ClaimTTL - d.opts.ClaimTTL/10)
}

// Wake tells the dispatcher that new deliveries were committed; it never
// blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// SetSenders replaces the receivers (a reload) and the retry schedule (nil:
// DefaultRetry). A receiver's deliveries in memory go on with its new
// sender; those of a receiver that is gone are dead-lettered.
func (d *Dispatcher) SetSenders(senders map[string]receiver.Sender, retry []time.Duration) {
	if retry == nil {
		retry = DefaultRetry
	}
	d.mu.Lock()
	d.retry = slices.Clone(retry)
	for name, s := range senders {
		q := d.queues[name]
		if q == nil {
			q = newQueue(name, d.opts.QueueSize, nil)
			d.queues[name] = q
		}
		q.mu.Lock()
		was := q.sender
		q.sender = s
		q.mu.Unlock()
		if was == nil && d.runCtx != nil {
			d.startWorkers(q)
		}
	}
	for name, q := range d.queues {
		if _, ok := senders[name]; ok {
			continue
		}
		q.mu.Lock()
		q.sender = nil
		q.mu.Unlock()
		if q.stop != nil {
			q.stop()
			q.stop = nil
		}
	}
	names := make([]string, 0, len(senders))
	for name := range senders {
		names = append(names, name)
	}
	d.mu.Unlock()
	d.m.configured(names)
	d.Wake()
}

// startWorkers starts q's workers. d.mu held, Run running.
func (d *Dispatcher) startWorkers(q *queue) {
	ctx, cancel := context.WithCancel(d.runCtx)
	q.stop = cancel
	for range d.opts.Workers {
		q.workers.Add(1)
		go d.work(ctx, q)
	}
}

// Run delivers until ctx ends: it resumes the pending deliveries in the
// store, then loads new ones on Wake, as queues drain and every
// PollInterval. At the end it lets in-flight attempts finish or be
// cancelled and records those that finished; the rest stay pending.
func (d *Dispatcher) Run(ctx context.Context) {
	d.mu.Lock()
	d.runCtx = ctx
	for _, q := range d.queues {
		q.mu.Lock()
		on := q.sender != nil
		q.mu.Unlock()
		if on {
			d.startWorkers(q)
		}
	}
	d.mu.Unlock()

	d.load(ctx, true)
	poll := time.NewTicker(d.opts.PollInterval)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			d.shutdown(ctx)
			return
		case r := <-d.results:
			batch := []result{r}
			// Gather what finishes within a moment: one transaction for
			// many attempts is what makes the outbox fast on SQLite.
			linger := time.NewTimer(batchLinger)
		drain:
			for len(batch) < d.opts.BatchSize {
				select {
				case r := <-d.results:
					batch = append(batch, r)
				case <-linger.C:
					break drain
				}
			}
			linger.Stop()
			if d.finish(ctx, batch) && !d.stuck {
				// A queue drained and the store holds more for it:
				// refill from the counts at hand (new deliveries come
				// with a Wake, which counts again).
				d.load(ctx, false)
			}
		case <-d.wake:
			d.load(ctx, true)
		case <-poll.C:
			d.load(ctx, true)
		}
	}
}

// shutdown waits for the workers (their context is ctx, now done) while
// taking their last results, and records those.
func (d *Dispatcher) shutdown(ctx context.Context) {
	d.mu.Lock()
	d.runCtx = nil
	qs := make([]*queue, 0, len(d.queues))
	for _, q := range d.queues {
		qs = append(qs, q)
		q.stop = nil
	}
	d.mu.Unlock()
	// What stays in memory is dropped once the attempts are recorded: a
	// later Run (a replica that is the cluster's leader again) loads the
	// pending deliveries from the store afresh, and none that another
	// replica delivered meanwhile is sent again from memory.
	defer func() {
		for _, q := range qs {
			q.mu.Lock()
			q.heap = nil
			clear(q.ids)
			q.mu.Unlock()
		}
	}()
	done := make(chan struct{})
	go func() {
		for _, q := range qs {
			q.workers.Wait()
		}
		close(done)
	}()
	var rest []result
	for {
		select {
		case r := <-d.results:
			rest = append(rest, r)
			continue
		case <-done:
		}
		break
	}
	for {
		select {
		case r := <-d.results:
			rest = append(rest, r)
			continue
		default:
		}
		break
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for b := range slices.Chunk(rest, d.opts.BatchSize) {
		d.finish(fctx, b)
	}
	if d.claims != nil {
		// What is left pending here is for another dispatcher (or the
		// next run) at once, not after the claims' TTL.
		if err := d.claims.ReleaseClaims(fctx, d.opts.ID); err != nil {
			d.log.Warn("releasing the outbox's claims failed; they lapse by themselves", "err", err)
		}
	}
}

// work is one worker of q: it takes due deliveries and attempts them.
func (d *Dispatcher) work(ctx context.Context, q *queue) {
	defer q.workers.Done()
	for {
		it, s, ok := q.next(ctx, d.opts.Now)
		if !ok {
			return
		}
		if d.claims != nil && d.opts.Now().Add(d.opts.AttemptTimeout).After(it.claimUntil) && !d.reclaim(ctx, q, it) {
			continue
		}
		r, keep := d.attempt(ctx, q, s, it)
		if !keep {
			// Cancelled by shutdown or a reload: the delivery stays
			// pending in the store and is loaded again.
			q.mu.Lock()
			q.busy--
			delete(q.ids, it.ID)
			q.mu.Unlock()
			continue
		}
		d.results <- r
	}
}

// reclaim claims it (taken from q) again, as too little of its claim is
// left for an attempt (or it has none since its last attempt). It
// reports whether to attempt it now; if not, it is back in q (due later
// after all) or forgotten (another dispatcher holds it, it was finished,
// or the store failed: a load brings it back if it is still pending).
func (d *Dispatcher) reclaim(ctx context.Context, q *queue, it *item) bool {
	t0 := d.opts.Now()
	row, err := d.claims.RenewClaim(ctx, store.Claim{By: d.opts.ID, TTL: d.opts.ClaimTTL, Now: t0}, it.ID)
	q.mu.Lock()
	defer q.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, store.ErrNotFound) {
			d.log.Warn("claiming a delivery failed", "receiver", it.Receiver, "delivery", it.ID, "err", err)
		}
		q.busy--
		delete(q.ids, it.ID)
		return false
	}
	// Another dispatcher may have attempted it since it was loaded.
	it.Attempts, it.DueAt, it.LastError, it.LastStatus = row.Attempts, row.DueAt, row.LastError, row.LastStatus
	it.claimUntil = d.claimEnd(t0, row.DueAt)
	if row.DueAt.After(t0) {
		q.busy--
		q.push(it)
		return false
	}
	return true
}

var errAttemptTimeout = errors.New("attempt timeout")

// batchLinger is how long the dispatcher waits for more finished attempts
// before it records a batch.
const batchLinger = 2 * time.Millisecond

// maxErrorLen bounds an attempt's error text as stored and shown.
const maxErrorLen = 1000

// shutdownGrace is how long an attempt under way when the dispatcher stops
// may still take (within its attempt timeout) to finish and be recorded.
const shutdownGrace = 3 * time.Second

// attempt makes one attempt of it. keep is false when ctx ended during a
// failed attempt: nothing is recorded then.
func (d *Dispatcher) attempt(ctx context.Context, q *queue, s receiver.Sender, it *item) (r result, keep bool) {
	if ctx.Err() != nil {
		return result{}, false // stopping: no new attempt
	}
	start := d.opts.Now()
	var n receiver.Notification
	err := json.Unmarshal(it.Body, &n)
	if err != nil {
		err = &receiver.SendError{Permanent: true, Err: fmt.Errorf("stored notification is not valid JSON: %w", err)}
	} else {
		n.ID, n.Receiver = it.NotificationID, it.Receiver
		// An attempt under way when the dispatcher stops (a shutdown, a
		// replica's restart) is given shutdownGrace to finish and be
		// recorded, instead of being cut off after the receiver may
		// already have it: cut off, the delivery would be sent again
		// (by the next run or another replica) with the same id.
		sctx, cancel := context.WithTimeoutCause(context.WithoutCancel(ctx), d.opts.AttemptTimeout, errAttemptTimeout)
		stopGrace := context.AfterFunc(ctx, func() {
			t := time.AfterFunc(shutdownGrace, cancel)
			context.AfterFunc(sctx, func() { t.Stop() })
		})
		err = send(sctx, s, n)
		if err != nil && errors.Is(context.Cause(sctx), errAttemptTimeout) {
			err = &receiver.SendError{Err: fmt.Errorf("no answer within %s", d.opts.AttemptTimeout)}
		}
		stopGrace()
		cancel()
	}
	end := d.opts.Now()
	if err != nil && ctx.Err() != nil {
		return result{}, false // cut off by the stop: not an attempt of the receiver's
	}
	a := store.Attempt{
		DeliveryID: it.ID, Receiver: it.Receiver, NotificationID: it.NotificationID, AlertIDs: it.AlertIDs,
		Attempt: it.Attempts + 1, At: start, Duration: end.Sub(start),
	}
	if err == nil {
		a.Outcome = store.OutcomeSent
		return result{q: q, it: it, a: a}, true
	}
	se := receiver.AsSendError(err)
	a.StatusCode = se.StatusCode
	a.Error = clipError(err.Error())
	a.Outcome = store.OutcomeDead
	if !se.Permanent {
		d.mu.Lock()
		backoff, ok := nextAttempt(d.retry, a.Attempt)
		d.mu.Unlock()
		if ok {
			a.Outcome = store.OutcomeRetry
			a.NextAt = end.Add(retryWait(backoff, se.RetryAfter, d.opts.Jitter, d.opts.Rand(), d.opts.MaxRetryAfter))
		}
	}
	return result{q: q, it: it, a: a}, true
}

// send calls s, turning a panic into an error.
func send(ctx context.Context, s receiver.Sender, n receiver.Notification) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sender panic: %v", p)
		}
	}()
	return s.Send(ctx, n)
}

func clipError(s string) string {
	if len(s) <= maxErrorLen {
		return s
	}
	cut := maxErrorLen
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// finish records a batch of attempts in one transaction (retrying while
// the store fails, until ctx ends), then puts retried deliveries back in
// their queues, forgets the others, counts them and audits dead letters.
// It reports whether some queue has room and the store more for it.
func (d *Dispatcher) finish(ctx context.Context, batch []result) bool {
	as := make([]store.Attempt, len(batch))
	for i, r := range batch {
		as[i] = r.a
	}
	var lost []int64
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 30*time.Second) {
		var err error
		if d.claims != nil {
			lost, err = d.claims.RecordClaimedAttempts(ctx, d.opts.ID, as)
		} else {
			err = d.st.RecordAttempts(ctx, as)
		}
		if err == nil {
			break
		}
		d.log.Warn("recording delivery attempts failed", "attempts", len(as), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			// Not recorded: the deliveries stay pending and are
			// attempted again after a restart.
			return false
		case <-t.C:
		}
	}
	var given []store.AuditEvent
	room := map[*queue]bool{}
	for _, r := range batch {
		q, it, a := r.q, r.it, r.a
		q.mu.Lock()
		q.busy--
		if slices.Contains(lost, it.ID) {
			// Its claim lapsed and another dispatcher took it over:
			// that one records it.
			delete(q.ids, it.ID)
			room[q] = true
			q.mu.Unlock()
			d.m.claimLost(a.Receiver)
			d.log.Warn("delivery claim lost: another dispatcher took the delivery over, this attempt is not recorded",
				"receiver", a.Receiver, "delivery", a.DeliveryID, "notification", a.NotificationID, "attempt", a.Attempt,
				"outcome", a.Outcome, "dispatcher", d.opts.ID)
			continue
		}
		if a.Outcome == store.OutcomeRetry {
			// Recording it finished the claim.
			it.Attempts, it.DueAt, it.LastError, it.LastStatus = a.Attempt, a.NextAt, a.Error, a.StatusCode
			it.claimUntil = time.Time{}
			q.push(it)
		} else {
			delete(q.ids, it.ID)
			room[q] = true
		}
		created := it.CreatedAt // once pushed, a worker may take it
		q.mu.Unlock()
		d.m.attempted(a, created)
		if a.Outcome == store.OutcomeDead {
			d.log.Warn("delivery given up", "receiver", a.Receiver, "delivery", a.DeliveryID,
				"notification", a.NotificationID, "attempts", a.Attempt, "err", a.Error)
			given = append(given, store.AuditEvent{
				At: a.At.Add(a.Duration), Actor: "system", Action: ActionGivenUp, Target: target(a.DeliveryID),
				Details: map[string]any{"receiver": a.Receiver, "notificationId": a.NotificationID,
					"alertIds": a.AlertIDs, "attempts": a.Attempt, "lastError": a.Error, "statusCode": a.StatusCode},
			})
		}
	}
	if len(given) > 0 {
		if err := d.st.Audit(ctx, given); err != nil {
			d.log.Error("writing the audit trail failed", "action", ActionGivenUp, "events", len(given), "err", err)
		}
	}
	for q := range room {
		q.mu.Lock()
		more := q.sender != nil && q.free() >= max(q.size/2, 1) && d.m.pendingOf(q.name) > len(q.ids)
		q.mu.Unlock()
		if more {
			return true
		}
	}
	return false
}

// target names a delivery in the audit trail.
func target(id int64) string { return "delivery:" + strconv.FormatInt(id, 10) }

// maxLoadWindow bounds the rows one load reads when the store has no
// per-receiver query.
const maxLoadWindow = 1000

// ReceiverPending is the per-receiver query a store may add to
// store.AlertStore: up to limit pending deliveries of one receiver, by
// DueAt then ID. With it a receiver's backlog, however long, never hides
// another's deliveries; without it the dispatcher reads the oldest
// pending deliveries of all receivers, at most 1000 per load.
type ReceiverPending interface {
	PendingDeliveriesOf(ctx context.Context, receiver string, limit int) ([]store.Delivery, error)
}

// load reads pending deliveries into the queues that have room, and
// dead-letters those of receivers that are not configured. With count it
// first counts the pending deliveries per receiver in the store; without,
// it goes by the last counts less the deliveries finished since.
func (d *Dispatcher) load(ctx context.Context, count bool) {
	took := 0
	if count {
		counts, err := d.st.PendingCounts(ctx)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("reading the outbox failed", "err", err)
			}
			return
		}
		d.m.setPending(counts)
		dead, err := d.st.DeadLetterCounts(ctx)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("reading the outbox failed", "err", err)
			}
			return
		}
		d.m.setDead(dead)
	}
	counts := d.m.pendingCounts()
	d.mu.Lock()
	for name, n := range counts {
		if n > 0 && d.queues[name] == nil {
			d.queues[name] = newQueue(name, d.opts.QueueSize, nil)
		}
	}
	qs := make([]*queue, 0, len(d.queues))
	for _, q := range d.queues {
		qs = append(qs, q)
	}
	d.mu.Unlock()

	var dead []result
	want := map[string]int{}  // receiver → rows to read
	claim := map[string]int{} // receiver → rows to claim
	window := 0               // rows to read without a per-receiver query
	for _, q := range qs {
		q.mu.Lock()
		if q.sender == nil {
			for len(q.heap) > 0 {
				it := popItem(q)
				q.busy++
				dead = append(dead, d.unconfigured(q, it))
			}
		}
		inMem, free := len(q.ids), q.free()
		if q.sender == nil {
			free = q.size
		}
		q.mu.Unlock()
		if counts[q.name] > inMem && free > 0 {
			want[q.name] = inMem + free
			claim[q.name] = free
			window += min(counts[q.name], inMem+free)
		} else {
			window += counts[q.name] // rows that may come first
		}
	}

	// take puts rows in their queues; t0 is when they were claimed (zero:
	// read without claims).
	take := func(rows []store.Delivery, t0 time.Time) {
		for _, row := range rows {
			d.mu.Lock()
			q := d.queues[row.Receiver]
			if q == nil {
				q = newQueue(row.Receiver, d.opts.QueueSize, nil)
				d.queues[row.Receiver] = q
			}
			d.mu.Unlock()
			q.mu.Lock()
			if _, ok := q.ids[row.ID]; ok || row.State != store.DeliveryPending {
				q.mu.Unlock()
				continue
			}
			it := &item{Delivery: row}
			if !t0.IsZero() {
				it.claimUntil = d.claimEnd(t0, row.DueAt)
			}
			if q.sender == nil {
				if len(q.ids) < q.size {
					q.ids[row.ID] = struct{}{}
					q.busy++
					dead = append(dead, d.unconfigured(q, it))
				}
			} else if q.free() > 0 {
				q.push(it)
				took++
			}
			q.mu.Unlock()
		}
	}
	if len(want) > 0 {
		if d.claims != nil {
			// The deliveries no other dispatcher holds, claimed: the
			// room of each queue, by due time.
			for name, n := range claim {
				t0 := d.opts.Now()
				rows, err := d.claims.ClaimDeliveries(ctx, store.Claim{By: d.opts.ID, Receiver: name, Limit: n,
					TTL: d.opts.ClaimTTL, Now: t0})
				if err != nil {
					d.log.Warn("claiming deliveries failed", "receiver", name, "err", err)
					continue
				}
				take(rows, t0)
			}
		} else if rp, ok := d.st.(ReceiverPending); ok {
			for name, n := range want {
				rows, err := rp.PendingDeliveriesOf(ctx, name, n)
				if err != nil {
					d.log.Warn("reading the outbox failed", "receiver", name, "err", err)
					continue
				}
				take(rows, time.Time{})
			}
		} else {
			rows, err := d.st.PendingDeliveries(ctx, min(window, maxLoadWindow))
			if err != nil {
				d.log.Warn("reading the outbox failed", "err", err)
			} else {
				take(rows, time.Time{})
			}
		}
	}
	d.stuck = len(want) > 0 && took == 0 && len(dead) == 0
	for b := range slices.Chunk(dead, d.opts.BatchSize) {
		d.finish(ctx, b)
	}
}

func popItem(q *queue) *item { return heap.Pop(&q.heap).(*item) }

// unconfigured is the dead-lettering of a delivery whose receiver is not
// configured.
func (d *Dispatcher) unconfigured(q *queue, it *item) result {
	now := d.opts.Now()
	return result{q: q, it: it, a: store.Attempt{
		DeliveryID: it.ID, Receiver: it.Receiver, NotificationID: it.NotificationID, AlertIDs: it.AlertIDs,
		Attempt: it.Attempts + 1, At: now, Outcome: store.OutcomeDead,
		Error: clipError(fmt.Sprintf("receiver %q is not configured", it.Receiver)),
	}}
}

// Replay makes dead letter id pending again, due now, with the same
// notification id, and writes the audit event delivery.replayed with actor
// by. store.ErrNotFound when id is not a dead letter.
func (d *Dispatcher) Replay(ctx context.Context, id int64, by string) (store.Delivery, error) {
	now := d.opts.Now()
	dl, err := d.st.Replay(ctx, id, now)
	if err != nil {
		return store.Delivery{}, err
	}
	if err := d.st.Audit(ctx, []store.AuditEvent{{
		At: now, Actor: by, Action: ActionReplayed, Target: target(id),
		Details: map[string]any{"receiver": dl.Receiver, "notificationId": dl.NotificationID, "alertIds": dl.AlertIDs},
	}}); err != nil {
		d.log.Error("writing the audit trail failed", "action", ActionReplayed, "err", err)
	}
	d.Wake()
	return dl, nil
}

// Attempts lists the newest delivery attempts (of one receiver, or all
// when receiver is ""), newest first, at most limit.
func (d *Dispatcher) Attempts(ctx context.Context, receiver string, limit int) ([]store.Attempt, error) {
	return d.st.Attempts(ctx, receiver, limit)
}

// DeadLetters lists the dead letters, newest first, at most limit.
func (d *Dispatcher) DeadLetters(ctx context.Context, limit int) ([]store.Delivery, error) {
	return d.st.DeadLetters(ctx, limit)
}
