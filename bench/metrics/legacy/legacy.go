// Package legacy is metrics/metrics.go as of f876c08 (client_golang vecs and
// a const-metric collector over the snapshot), kept for bench/metrics to
// compare against. Package metrics turned results into the contract's Prometheus series. The
// state-set gauges are read from the snapshot at scrape time, so staleness
// and depends_on show without waiting for a run; counters and histograms are
// fed as results arrive.
package legacy

import (
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/snapshot"
)

// Metrics owns the monitor's check series.
type Metrics struct {
	snap     *snapshot.Snapshot
	duration *prometheus.HistogramVec
	runs     *prometheus.CounterVec

	mu    sync.Mutex
	known map[string]bool // checks whose run series exist
}

var (
	descInfo = prometheus.NewDesc("monitor_check_info",
		"Always 1: a configured check's kind and status page component (empty for a private check).",
		[]string{"check", "kind", "component"}, nil)
	descStatus = prometheus.NewDesc("monitor_check_status",
		"Current status of a check: 1 for the current status, 0 for the others.", []string{"check", "status"}, nil)
	descSeverity = prometheus.NewDesc("monitor_check_severity",
		"Current severity of a check: 1 for the current severity, 0 for the others.", []string{"check", "severity"}, nil)
	descLastRun = prometheus.NewDesc("monitor_check_last_run_timestamp_seconds",
		"Unix time of the check's last run.", []string{"check"}, nil)
	descAge = prometheus.NewDesc("monitor_freshness_age_seconds",
		"Age of the newest record a freshness check saw, as of this scrape.", []string{"check"}, nil)
	descNewest = prometheus.NewDesc("monitor_freshness_newest_timestamp_seconds",
		"Unix time of the newest record a freshness check saw.", []string{"check"}, nil)
	descMaxAge = prometheus.NewDesc("monitor_freshness_max_age_seconds",
		"A freshness check's max_age: data older than this fails the check.", []string{"check"}, nil)
	descCriticalAge = prometheus.NewDesc("monitor_freshness_critical_age_seconds",
		"A freshness check's critical_age, when set: data older than this fails the check as CRITICAL and is outside its SLA.",
		[]string{"check"}, nil)
	descCertExpiry = prometheus.NewDesc("monitor_tls_cert_expiry_timestamp_seconds",
		"Unix time the server's leaf certificate expires, as an http or tls check last saw it.", []string{"check"}, nil)
	descLinks = prometheus.NewDesc("monitor_link_results",
		"Links of a link check by the status of their last check.", []string{"check", "status"}, nil)
	descLinkFailures = prometheus.NewDesc("monitor_link_failures",
		"Failing links of a link check by the kind of failure of their last check (the links API's error).",
		[]string{"check", "reason"}, nil)
	descLinkUp = prometheus.NewDesc("monitor_link_up",
		"1 if the link passed its last check (checks with per_link_metrics only).", []string{"check", "url"}, nil)
	descLinkCode = prometheus.NewDesc("monitor_link_status_code",
		"Final HTTP status code of the link, 0 when none (checks with per_link_metrics only).", []string{"check", "url"}, nil)
	descDBConns = prometheus.NewDesc("monitor_db_connections",
		"Connections in use on the server of a db check with headroom, by state.", []string{"check", "state"}, nil)
	descDBMax = prometheus.NewDesc("monitor_db_max_connections",
		"Connection limit a db check's headroom is measured against (the slots ordinary roles may use, or the check's override).",
		[]string{"check"}, nil)
)

// Version is the version label of monitor_build_info, read by New.
// cmd/monitor sets it before New to the version `monitor version` prints
// (its main.version, set with -ldflags "-X main.version=v1.2.3", else the
// module version of `go install ...@vX`); left as "dev" otherwise.
var Version = "dev"

// New registers the check series on reg.
func New(reg prometheus.Registerer, snap *snapshot.Snapshot) *Metrics {
	m := &Metrics{
		snap: snap,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "monitor_check_duration_seconds",
			Help:    "How long a check's probe took.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"check"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "monitor_check_runs_total",
			Help: "Check runs by the status they ended with.",
		}, []string{"check", "status"}),
		known: map[string]bool{},
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "monitor_build_info",
		Help:        "Build information; always 1.",
		ConstLabels: prometheus.Labels{"version": Version, "goversion": runtime.Version()},
	})
	build.Set(1)
	reg.MustRegister(m.duration, m.runs, build, stateCollector{snap})
	return m
}

// SetChecks creates the run series of every check at zero (so rate() works
// from the first run) and deletes the series of checks no longer configured.
func (m *Metrics) SetChecks(specs []check.Spec) {
	m.mu.Lock()
	defer m.mu.Unlock()
	want := make(map[string]bool, len(specs))
	for _, sp := range specs {
		want[sp.Name] = true
		if !m.known[sp.Name] {
			for _, st := range check.Statuses {
				m.runs.WithLabelValues(sp.Name, string(st))
			}
		}
	}
	for name := range m.known {
		if !want[name] {
			m.duration.DeleteLabelValues(name)
			for _, st := range check.Statuses {
				m.runs.DeleteLabelValues(name, string(st))
			}
		}
	}
	m.known = want
}

// Observe counts one finished run.
func (m *Metrics) Observe(r check.Result) {
	m.runs.WithLabelValues(r.Check, string(r.Status)).Inc()
	m.duration.WithLabelValues(r.Check).Observe(r.Duration.Seconds())
}

