package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/monitor-dev/monitor/check"
)

// fakeStore records batches; it can block every Write until released, or
// fail a number of them.
type fakeStore struct {
	Store // the read methods are not used

	mu      sync.Mutex
	batches [][]Record
	failN   int
	calls   int
	block   chan struct{} // when set, Write waits for it to close
}

func (f *fakeStore) Write(ctx context.Context, recs []Record) error {
	f.mu.Lock()
	block := f.block
	f.calls++
	fail := f.calls <= f.failN
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail {
		return errors.New("database is locked")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches = append(f.batches, append([]Record(nil), recs...))
	return nil
}

func (f *fakeStore) sizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for _, b := range f.batches {
		out = append(out, len(b))
	}
	return out
}

// names lists every stored record's check, in order.
func (f *fakeStore) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, b := range f.batches {
		for _, r := range b {
			out = append(out, r.Check)
		}
	}
	return out
}

func seq(i int) Record {
	return mk(fmt.Sprintf("c%03d", i), at(time.Duration(i)*time.Second), check.Pass)
}

func TestWriterBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &fakeStore{}
		reg := prometheus.NewPedanticRegistry()
		w := NewWriter(fs, WriterOptions{BatchSize: 3, FlushEvery: time.Second, Registerer: reg})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go w.Run(ctx)
		for i := range 10 {
			if !w.Enqueue(seq(i)) {
				t.Fatalf("Enqueue %d refused", i)
			}
		}
		synctest.Wait()
		if got := fmt.Sprint(fs.sizes()); got != "[3 3 3]" {
			t.Errorf("full batches written at once = %s, want [3 3 3]", got)
		}
		if n := testutil.ToFloat64(w.queueLen); n != 1 {
			t.Errorf("queue length = %v, want 1", n)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := fmt.Sprint(fs.sizes()); got != "[3 3 3 1]" {
			t.Errorf("after FlushEvery = %s, want [3 3 3 1]", got)
		}
		var want []string
		for i := range 10 {
			want = append(want, seq(i).Check)
		}
		if got := fs.names(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("order = %v, want %v", got, want)
		}
		if n := testutil.ToFloat64(w.written); n != 10 {
			t.Errorf("written_total = %v, want 10", n)
		}
		if err := w.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
			t.Errorf("lint: %v %+v", err, problems)
		}
	})
}

func TestWriterCloseFlushes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &fakeStore{}
		w := NewWriter(fs, WriterOptions{BatchSize: 4, FlushEvery: time.Hour})
		go w.Run(t.Context())
		for i := range 9 {
			w.Enqueue(seq(i))
		}
		synctest.Wait()
		if err := w.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(fs.sizes()); got != "[4 4 1]" {
			t.Errorf("batches = %s, want [4 4 1]", got)
		}
		if w.Enqueue(seq(99)) {
			t.Error("Enqueue after Close accepted")
		}
		if n := testutil.ToFloat64(w.dropped); n != 1 {
			t.Errorf("dropped_total = %v, want 1", n)
		}
	})
}

// Close without Run writes everything itself.
func TestWriterCloseWithoutRun(t *testing.T) {
	fs := &fakeStore{}
	w := NewWriter(fs, WriterOptions{BatchSize: 2})
	for i := range 5 {
		w.Enqueue(seq(i))
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(fs.sizes()); got != "[2 2 1]" {
		t.Errorf("batches = %s, want [2 2 1]", got)
	}
}

func TestWriterFullQueueDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		fs := &fakeStore{block: release}
		var logs bytes.Buffer
		w := NewWriter(fs, WriterOptions{QueueSize: 4, BatchSize: 2, FlushEvery: time.Second,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		go w.Run(t.Context())

		var acked []string
		enqueue := func(i int) bool {
			ok := w.Enqueue(seq(i))
			if ok {
				acked = append(acked, seq(i).Check)
			}
			return ok
		}
		enqueue(0)
		enqueue(1)
		synctest.Wait() // the first batch is stuck in Write, still counted in the queue
		for i := 2; i < 4; i++ {
			if !enqueue(i) {
				t.Fatalf("Enqueue %d refused below the bound", i)
			}
		}
		for i := 4; i < 9; i++ {
			if enqueue(i) {
				t.Fatalf("Enqueue %d accepted past the bound", i)
			}
		}
		if n := testutil.ToFloat64(w.dropped); n != 5 {
			t.Errorf("dropped_total = %v, want 5", n)
		}
		if n := testutil.ToFloat64(w.queueLen); n != 4 {
			t.Errorf("queue_length = %v, want 4", n)
		}
		if got := strings.Count(logs.String(), "store queue full"); got != 1 {
			t.Errorf("%d warnings, want one (rate-limited):\n%s", got, logs.String())
		}
		time.Sleep(11 * time.Second) // the next tick logs the drops since
		synctest.Wait()
		close(release)
		if err := w.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := fs.names(); fmt.Sprint(got) != fmt.Sprint(acked) {
			t.Errorf("stored %v, want every acknowledged result %v", got, acked)
		}
		if !strings.Contains(logs.String(), "dropped=4") {
			t.Errorf("the second line should count the 4 later drops:\n%s", logs.String())
		}
	})
}

