// Package vm is the VictoriaMetrics variant of bench/metrics:
// github.com/VictoriaMetrics/metrics v1.44.0 holds the per-check series
// (gauges set from the snapshot at each scrape, counters, a
// PrometheusHistogram with the daemon's le buckets) and client_golang keeps
// the Go and process collectors. It is a module of its own so that the
// daemon's go.mod does not carry VictoriaMetrics for this comparison.
package vm

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	vmmetrics "github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/common/expfmt"

	"github.com/monitor-dev/monitor/bench/metrics/fixture"
	"github.com/monitor-dev/monitor/check"
)

var buckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

type perCheck struct {
	status, severity     [3]*vmmetrics.Gauge
	lastRun, age, newest *vmmetrics.Gauge
	runs                 [3]*vmmetrics.Counter
	duration             *vmmetrics.PrometheusHistogram
	ran                  bool
}

// Handler builds the variant over f.
func Handler(f *fixture.Fixture) http.Handler {
	vmmetrics.ExposeMetadata(true) // # HELP and # TYPE lines (VictoriaMetrics has no help text: empty)
	set := vmmetrics.NewSet()
	per := map[string]*perCheck{}
	for _, sp := range f.Specs {
		c := &perCheck{}
		l := fmt.Sprintf(`check=%q`, sp.Name)
		set.NewGauge(fmt.Sprintf(`monitor_check_info{%s,kind=%q,component=%q}`, l, sp.Kind, sp.Component), nil).Set(1)
		for i, st := range check.Statuses {
			c.status[i] = set.NewGauge(fmt.Sprintf(`monitor_check_status{%s,status=%q}`, l, st), nil)
			c.runs[i] = set.NewCounter(fmt.Sprintf(`monitor_check_runs_total{%s,status=%q}`, l, st))
		}
		for i, sev := range check.Severities {
			c.severity[i] = set.NewGauge(fmt.Sprintf(`monitor_check_severity{%s,severity=%q}`, l, sev), nil)
		}
		if a, ok := sp.Config.(interface {
			AgeLimits() (maxAge, criticalAge time.Duration)
		}); ok {
			maxAge, critical := a.AgeLimits()
			set.NewGauge(fmt.Sprintf(`monitor_freshness_max_age_seconds{%s}`, l), nil).Set(maxAge.Seconds())
			if critical > 0 {
				set.NewGauge(fmt.Sprintf(`monitor_freshness_critical_age_seconds{%s}`, l), nil).Set(critical.Seconds())
			}
		}
		per[sp.Name] = c
	}
	for _, r := range f.Results {
		c := per[r.Check]
		if !c.ran {
			l := fmt.Sprintf(`check=%q`, r.Check)
			c.lastRun = set.NewGauge(fmt.Sprintf(`monitor_check_last_run_timestamp_seconds{%s}`, l), nil)
			c.age = set.NewGauge(fmt.Sprintf(`monitor_freshness_age_seconds{%s}`, l), nil)
			c.newest = set.NewGauge(fmt.Sprintf(`monitor_freshness_newest_timestamp_seconds{%s}`, l), nil)
			c.duration = set.NewPrometheusHistogramExt(fmt.Sprintf(`monitor_check_duration_seconds{%s}`, l), buckets)
			c.ran = true
		}
		c.runs[slices.Index(check.Statuses, r.Status)].Inc()
		c.duration.Update(r.Duration.Seconds())
	}
	base := fixture.Base()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The state sets and ages come from the snapshot, as of this scrape.
		v := f.Snap.View()
		for _, res := range v.Checks {
			c := per[res.Check]
			for i, st := range check.Statuses {
				c.status[i].Set(b2f(res.Status == st))
			}
			for i, sev := range check.Severities {
				c.severity[i].Set(b2f(res.Severity == sev))
			}
			if raw, ok := v.Raw[res.Check]; ok && c.ran {
				c.lastRun.Set(float64(raw.CheckedAt.UnixMilli()) / 1000)
				c.age.Set(max(v.GeneratedAt.Sub(raw.NewestAt).Seconds(), 0))
				c.newest.Set(float64(raw.NewestAt.UnixMilli()) / 1000)
			}
		}
		mfs, _ := base.Gather()
		format := expfmt.NewFormat(expfmt.TypeTextPlain)
		w.Header().Set("Content-Type", string(format))
		enc := expfmt.NewEncoder(w, format)
		for _, mf := range mfs {
			_ = enc.Encode(mf)
		}
		set.WritePrometheus(w)
	})
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
