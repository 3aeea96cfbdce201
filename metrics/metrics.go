// Package metrics turns results into the contract's Prometheus series. The
// state-set gauges are read from the snapshot at scrape time, so staleness
// and depends_on show without waiting for a run; counters and histograms are
// fed as results arrive.
//
// The per-check families are written straight as Prometheus text (WriteText)
// from per-check state kept between scrapes: escaped label values and
// static values prepared once per configuration, counts as plain numbers.
// A scrape at 10,000 checks builds no metric family tree (client_golang's
// Gather allocates ~30 dto objects per check; see bench/metrics). Handler
// serves them after the registry's own families (Go, process, store, SLO,
// alerts, ...). For what the text writer does not cover (protobuf, a
// name[] filter) Metrics is also a prometheus.Gatherer: the same traversal
// builds metric families instead of text, so every format answers the same
// series.
package metrics

import (
	"io"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/snapshot"
)

// family is one metric family: its name, HELP and TYPE.
type family struct{ name, help, typ string }

var (
	famBuild = family{"monitor_build_info", "Build information; always 1.", "gauge"}
	famInfo  = family{"monitor_check_info",
		"Always 1: a configured check's kind and status page component (empty for a private check).", "gauge"}
	famStatus = family{"monitor_check_status",
		"Current status of a check: 1 for the current status, 0 for the others.", "gauge"}
	famSeverity = family{"monitor_check_severity",
		"Current severity of a check: 1 for the current severity, 0 for the others.", "gauge"}
	famLastRun = family{"monitor_check_last_run_timestamp_seconds", "Unix time of the check's last run.", "gauge"}
	famRuns    = family{"monitor_check_runs_total", "Check runs by the status they ended with.", "counter"}
	famDur     = family{"monitor_check_duration_seconds", "How long a check's probe took.", "histogram"}
	famAge     = family{"monitor_freshness_age_seconds",
		"Age of the newest record a freshness check saw, as of this scrape.", "gauge"}
	famNewest = family{"monitor_freshness_newest_timestamp_seconds",
		"Unix time of the newest record a freshness check saw.", "gauge"}
	famMaxAge = family{"monitor_freshness_max_age_seconds",
		"A freshness check's max_age: data older than this fails the check.", "gauge"}
	famCriticalAge = family{"monitor_freshness_critical_age_seconds",
		"A freshness check's critical_age, when set: data older than this fails the check as CRITICAL and is outside its SLA.",
		"gauge"}
	famCertExpiry = family{"monitor_tls_cert_expiry_timestamp_seconds",
		"Unix time the server's leaf certificate expires, as an http or tls check last saw it.", "gauge"}
	famLinks = family{"monitor_link_results",
		"Links of a link check by the status of their last check.", "gauge"}
	famLinkFailures = family{"monitor_link_failures",
		"Failing links of a link check by the kind of failure of their last check (the links API's error).", "gauge"}
	famLinkUp = family{"monitor_link_up",
		"1 if the link passed its last check (checks with per_link_metrics only).", "gauge"}
	famLinkCode = family{"monitor_link_status_code",
		"Final HTTP status code of the link, 0 when none (checks with per_link_metrics only).", "gauge"}
	famDBConns = family{"monitor_db_connections",
		"Connections in use on the server of a db check with headroom, by state.", "gauge"}
	famFiring = family{"monitor_alerts_firing",
		"Alerts firing, by check and severity: the check's own alert and its SLO burn-rate alerts (escalations are counted in monitor_escalations_open).",
		"gauge"}
	famDBMax = family{"monitor_db_max_connections",
		"Connection limit a db check's headroom is measured against (the slots ordinary roles may use, or the check's override).",
		"gauge"}
)

// The sample names of monitor_check_duration_seconds.
const (
	durBucket = "monitor_check_duration_seconds_bucket"
	durSum    = "monitor_check_duration_seconds_sum"
	durCount  = "monitor_check_duration_seconds_count"
)

