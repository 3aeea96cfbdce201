package store

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// ErrUnavailable is returned by a Lazy store that is not open (yet).
var ErrUnavailable = errors.New("history store unavailable")

// Lazy is a Store that may come up after the daemon: while the database is
// unreachable its methods fail with ErrUnavailable (Compact does nothing),
// and Run keeps trying to open it with backoff. The daemon meanwhile
// probes and serves health, and its Writer keeps results in its bounded
// queue until Write succeeds.
type Lazy struct {
	dsn    string
	opts   Options
	onOpen func(context.Context, Store)

	mu     sync.Mutex
	st     Store
	closed bool
	up     atomic.Bool
	err    atomic.Pointer[string] // why the last attempt failed (no secret)
}

// NewLazy returns a closed Lazy store of dsn; Open or Run opens it.
// onOpen, if set, runs once the store is open (before it is used), with
// the store itself: the place to restore what it holds.
func NewLazy(dsn string, opts Options, onOpen func(context.Context, Store)) *Lazy {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Lazy{dsn: dsn, opts: opts, onOpen: onOpen}
	msg := "not opened yet"
	l.err.Store(&msg)
	return l
}

// Open tries to open the store once.
func (l *Lazy) Open(ctx context.Context) error {
	if l.up.Load() {
		return nil
	}
	st, err := Open(ctx, l.dsn, l.opts)
	if err != nil {
		msg := err.Error()
		l.err.Store(&msg)
		return err
	}
	if l.onOpen != nil {
		l.onOpen(ctx, st)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.Join(ErrUnavailable, st.Close())
	}
	l.st = st
	l.up.Store(true)
	return nil
}

// Run tries to open the store until it is open or ctx ends, waiting
// between attempts from minWait doubling up to maxWait (with jitter), and
// logs each failure.
func (l *Lazy) Run(ctx context.Context, minWait, maxWait time.Duration) {
	wait := minWait
	for attempt := 1; !l.up.Load(); attempt++ {
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := l.Open(octx)
		cancel()
		if err == nil {
			l.opts.Logger.Info("history store is up", "attempts", attempt)
			return
		}
		if ctx.Err() != nil {
			return
		}
		lvl := l.opts.Logger.Warn
		if errors.Is(err, ErrLocked) || errors.Is(err, ErrSchemaTooNew) {
			lvl = l.opts.Logger.Error
		}
		wait = min(2*wait, maxWait)
		lvl("history store still unavailable; results are queued", "attempt", attempt, "retry_in", wait, "err", err)
	}
}

// Up reports whether the store is open.
func (l *Lazy) Up() bool { return l.up.Load() }

// Err says why the store is not open ("" when it is).
func (l *Lazy) Err() string {
	if l.up.Load() {
		return ""
	}
	return *l.err.Load()
}

func (l *Lazy) get() Store {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

func (l *Lazy) Write(ctx context.Context, recs []Record) error {
	if st := l.get(); st != nil {
		return st.Write(ctx, recs)
	}
	return ErrUnavailable
}

func (l *Lazy) Latest(ctx context.Context) ([]check.Result, error) {
	if st := l.get(); st != nil {
		return st.Latest(ctx)
	}
	return nil, ErrUnavailable
}

func (l *Lazy) History(ctx context.Context, name string, from, to time.Time, step time.Duration) ([]Bucket, error) {
	if st := l.get(); st != nil {
		return st.History(ctx, name, from, to, step)
	}
	return nil, ErrUnavailable
}

func (l *Lazy) Totals(ctx context.Context, name string, from, to time.Time) (Bucket, error) {
	if st := l.get(); st != nil {
		return st.Totals(ctx, name, from, to)
	}
	return Bucket{}, ErrUnavailable
}

func (l *Lazy) Outages(ctx context.Context, name string, from, to time.Time) ([]Outage, error) {
	if st := l.get(); st != nil {
		return st.Outages(ctx, name, from, to)
	}
	return nil, ErrUnavailable
}

func (l *Lazy) Beat(ctx context.Context, name string, at time.Time) error {
	if st := l.get(); st != nil {
		return st.Beat(ctx, name, at)
	}
	return ErrUnavailable
}

func (l *Lazy) Beats(ctx context.Context) (map[string]time.Time, error) {
	if st := l.get(); st != nil {
		return st.Beats(ctx)
	}
	return nil, ErrUnavailable
}

// Compact compacts the open store; with none there is nothing to do.
func (l *Lazy) Compact(ctx context.Context, now time.Time) error {
	if st := l.get(); st != nil {
		return st.Compact(ctx, now)
	}
	return nil
}

// Close closes the store if it is open; a later Open or Run gives up.
func (l *Lazy) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.up.Store(false)
	msg := "closed"
	l.err.Store(&msg)
	if l.st == nil {
		return nil
	}
	st := l.st
	l.st = nil
	return st.Close()
}
