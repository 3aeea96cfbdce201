package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/probes"
	"github.com/monitor-dev/monitor/snapshot"
)

// healthFixture serves a snapshot of checks in every status, fed to two
// components, with a hand-moved clock.
type healthFixture struct {
	mu   sync.Mutex
	now  time.Time
	snap *snapshot.Snapshot
	srv  *httptest.Server
	spec map[string]check.Spec
}

func newHealthFixture(t *testing.T) *healthFixture {
	t.Helper()
	f := &healthFixture{now: at, spec: map[string]check.Spec{}}
	clock := func() time.Time {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.now
	}
	var specs []check.Spec
	for _, c := range []struct{ name, component string }{
		{"orders_db", "Orders"}, {"orders_fresh", "Orders"}, {"billing_db", "Billing"},
		{"billing_fresh", "Billing"}, {"search_db", ""}, {"zz_private", ""},
	} {
		sp := check.Spec{Name: c.name, Kind: "db", Interval: time.Minute, Timeout: 5 * time.Second,
			Severity: check.Warn, UnknownSeverity: check.Warn, Component: c.component}
		specs = append(specs, sp)
		f.spec[c.name] = sp
	}
	f.snap = snapshot.New(specs, clock)
	f.record("orders_db", check.Pass, check.Info, "ok")
	f.record("orders_fresh", check.Fail, check.Warn, "newest row is 17m0s old (max 15m)")
	f.record("billing_db", check.Fail, check.Warn, "connect: connection refused")
	f.record("billing_fresh", check.Unknown, check.Warn, "query: no rows")
	f.record("search_db", check.Pass, check.Info, "ok")
	// zz_private has not run: UNKNOWN/INFO.
	f.srv = httptest.NewServer(New(Options{Snapshot: f.snap, Gatherer: prometheus.NewRegistry(),
		Beats: probes.NewBeatStore(), Now: clock}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *healthFixture) record(name string, st check.Status, sev check.Severity, msg string) {
	f.mu.Lock()
	now := f.now
	f.mu.Unlock()
	f.snap.Record(check.Result{Check: name, Kind: "db", Status: st, Severity: sev, Message: msg,
		CheckedAt: now, Duration: 3 * time.Millisecond})
}

// tick moves the clock by d.
func (f *healthFixture) tick(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// get asks as a client that handles encodings itself (Go's transport
// would otherwise ask for gzip and decode it behind the test's back).
func (f *healthFixture) get(t *testing.T, method, target string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("bad gzip: %v", err)
	}
	return out
}

type healthBody struct {
	Status, Severity string
	Checks           []struct{ Name, Status string }
}

func decodeHealth(t *testing.T, b []byte) healthBody {
	t.Helper()
	var h healthBody
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("not the health body: %v: %s", err, b)
	}
	return h
}

func (h healthBody) names() []string {
	var out []string
	for _, c := range h.Checks {
		out = append(out, c.Name)
	}
	return out
}

// The gzip answer decodes to exactly the plain body, for both media types
// and for a filter; it has its own ETag; q=0 and no Accept-Encoding get
// the plain body.
func TestHealthGzipIsThePlainBody(t *testing.T) {
	f := newHealthFixture(t)
	for _, tc := range []struct{ target, accept string }{
		{"/v2/system/health", ""},
		{"/v2/system/health", "application/health+json"},
		{"/v2/system/health?status=FAIL,UNKNOWN", ""},
		{"/v2/system/health?component=Orders", "application/health+json"},
	} {
		plain, pb := f.get(t, "GET", tc.target, "Accept", tc.accept)
		zipped, zb := f.get(t, "GET", tc.target, "Accept", tc.accept, "Accept-Encoding", "br;q=1.0, gzip;q=0.8")
		if plain.StatusCode != 200 || zipped.StatusCode != 200 {
			t.Fatalf("%s: %d and %d", tc.target, plain.StatusCode, zipped.StatusCode)
		}
		if plain.Header.Get("Content-Encoding") != "" || zipped.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: Content-Encoding %q (plain) and %q (gzip)", tc.target,
				plain.Header.Get("Content-Encoding"), zipped.Header.Get("Content-Encoding"))
		}
		if got := gunzip(t, zb); !bytes.Equal(got, pb) {
			t.Fatalf("%s: gzip decodes to %d bytes that differ from the plain %d", tc.target, len(got), len(pb))
		}
		if len(zb) >= len(pb) {
			t.Errorf("%s: gzip %d bytes, plain %d", tc.target, len(zb), len(pb))
		}
		for _, r := range []*http.Response{plain, zipped} {
			if r.Header.Get("Vary") != "Accept, Accept-Encoding" || r.Header.Get("ETag") == "" {
				t.Fatalf("%s: Vary %q, ETag %q", tc.target, r.Header.Get("Vary"), r.Header.Get("ETag"))
			}
		}
		if plain.Header.Get("ETag") == zipped.Header.Get("ETag") {
			t.Fatalf("%s: the gzip copy shares the plain body's ETag %s", tc.target, plain.Header.Get("ETag"))
		}
		if cl := plain.Header.Get("Content-Length"); cl != strconv.Itoa(len(pb)) {
			t.Fatalf("%s: Content-Length %q, body %d bytes", tc.target, cl, len(pb))
		}
		if cl := zipped.Header.Get("Content-Length"); cl != strconv.Itoa(len(zb)) {
			t.Fatalf("%s: gzip Content-Length %q, body %d bytes", tc.target, cl, len(zb))
		}
	}
	for _, ae := range []string{"*", "*;q=0, gzip", "x-gzip", "GZIP;Q=0.5"} {
		resp, b := f.get(t, "GET", "/v2/system/health", "Accept-Encoding", ae)
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Accept-Encoding %q: got Content-Encoding %q", ae, resp.Header.Get("Content-Encoding"))
		}
		decodeHealth(t, gunzip(t, b))
	}
	for _, ae := range []string{"gzip;q=0", "identity", "gzip; q=0.000, identity", "*;q=0", "gzip;q=0, *", "br"} {
		resp, b := f.get(t, "GET", "/v2/system/health", "Accept-Encoding", ae)
		if resp.Header.Get("Content-Encoding") != "" {
			t.Fatalf("Accept-Encoding %q: got Content-Encoding %q", ae, resp.Header.Get("Content-Encoding"))
		}
		decodeHealth(t, b)
	}
}