// stateCollector reads the snapshot at scrape time.
type stateCollector struct{ snap *snapshot.Snapshot }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInfo, descStatus, descSeverity, descLastRun, descAge, descNewest,
		descMaxAge, descCriticalAge, descCertExpiry, descLinks, descLinkFailures, descLinkUp, descLinkCode,
		descDBConns, descDBMax} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	for _, sp := range c.snap.Specs() {
		ch <- prometheus.MustNewConstMetric(descInfo, prometheus.GaugeValue, 1, sp.Name, string(sp.Kind), sp.Component)
		if a, ok := sp.Config.(interface {
			AgeLimits() (maxAge, criticalAge time.Duration)
		}); ok {
			maxAge, critical := a.AgeLimits()
			ch <- prometheus.MustNewConstMetric(descMaxAge, prometheus.GaugeValue, maxAge.Seconds(), sp.Name)
			if critical > 0 {
				ch <- prometheus.MustNewConstMetric(descCriticalAge, prometheus.GaugeValue, critical.Seconds(), sp.Name)
			}
		}
	}
	v := c.snap.View()
	for _, r := range v.Checks {
		for _, st := range check.Statuses {
			ch <- prometheus.MustNewConstMetric(descStatus, prometheus.GaugeValue, b2f(r.Status == st), r.Check, string(st))
		}
		for _, sev := range check.Severities {
			ch <- prometheus.MustNewConstMetric(descSeverity, prometheus.GaugeValue, b2f(r.Severity == sev), r.Check, string(sev))
		}
		raw, ran := v.Raw[r.Check]
		if !ran {
			continue
		}
		ch <- prometheus.MustNewConstMetric(descLastRun, prometheus.GaugeValue, unix(raw.CheckedAt), r.Check)
		if !raw.NewestAt.IsZero() { // a kind that reads a newest record (freshness)
			age := v.GeneratedAt.Sub(raw.NewestAt).Seconds()
			if age < 0 {
				age = 0
			}
			ch <- prometheus.MustNewConstMetric(descAge, prometheus.GaugeValue, age, r.Check)
			ch <- prometheus.MustNewConstMetric(descNewest, prometheus.GaugeValue, unix(raw.NewestAt), r.Check)
		}
		if !raw.CertNotAfter.IsZero() { // a kind that sees a TLS certificate (http, tls)
			ch <- prometheus.MustNewConstMetric(descCertExpiry, prometheus.GaugeValue, unix(raw.CertNotAfter), r.Check)
		}
		if raw.Kind.Behaviour().Items {
			c.collectLinks(ch, raw)
		}
		if conns := raw.Connections; conns != nil { // a db check with headroom
			for state, n := range conns.ByState {
				ch <- prometheus.MustNewConstMetric(descDBConns, prometheus.GaugeValue, float64(n), r.Check, state)
			}
			ch <- prometheus.MustNewConstMetric(descDBMax, prometheus.GaugeValue, float64(conns.Max), r.Check)
		}
	}
}

func (c stateCollector) collectLinks(ch chan<- prometheus.Metric, raw check.Result) {
	counts := map[check.Status]int{}
	failures := map[check.Reason]int{}
	for _, l := range raw.Links {
		counts[l.Status]++
		if l.Status != check.Pass && l.Error != "" {
			failures[linkReason(l.Error)]++
		}
	}
	for _, st := range check.Statuses {
		ch <- prometheus.MustNewConstMetric(descLinks, prometheus.GaugeValue, float64(counts[st]), raw.Check, string(st))
	}
	for _, reason := range linkReasons {
		ch <- prometheus.MustNewConstMetric(descLinkFailures, prometheus.GaugeValue, float64(failures[reason]), raw.Check, string(reason))
	}
	sp, ok := c.snap.Spec(raw.Check)
	if !ok || !sp.PerItemMetrics() {
		return
	}
	seen := make(map[string]bool, len(raw.Links))
	for _, l := range raw.Links {
		label := linkLabel(l.URL) // never a secret in a label
		if seen[label] {          // one series per label
			continue
		}
		seen[label] = true
		ch <- prometheus.MustNewConstMetric(descLinkUp, prometheus.GaugeValue, b2f(l.Status == check.Pass), raw.Check, label)
		ch <- prometheus.MustNewConstMetric(descLinkCode, prometheus.GaugeValue, float64(l.StatusCode), raw.Check, label)
	}
}

// linkReasons are the reason label values of monitor_link_failures: the
// kinds of failure of a link (check.LinkErr*), and error for any other.
// All are exported, at 0 when no link fails that way.
var linkReasons = []check.Reason{check.LinkErrDNS, check.LinkErrConnect, check.LinkErrTLS, check.LinkErrTimeout,
	check.LinkErrHTTPStatus, check.LinkErrRedirects, check.LinkErrBlocked, check.LinkErrInvalidURL, check.ReasonError}

// linkReason keeps the label set bounded: a reason outside linkReasons
// counts as error.
func linkReason(r check.Reason) check.Reason {
	if slices.Contains(linkReasons, r) {
		return r
	}
	return check.ReasonError
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unix(t interface{ UnixMilli() int64 }) float64 { return float64(t.UnixMilli()) / 1000 }

// linkLabel is a link's URL as a label value, redacted as everywhere else
// (check.RedactURL): links that differ only in secrets share a series.
func linkLabel(raw string) string { return check.RedactURL(raw) }

// Collectors are the check series' collectors (bench/metrics caches what
// they collect).
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.duration, m.runs, stateCollector{m.snap}}
}
