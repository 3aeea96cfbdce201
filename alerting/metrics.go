package alerting

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monitor-dev/monitor/check"
)

var (
	descFiring = prometheus.NewDesc("monitor_alerts_firing",
		"Alerts firing, by check and severity: the check's own alert and its SLO burn-rate alerts (escalations are counted in monitor_escalations_open).",
		[]string{"check", "severity"}, nil)
	descEscalations = prometheus.NewDesc("monitor_escalations_open",
		"Operator escalations open, by their severity (LOW, MEDIUM, HIGH).",
		[]string{"severity"}, nil)
)

// escalationSeverities are the escalation severities, each always exported.
var escalationSeverities = []string{"LOW", "MEDIUM", "HIGH"}

// Collector exports monitor_alerts_firing{check,severity} (every configured
// check with all three severities, 0 when none fires; escalations, whose
// handles are free text, are not in it) and monitor_escalations_open
// {severity} (LOW, MEDIUM, HIGH, always present).
func (e *Engine) Collector() prometheus.Collector { return collector{e} }

type collector struct{ e *Engine }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descFiring
	ch <- descEscalations
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	e := c.e
	e.mu.Lock()
	firing := map[string]map[check.Severity]int{}
	for name := range e.specs {
		firing[name] = map[check.Severity]int{}
	}
	for _, a := range e.alerts {
		if a.Check == "" || strings.HasPrefix(a.ID, prefixEscalation) {
			continue
		}
		if firing[a.Check] == nil {
			firing[a.Check] = map[check.Severity]int{}
		}
		if a.Firing {
			firing[a.Check][a.Severity]++
		}
	}
	open := map[string]int{}
	for _, esc := range e.escalations {
		open[esc.Severity]++
	}
	e.mu.Unlock()
	for name, by := range firing {
		for _, sev := range check.Severities {
			ch <- prometheus.MustNewConstMetric(descFiring, prometheus.GaugeValue, float64(by[sev]), name, string(sev))
		}
	}
	for _, sev := range escalationSeverities {
		ch <- prometheus.MustNewConstMetric(descEscalations, prometheus.GaugeValue, float64(open[sev]), sev)
	}
}
