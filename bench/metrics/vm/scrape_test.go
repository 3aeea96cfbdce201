package vm

import (
	"fmt"
	"testing"

	"github.com/monitor-dev/monitor/bench/metrics/fixture"
)

// BenchmarkScrape: one scrape of the VictoriaMetrics variant, plain text
// (it writes no gzip), as bench/metrics's BenchmarkScrape.
//
//	cd bench/metrics/vm && go test -run '^$' -bench Scrape -benchmem -count 3 .
func BenchmarkScrape(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		h := Handler(fixture.New(n))
		b.Run(fmt.Sprintf("vm/checks=%d/gzip=false", n), func(b *testing.B) {
			var bytes int64
			for b.Loop() {
				bytes = fixture.Scrape(h, false)
			}
			b.ReportMetric(float64(bytes), "bytes/scrape")
		})
	}
}
