package snapshot

import (
	"fmt"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// BenchmarkRender10000 is what one rendering of the 10,000-check bodies
// costs, step by step (go test -run '^$' -bench Render ./snapshot/).
func BenchmarkRender10000(b *testing.B) {
	c := newClock()
	var specs []check.Spec
	for i := range 10000 {
		specs = append(specs, spec(fmt.Sprintf("pipeline_%05d_freshness", i), "freshness"))
	}
	s := New(specs, c.now)
	for i, sp := range specs {
		r := result(sp, check.Pass, check.Info, c.now().Add(-time.Duration(i%50)*time.Second))
		r.Message = fmt.Sprintf("last heartbeat is %ds old (max 1h)", i%600)
		r.ObservedValue, r.ObservedUnit, r.Duration = check.Value(float64(i%600)), "s", time.Millisecond
		s.Record(r)
	}
	v := s.view(false)
	b.Run("view", func(b *testing.B) {
		for b.Loop() {
			s.view(false)
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			renderHealth(v)
		}
	})
	b.Run("health+json", func(b *testing.B) {
		for b.Loop() {
			renderIETF(v)
		}
	})
	r := renderHealth(v)
	b.Run("etag", func(b *testing.B) {
		for b.Loop() {
			etag(200, r.Body)
		}
	})
	b.Run("gzip", func(b *testing.B) {
		for b.Loop() {
			(&Rendered{Body: r.Body, ETag: r.ETag}).Gzip()
		}
	})
	b.Run("filter-FAIL", func(b *testing.B) {
		for b.Loop() {
			_, _ = r.filter(Filter{Statuses: []check.Status{check.Fail}})
		}
	})
}