// The ETag stays while nothing changes, whatever the clock says, and
// changes with a result; a matching If-None-Match gets 304 without a body.
func TestHealthETagAndNotModified(t *testing.T) {
	f := newHealthFixture(t)
	resp, _ := f.get(t, "GET", "/v2/system/health")
	tag := resp.Header.Get("ETag")
	respGz, _ := f.get(t, "GET", "/v2/system/health", "Accept-Encoding", "gzip")
	gzTag := respGz.Header.Get("ETag")

	f.tick(20 * time.Second) // nothing goes stale before 2×1m+5s
	resp, _ = f.get(t, "GET", "/v2/system/health")
	if got := resp.Header.Get("ETag"); got != tag {
		t.Fatalf("ETag changed from %s to %s with no result changed", tag, got)
	}
	resp, b := f.get(t, "GET", "/v2/system/health", "If-None-Match", tag)
	if resp.StatusCode != http.StatusNotModified || len(b) != 0 || resp.Header.Get("ETag") != tag {
		t.Fatalf("If-None-Match %s: %d, %d bytes, ETag %q", tag, resp.StatusCode, len(b), resp.Header.Get("ETag"))
	}
	resp, _ = f.get(t, "GET", "/v2/system/health", "If-None-Match", `"other", `+gzTag, "Accept-Encoding", "gzip")
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("gzip revalidation with its ETag: %d", resp.StatusCode)
	}
	// The plain body's tag does not validate the gzip copy, nor the reverse.
	resp, _ = f.get(t, "GET", "/v2/system/health", "If-None-Match", tag, "Accept-Encoding", "gzip")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip asked with the plain ETag: %d %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	// Another media type is another body.
	resp, _ = f.get(t, "GET", "/v2/system/health", "If-None-Match", tag, "Accept", "application/health+json")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == tag {
		t.Fatalf("health+json with the JSON ETag: %d, ETag %s", resp.StatusCode, resp.Header.Get("ETag"))
	}

	f.record("search_db", check.Pass, check.Info, "ok") // the same status, a new checkedAt
	f.tick(time.Second)
	resp, b = f.get(t, "GET", "/v2/system/health", "If-None-Match", tag)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == tag || len(b) == 0 {
		t.Fatalf("after a new result: %d, ETag %s (was %s)", resp.StatusCode, resp.Header.Get("ETag"), tag)
	}
}