// TestWriterQueueGrowsToItsBound: the queue starts small and grows while
// the store is stuck, up to QueueSize exactly, keeping every result and
// their order (a batch in Write while it grows included).
func TestWriterQueueGrowsToItsBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &fakeStore{}
		const size = 3*initialRing + 7
		w := NewWriter(fs, WriterOptions{QueueSize: size, BatchSize: 10, FlushEvery: time.Second})
		go w.Run(t.Context())
		var acked []string
		enqueue := func(i int) {
			if w.Enqueue(seq(i)) {
				acked = append(acked, seq(i).Check)
			}
		}
		// One batch written: the queue's head moves, so that it wraps
		// around the ring before it grows.
		for i := range 10 {
			enqueue(i)
		}
		synctest.Wait()
		release := make(chan struct{})
		fs.mu.Lock()
		fs.block = release
		fs.mu.Unlock()
		for i := 10; i < 10+size+50; i++ {
			enqueue(i)
			if i == 20 {
				synctest.Wait() // the second batch is stuck in Write
			}
		}
		if len(acked) != 10+size {
			t.Fatalf("accepted %d results, want 10 written and the bound %d", len(acked), size)
		}
		if n := testutil.ToFloat64(w.dropped); n != 50 {
			t.Errorf("dropped_total = %v, want 50", n)
		}
		close(release)
		if err := w.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := fs.names(); fmt.Sprint(got) != fmt.Sprint(acked) {
			t.Errorf("stored %d results out of order or not all, want the %d acknowledged", len(got), len(acked))
		}
	})
}

func TestWriterRetriesFailedBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &fakeStore{failN: 4}
		w := NewWriter(fs, WriterOptions{BatchSize: 3, FlushEvery: 100 * time.Millisecond,
			MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
		go w.Run(t.Context())
		var acked []string
		for i := range 7 {
			if w.Enqueue(seq(i)) {
				acked = append(acked, seq(i).Check)
			}
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if len(fs.names()) != 0 {
			t.Fatal("written despite failures")
		}
		// more results queue up while the batch is retried
		for i := 7; i < 10; i++ {
			if w.Enqueue(seq(i)) {
				acked = append(acked, seq(i).Check)
			}
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := fs.names(); fmt.Sprint(got) != fmt.Sprint(acked) {
			t.Errorf("stored %v, want %v", got, acked)
		}
		if n := testutil.ToFloat64(w.errors); n != 4 {
			t.Errorf("write_errors_total = %v, want 4", n)
		}
		if err := w.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// Close gives up when its context ends while the store is stuck, saying
// how many results were not written.
func TestWriterCloseTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &fakeStore{block: make(chan struct{})}
		w := NewWriter(fs, WriterOptions{BatchSize: 2})
		for i := range 3 {
			w.Enqueue(seq(i))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		err := w.Close(ctx)
		if !errors.Is(err, ErrWriterClosed) || !strings.Contains(err.Error(), "3 results") {
			t.Errorf("Close = %v, want ErrWriterClosed with 3 results", err)
		}
	})
}

func TestWriterRefusesInvalid(t *testing.T) {
	w := NewWriter(&fakeStore{}, WriterOptions{})
	if w.Enqueue(Record{Result: check.Result{Check: "x", Status: "BAD", Severity: check.Info, CheckedAt: T0}}) {
		t.Error("invalid record accepted")
	}
	if n := testutil.ToFloat64(w.dropped); n != 1 {
		t.Errorf("dropped_total = %v, want 1", n)
	}
}

// TestWriterQuietWhileStoreDown: while the history store is down (a Lazy
// not opened yet) the writer keeps the results queued without a WARN per
// retry; the store's own reconnect attempts say it, with the reason.
func TestWriterQuietWhileStoreDown(t *testing.T) {
	var logs bytes.Buffer
	lazy := NewLazy("postgres://monitor@127.0.0.1:1/db", Options{}, nil) // never opened
	synctest.Test(t, func(t *testing.T) {
		w := NewWriter(lazy, WriterOptions{BatchSize: 3, FlushEvery: 100 * time.Millisecond,
			MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { w.Run(ctx); close(done) }()
		w.Enqueue(seq(1))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if w.Len() != 1 {
			t.Errorf("queued = %d, want 1", w.Len())
		}
		cancel()
		<-done
	})
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("the writer warns on every retry while the store is down:\n%s", logs.String())
	}
}
