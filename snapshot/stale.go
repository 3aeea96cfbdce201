package snapshot

import (
	"container/heap"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// staleQueue holds when each check's latest result goes stale, earliest
// first (a min-heap indexed by check name), so that StateVersion learns
// that the clock alone changed a check without looking at every one.
// A check is in it from its result until that result goes stale.
type staleQueue struct {
	items []*staleItem
	index map[string]*staleItem
}

// staleItem is one check's result going stale just after at; i is its
// position in the heap.
type staleItem struct {
	at   time.Time
	name string
	i    int
}

// set puts sp's result r in the queue (or out of it: a check without an
// interval never goes stale).
func (q *staleQueue) set(sp check.Spec, r check.Result) {
	it, ok := q.index[sp.Name]
	if sp.Interval <= 0 || r.CheckedAt.IsZero() {
		if ok {
			heap.Remove(q, it.i)
		}
		return
	}
	at := r.CheckedAt.Add(sp.StaleAfter())
	if ok {
		it.at = at
		heap.Fix(q, it.i)
		return
	}
	heap.Push(q, &staleItem{at: at, name: sp.Name})
}

// reset empties the queue and puts in it the results of latest, of
// checks of specs.
func (q *staleQueue) reset(specs map[string]check.Spec, latest map[string]check.Result) {
	q.items, q.index = q.items[:0], make(map[string]*staleItem, len(latest))
	for name, r := range latest {
		sp := specs[name]
		if sp.Interval <= 0 || r.CheckedAt.IsZero() {
			continue
		}
		it := &staleItem{at: r.CheckedAt.Add(sp.StaleAfter()), name: name, i: len(q.items)}
		q.items = append(q.items, it)
		q.index[name] = it
	}
	heap.Init(q)
}

// due reports whether a result in the queue is stale at now.
func (q *staleQueue) due(now time.Time) bool {
	return len(q.items) > 0 && now.After(q.items[0].at)
}

// drain takes out the results stale at now; it reports whether there were
// any.
func (q *staleQueue) drain(now time.Time) bool {
	found := false
	for q.due(now) {
		heap.Pop(q)
		found = true
	}
	return found
}

// heap.Interface; Swap keeps each item's position.
func (q *staleQueue) Len() int           { return len(q.items) }
func (q *staleQueue) Less(i, j int) bool { return q.items[i].at.Before(q.items[j].at) }
func (q *staleQueue) Swap(i, j int) {
	q.items[i], q.items[j] = q.items[j], q.items[i]
	q.items[i].i, q.items[j].i = i, j
}
func (q *staleQueue) Push(x any) {
	it := x.(*staleItem)
	it.i = len(q.items)
	q.items = append(q.items, it)
	q.index[it.name] = it
}
func (q *staleQueue) Pop() any {
	it := q.items[len(q.items)-1]
	q.items[len(q.items)-1] = nil
	q.items = q.items[:len(q.items)-1]
	delete(q.index, it.name)
	return it
}
