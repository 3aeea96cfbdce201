package outbox

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monitor-dev/monitor/store"
)

// metrics are the contract's monitor_notifications_* series.
type metrics struct {
	total   *prometheus.CounterVec
	lost    *prometheus.CounterVec
	latency *prometheus.HistogramVec
	pendDsc *prometheus.Desc
	deadDsc *prometheus.Desc

	mu      sync.Mutex
	pending map[string]int // per receiver, as the store last counted, less what finished since
	dead    map[string]int // per receiver, as the store last counted, plus the deliveries given up since
	known   []string       // configured receivers: always exported
}

func newMetrics() *metrics {
	return &metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "monitor", Name: "notifications_total",
			Help: "Notification delivery attempts by outcome: sent, retried (failed, another try is scheduled) or dead_lettered (given up).",
		}, []string{"receiver", "outcome"}),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "monitor", Name: "notifications_claims_lost_total",
			Help: "Delivery attempts not recorded because this dispatcher's claim lapsed and another dispatcher took the delivery over (the receiver may have had the notification twice, with one id).",
		}, []string{"receiver"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "monitor", Name: "notification_delivery_seconds",
			Help:    "Time from a notification becoming due to its delivery, retries included.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800},
		}, []string{"receiver"}),
		pendDsc: prometheus.NewDesc("monitor_notifications_pending",
			"Outbox deliveries not yet sent (nor dead-lettered).", []string{"receiver"}, nil),
		deadDsc: prometheus.NewDesc("monitor_notifications_dead_letters",
			"Deliveries given up and kept as dead letters (until replayed or past retention).", []string{"receiver"}, nil),
		pending: map[string]int{},
		dead:    map[string]int{},
	}
}

// configured makes the series of these receivers exist (at zero).
func (m *metrics) configured(names []string) {
	for _, n := range names {
		for _, o := range []string{store.OutcomeSent, store.OutcomeRetry, store.OutcomeDead} {
			m.total.WithLabelValues(n, o)
		}
		m.latency.WithLabelValues(n)
		m.lost.WithLabelValues(n)
	}
	m.mu.Lock()
	m.known = names
	m.mu.Unlock()
}

func (m *metrics) setPending(counts map[string]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.pending)
	for k, v := range counts {
		m.pending[k] = v
	}
}

func (m *metrics) setDead(counts map[string]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.dead)
	for k, v := range counts {
		m.dead[k] = v
	}
}

func (m *metrics) pendingCounts() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int, len(m.pending))
	for k, v := range m.pending {
		out[k] = v
	}
	return out
}

func (m *metrics) pendingOf(receiver string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pending[receiver]
}

// claimLost counts an attempt whose claim was lost.
func (m *metrics) claimLost(receiver string) { m.lost.WithLabelValues(receiver).Inc() }

// attempted counts a recorded attempt.
func (m *metrics) attempted(a store.Attempt, createdAt time.Time) {
	m.total.WithLabelValues(a.Receiver, a.Outcome).Inc()
	if a.Outcome == store.OutcomeRetry {
		return
	}
	if a.Outcome == store.OutcomeSent {
		m.latency.WithLabelValues(a.Receiver).Observe(max(a.At.Add(a.Duration).Sub(createdAt), 0).Seconds())
	}
	m.mu.Lock()
	if m.pending[a.Receiver] > 0 {
		m.pending[a.Receiver]--
	}
	if a.Outcome == store.OutcomeDead {
		m.dead[a.Receiver]++
	}
	m.mu.Unlock()
}

// Collector returns the collector of monitor_notifications_total,
// monitor_notifications_pending, monitor_notifications_dead_letters,
// monitor_notifications_claims_lost_total and
// monitor_notification_delivery_seconds.
func (d *Dispatcher) Collector() prometheus.Collector { return d.m }

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	m.total.Describe(ch)
	m.lost.Describe(ch)
	m.latency.Describe(ch)
	ch <- m.pendDsc
	ch <- m.deadDsc
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.total.Collect(ch)
	m.lost.Collect(ch)
	m.latency.Collect(ch)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.collectCounts(ch, m.pendDsc, m.pending)
	m.collectCounts(ch, m.deadDsc, m.dead)
}

// collectCounts exports counts: every configured receiver (at zero when it
// has none) and any other receiver with some (one removed from the config).
func (m *metrics) collectCounts(ch chan<- prometheus.Metric, desc *prometheus.Desc, counts map[string]int) {
	seen := map[string]bool{}
	for _, n := range m.known {
		seen[n] = true
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(counts[n]), n)
	}
	for n, v := range counts {
		if !seen[n] && v > 0 {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(v), n)
		}
	}
}
