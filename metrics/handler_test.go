package metrics

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/testenv"
	"github.com/monitor-dev/monitor/probes"
	"github.com/monitor-dev/monitor/snapshot"
)

// handlerFixture: a registry with families of its own (as the daemon's: a
// counter, a gauge, a histogram) and the check series of three checks,
// two of which ran.
func handlerFixture(t *testing.T) (*prometheus.Registry, *Metrics, *snapshot.Snapshot, []check.Spec) {
	t.Helper()
	now := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
	specs := []check.Spec{
		{Name: "beat_a", Kind: "freshness", Interval: 10 * time.Second, Timeout: 5 * time.Second, Component: `Say "hi"\ok`,
			Config: probes.FreshnessConfig{MaxAge: time.Hour, CriticalAge: 2 * time.Hour}},
		{Name: "beat_b", Kind: "freshness", Interval: 10 * time.Second, Timeout: 5 * time.Second,
			Config: probes.FreshnessConfig{MaxAge: time.Hour}},
		{Name: "site", Kind: "link", Interval: time.Minute, Timeout: 5 * time.Second},
		{Name: "pg", Kind: "db", Interval: time.Minute, Timeout: 5 * time.Second},
	}
	snap := snapshot.New(specs, func() time.Time { return now })
	m := New(snap)
	m.SetChecks(specs)
	m.Observe(snap.Record(check.Result{Check: "beat_a", Kind: "freshness", Status: check.Pass, Severity: check.Info,
		CheckedAt: now.Add(-5 * time.Second), NewestAt: now.Add(-90 * time.Second), Duration: 3 * time.Millisecond}))
	m.Observe(snap.Record(check.Result{Check: "site", Kind: "link", Status: check.Fail, Severity: check.Warn,
		CheckedAt: now.Add(-time.Second), Duration: 1500 * time.Millisecond, Links: []check.LinkResult{
			{URL: "https://example.com/", Status: check.Pass, StatusCode: 200},
			{URL: "https://example.com/gone", Status: check.Fail, StatusCode: 404, Error: check.LinkErrHTTPStatus},
		}}))

	m.Observe(snap.Record(check.Result{Check: "pg", Kind: "db", Status: check.Pass, Severity: check.Info,
		CheckedAt: now.Add(-time.Second), Duration: 40 * time.Millisecond, CertNotAfter: now.Add(90 * 24 * time.Hour),
		Connections: &check.DBConnections{ByState: map[string]int{"active": 3, "idle in transaction": 1, "idle": 7}, Max: 97}}))

	reg := prometheus.NewPedanticRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "monitor_store_dropped_total", Help: "Dropped."})
	c.Add(3)
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "monitor_store_up", Help: "Up."})
	g.Set(1)
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "monitor_scheduler_lag_seconds", Help: "Lag.",
		Buckets: []float64{.1, 1}})
	h.Observe(.5)
	reg.MustRegister(c, g, h)
	return reg, m, snap, specs
}

// seriesOf flattens families to "name{labels} value" lines, sorted, the
// histograms as their buckets, sum and count.
func seriesOf(t *testing.T, mfs []*dto.MetricFamily) []string {
	t.Helper()
	vec, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{}, mfs...)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range vec {
		out = append(out, fmt.Sprintf("%s %v", s.Metric, s.Value))
	}
	for _, mf := range mfs { // HELP and TYPE are part of the contract too
		out = append(out, fmt.Sprintf("# %s %s %s", mf.GetName(), mf.GetType(), mf.GetHelp()))
	}
	slices.Sort(out)
	return out
}

func decode(t *testing.T, resp *http.Response) []*dto.MetricFamily {
	t.Helper()
	var body io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		body = zr
	}
	dec := expfmt.NewDecoder(body, expfmt.ResponseFormat(resp.Header))
	var mfs []*dto.MetricFamily
	for {
		mf := &dto.MetricFamily{}
		err := dec.Decode(mf)
		if errors.Is(err, io.EOF) {
			return mfs
		}
		if err != nil {
			t.Fatalf("decoding %s: %v", resp.Header.Get("Content-Type"), err)
		}
		mfs = append(mfs, mf)
	}
}

func get(t *testing.T, h http.Handler, target, accept, encoding string) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", target, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s (Accept %q): %d", target, accept, resp.StatusCode)
	}
	return resp
}

