// Package metrics turns results into the contract's Prometheus series. The
// state-set gauges are read from the snapshot at scrape time, so staleness
// and depends_on show without waiting for a run; counters and histograms are
// fed as results arrive.
//
// The per-check families are written straight as Prometheus text (WriteText)
// from per-check state kept ready between scrapes: escaped label values and
// static lines are rendered once per configuration, counts are plain
// numbers. A scrape at 10,000 checks builds no metric family tree (client_golang
// Gather would allocate ~30 dto objects per check). Handler serves them
// after the registry's own families (Go, process, store, SLO, alerts, ...);
// for the formats the text writer does not cover (protobuf, a name[] filter)
// Metrics is also a prometheus.Gatherer, by parsing its own text, so every
// format answers the same series.
package metrics

import (
	"bytes"
	"fmt"
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
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

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
	famDBMax = family{"monitor_db_max_connections",
		"Connection limit a db check's headroom is measured against (the slots ordinary roles may use, or the check's override).",
		"gauge"}
)

// families are every family WriteText may write, in its order.
var families = []family{famBuild, famInfo, famStatus, famSeverity, famLastRun, famRuns, famDur, famAge, famNewest,
	famMaxAge, famCriticalAge, famCertExpiry, famLinks, famLinkFailures, famLinkUp, famLinkCode, famDBConns, famDBMax}

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
	build []byte // the monitor_build_info family, rendered once

	mu sync.Mutex // serialises SetChecks
	// checks is the configuration's per-check state; SetChecks replaces it
	// whole, so a scrape reads the one it loaded without a lock.
	checks atomic.Pointer[checkSet]
}

type checkSet struct {
	byName map[string]*series
	sorted []*series // by name
}