// durationBuckets are the upper bounds of monitor_check_duration_seconds.
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Version is the version label of monitor_build_info, read by New.
// cmd/monitor sets it before New to the version `monitor version` prints
// (its main.version, set with -ldflags "-X main.version=v1.2.3", else the
// module version of `go install ...@vX`); left as "dev" otherwise.
var Version = "dev"

// Metrics owns the monitor's check series.
type Metrics struct {
	snap  *snapshot.Snapshot
	build []pair // monitor_build_info's labels

	mu sync.Mutex // serialises SetChecks
	// checks is the configuration's per-check state; SetChecks replaces it
	// whole, so a scrape reads the one it loaded without a lock.
	checks atomic.Pointer[checkSet]
	// firing is the alerting engine (SetFiring); nil: no
	// monitor_alerts_firing.
	firing atomic.Pointer[FiringSource]
	// owned is SetOwned's filter; nil: every check.
	owned atomic.Pointer[func(string) bool]
}

// SetOwned limits the families that describe a check's current state
// (status, severity, info, last run, freshness, certificate, links,
// connections, firing alerts) to the checks for which owned is true: in
// cluster mode, those whose lease this replica holds, so that summing or
// taking the max by check across replicas counts each check once. The run
// counters and duration histograms stay for every configured check: they
// count this replica's own runs (0 for a check it never ran), so their sum
// across replicas is every run. Nil exports every check.
func (m *Metrics) SetOwned(owned func(check string) bool) {
	if owned == nil {
		m.owned.Store(nil)
		return
	}
	m.owned.Store(&owned)
}

// FiringSource tells which alerts fire: Firing calls visit once for each
// firing alert of a check (its own alert, its SLO burn-rate alerts) with
// the alert's severity. alerting.Engine is one.
type FiringSource interface {
	Firing(visit func(check string, sev check.Severity))
}

// SetFiring exports monitor_alerts_firing{check,severity} from src: every
// configured check with all three severities, 0 where nothing fires.
func (m *Metrics) SetFiring(src FiringSource) { m.firing.Store(&src) }

type checkSet struct {
	byName map[string]*series
	sorted []*series // by name
}

// series is what a check's families need besides the snapshot: its label
// and static values, rendered once per configuration, and its counts.
type series struct {
	name  string
	label string // `check="name"`, escaped
	info  []pair // monitor_check_info's component and kind
	// maxAge and criticalAge are the values of monitor_freshness_*_age_seconds
	// (0: no series).
	maxAge, criticalAge float64
	perItem             bool
	c                   *counts // shared by the series of the same check across reloads
}

// counts are a check's run counter and duration histogram.
type counts struct {
	mu      sync.Mutex
	runs    [3]uint64 // by index in check.Statuses
	buckets [12]uint64
	count   uint64
	sum     float64
}

// pair is a label besides check, with its text form (`,name="value"`,
// escaped) rendered once.
type pair struct{ name, value, text string }

func newPair(name, value string) pair {
	return pair{name, value, "," + name + `="` + string(appendEscaped(nil, value)) + `"`}
}

// New returns the check series of snap's checks; SetChecks declares them.
// Serve them with Handler; Metrics is also a prometheus.Gatherer.
func New(snap *snapshot.Snapshot) *Metrics {
	m := &Metrics{snap: snap, build: []pair{newPair("goversion", runtime.Version()), newPair("version", Version)}}
	m.checks.Store(&checkSet{byName: map[string]*series{}})
	return m
}

// SetChecks creates the series of every check, run counters at zero (so
// rate() works from the first run), and drops the series of checks no
// longer configured. Counts of a check that stays are kept.
func (m *Metrics) SetChecks(specs []check.Spec) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.checks.Load()
	next := &checkSet{byName: make(map[string]*series, len(specs)), sorted: make([]*series, 0, len(specs))}
	for _, sp := range specs {
		if next.byName[sp.Name] != nil {
			continue
		}
		s := newSeries(sp)
		if prev := old.byName[sp.Name]; prev != nil {
			s.c = prev.c
		}
		next.byName[sp.Name] = s
		next.sorted = append(next.sorted, s)
	}
	sort.Slice(next.sorted, func(i, j int) bool { return next.sorted[i].name < next.sorted[j].name })
	m.checks.Store(next)
}