// Every Accept a scraper sends gets what promhttp over the same families
// answered before (content type, encoding, series), gzip-compressed when
// asked for.
func TestHandlerNegotiation(t *testing.T) {
	reg, m, _, _ := handlerFixture(t)
	h := Handler(reg, m, nil)
	before := promhttp.HandlerFor(prometheus.Gatherers{reg, m}, promhttp.HandlerOpts{})

	accepts := map[string]string{
		"none":                  "",
		"text 0.0.4":            "text/plain;version=0.0.4",
		"text 1.0.0":            "text/plain;version=1.0.0;escaping=allow-utf-8",
		"openmetrics only":      "application/openmetrics-text;version=1.0.0",
		"prometheus 3 default":  "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
		"protobuf (prometheus)": "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3",
		"browser":               "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
	}
	var want []string
	for name, accept := range accepts {
		for _, enc := range []string{"", "gzip", "deflate, gzip, br, zstd", "gzip;q=0, identity"} {
			t.Run(fmt.Sprintf("%s/%s", name, enc), func(t *testing.T) {
				ref := get(t, before, "/metrics", accept, enc)
				got := get(t, h, "/metrics", accept, enc)
				for _, hd := range []string{"Content-Type", "Content-Encoding"} {
					if g, w := got.Header.Get(hd), ref.Header.Get(hd); g != w {
						t.Errorf("%s: %q, promhttp answers %q", hd, g, w)
					}
				}
				wantGzip := strings.Contains(enc, "gzip") && !strings.Contains(enc, "gzip;q=0")
				if gzipped := got.Header.Get("Content-Encoding") == "gzip"; gzipped != wantGzip {
					t.Errorf("Accept-Encoding %q: Content-Encoding %q", enc, got.Header.Get("Content-Encoding"))
				}
				if ct := got.Header.Get("Content-Type"); expfmt.ResponseFormat(got.Header).FormatType() == expfmt.TypeUnknown {
					t.Fatalf("Content-Type %q: no format expfmt decodes", ct)
				}
				gotSeries, refSeries := seriesOf(t, decode(t, got)), seriesOf(t, decode(t, ref))
				if !slices.Equal(gotSeries, refSeries) {
					t.Errorf("series differ from promhttp's:\n got %q\nwant %q", gotSeries, refSeries)
				}
				if want == nil {
					want = gotSeries
				} else if !slices.Equal(gotSeries, want) {
					t.Errorf("series differ between formats:\n got %q\nwant %q", gotSeries, want)
				}
			})
		}
	}
	// What the families hold: the registry's and the checks', state sets
	// complete for a check that has not run.
	for _, line := range []string{
		`monitor_store_dropped_total 3`,
		`monitor_scheduler_lag_seconds_count 1`,
		`monitor_check_status{check="beat_b", status="FAIL"} 0`,
		`monitor_check_status{check="beat_b", status="PASS"} 0`,
		`monitor_check_status{check="beat_b", status="UNKNOWN"} 1`,
		`monitor_check_info{check="beat_a", component="Say \"hi\"\\ok", kind="freshness"} 1`,
		`monitor_freshness_age_seconds{check="beat_a"} 90`,
		`monitor_freshness_critical_age_seconds{check="beat_a"} 7200`,
		`monitor_check_duration_seconds_bucket{check="site", le="2.5"} 1`,
		`monitor_check_duration_seconds_bucket{check="site", le="1"} 0`,
		`monitor_check_runs_total{check="site", status="FAIL"} 1`,
		`monitor_link_failures{check="site", reason="http_status"} 1`,
		`monitor_db_connections{check="pg", state="idle in transaction"} 1`,
		`monitor_db_max_connections{check="pg"} 97`,
		"# monitor_check_runs_total COUNTER Check runs by the status they ended with.",
		"# monitor_check_duration_seconds HISTOGRAM How long a check's probe took.",
	} {
		if !slices.Contains(want, line) {
			t.Errorf("no %s in %q", line, want)
		}
	}
}

// A name[] filter answers the named families only, as promhttp does.
func TestHandlerNameFilter(t *testing.T) {
	reg, m, _, _ := handlerFixture(t)
	resp := get(t, Handler(reg, m, nil), "/metrics?name[]=monitor_check_status&name[]=monitor_store_up", "", "")
	var names []string
	for _, mf := range decode(t, resp) {
		names = append(names, mf.GetName())
	}
	slices.Sort(names) // promhttp answers a name[] filter in no fixed order
	if !slices.Equal(names, []string{"monitor_check_status", "monitor_store_up"}) {
		t.Errorf("families %q", names)
	}
}