// A 304 never stands for a 503: load balancers take 3xx as healthy. While
// a check is FAIL/CRITICAL, a matching If-None-Match gets the full 503.
func TestHealthNotModifiedNeverHides503(t *testing.T) {
	f := newHealthFixture(t)
	resp, _ := f.get(t, "GET", "/v2/system/health")
	ok200 := resp.Header.Get("ETag")

	f.record("orders_db", check.Fail, check.Critical, "connect: connection refused")
	f.tick(time.Second)
	resp, b := f.get(t, "GET", "/v2/system/health", "If-None-Match", ok200)
	if resp.StatusCode != http.StatusServiceUnavailable || decodeHealth(t, b).Severity != "CRITICAL" {
		t.Fatalf("with the 200's ETag after a CRITICAL failure: %d %s", resp.StatusCode, b)
	}
	tag503 := resp.Header.Get("ETag")
	for _, hdr := range [][]string{
		{"If-None-Match", tag503},
		{"If-None-Match", "*"},
		{"If-None-Match", tag503, "Accept-Encoding", "gzip"},
	} {
		resp, b = f.get(t, "GET", "/v2/system/health", hdr...)
		if resp.StatusCode != http.StatusServiceUnavailable || len(b) == 0 {
			t.Fatalf("%v: %d, %d bytes; want the full 503", hdr, resp.StatusCode, len(b))
		}
	}
	// A filtered poll that lists no failing check still answers 503.
	resp, b = f.get(t, "GET", "/v2/system/health?component=Billing")
	if h := decodeHealth(t, b); resp.StatusCode != http.StatusServiceUnavailable || h.Status != "FAIL" ||
		h.Severity != "CRITICAL" || slices.Contains(h.names(), "orders_db") {
		t.Fatalf("?component=Billing during orders_db's CRITICAL failure: %d %s", resp.StatusCode, b)
	}

	f.record("orders_db", check.Pass, check.Info, "ok")
	f.tick(time.Second)
	resp, _ = f.get(t, "GET", "/v2/system/health", "If-None-Match", tag503)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("recovered, with the 503's ETag: %d", resp.StatusCode)
	}
}