func newSeries(sp check.Spec) *series {
	s := &series{name: sp.Name, label: string(appendEscaped([]byte(`check="`), sp.Name)) + `"`,
		info:    []pair{newPair("component", sp.Component), newPair("kind", string(sp.Kind))}, // by name, as client_golang orders them
		perItem: sp.PerItemMetrics(), c: &counts{}}
	if a, ok := sp.Config.(interface {
		AgeLimits() (maxAge, criticalAge time.Duration)
	}); ok {
		maxAge, critical := a.AgeLimits()
		s.maxAge, s.criticalAge = maxAge.Seconds(), critical.Seconds()
	}
	return s
}

// Observe counts one finished run of a configured check.
func (m *Metrics) Observe(r check.Result) {
	s := m.checks.Load().byName[r.Check]
	if s == nil {
		return // removed by a reload while it ran
	}
	i := slices.Index(check.Statuses, r.Status)
	d := r.Duration.Seconds()
	b := sort.SearchFloat64s(durationBuckets, d)
	c := s.c
	c.mu.Lock()
	if i >= 0 {
		c.runs[i]++
	}
	if b < len(c.buckets) {
		c.buckets[b]++
	}
	c.count++
	c.sum += d
	c.mu.Unlock()
}

// The label pairs of the state sets and link failures.
var (
	statusPairs   = pairsOf("status", check.Statuses)
	severityPairs = pairsOf("severity", check.Severities)
	reasonPairs   = pairsOf("reason", linkReasons)
	// bucketLabels are the le labels of the duration histogram, +Inf last.
	bucketLabels = func() []string {
		out := make([]string, 0, len(durationBuckets)+1)
		for _, b := range durationBuckets {
			out = append(out, `,le="`+string(appendFloat(nil, b))+`"`)
		}
		return append(out, `,le="+Inf"`)
	}()
)

func pairsOf[T ~string](name string, values []T) []pair {
	out := make([]pair, len(values))
	for i, v := range values {
		out[i] = newPair(name, string(v))
	}
	return out
}

// sink receives the check families: begin announces a family, and each
// sample or histogram after it belongs to it (s nil: a sample without the
// check label). A family without samples is left out.
type sink interface {
	begin(f family)
	sample(s *series, extra []pair, v float64)
	histogram(s *series, c *counts)
}

// WriteText writes the check families in the Prometheus text format
// (version 0.0.4; also valid as 1.0.0): one group per family.
func (m *Metrics) WriteText(w io.Writer) error {
	t := &textSink{w: w, buf: (*bufPool.Get().(*[]byte))[:0]}
	defer t.release()
	m.write(t)
	return t.flush()
}