// A check removed by a reload leaves /metrics; one added appears with its
// state sets and run counters before its first run.
func TestHandlerReload(t *testing.T) {
	reg, m, snap, specs := handlerFixture(t)
	h := Handler(reg, m, nil)
	added := check.Spec{Name: "new_one", Kind: "freshness", Interval: 10 * time.Second, Timeout: 5 * time.Second,
		Config: probes.FreshnessConfig{MaxAge: time.Hour}}
	next := []check.Spec{specs[1], added} // beat_a and site removed
	snap.SetSpecs(next)
	m.SetChecks(next)
	m.Observe(check.Result{Check: "site", Status: check.Pass}) // a run that ends after the reload
	got := seriesOf(t, decode(t, get(t, h, "/metrics", "", "gzip")))
	for _, line := range got {
		if strings.Contains(line, `"beat_a"`) || strings.Contains(line, `"site"`) {
			t.Errorf("removed check still exported: %s", line)
		}
	}
	for _, line := range []string{
		`monitor_check_status{check="new_one", status="UNKNOWN"} 1`,
		`monitor_check_runs_total{check="new_one", status="PASS"} 0`,
		`monitor_freshness_max_age_seconds{check="new_one"} 3600`,
		`monitor_check_info{check="new_one", component="", kind="freshness"} 1`,
	} {
		if !slices.Contains(got, line) {
			t.Errorf("no %s after the reload", line)
		}
	}
	for _, fam := range []string{"monitor_check_status", "monitor_check_severity"} { // state sets: all three
		n := 0
		for _, line := range got {
			if strings.HasPrefix(line, fam+`{check="new_one"`) {
				n++
			}
		}
		if n != 3 {
			t.Errorf("%s of new_one: %d series, want 3", fam, n)
		}
	}
}

// Compression is chosen as promhttp chooses it.
func TestNegotiateGzip(t *testing.T) {
	ref := promhttp.HandlerFor(prometheus.NewRegistry(), promhttp.HandlerOpts{})
	// (Content codings are case-insensitive: "GZIP" gets gzip here, not from
	// promhttp; not compared.)
	for _, enc := range []string{"", "gzip", "gzip;q=0", "gzip;q=0.5", "*", "deflate, gzip, br, zstd",
		"gzip, identity", "identity, gzip", "identity;q=0.1, gzip;q=0.9", "br", "x-gzip", "gzip;q=bad"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Accept-Encoding", enc)
		ref.ServeHTTP(rec, req)
		want := rec.Header().Get("Content-Encoding") == "gzip"
		if got := negotiateGzip([]string{enc}); got != want {
			t.Errorf("Accept-Encoding %q: gzip %v, promhttp %v", enc, got, want)
		}
	}
}

// promtool check metrics reports nothing on the text answer, gzip
// included (decoded first).
func TestHandlerPromtool(t *testing.T) {
	promtool := testenv.Tool(t, "promtool", "prometheus")
	reg, m, _, _ := handlerFixture(t)
	resp := get(t, Handler(reg, m, nil), "/metrics", "application/openmetrics-text;version=1.0.0", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("promtool check metrics: %v\n%s\n%s", err, out, body)
	}
}

// Scrapes while results arrive and reloads change the checks (go test
// -race finds what is not synchronised); every answer parses.
func TestHandlerConcurrent(t *testing.T) {
	reg, m, snap, specs := handlerFixture(t)
	h := Handler(reg, m, nil)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			next := specs[:1+i%len(specs)]
			snap.SetSpecs(next)
			m.SetChecks(next)
			m.Observe(snap.Record(check.Result{Check: specs[0].Name, Kind: "freshness", Status: check.Pass,
				CheckedAt: time.Now(), NewestAt: time.Now(), Duration: time.Millisecond}))
		}
	}()
	for range 30 {
		decode(t, get(t, h, "/metrics", "", "gzip"))
		decode(t, get(t, h, "/metrics", fixtureProtobuf, ""))
	}
	close(stop)
	<-done
}

const fixtureProtobuf = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
