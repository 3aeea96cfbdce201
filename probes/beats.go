package probes

import (
	"sync"
	"time"
)

// BeatStore keeps the last heartbeat of each heartbeat check in memory. It
// implements Heartbeats.
type BeatStore struct {
	mu    sync.RWMutex
	beats map[string]time.Time
}

// NewBeatStore returns an empty store.
func NewBeatStore() *BeatStore { return &BeatStore{beats: map[string]time.Time{}} }

// Beat records a heartbeat of check at t.
func (b *BeatStore) Beat(check string, t time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if prev, ok := b.beats[check]; !ok || t.After(prev) {
		b.beats[check] = t
	}
}

// LastBeat reports the last heartbeat of check.
func (b *BeatStore) LastBeat(check string) (time.Time, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	t, ok := b.beats[check]
	return t, ok
}