// write sends every check family to out, from the per-check state and the
// snapshot as of now.
func (m *Metrics) write(out sink) {
	all := m.checks.Load()
	set := all
	if owned := m.owned.Load(); owned != nil {
		set = &checkSet{byName: make(map[string]*series, len(all.sorted)/2+1)}
		for _, s := range all.sorted {
			if (*owned)(s.name) {
				set.byName[s.name] = s
				set.sorted = append(set.sorted, s)
			}
		}
	}
	v := m.snap.View()
	out.begin(famBuild)
	out.sample(nil, m.build, 1)

	// each calls f for the checks of the snapshot that are configured here,
	// by name, with their raw result when they ran.
	each := func(f func(s *series, r check.Result, raw check.Result, ran bool)) {
		for _, r := range v.Checks {
			if s := set.byName[r.Check]; s != nil {
				raw, ran := v.Raw[r.Check]
				f(s, r, raw, ran)
			}
		}
	}
	out.begin(famInfo)
	each(func(s *series, _, _ check.Result, _ bool) { out.sample(s, s.info, 1) })
	out.begin(famStatus)
	each(func(s *series, r, _ check.Result, _ bool) {
		for i, st := range check.Statuses {
			out.sample(s, statusPairs[i:i+1], b2f(r.Status == st))
		}
	})
	out.begin(famSeverity)
	each(func(s *series, r, _ check.Result, _ bool) {
		for i, sev := range check.Severities {
			out.sample(s, severityPairs[i:i+1], b2f(r.Severity == sev))
		}
	})
	out.begin(famLastRun)
	each(func(s *series, _, raw check.Result, ran bool) {
		if ran {
			out.sample(s, nil, unix(raw.CheckedAt))
		}
	})
	out.begin(famRuns)
	var c counts
	for _, s := range all.sorted {
		s.c.mu.Lock()
		c.runs = s.c.runs
		s.c.mu.Unlock()
		for i := range check.Statuses {
			out.sample(s, statusPairs[i:i+1], float64(c.runs[i]))
		}
	}
	out.begin(famDur)
	for _, s := range all.sorted {
		s.c.mu.Lock()
		c.buckets, c.count, c.sum = s.c.buckets, s.c.count, s.c.sum
		s.c.mu.Unlock()
		if c.count > 0 {
			out.histogram(s, &c)
		}
	}
	out.begin(famAge)
	each(func(s *series, _, raw check.Result, ran bool) {
		if ran && !raw.NewestAt.IsZero() { // a kind that reads a newest record (freshness)
			out.sample(s, nil, max(v.GeneratedAt.Sub(raw.NewestAt).Seconds(), 0))
		}
	})
	out.begin(famNewest)
	each(func(s *series, _, raw check.Result, ran bool) {
		if ran && !raw.NewestAt.IsZero() {
			out.sample(s, nil, unix(raw.NewestAt))
		}
	})
	out.begin(famMaxAge)
	each(func(s *series, _, _ check.Result, _ bool) {
		if s.maxAge > 0 {
			out.sample(s, nil, s.maxAge)
		}
	})
	out.begin(famCriticalAge)
	each(func(s *series, _, _ check.Result, _ bool) {
		if s.criticalAge > 0 {
			out.sample(s, nil, s.criticalAge)
		}
	})
	out.begin(famCertExpiry)
	each(func(s *series, _, raw check.Result, ran bool) {
		if ran && !raw.CertNotAfter.IsZero() { // a kind that sees a TLS certificate (http, tls)
			out.sample(s, nil, unix(raw.CertNotAfter))
		}
	})
	writeLinks(out, set, v)
	if src := m.firing.Load(); src != nil {
		writeFiring(out, set, *src)
	}
	out.begin(famDBConns)
	each(func(s *series, _, raw check.Result, ran bool) {
		if ran && raw.Connections != nil { // a db check with headroom
			states := make([]string, 0, len(raw.Connections.ByState))
			for st := range raw.Connections.ByState {
				states = append(states, st)
			}
			slices.Sort(states)
			for _, st := range states {
				out.sample(s, []pair{newPair("state", st)}, float64(raw.Connections.ByState[st]))
			}
		}
	})
	out.begin(famDBMax)
	each(func(s *series, _, raw check.Result, ran bool) {
		if ran && raw.Connections != nil {
			out.sample(s, nil, float64(raw.Connections.Max))
		}
	})
}

// writeFiring writes monitor_alerts_firing: 3 series per check, counted
// from the few alerts that fire rather than kept per check.
func writeFiring(out sink, set *checkSet, src FiringSource) {
	firing := map[string]*[3]int{}
	src.Firing(func(name string, sev check.Severity) {
		i := slices.Index(check.Severities, sev)
		if i < 0 || set.byName[name] == nil {
			return
		}
		c := firing[name]
		if c == nil {
			c = &[3]int{}
			firing[name] = c
		}
		c[i]++
	})
	out.begin(famFiring)
	var zero [3]int
	for _, s := range set.sorted {
		c := firing[s.name]
		if c == nil {
			c = &zero
		}
		for i := range check.Severities {
			out.sample(s, severityPairs[i:i+1], float64(c[i]))
		}
	}
}

