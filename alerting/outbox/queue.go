package outbox

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/store"
)

// item is one delivery held in memory.
type item struct {
	store.Delivery
	// claimUntil is when the dispatcher's claim on it ends as the
	// dispatcher's clock counts (a margin before the store's end); zero
	// when it holds none (no claims, or since its last attempt).
	claimUntil time.Time
}

// items is a min-heap by DueAt, then ID.
type items []*item

func (h items) Len() int { return len(h) }
func (h items) Less(i, j int) bool {
	if !h[i].DueAt.Equal(h[j].DueAt) {
		return h[i].DueAt.Before(h[j].DueAt)
	}
	return h[i].ID < h[j].ID
}
func (h items) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *items) Push(x any)   { *h = append(*h, x.(*item)) }
func (h *items) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return it
}

// queue is one receiver's share of the outbox: at most size deliveries in
// memory (waiting in heap, or busy: being attempted or recorded), and its
// own workers, so that a slow or dead receiver only ever holds up itself.
type queue struct {
	name string
	size int

	mu      sync.Mutex
	sender  receiver.Sender // nil: the receiver is not configured (any more)
	heap    items
	ids     map[int64]struct{} // every delivery in memory: in heap or busy
	busy    int
	changed chan struct{} // closed and replaced when heap gains an item
	stop    context.CancelFunc
	workers sync.WaitGroup
}

func newQueue(name string, size int, s receiver.Sender) *queue {
	return &queue{name: name, size: size, sender: s, ids: map[int64]struct{}{}, changed: make(chan struct{})}
}

// free is how many more deliveries the queue takes. q.mu held.
func (q *queue) free() int { return q.size - len(q.ids) }

// push adds a delivery (new, or back from a failed attempt). q.mu held.
func (q *queue) push(it *item) {
	q.ids[it.ID] = struct{}{}
	heap.Push(&q.heap, it)
	close(q.changed)
	q.changed = make(chan struct{})
}

// next waits until the earliest delivery is due and takes it, or returns
// false when ctx ends.
func (q *queue) next(ctx context.Context, now func() time.Time) (*item, receiver.Sender, bool) {
	for {
		q.mu.Lock()
		wait := time.Duration(-1)
		if len(q.heap) > 0 && q.sender != nil {
			if w := q.heap[0].DueAt.Sub(now()); w > 0 {
				wait = w
			} else {
				it := heap.Pop(&q.heap).(*item)
				q.busy++
				s := q.sender
				q.mu.Unlock()
				return it, s, true
			}
		}
		changed := q.changed
		q.mu.Unlock()
		var timer *time.Timer
		var fired <-chan time.Time
		if wait >= 0 {
			timer = time.NewTimer(wait)
			fired = timer.C
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil, nil, false
		case <-changed:
		case <-fired:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}
