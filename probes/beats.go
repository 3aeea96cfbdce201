package probes

import (
	"sync"
	"time"
)

// BeatStore keeps the last heartbeat of each heartbeat check in memory. It
// implements Heartbeats. Beats recorded with Beat are also kept as pending
// until TakePending hands them on (to be stored and evaluated at once);
// Pushed signals that some are waiting.
type BeatStore struct {
	mu      sync.RWMutex
	beats   map[string]time.Time
	pending map[string]time.Time
	pushed  chan struct{}
}

// NewBeatStore returns an empty store.
func NewBeatStore() *BeatStore {
	return &BeatStore{beats: map[string]time.Time{}, pending: map[string]time.Time{}, pushed: make(chan struct{}, 1)}
}

// Beat records a heartbeat of check at t.
func (b *BeatStore) Beat(check string, t time.Time) {
	b.mu.Lock()
	if prev, ok := b.beats[check]; !ok || t.After(prev) {
		b.beats[check] = t
		b.pending[check] = t
	}
	b.mu.Unlock()
	select {
	case b.pushed <- struct{}{}:
	default:
	}
}

// Restore records heartbeats read back from storage; a newer one already
// held wins, and none becomes pending.
func (b *BeatStore) Restore(beats map[string]time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for check, t := range beats {
		if prev, ok := b.beats[check]; !ok || t.After(prev) {
			b.beats[check] = t
		}
	}
}

// Pushed receives a value after Beat recorded a newer heartbeat.
func (b *BeatStore) Pushed() <-chan struct{} { return b.pushed }

// TakePending returns the heartbeats recorded by Beat since the last call
// (the newest per check) and forgets them. It holds at most one entry per
// check pushed to.
func (b *BeatStore) TakePending() map[string]time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) == 0 {
		return nil
	}
	out := b.pending
	b.pending = map[string]time.Time{}
	return out
}

// LastBeat reports the last heartbeat of check.
func (b *BeatStore) LastBeat(check string) (time.Time, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	t, ok := b.beats[check]
	return t, ok
}
