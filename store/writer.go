package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/monitor-dev/monitor/check"
)

// WriterOptions tune a Writer. The zero value gives the defaults.
type WriterOptions struct {
	// QueueSize bounds the results waiting to be written, the batch being
	// written included (default 10,000).
	QueueSize int
	// BatchSize results at most go into one Write (default 500).
	BatchSize int
	// FlushEvery is how long a partial batch waits at most (default 1s).
	FlushEvery time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// MinBackoff and MaxBackoff bound the wait before writing a failed
	// batch again (defaults 100ms and 30s).
	MinBackoff, MaxBackoff time.Duration
}

// ErrWriterClosed is returned by Close when results were left unwritten.
var ErrWriterClosed = errors.New("store writer closed with results not written")

const (
	writeTimeout = 30 * time.Second
	dropLogEvery = 10 * time.Second
)

// Writer takes results off the probe path: Enqueue never blocks, and Run
// writes them to the store in batches. A batch that fails stays at the head
// of the queue and is tried again with a bounded backoff; meanwhile new
// results queue up to QueueSize, and past that they are refused, counted in
// monitor_store_dropped_total and logged.
type Writer struct {
	st     Store
	opts   WriterOptions
	logger *slog.Logger

	mu sync.Mutex
	// ring holds the queue; it starts small and doubles up to QueueSize
	// (10,000 records are 2.3 MiB, which a daemon whose store keeps up
	// never needs).
	ring    []Record
	head, n int
	closed  bool
	running bool

	kick chan struct{} // a full batch is waiting
	stop chan struct{} // closed by Close
	done chan struct{} // closed when Run returns

	logMu sync.Mutex
	drops map[string]*dropLog

	// shareLinks: the store keeps per-link results for the other replicas
	// (Options.ShareLinks). Then links (under mu) holds, per link check,
	// the Links of its newest queued result, set back on that result when
	// its batch is written (ShareLinks): queued results carry no links, so
	// that a queue that fills while the store is slow holds one set of
	// links per check, not one per queued run. Without it links are
	// dropped at Enqueue, as they are not history.
	shareLinks bool
	links      map[string]queuedLinks

	queueLen prometheus.GaugeFunc
	written  prometheus.Counter
	dropped  prometheus.Counter
	errors   prometheus.Counter
	duration prometheus.Histogram
}

// queuedLinks are the links of a check's newest queued result, checked at at.
type queuedLinks struct {
	at    time.Time
	links []check.LinkResult
}

type dropLog struct {
	last    time.Time
	pending int
	err     error
}

// NewWriter returns a Writer for st; call Run to start writing.
func NewWriter(st Store, opts WriterOptions) *Writer {
	if opts.QueueSize <= 0 {
		opts.QueueSize = 10_000
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	opts.BatchSize = min(opts.BatchSize, opts.QueueSize)
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = time.Second
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(30*time.Second, opts.MinBackoff)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Writer{
		st: st, opts: opts, logger: opts.Logger,
		ring: make([]Record, min(opts.QueueSize, max(2*opts.BatchSize, initialRing))),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		drops: map[string]*dropLog{}, links: map[string]queuedLinks{},
	}
	if sl, ok := st.(interface{ sharesLinks() bool }); ok {
		w.shareLinks = sl.sharesLinks()
	}
	f := promauto.With(opts.Registerer)
	w.queueLen = f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "monitor_store_queue_length",
		Help: "Results waiting to be written to the history store.",
	}, func() float64 { return float64(w.Len()) })
	w.written = f.NewCounter(prometheus.CounterOpts{
		Name: "monitor_store_written_total",
		Help: "Results written to the history store.",
	})
	w.dropped = f.NewCounter(prometheus.CounterOpts{
		Name: "monitor_store_dropped_total",
		Help: "Results not stored: the queue was full, the writer closed, or the result invalid.",
	})
	w.errors = f.NewCounter(prometheus.CounterOpts{
		Name: "monitor_store_write_errors_total",
		Help: "Failed batch writes to the history store (each is retried).",
	})
	w.duration = f.NewHistogram(prometheus.HistogramOpts{
		Name:    "monitor_store_write_duration_seconds",
		Help:    "Time to write one batch to the history store.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
	})
	return w
}

// Len returns the number of results waiting, the batch being written
// included.
func (w *Writer) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// initialRing is the least the queue starts with.
const initialRing = 1024

// grow doubles the ring, up to QueueSize, keeping the queue's order; false
// when it is at QueueSize already. The caller holds mu.
func (w *Writer) grow() bool {
	if len(w.ring) >= w.opts.QueueSize {
		return false
	}
	ring := make([]Record, min(2*len(w.ring), w.opts.QueueSize))
	for i := range w.n {
		ring[i] = w.ring[(w.head+i)%len(w.ring)]
	}
	w.ring, w.head = ring, 0
	return true
}