// Filters list only the matching checks, in name order, in the whole
// platform's envelope; each filtered answer has its own ETag.
func TestHealthFilters(t *testing.T) {
	f := newHealthFixture(t)
	_, all := f.get(t, "GET", "/v2/system/health")
	platform := decodeHealth(t, all)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"status=FAIL", []string{"billing_db", "orders_fresh"}},
		{"status=fail", []string{"billing_db", "orders_fresh"}},
		{"status=FAIL,UNKNOWN", []string{"billing_db", "billing_fresh", "orders_fresh", "zz_private"}},
		{"status=FAIL&status=UNKNOWN", []string{"billing_db", "billing_fresh", "orders_fresh", "zz_private"}},
		{"status=PASS", []string{"orders_db", "search_db"}},
		{"component=Orders", []string{"orders_db", "orders_fresh"}},
		{"component=Orders,Billing&status=FAIL", []string{"billing_db", "orders_fresh"}},
		{"component=Orders&component=Orders", []string{"orders_db", "orders_fresh"}},
		{"component=Orders,Billing,Orders&status=FAIL", []string{"billing_db", "orders_fresh"}},
		{"check=search_db,search_db", []string{"search_db"}},
		{"check=*_db", []string{"billing_db", "orders_db", "search_db"}},
		{"check=billing_*&status=PASS", nil},
		{"check=search_db", []string{"search_db"}},
		{"check=nothing_*", nil},
		{"utm_source=x", []string{"billing_db", "billing_fresh", "orders_db", "orders_fresh", "search_db", "zz_private"}},
	} {
		resp, b := f.get(t, "GET", "/v2/system/health?"+tc.query)
		h := decodeHealth(t, b)
		if resp.StatusCode != 200 || !slices.Equal(h.names(), tc.want) {
			t.Errorf("?%s: %d, checks %v, want %v", tc.query, resp.StatusCode, h.names(), tc.want)
		}
		if h.Status != platform.Status || h.Severity != platform.Severity {
			t.Errorf("?%s: overall %s/%s, want the platform's %s/%s", tc.query, h.Status, h.Severity,
				platform.Status, platform.Severity)
		}
		for _, c := range h.Checks {
			if tc.query == "status=FAIL" && c.Status != "FAIL" {
				t.Errorf("?status=FAIL lists %s %s", c.Name, c.Status)
			}
		}
		if tc.want != nil && !json.Valid(b) {
			t.Errorf("?%s: invalid JSON", tc.query)
		}
	}
	// The IETF shape filters the same way.
	_, b := f.get(t, "GET", "/v2/system/health?status=FAIL", "Accept", "application/health+json")
	var ietf struct {
		Status string
		Checks map[string]json.RawMessage
	}
	if err := json.Unmarshal(b, &ietf); err != nil || len(ietf.Checks) != 2 || ietf.Checks["billing_db"] == nil ||
		ietf.Checks["orders_fresh"] == nil || ietf.Status != "warn" {
		t.Fatalf("health+json ?status=FAIL: %v %s", err, b)
	}
	// A filter's answer is another representation: another ETag, and its
	// own 304.
	all1, _ := f.get(t, "GET", "/v2/system/health")
	fail1, _ := f.get(t, "GET", "/v2/system/health?status=FAIL")
	if all1.Header.Get("ETag") == fail1.Header.Get("ETag") {
		t.Fatal("the filtered answer has the full body's ETag")
	}
	resp, _ := f.get(t, "GET", "/v2/system/health?status=FAIL", "If-None-Match", fail1.Header.Get("ETag"))
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("?status=FAIL revalidated: %d", resp.StatusCode)
	}
	// A change outside the filter's checks changes nothing it shows but
	// the envelope is rendered again: the answer still validates only if
	// its bytes are the same.
	f.record("orders_fresh", check.Pass, check.Info, "newest row is 1s old")
	f.tick(time.Second)
	resp, b = f.get(t, "GET", "/v2/system/health?status=FAIL", "If-None-Match", fail1.Header.Get("ETag"))
	if resp.StatusCode != http.StatusOK || !slices.Equal(decodeHealth(t, b).names(), []string{"billing_db"}) {
		t.Fatalf("?status=FAIL after orders_fresh recovered: %d %s", resp.StatusCode, b)
	}
}

// Past the filtered answers kept per body, a client cycling through
// filters still gets right answers (built per request, plain).
func TestHealthManyFilters(t *testing.T) {
	f := newHealthFixture(t)
	for i := range 60 {
		q := "/v2/system/health?check=*_db,nothing" + strconv.Itoa(i) + "_*"
		resp, b := f.get(t, "GET", q, "Accept-Encoding", "gzip")
		if resp.Header.Get("Content-Encoding") == "gzip" {
			b = gunzip(t, b)
		}
		if h := decodeHealth(t, b); resp.StatusCode != 200 || !slices.Equal(h.names(), []string{"billing_db", "orders_db", "search_db"}) {
			t.Fatalf("%s: %d %v", q, resp.StatusCode, h.names())
		}
		if resp.Header.Get("Content-Length") != strconv.Itoa(len(b)) && resp.Header.Get("Content-Encoding") == "" {
			t.Fatalf("%s: Content-Length %s for %d bytes", q, resp.Header.Get("Content-Length"), len(b))
		}
	}
}