// linkCounts are a link check's links by status and failing links by reason.
type linkCounts struct {
	byStatus [3]int
	byReason []int
}

func writeLinks(out sink, set *checkSet, v snapshot.View) {
	counted := map[string]linkCounts{}
	for _, r := range v.Checks {
		raw, ran := v.Raw[r.Check]
		if set.byName[r.Check] == nil || !ran || !raw.Kind.Behaviour().Items {
			continue
		}
		lc := linkCounts{byReason: make([]int, len(linkReasons))}
		for _, l := range raw.Links {
			if i := slices.Index(check.Statuses, l.Status); i >= 0 {
				lc.byStatus[i]++
			}
			if l.Status != check.Pass && l.Error != "" {
				lc.byReason[slices.Index(linkReasons, linkReason(l.Error))]++
			}
		}
		counted[r.Check] = lc
	}
	if len(counted) == 0 {
		return
	}
	out.begin(famLinks)
	for _, r := range v.Checks {
		if lc, ok := counted[r.Check]; ok {
			for i := range check.Statuses {
				out.sample(set.byName[r.Check], statusPairs[i:i+1], float64(lc.byStatus[i]))
			}
		}
	}
	out.begin(famLinkFailures)
	for _, r := range v.Checks {
		if lc, ok := counted[r.Check]; ok {
			for i := range linkReasons {
				out.sample(set.byName[r.Check], reasonPairs[i:i+1], float64(lc.byReason[i]))
			}
		}
	}
	// Per-link series: one per redacted URL (never a secret in a label).
	perLink := func(f family, value func(check.LinkResult) float64) {
		out.begin(f)
		for _, r := range v.Checks {
			s := set.byName[r.Check]
			if _, ok := counted[r.Check]; !ok || !s.perItem {
				continue
			}
			links := v.Raw[r.Check].Links
			seen := make(map[string]bool, len(links))
			for _, l := range links {
				label := linkLabel(l.URL)
				if seen[label] {
					continue
				}
				seen[label] = true
				out.sample(s, []pair{newPair("url", label)}, value(l))
			}
		}
	}
	perLink(famLinkUp, func(l check.LinkResult) float64 { return b2f(l.Status == check.Pass) })
	perLink(famLinkCode, func(l check.LinkResult) float64 { return float64(l.StatusCode) })
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

// Gather implements prometheus.Gatherer: the families of WriteText as
// metric families, for the formats Handler does not write directly.
func (m *Metrics) Gather() ([]*dto.MetricFamily, error) {
	d := &dtoSink{}
	m.write(d)
	// Sorted as a registry sorts them (families by name, series by labels).
	return prometheus.Gatherers{prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return d.out, nil })}.Gather()
}

