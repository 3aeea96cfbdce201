package benchmetrics

import (
	"fmt"
	"testing"

	"github.com/monitor-dev/monitor/bench/metrics/fixture"
)

// BenchmarkScrape: one /metrics scrape as Prometheus asks for it (its
// default Accept), plain and gzip, per variant and number of checks.
//
//	go test -run '^$' -bench 'Scrape$' -benchmem -count 3 ./bench/metrics/
func BenchmarkScrape(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		f := fixture.New(n)
		for _, name := range []string{"before", "cached", "text"} {
			h := Variants[name](f)
			for _, gz := range []bool{false, true} {
				b.Run(fmt.Sprintf("%s/checks=%d/gzip=%v", name, n, gz), func(b *testing.B) {
					var bytes int64
					for b.Loop() {
						bytes = fixture.Scrape(h, gz)
					}
					b.ReportMetric(float64(bytes), "bytes/scrape")
				})
			}
		}
	}
}

// BenchmarkScrapeProtobuf: a scrape asking for protobuf, which the text
// writer leaves to promhttp over Metrics.Gather (its text, parsed).
//
//	go test -run '^$' -bench ScrapeProtobuf -benchmem -count 3 ./bench/metrics/
func BenchmarkScrapeProtobuf(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		f := fixture.New(n)
		for _, name := range []string{"before", "text"} {
			h := Variants[name](f)
			b.Run(fmt.Sprintf("%s/checks=%d", name, n), func(b *testing.B) {
				var bytes int64
				for b.Loop() {
					bytes = fixture.ScrapeAs(h, fixture.Protobuf, false)
				}
				b.ReportMetric(float64(bytes), "bytes/scrape")
			})
		}
	}
}