func TestHealthFilterErrors(t *testing.T) {
	f := newHealthFixture(t)
	long := string(bytes.Repeat([]byte("a"), 101))
	many := "FAIL" + string(bytes.Repeat([]byte(",FAIL"), 20))
	for _, tc := range []struct{ query, field string }{
		{"status=BROKEN", "status"},
		{"status=PASS,nope", "status"},
		{"status=" + many, "status"},
		{"component=Nope", "component"},
		{"component=" + long, "component"},
		{"component=a%00b", "component"},
		{"check=[a", "check"},
		{"check=no_such_check", "check"},
		{"check=" + long, "check"},
	} {
		resp, b := f.get(t, "GET", "/v2/system/health?"+tc.query)
		assertEnvelope(t, resp, b, http.StatusBadRequest, CodeInvalidRequest)
		var env struct{ Details map[string]any }
		_ = json.Unmarshal(b, &env)
		if env.Details["field"] != tc.field {
			t.Errorf("?%.40s: details.field %v, want %s (%s)", tc.query, env.Details["field"], tc.field, b)
		}
		if len(b) > 1000 {
			t.Errorf("?%.40s: %d-byte error echoes the input", tc.query, len(b))
		}
	}
	resp, b := f.get(t, "GET", "/v2/system/health?status="+string(bytes.Repeat([]byte("x"), 5000)))
	assertEnvelope(t, resp, b, http.StatusBadRequest, CodeInvalidRequest)
	resp, b = f.get(t, "GET", "/v2/system/health?status=%zz")
	assertEnvelope(t, resp, b, http.StatusBadRequest, CodeInvalidRequest)
}

// HEAD answers what GET would, with the length of the body it leaves out.
func TestHealthHead(t *testing.T) {
	f := newHealthFixture(t)
	for _, hdr := range [][]string{nil, {"Accept-Encoding", "gzip"}, {"Accept", "application/health+json"}} {
		get, gb := f.get(t, "GET", "/v2/system/health?status=FAIL,PASS", hdr...)
		head, hb := f.get(t, "HEAD", "/v2/system/health?status=FAIL,PASS", hdr...)
		if head.StatusCode != get.StatusCode || len(hb) != 0 || head.Header.Get("ETag") != get.Header.Get("ETag") ||
			head.Header.Get("Content-Length") != strconv.Itoa(len(gb)) ||
			head.Header.Get("Content-Encoding") != get.Header.Get("Content-Encoding") {
			t.Fatalf("%v: HEAD %d, %d bytes, ETag %q, Content-Length %q; GET %d, %d bytes, ETag %q", hdr,
				head.StatusCode, len(hb), head.Header.Get("ETag"), head.Header.Get("Content-Length"),
				get.StatusCode, len(gb), get.Header.Get("ETag"))
		}
	}
}

// A component's name may hold a comma: named whole it is one component,
// not a list of two.
func TestHealthFilterComponentWithComma(t *testing.T) {
	clock := func() time.Time { return at }
	var specs []check.Spec
	for _, c := range []struct{ name, component string }{
		{"eu_db", "Orders, EU"}, {"us_db", "Orders, US"}, {"other_db", "Other"},
	} {
		specs = append(specs, check.Spec{Name: c.name, Kind: "db", Interval: time.Minute, Timeout: 5 * time.Second,
			Severity: check.Warn, UnknownSeverity: check.Warn, Component: c.component})
	}
	f := &healthFixture{now: at, snap: snapshot.New(specs, clock)}
	f.srv = httptest.NewServer(New(Options{Snapshot: f.snap, Gatherer: prometheus.NewRegistry(),
		Beats: probes.NewBeatStore(), Now: clock}))
	t.Cleanup(f.srv.Close)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"component=" + url.QueryEscape("Orders, EU"), []string{"eu_db"}},
		{"component=" + url.QueryEscape("Orders, EU") + "&component=Other", []string{"eu_db", "other_db"}},
		{"component=" + url.QueryEscape("Orders, US"), []string{"us_db"}},
	} {
		resp, b := f.get(t, "GET", "/v2/system/health?"+tc.query)
		if h := decodeHealth(t, b); resp.StatusCode != 200 || !slices.Equal(h.names(), tc.want) {
			t.Errorf("?%s: %d %v, want %v: %s", tc.query, resp.StatusCode, h.names(), tc.want, b)
		}
	}
	// A list of unknown parts is still a list, and still an error.
	resp, b := f.get(t, "GET", "/v2/system/health?component=Other,Nope")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"got":"Nope"`) {
		t.Errorf("?component=Other,Nope: %d %s", resp.StatusCode, b)
	}
}