// Enqueue queues r without blocking. It returns false, counts and logs the
// loss when the queue is full, the writer is closed or r is invalid.
//
// A link check's links (Links) are kept only when the store shares them
// with the other replicas (Options.ShareLinks): one set per check, the
// newest queued result's.
func (w *Writer) Enqueue(r Record) bool {
	if err := validate(&r); err != nil {
		w.drop("invalid", err)
		return false
	}
	links := r.Links
	share := w.shareLinks && r.Kind.Behaviour().Items
	r.Links, r.ShareLinks = nil, false
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.drop("closed", nil)
		return false
	}
	if w.n == len(w.ring) && !w.grow() {
		w.mu.Unlock()
		w.drop("full", nil)
		return false
	}
	w.ring[(w.head+w.n)%len(w.ring)] = r
	w.n++
	if share {
		if cur, ok := w.links[r.Check]; !ok || !r.CheckedAt.Before(cur.at) {
			w.links[r.Check] = queuedLinks{at: r.CheckedAt, links: links}
		}
	}
	full := w.n >= w.opts.BatchSize
	w.mu.Unlock()
	if full {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return true
}

// drop counts a refused result and logs at most one line per reason every
// 10 seconds, with the number refused since the last line.
func (w *Writer) drop(reason string, err error) {
	w.dropped.Inc()
	w.logMu.Lock()
	d := w.drops[reason]
	if d == nil {
		d = &dropLog{}
		w.drops[reason] = d
	}
	d.pending++
	d.err = err
	w.logMu.Unlock()
	w.logDrops(false)
}

// logDrops writes the pending drop lines that are due (all when force).
func (w *Writer) logDrops(force bool) {
	now := time.Now()
	w.logMu.Lock()
	defer w.logMu.Unlock()
	for reason, d := range w.drops {
		if d.pending == 0 || !force && now.Sub(d.last) < dropLogEvery {
			continue
		}
		attrs := []any{"reason", reason, "dropped", d.pending, "queue_size", w.opts.QueueSize}
		switch reason {
		case "full":
			w.logger.Warn("store queue full: results dropped", attrs...)
		case "closed":
			w.logger.Warn("store writer closed: results dropped", attrs...)
		default:
			w.logger.Error("invalid results not stored", append(attrs, "err", d.err)...)
		}
		d.pending, d.last = 0, now
	}
}

// Run writes queued results until Close is called or ctx is done; results
// still queued then are left for Close. Call it once, in its own goroutine.
func (w *Writer) Run(ctx context.Context) {
	w.mu.Lock()
	if w.running || w.closed {
		w.mu.Unlock()
		return
	}
	w.running = true
	w.mu.Unlock()
	defer close(w.done)

	t := time.NewTicker(w.opts.FlushEvery)
	defer t.Stop()
	for {
		all := false
		select {
		case <-ctx.Done():
			return
		case <-w.stop:
			return
		case <-w.kick:
		case <-t.C:
			all = true
			w.logDrops(false)
		}
		for {
			n := w.Len()
			if n == 0 || !all && n < w.opts.BatchSize {
				break
			}
			if !w.writeBatch(ctx, w.stop) {
				return
			}
		}
	}
}

// Close stops Run, writes what is still queued, and refuses new results.
// It returns ErrWriterClosed if ctx ends before everything is written.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	running := w.running
	w.mu.Unlock()
	close(w.stop)
	defer w.logDrops(true)
	if running {
		select {
		case <-w.done:
		case <-ctx.Done():
			return fmt.Errorf("%w: %d results: %w", ErrWriterClosed, w.Len(), context.Cause(ctx))
		}
	}
	for w.Len() > 0 {
		if !w.writeBatch(ctx, nil) {
			return fmt.Errorf("%w: %d results: %w", ErrWriterClosed, w.Len(), context.Cause(ctx))
		}
	}
	return nil
}

// writeBatch writes the batch at the head of the queue, retrying with
// backoff until it succeeds (true) or ctx ends or interrupt is closed
// (false). The batch leaves the queue only once written.
func (w *Writer) writeBatch(ctx context.Context, interrupt <-chan struct{}) bool {
	w.mu.Lock()
	batch := make([]Record, min(w.n, w.opts.BatchSize))
	for i := range batch {
		batch[i] = w.ring[(w.head+i)%len(w.ring)]
		if q, ok := w.links[batch[i].Check]; ok && q.at.Equal(batch[i].CheckedAt) {
			batch[i].Links, batch[i].ShareLinks = q.links, true
		}
	}
	w.mu.Unlock()

	backoff := w.opts.MinBackoff
	for attempt := 1; ; attempt++ {
		err := w.write(ctx, batch)
		if err == nil {
			w.mu.Lock()
			for i := range batch {
				w.ring[(w.head+i)%len(w.ring)] = Record{}
				if q, ok := w.links[batch[i].Check]; ok && !q.at.After(batch[i].CheckedAt) {
					delete(w.links, batch[i].Check) // written, or older than what is written
				}
			}
			w.head = (w.head + len(batch)) % len(w.ring)
			w.n -= len(batch)
			w.mu.Unlock()
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		w.errors.Inc()
		level := slog.LevelWarn
		if errors.Is(err, ErrUnavailable) {
			level = slog.LevelDebug // the store's reconnects already warn, with the reason
		}
		w.logger.Log(ctx, level, "store write failed; retrying", "results", len(batch), "attempt", attempt,
			"retry_in", backoff, "queued", w.Len(), "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		case <-interrupt:
			t.Stop()
			return false
		}
		backoff = min(2*backoff, w.opts.MaxBackoff)
	}
}

func (w *Writer) write(ctx context.Context, batch []Record) error {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	start := time.Now()
	err := w.st.Write(ctx, batch)
	w.duration.Observe(time.Since(start).Seconds())
	if err == nil {
		w.written.Add(float64(len(batch)))
	}
	return err
}
