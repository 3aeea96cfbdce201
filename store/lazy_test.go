package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// TestLazy: a Lazy store whose database cannot be opened answers
// ErrUnavailable and says why; Run opens it once it can, calls onOpen with
// the store before it is used, and then delegates.
func TestLazy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	blocker := filepath.Join(dir, "data")
	if err := os.WriteFile(blocker, []byte("a file where the directory goes"), 0o644); err != nil {
		t.Fatal(err)
	}
	dsn := "sqlite://" + filepath.Join(blocker, "monitor.db")
	// What a previous run left in the store, to be restored.
	opened := make(chan []check.Result, 1)
	l := NewLazy(dsn, Options{}, func(ctx context.Context, st Store) {
		latest, _ := st.Latest(ctx)
		opened <- latest
	})
	if err := l.Open(ctx); err == nil {
		t.Fatal("Open with a file in the way succeeded")
	}
	if l.Up() || l.Err() == "" {
		t.Errorf("Up = %v, Err = %q; want down with a reason", l.Up(), l.Err())
	}
	if err := l.Write(ctx, []Record{mk("a", at(0), check.Pass)}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Write while down: %v, want ErrUnavailable", err)
	}
	if _, err := l.Totals(ctx, "a", at(0), at(time.Hour)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Totals while down: %v, want ErrUnavailable", err)
	}
	if err := l.Compact(ctx, at(0)); err != nil {
		t.Errorf("Compact while down: %v, want nothing to do", err)
	}

	// The directory becomes possible, with a previous run's history.
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	prev := openT(t, dsn, Options{})
	write(t, prev, mk("a", at(0), check.Fail))
	_ = prev.Close()

	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	l.Run(rctx, 10*time.Millisecond, 50*time.Millisecond)
	if !l.Up() || l.Err() != "" {
		t.Fatalf("after Run: Up = %v, Err = %q", l.Up(), l.Err())
	}
	select {
	case latest := <-opened:
		if len(latest) != 1 || latest[0].Status != check.Fail {
			t.Errorf("onOpen saw %v, want the stored FAIL of a", latest)
		}
	default:
		t.Fatal("onOpen not called")
	}
	write(t, l, mk("a", at(time.Minute), check.Pass))
	if b, err := l.Totals(ctx, "a", at(0), at(time.Hour)); err != nil || b.Runs != 2 {
		t.Errorf("Totals once up = %d runs, %v; want 2", b.Runs, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Write(ctx, []Record{mk("a", at(2*time.Minute), check.Pass)}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Write after Close: %v, want ErrUnavailable", err)
	}
}