// series is what a check's families need besides the snapshot: its label
// value and static lines, rendered once per configuration, and its counts.
type series struct {
	name  string
	label string // `check="name"`, escaped
	info  []byte // the monitor_check_info sample line
	// maxAge and criticalAge are the monitor_freshness_*_age_seconds
	// sample lines (nil when the check has none).
	maxAge, criticalAge []byte
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

// New returns the check series of snap's checks; SetChecks declares them.
// Serve them with Handler; Metrics is also a prometheus.Gatherer.
func New(snap *snapshot.Snapshot) *Metrics {
	m := &Metrics{snap: snap}
	var b []byte
	b = appendHeader(b, famBuild)
	b = append(b, famBuild.name...)
	b = append(b, `{goversion="`...)
	b = appendEscaped(b, runtime.Version())
	b = append(b, `",version="`...)
	b = appendEscaped(b, Version)
	b = append(b, "\"} 1\n"...)
	m.build = b
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
	label := string(appendEscaped([]byte(`check="`), sp.Name)) + `"`
	s := &series{name: sp.Name, label: label, perItem: sp.PerItemMetrics(), c: &counts{}}
	s.info = append(s.info, famInfo.name...)
	s.info = append(s.info, '{')
	s.info = append(s.info, label...)
	s.info = append(s.info, `,kind="`...)
	s.info = appendEscaped(s.info, string(sp.Kind))
	s.info = append(s.info, `",component="`...)
	s.info = appendEscaped(s.info, sp.Component)
	s.info = append(s.info, "\"} 1\n"...)
	if a, ok := sp.Config.(interface {
		AgeLimits() (maxAge, criticalAge time.Duration)
	}); ok {
		maxAge, critical := a.AgeLimits()
		s.maxAge = appendSample(nil, famMaxAge.name, label, "", maxAge.Seconds())
		if critical > 0 {
			s.criticalAge = appendSample(nil, famCriticalAge.name, label, "", critical.Seconds())
		}
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

// Pre-rendered label pairs of the state sets.
var (
	statusLabels   = labelPairs("status", check.Statuses)
	severityLabels = labelPairs("severity", check.Severities)
	reasonLabels   = labelPairs("reason", linkReasons)
	bucketLabels   = func() []string {
		out := make([]string, 0, len(durationBuckets)+1)
		for _, b := range durationBuckets {
			out = append(out, `,le="`+string(appendFloat(nil, b))+`"`)
		}
		return append(out, `,le="+Inf"`)
	}()
)

func labelPairs[T ~string](name string, values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = "," + name + `="` + string(appendEscaped(nil, string(v))) + `"`
	}
	return out
}

// WriteText writes the check families in the Prometheus text format
// (version 0.0.4; also valid as 1.0.0): one group per family, a family
// without series left out.
func (m *Metrics) WriteText(w io.Writer) error {
	set := m.checks.Load()
	v := m.snap.View()
	t := textWriter{w: w, buf: (*bufPool.Get().(*[]byte))[:0]}
	defer t.release()
	t.buf = append(t.buf, m.build...)

	t.begin(famInfo)
	for _, r := range v.Checks {
		if s := set.byName[r.Check]; s != nil {
			t.line(s.info)
		}
	}
	t.begin(famStatus)
	for _, r := range v.Checks {
		if s := set.byName[r.Check]; s != nil {
			for i, st := range check.Statuses {
				t.sample(famStatus.name, s.label, statusLabels[i], b2f(r.Status == st))
			}
		}
	}
	t.begin(famSeverity)
	for _, r := range v.Checks {
		if s := set.byName[r.Check]; s != nil {
			for i, sev := range check.Severities {
				t.sample(famSeverity.name, s.label, severityLabels[i], b2f(r.Severity == sev))
			}
		}
	}
	t.begin(famLastRun)
	for _, r := range v.Checks {
		if s, raw, ok := ran(set, v, r.Check); ok {
			t.sample(famLastRun.name, s.label, "", unix(raw.CheckedAt))
		}
	}
	t.begin(famRuns)
	var c counts
	for _, s := range set.sorted {
		s.c.mu.Lock()
		c.runs = s.c.runs
		s.c.mu.Unlock()
		for i := range check.Statuses {
			t.sample(famRuns.name, s.label, statusLabels[i], float64(c.runs[i]))
		}
	}
	t.begin(famDur)
	for _, s := range set.sorted {
		s.c.mu.Lock()
		c.buckets, c.count, c.sum = s.c.buckets, s.c.count, s.c.sum
		s.c.mu.Unlock()
		if c.count == 0 {
			continue
		}
		var cum uint64
		for i, n := range c.buckets {
			cum += n
			t.sample(durBucket, s.label, bucketLabels[i], float64(cum))
		}
		t.sample(durBucket, s.label, bucketLabels[len(durationBuckets)], float64(c.count))
		t.sample(durSum, s.label, "", c.sum)
		t.sample(durCount, s.label, "", float64(c.count))
	}
	t.begin(famAge)
	for _, r := range v.Checks {
		if s, raw, ok := ran(set, v, r.Check); ok && !raw.NewestAt.IsZero() { // a kind that reads a newest record (freshness)
			t.sample(famAge.name, s.label, "", max(v.GeneratedAt.Sub(raw.NewestAt).Seconds(), 0))
		}
	}
	t.begin(famNewest)
	for _, r := range v.Checks {
		if s, raw, ok := ran(set, v, r.Check); ok && !raw.NewestAt.IsZero() {
			t.sample(famNewest.name, s.label, "", unix(raw.NewestAt))
		}
	}
	t.begin(famMaxAge)
	for _, r := range v.Checks {
		if s := set.byName[r.Check]; s != nil {
			t.line(s.maxAge)
		}
	}
	t.begin(famCriticalAge)
	for _, r := range v.Checks {
		if s := set.byName[r.Check]; s != nil {
			t.line(s.criticalAge)
		}
	}
	t.begin(famCertExpiry)
	for _, r := range v.Checks {
		if s, raw, ok := ran(set, v, r.Check); ok && !raw.CertNotAfter.IsZero() { // a kind that sees a TLS certificate (http, tls)
			t.sample(famCertExpiry.name, s.label, "", unix(raw.CertNotAfter))
		}
	}
	m.writeLinks(&t, set, v)
	t.begin(famDBConns)
	for _, r := range v.Checks {
		if s, raw, ok := ran(set, v, r.Check); ok && raw.Connections != nil { // a db check with headroom
			states := make([]string, 0, len(raw.Connections.ByState))
			for st := range raw.Connections.ByState {
				states = append(states, st)
			}
			slices.Sort(states)
			for _, st := range states {
				t.sample(famDBConns.name, s.label, string(appendEscaped([]byte(`,state="`), st))+`"`,
					float64(raw.Connections.ByState[st]))
			}
		}
	}
	t.begin(famDBMax)
	for _, r := range v.Checks {
		if s, raw, ok := ran(set, v, r.Check); ok && raw.Connections != nil {
			t.sample(famDBMax.name, s.label, "", float64(raw.Connections.Max))
		}
	}
	return t.flush()
}

// ran returns a configured check's series and its raw result, if it ran.
func ran(set *checkSet, v snapshot.View, name string) (*series, check.Result, bool) {
	s := set.byName[name]
	if s == nil {
		return nil, check.Result{}, false
	}
	raw, ok := v.Raw[name]
	return s, raw, ok
}

// linkCounts are a link check's links by status and failing links by reason.
type linkCounts struct {
	byStatus [3]int
	byReason []int
}

func (m *Metrics) writeLinks(t *textWriter, set *checkSet, v snapshot.View) {
	counted := map[string]linkCounts{}
	for _, r := range v.Checks {
		if _, raw, ok := ran(set, v, r.Check); ok && raw.Kind.Behaviour().Items {
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
	}
	if len(counted) == 0 {
		return
	}
	t.begin(famLinks)
	for _, r := range v.Checks {
		if lc, ok := counted[r.Check]; ok {
			for i := range check.Statuses {
				t.sample(famLinks.name, set.byName[r.Check].label, statusLabels[i], float64(lc.byStatus[i]))
			}
		}
	}
	t.begin(famLinkFailures)
	for _, r := range v.Checks {
		if lc, ok := counted[r.Check]; ok {
			for i := range linkReasons {
				t.sample(famLinkFailures.name, set.byName[r.Check].label, reasonLabels[i], float64(lc.byReason[i]))
			}
		}
	}
	// Per-link series: one per redacted URL (never a secret in a label).
	perLink := func(f family, value func(check.LinkResult) float64) {
		t.begin(f)
		for _, r := range v.Checks {
			s := set.byName[r.Check]
			if _, ok := counted[r.Check]; !ok || !s.perItem {
				continue
			}
			raw := v.Raw[r.Check]
			seen := make(map[string]bool, len(raw.Links))
			for _, l := range raw.Links {
				label := linkLabel(l.URL)
				if seen[label] {
					continue
				}
				seen[label] = true
				t.sample(f.name, s.label, string(appendEscaped([]byte(`,url="`), label))+`"`, value(l))
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

// Gather implements prometheus.Gatherer: the families of WriteText, parsed,
// for the formats Handler does not write directly.
func (m *Metrics) Gather() ([]*dto.MetricFamily, error) {
	var b bytes.Buffer
	if err := m.WriteText(&b); err != nil {
		return nil, err
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	byName, err := p.TextToMetricFamilies(&b)
	if err != nil {
		return nil, fmt.Errorf("check series: %w", err)
	}
	out := make([]*dto.MetricFamily, 0, len(byName))
	for _, f := range families {
		if mf := byName[f.name]; mf != nil {
			out = append(out, mf)
		}
	}
	// Sorted as a registry sorts them (families by name, series by labels).
	return prometheus.Gatherers{prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return out, nil })}.Gather()
}

// textWriter appends samples to a buffer and writes it out in chunks.
type textWriter struct {
	w       io.Writer
	buf     []byte
	pending *family // family whose header is due before its first sample
	err     error
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func (t *textWriter) begin(f family) { t.pending = &f }

func (t *textWriter) header() {
	if t.pending != nil {
		t.buf = appendHeader(t.buf, *t.pending)
		t.pending = nil
	}
}

// line writes a pre-rendered sample line (nothing when empty).
func (t *textWriter) line(l []byte) {
	if len(l) == 0 {
		return
	}
	t.header()
	t.buf = append(t.buf, l...)
	t.maybeFlush()
}

func (t *textWriter) sample(name, label, extra string, v float64) {
	t.header()
	t.buf = appendSampleTo(t.buf, name, label, extra, v)
	t.maybeFlush()
}

func (t *textWriter) maybeFlush() {
	if len(t.buf) >= 60<<10 {
		_ = t.flush()
	}
}

func (t *textWriter) flush() error {
	if t.err == nil && len(t.buf) > 0 {
		_, t.err = t.w.Write(t.buf)
	}
	t.buf = t.buf[:0]
	return t.err
}

func (t *textWriter) release() {
	b := t.buf[:0]
	bufPool.Put(&b)
}

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

func appendSample(b []byte, name, label, extra string, v float64) []byte {
	return appendSampleTo(b, name, label, extra, v)
}

func appendSampleTo(b []byte, name, label, extra string, v float64) []byte {
	b = append(b, name...)
	b = append(b, '{')
	b = append(b, label...)
	b = append(b, extra...)
	b = append(b, "} "...)
	b = appendFloat(b, v)
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
