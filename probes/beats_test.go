package probes

import (
	"testing"
	"time"
)

// TestBeatStorePending: pushed beats are handed on once (the newest per
// check) and signalled; restored ones are not pending and never replace a
// newer beat.
func TestBeatStorePending(t *testing.T) {
	b := NewBeatStore()
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	b.Restore(map[string]time.Time{"a": t0})
	if got := b.TakePending(); got != nil {
		t.Fatalf("restored beats pending: %v", got)
	}
	b.Beat("a", t0.Add(time.Minute))
	b.Beat("a", t0.Add(30*time.Second)) // older: ignored
	select {
	case <-b.Pushed():
	default:
		t.Fatal("no signal after a beat")
	}
	got := b.TakePending()
	if len(got) != 1 || !got["a"].Equal(t0.Add(time.Minute)) {
		t.Fatalf("pending = %v, want a at +1m", got)
	}
	if got := b.TakePending(); got != nil {
		t.Fatalf("pending twice: %v", got)
	}
	b.Restore(map[string]time.Time{"a": t0}) // older than held
	if at, _ := b.LastBeat("a"); !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("LastBeat = %v after restoring an older beat", at)
	}
}