// textSink writes samples as text into a buffer, and the buffer out in
// chunks.
type textSink struct {
	w       io.Writer
	buf     []byte
	f       family
	pending bool // the family's header is due before its first sample
	err     error
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func (t *textSink) begin(f family) { t.f, t.pending = f, true }

func (t *textSink) sample(s *series, extra []pair, v float64) {
	t.header()
	t.buf = append(t.buf, t.f.name...)
	t.buf = append(t.buf, '{')
	if s != nil {
		t.buf = append(t.buf, s.label...)
		for _, p := range extra {
			t.buf = append(t.buf, p.text...)
		}
	} else {
		for i, p := range extra {
			text := p.text
			if i == 0 {
				text = text[1:] // the first without its comma
			}
			t.buf = append(t.buf, text...)
		}
	}
	t.buf = append(t.buf, "} "...)
	t.buf = appendFloat(t.buf, v)
	t.buf = append(t.buf, '\n')
	t.maybeFlush()
}

func (t *textSink) histogram(s *series, c *counts) {
	t.header()
	var cum uint64
	for i := range len(durationBuckets) + 1 {
		if i < len(c.buckets) {
			cum += c.buckets[i]
		} else {
			cum = c.count
		}
		t.line(durBucket, s.label, bucketLabels[i], float64(cum))
	}
	t.line(durSum, s.label, "", c.sum)
	t.line(durCount, s.label, "", float64(c.count))
	t.maybeFlush()
}

func (t *textSink) line(name, label, extra string, v float64) {
	t.buf = append(t.buf, name...)
	t.buf = append(t.buf, '{')
	t.buf = append(t.buf, label...)
	t.buf = append(t.buf, extra...)
	t.buf = append(t.buf, "} "...)
	t.buf = appendFloat(t.buf, v)
	t.buf = append(t.buf, '\n')
}

func (t *textSink) header() {
	if t.pending {
		t.buf = appendHeader(t.buf, t.f)
		t.pending = false
	}
}

func (t *textSink) maybeFlush() {
	if len(t.buf) >= 60<<10 {
		_ = t.flush()
	}
}

func (t *textSink) flush() error {
	if t.err == nil && len(t.buf) > 0 {
		_, t.err = t.w.Write(t.buf)
	}
	t.buf = t.buf[:0]
	return t.err
}

func (t *textSink) release() {
	b := t.buf[:0]
	bufPool.Put(&b)
}

// dtoSink builds metric families.
type dtoSink struct {
	out []*dto.MetricFamily
	f   family
	cur *dto.MetricFamily // nil until the family's first sample
}

var dtoTypes = map[string]dto.MetricType{"gauge": dto.MetricType_GAUGE, "counter": dto.MetricType_COUNTER,
	"histogram": dto.MetricType_HISTOGRAM}

func (d *dtoSink) begin(f family) { d.f, d.cur = f, nil }

func (d *dtoSink) metric(s *series, extra []pair) *dto.Metric {
	if d.cur == nil {
		name, help, typ := d.f.name, d.f.help, dtoTypes[d.f.typ]
		d.cur = &dto.MetricFamily{Name: &name, Help: &help, Type: &typ}
		d.out = append(d.out, d.cur)
	}
	labels := make([]*dto.LabelPair, 0, 1+len(extra))
	if s != nil {
		labels = append(labels, &dto.LabelPair{Name: ptr("check"), Value: &s.name})
	}
	for _, p := range extra {
		labels = append(labels, &dto.LabelPair{Name: ptr(p.name), Value: ptr(p.value)})
	}
	m := &dto.Metric{Label: labels}
	d.cur.Metric = append(d.cur.Metric, m)
	return m
}

func (d *dtoSink) sample(s *series, extra []pair, v float64) {
	m := d.metric(s, extra)
	if d.f.typ == "counter" {
		m.Counter = &dto.Counter{Value: &v}
	} else {
		m.Gauge = &dto.Gauge{Value: &v}
	}
}

func (d *dtoSink) histogram(s *series, c *counts) {
	h := &dto.Histogram{SampleCount: ptr(c.count), SampleSum: ptr(c.sum)}
	var cum uint64
	for i, ub := range durationBuckets {
		cum += c.buckets[i]
		h.Bucket = append(h.Bucket, &dto.Bucket{CumulativeCount: ptr(cum), UpperBound: ptr(ub)})
	}
	d.metric(s, nil).Histogram = h
}

func ptr[T any](v T) *T { return &v }

func appendHeader(b []byte, f family) []byte {
	b = append(b, "# HELP "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = appendHelp(b, f.help)
	b = append(b, "\n# TYPE "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = append(b, f.typ...)
	return append(b, '\n')
}

// appendFloat formats a sample value as expfmt does.
func appendFloat(b []byte, f float64) []byte {
	switch f {
	case 0:
		return append(b, '0')
	case 1:
		return append(b, '1')
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64) // NaN, +Inf, -Inf as the format spells them
}

// appendEscaped appends a label value escaped for the text format.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendHelp appends a HELP text escaped for the text format.
func appendHelp(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
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
