// Package benchmetrics compares ways to expose the check series at 1,000 and
// 10,000 heartbeat checks; see README.md. The VictoriaMetrics variant is in
// bench/metrics/vm, a module of its own, so that the daemon's go.mod does
// not carry a library only this comparison uses.
package benchmetrics

import (
	"log"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/monitor-dev/monitor/bench/metrics/fixture"
	"github.com/monitor-dev/monitor/bench/metrics/legacy"
	"github.com/monitor-dev/monitor/metrics"
)

var errLog = log.New(os.Stderr, "", 0)

// Variants are the handlers compared here, by name.
var Variants = map[string]func(f *fixture.Fixture) http.Handler{
	// before: client_golang vecs for runs and durations and a collector
	// building const metrics from the snapshot on every scrape, promhttp.
	"before": func(f *fixture.Fixture) http.Handler {
		reg := fixture.Base()
		m := legacy.New(reg, f.Snap)
		m.SetChecks(f.Specs)
		for _, r := range f.Results {
			m.Observe(r)
		}
		return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: errLog, ErrorHandling: promhttp.ContinueOnError})
	},
	// cached: client_golang with every per-check series built once and
	// kept (its best case: nothing is rebuilt between scrapes); a custom
	// collector hands them to Gather, promhttp encodes.
	"cached": func(f *fixture.Fixture) http.Handler {
		m := legacy.New(prometheus.NewRegistry(), f.Snap)
		m.SetChecks(f.Specs)
		for _, r := range f.Results {
			m.Observe(r)
		}
		ch := make(chan prometheus.Metric, 1024)
		var cached []prometheus.Metric
		done := make(chan struct{})
		go func() {
			for mt := range ch {
				cached = append(cached, mt)
			}
			close(done)
		}()
		for _, c := range m.Collectors() {
			c.Collect(ch)
		}
		close(ch)
		<-done
		reg := fixture.Base()
		reg.MustRegister(cachedCollector(cached))
		return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: errLog, ErrorHandling: promhttp.ContinueOnError})
	},
	// text: the metrics package, per-check state written as text
	// (metrics.Handler), the daemon's registry before it.
	"text": func(f *fixture.Fixture) http.Handler {
		m := metrics.New(f.Snap)
		m.SetChecks(f.Specs)
		for _, r := range f.Results {
			m.Observe(r)
		}
		return metrics.Handler(fixture.Base(), m, errLog)
	},
}

// cachedCollector sends metrics built beforehand (unchecked: no Describe).
type cachedCollector []prometheus.Metric

func (c cachedCollector) Describe(chan<- *prometheus.Desc) {}
func (c cachedCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c {
		ch <- m
	}
}
