package alerting

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monitor-dev/monitor/check"
)

var descEscalations = prometheus.NewDesc("monitor_escalations_open",
	"Operator escalations open, by their severity (LOW, MEDIUM, HIGH).",
	[]string{"severity"}, nil)

// escalationSeverities are the escalation severities, each always exported.
var escalationSeverities = []string{"LOW", "MEDIUM", "HIGH"}

// Collector exports monitor_escalations_open{severity} (LOW, MEDIUM,
// HIGH, always present). monitor_alerts_firing is written by the metrics
// package from Firing (metrics.Metrics.SetFiring): 3 series per check are
// cheaper as text than as client_golang metrics.
func (e *Engine) Collector() prometheus.Collector { return collector{e} }

type collector struct{ e *Engine }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descEscalations
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	e := c.e
	e.mu.Lock()
	open := map[string]int{}
	for _, esc := range e.escalations {
		open[esc.Severity]++
	}
	e.mu.Unlock()
	for _, sev := range escalationSeverities {
		ch <- prometheus.MustNewConstMetric(descEscalations, prometheus.GaugeValue, float64(open[sev]), sev)
	}
}

// Firing calls visit for every firing alert of a check (its own and its
// SLO burn-rate alerts; not escalations) with its severity
// (metrics.FiringSource).
func (e *Engine) Firing(visit func(check string, sev check.Severity)) {
	type fired struct {
		check string
		sev   check.Severity
	}
	e.mu.Lock()
	var out []fired
	for _, a := range e.alerts {
		if a.Firing && a.Check != "" && !strings.HasPrefix(a.ID, prefixEscalation) {
			out = append(out, fired{a.Check, a.Severity})
		}
	}
	e.mu.Unlock()
	for _, f := range out {
		visit(f.check, f.sev)
	}
}
