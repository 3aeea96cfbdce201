package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/probes"
	"github.com/monitor-dev/monitor/snapshot"
)

// linkFixture is a server with two link checks (one on a SQLite source),
// a loopback web server (a private destination) and a web server on
// 127.0.0.2 that the guard lets through: it stands in for a public host.
type linkFixture struct {
	*fixture
	env      *probes.Env
	clients  *probes.LinkClients
	loop     *httptest.Server
	loopHits atomic.Int32
	public   *httptest.Server
	v6       string // host:port of an IPv6 loopback server, or of loop
	closed   string // host:port on the stand-in public host where nothing listens
}

const sourceQuery = `SELECT handle, slug, destination_url FROM links WHERE active = 1 ORDER BY rowid`

func startOn(t *testing.T, addr string, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func portOf(t *testing.T, srv *httptest.Server) uint16 {
	t.Helper()
	_, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	return uint16(n)
}

func newLinkFixture(t *testing.T, allowPrivate bool, tokens ...string) *linkFixture {
	t.Helper()
	lf := &linkFixture{}
	lf.loop = startOn(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) { lf.loopHits.Add(1) })
	ports := []uint16{portOf(t, lf.loop), 80}
	lf.v6 = lf.loop.Listener.Addr().String()
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		_ = ln.Close()
		v6 := startOn(t, "[::1]:0", func(w http.ResponseWriter, r *http.Request) { lf.loopHits.Add(1) })
		lf.v6 = v6.Listener.Addr().String()
		ports = append(ports, portOf(t, v6))
	}
	lf.public = startOn(t, "127.0.0.2:0", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			w.WriteHeader(http.StatusNotFound)
		case "/to-loopback":
			http.Redirect(w, r, lf.loop.URL+"/", http.StatusFound)
		case "/to-signed":
			http.Redirect(w, r, "/landing?sig=SIGNED-by-server&x=1", http.StatusFound)
		}
	})
	ports = append(ports, portOf(t, lf.public))
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	lf.closed = ln.Addr().String()
	_ = ln.Close()
	ports = append(ports, portOfAddr(lf.closed))

	pool, err := probes.NewPool(map[string]string{"app": "sqlite://" + filepath.Join(t.TempDir(), "app.db")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pool.Close() })
	db, _, err := pool.SQL("app")
	if err != nil {
		t.Fatal(err)
	}
	pub := lf.public.URL
	for _, q := range []string{
		`CREATE TABLE links (handle TEXT, slug TEXT, destination_url TEXT, active INTEGER)`,
		`INSERT INTO links VALUES
			('acme', 'home', '` + pub + `/', 1),
			('acme', 'old', '` + pub + `/missing', 1),
			('acme', 'home-again', '` + pub + `/', 1),
			('acme', 'off', '` + pub + `/off', 0),
			('beta', 'sneaky', '` + lf.loop.URL + `/admin', 1)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}

	lf.clients = probes.NewLinkClients(probes.Guard{Ports: ports,
		AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})
	lf.env = &probes.Env{Pool: pool, Links: lf.clients, Now: func() time.Time { return at }}

	specs := []check.Spec{
		{Name: "conn", Kind: "db", Interval: time.Minute, Timeout: 5 * time.Second},
		{Name: "dest_links", Kind: "link", Interval: time.Hour, Timeout: 4 * time.Second,
			Config: probes.LinkConfig{Source: probes.SQLSource{Database: "app", Query: sourceQuery}}},
		{Name: "site_links", Kind: "link", Interval: time.Hour, Timeout: 4 * time.Second,
			Config: probes.LinkConfig{URLs: []string{pub + "/", pub + "/missing"}}},
	}
	now := func() time.Time { return at }
	f := &fixture{snap: snapshot.New(specs, now), beats: probes.NewBeatStore()}
	f.s = New(Options{Snapshot: f.snap, Gatherer: prometheus.NewRegistry(), Beats: f.beats, Now: now})
	f.s.SetTokens(tokens, nil)
	f.s.SetLinks(lf.env, lf.clients, allowPrivate)
	f.srv = httptest.NewServer(f.s)
	t.Cleanup(f.srv.Close)
	lf.fixture = f
	return lf
}

func (f *fixture) send(t *testing.T, method, path, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// linkResults decodes a 200 answer of the link API.
func linkResults(t *testing.T, resp *http.Response, body []byte) []check.LinkResult {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var raw map[string][]map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	// Every field of the contract is present, even when zero.
	for _, r := range raw["results"] {
		for _, k := range []string{"url", "status", "statusCode", "method", "finalUrl", "durationMs", "error"} {
			if _, ok := r[k]; !ok {
				t.Fatalf("result lacks %q: %v", k, r)
			}
		}
	}
	var out struct {
		Results []check.LinkResult `json:"results"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if out.Results == nil {
		t.Fatalf("results is not a list: %s", body)
	}
	return out.Results
}

// results sends a request and decodes its 200 answer.
func (f *fixture) results(t *testing.T, method, path, body string, hdr map[string]string) []check.LinkResult {
	t.Helper()
	resp, b := f.send(t, method, path, body, hdr)
	return linkResults(t, resp, b)
}

func urlsBody(urls ...string) string {
	b, _ := json.Marshal(map[string][]string{"urls": urls})
	return string(b)
}

func TestLinksAuth(t *testing.T) {
	t.Parallel()
	lf := newLinkFixture(t, false, "s3cret-token")
	routes := []struct{ method, path, body string }{
		{"POST", "/v2/links/health-check", urlsBody(lf.public.URL + "/")},
		{"POST", "/v2/handles/acme/links/health-check", ""},
		{"GET", "/v2/links", ""},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			resp, body := lf.send(t, rt.method, rt.path, rt.body, nil)
			assertEnvelope(t, resp, body, 401, CodeMissingToken)
			resp, body = lf.send(t, rt.method, rt.path, rt.body, map[string]string{"Authorization": "Bearer nope"})
			assertEnvelope(t, resp, body, 401, CodeInvalidToken)
			resp, body = lf.send(t, rt.method, rt.path, rt.body, map[string]string{"Authorization": "Basic czNjcmV0LXRva2Vu"})
			assertEnvelope(t, resp, body, 401, CodeMissingToken)
			resp, body = lf.send(t, rt.method, rt.path, rt.body, map[string]string{"Authorization": "Bearer s3cret-token"})
			if resp.StatusCode != 200 {
				t.Fatalf("with the token: %d %s", resp.StatusCode, body)
			}
		})
	}
}

func TestLinksCheckBadRequests(t *testing.T) {
	t.Parallel()
	lf := newLinkFixture(t, false)
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("https://example.com/%d", i)
	}
	cases := []struct {
		name, body string
		status     int
		code       string
	}{
		{"invalid JSON", `{"urls": [`, 400, CodeInvalidRequest},
		{"empty body", ``, 400, CodeInvalidRequest},
		{"not an object", `["https://example.com/"]`, 400, CodeInvalidRequest},
		{"no urls", `{}`, 400, CodeInvalidRequest},
		{"empty list", `{"urls": []}`, 400, CodeInvalidRequest},
		{"null list", `{"urls": null}`, 400, CodeInvalidRequest},
		{"urls not a list", `{"urls": "https://example.com/"}`, 400, CodeInvalidRequest},
		{"unknown field", `{"urls": ["https://example.com/"], "timeout": "1s"}`, 400, CodeInvalidRequest},
		{"data after the object", `{"urls": ["https://example.com/"]} {}`, 400, CodeInvalidRequest},
		{"empty URL", `{"urls": ["https://example.com/", " "]}`, 400, CodeInvalidRequest},
		{"101 URLs", urlsBody(many...), 413, CodeTooLarge},
		{"body over 64 KiB", urlsBody("https://example.com/" + strings.Repeat("a", 65<<10)), 413, CodeTooLarge},
		{"huge body", `{"urls": ["` + strings.Repeat("a", 1<<20), 413, CodeTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body := lf.send(t, "POST", "/v2/links/health-check", tc.body, nil)
			assertEnvelope(t, resp, body, tc.status, tc.code)
		})
	}
	t.Run("101 URLs details", func(t *testing.T) {
		t.Parallel()
		_, body := lf.send(t, "POST", "/v2/links/health-check", urlsBody(many...), nil)
		var env struct {
			Details map[string]float64 `json:"details"`
		}
		_ = json.Unmarshal(body, &env)
		if env.Details["max"] != 100 || env.Details["got"] != 101 {
			t.Fatalf("details: %s", body)
		}
	})
	t.Run("GET is not allowed", func(t *testing.T) {
		t.Parallel()
		resp, body := lf.send(t, "GET", "/v2/links/health-check", "", nil)
		assertEnvelope(t, resp, body, 405, CodeMethodNotAllowed)
	})
	if n := lf.loopHits.Load(); n != 0 {
		t.Fatalf("%d requests reached loopback", n)
	}
}

func TestLinksCheckResults(t *testing.T) {
	t.Parallel()
	lf := newLinkFixture(t, false)
	pub := lf.public.URL
	urls := []string{pub + "/", pub + "/missing", "not a url", "http://" + lf.closed + "/"}
	// 100 is the limit, and allowed.
	for len(urls) < 100 {
		urls = append(urls, fmt.Sprintf("%s/page/%d", pub, len(urls)))
	}
	res := lf.results(t, "POST", "/v2/links/health-check", urlsBody(urls...), nil)
	if len(res) != len(urls) {
		t.Fatalf("%d results for %d URLs", len(res), len(urls))
	}
	for i, r := range res {
		if r.URL != urls[i] {
			t.Fatalf("result %d is for %q, want %q (order kept)", i, r.URL, urls[i])
		}
	}
	if r := res[0]; r.Status != check.Pass || r.StatusCode != 200 || r.Method != "HEAD" || r.FinalURL != pub+"/" || r.Error != "" {
		t.Errorf("200: %+v", r)
	}
	if r := res[1]; r.Status != check.Fail || r.StatusCode != 404 || r.Error != check.LinkErrHTTPStatus {
		t.Errorf("404: %+v", r)
	}
	if r := res[2]; r.Status != check.Fail || r.Error != check.LinkErrInvalidURL {
		t.Errorf("not a URL: %+v", r)
	}
	if r := res[3]; r.Status != check.Fail || r.Error != check.LinkErrConnect {
		t.Errorf("refused: %+v", r)
	}
	for _, r := range res[4:] {
		if r.Status != check.Pass {
			t.Errorf("%s: %+v", r.URL, r)
		}
	}
}

// ssrfURLs are the ways to a private address the guard must close.
func (lf *linkFixture) ssrfURLs() []struct{ name, url string } {
	loopPort := strconv.Itoa(int(portOfAddr(lf.loop.Listener.Addr().String())))
	return []struct{ name, url string }{
		{"127.0.0.1", lf.loop.URL + "/"},
		{"[::1]", "http://" + lf.v6 + "/"},
		{"10.x", "http://10.1.2.3/"},
		{"metadata", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"},
		{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]:" + loopPort + "/"},
		{"hostname resolving to loopback", "http://localhost:" + loopPort + "/"},
		{"public URL redirecting to loopback", lf.public.URL + "/to-loopback"},
	}
}

func portOfAddr(addr string) uint16 {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.ParseUint(p, 10, 16)
	return uint16(n)
}

func TestLinksCheckSSRF(t *testing.T) {
	t.Parallel()
	t.Run("guarded", func(t *testing.T) {
		t.Parallel()
		lf := newLinkFixture(t, false)
		cases := lf.ssrfURLs()
		var urls []string
		for _, c := range cases {
			urls = append(urls, c.url)
		}
		res := lf.results(t, "POST", "/v2/links/health-check", urlsBody(urls...), nil)
		for i, c := range cases {
			if r := res[i]; r.Status != check.Fail || r.Error != check.LinkErrBlocked {
				t.Errorf("%s: %s/%s %q, want FAIL/blocked", c.name, r.Status, r.Error, r.ErrorMessage)
			} else if !strings.Contains(r.ErrorMessage, "server.links_allow_private: true") {
				t.Errorf("%s: message %q does not say how to allow it", c.name, r.ErrorMessage)
			}
		}
		if n := lf.loopHits.Load(); n != 0 {
			t.Fatalf("%d requests reached loopback", n)
		}
	})
	t.Run("links_allow_private", func(t *testing.T) {
		t.Parallel()
		lf := newLinkFixture(t, true)
		var urls, names []string
		for _, c := range lf.ssrfURLs() {
			// 10.x and 169.254.169.254 are not asked: something real may answer.
			if c.name != "10.x" && c.name != "metadata" {
				urls, names = append(urls, c.url), append(names, c.name)
			}
		}
		res := lf.results(t, "POST", "/v2/links/health-check", urlsBody(urls...), nil)
		for i, r := range res {
			if r.Status != check.Pass {
				t.Errorf("%s: %s/%s %q, want PASS", names[i], r.Status, r.Error, r.ErrorMessage)
			}
		}
		if n := lf.loopHits.Load(); int(n) < len(urls) {
			t.Fatalf("loopback saw %d requests, want %d", n, len(urls))
		}
	})
}

func TestHandleLinksCheck(t *testing.T) {
	t.Parallel()
	lf := newLinkFixture(t, false, "tok")
	auth := map[string]string{"Authorization": "Bearer tok"}
	pub := lf.public.URL

	res := lf.results(t, "POST", "/v2/handles/acme/links/health-check", "", auth)
	// home-again repeats home's URL: checked once.
	if len(res) != 2 {
		t.Fatalf("%d results for acme, want 2: %+v", len(res), res)
	}
	want := []struct {
		slug, url string
		status    check.Status
		code      int
	}{{"home", pub + "/", check.Pass, 200}, {"old", pub + "/missing", check.Fail, 404}}
	for i, w := range want {
		r := res[i]
		if r.Handle != "acme" || r.Slug != w.slug || r.URL != w.url || r.Status != w.status || r.StatusCode != w.code {
			t.Errorf("result %d: %+v, want %+v", i, r, w)
		}
	}

	// A handle's links are user-supplied too: guarded.
	res = lf.results(t, "POST", "/v2/handles/beta/links/health-check", "", auth)
	if len(res) != 1 || res[0].Slug != "sneaky" || res[0].Error != check.LinkErrBlocked {
		t.Fatalf("beta: %+v", res)
	}
	if n := lf.loopHits.Load(); n != 0 {
		t.Fatalf("%d requests reached loopback", n)
	}

	for _, h := range []string{"nobody", "ACME"} {
		resp, body := lf.send(t, "POST", "/v2/handles/"+h+"/links/health-check", "", auth)
		assertEnvelope(t, resp, body, 404, CodeNotFound)
	}
}

func TestLinksLatest(t *testing.T) {
	t.Parallel()
	lf := newLinkFixture(t, false)
	get := func(query string) []check.LinkResult {
		t.Helper()
		return lf.results(t, "GET", "/v2/links"+query, "", nil)
	}
	if res := get(""); len(res) != 0 {
		t.Fatalf("before any run: %+v", res)
	}

	// Run both checks for real and record them, as the scheduler does.
	for _, name := range []string{"dest_links", "site_links"} {
		sp, _ := lf.snap.Spec(name)
		r := probes.ProbeLink(context.Background(), sp, lf.env)
		r.CheckedAt = at
		lf.snap.Record(r)
	}

	all := get("")
	// dest_links: home, old, home-again (a scheduled run checks every row),
	// sneaky (blocked); site_links: 2.
	if len(all) != 6 {
		t.Fatalf("%d results, want 6: %+v", len(all), all)
	}
	failing := get("?status=FAIL")
	if len(failing) != 3 {
		t.Fatalf("%d failing, want 3: %+v", len(failing), failing)
	}
	for _, r := range failing {
		if r.Status != check.Fail || r.Check == "" || r.CheckedAt.IsZero() {
			t.Errorf("%+v", r)
		}
	}
	dest := get("?status=fail&check=dest_links")
	if len(dest) != 2 {
		t.Fatalf("dest_links failing: %+v", dest)
	}
	wantSlugs := map[string]check.Reason{"old": check.LinkErrHTTPStatus, "sneaky": check.LinkErrBlocked}
	for _, r := range dest {
		if r.Check != "dest_links" || r.Handle == "" || wantSlugs[r.Slug] != r.Error {
			t.Errorf("%+v", r)
		}
	}
	site := get("?check=site_links&status=PASS")
	if len(site) != 1 || site[0].Check != "site_links" || site[0].Handle != "" || site[0].Slug != "" {
		t.Fatalf("site_links passing: %+v", site)
	}
	_, body := lf.send(t, "GET", "/v2/links?check=dest_links", "", nil)
	for _, k := range []string{`"check":"dest_links"`, `"handle":"acme"`, `"slug":"home"`} {
		if !strings.Contains(string(body), k) {
			t.Errorf("body lacks %s: %s", k, body)
		}
	}
	if strings.Contains(string(body), "truncated") {
		t.Errorf("whole links said truncated: %s", body)
	}
	// A result another replica ran, whose links were over the store's
	// bound: the answer says which check holds only part of its links.
	sp, _ := lf.snap.Spec("site_links")
	part := probes.ProbeLink(context.Background(), sp, lf.env)
	part.CheckedAt, part.Links, part.LinksTotal = at.Add(time.Minute), part.Links[:1], 40
	lf.snap.Record(part)
	_, body = lf.send(t, "GET", "/v2/links", "", nil)
	if want := `"truncated":[{"check":"site_links","links":1,"total":40}]`; !strings.Contains(string(body), want) {
		t.Errorf("body lacks %s: %s", want, body)
	}

	for _, tc := range []struct {
		query  string
		status int
		code   string
	}{
		{"?status=BROKEN", 400, CodeInvalidRequest},
		{"?check=nope", 404, CodeNotFound},
		{"?check=conn", 404, CodeNotFound}, // not a link check
	} {
		resp, body := lf.send(t, "GET", "/v2/links"+tc.query, "", nil)
		assertEnvelope(t, resp, body, tc.status, tc.code)
	}
}

// Decode errors speak of the body's fields and positions, never of Go types.
func TestLinksCheckJSONErrorsInUserTerms(t *testing.T) {
	t.Parallel()
	lf := newLinkFixture(t, false)
	for _, tc := range []struct {
		name, body, desc string
		details          map[string]any
	}{
		{"urls a string", `{"urls": "https://example.com/"}`, "urls must be an array of strings (got a string)",
			map[string]any{"field": "urls", "line": 1.0, "column": 31.0, "got": "string"}},
		{"a number in urls", "{\n  \"urls\": [\n    1\n  ]\n}", "urls must be an array of strings (got a number)",
			map[string]any{"field": "urls", "line": 3.0, "column": 5.0}},
		{"an object in urls", `{"urls": [{"url": "https://example.com/"}]}`, "urls must be an array of strings (got an object)",
			map[string]any{"field": "urls"}},
		{"not an object", `["https://example.com/"]`, `Body must be a JSON object like {"urls": ["https://..."]} (got an array)`,
			map[string]any{"line": 1.0, "column": 1.0}},
		{"unknown field", `{"urls": ["https://example.com/"], "timeout": "1s"}`, `Unknown field "timeout"; the body takes only "urls"`,
			map[string]any{"field": "timeout"}},
		// encoding/json matched names without regard to case: these passed for "urls".
		{"field in capitals", `{"URLS": ["https://example.com/"]}`, `Unknown field "URLS"; the body takes only "urls"`,
			map[string]any{"field": "URLS"}},
		{"field capitalised", `{"Urls": ["https://example.com/"]}`, `Unknown field "Urls"; the body takes only "urls"`,
			map[string]any{"field": "Urls"}},
		{"syntax", "{\"urls\" [\"x\"]}", "Body is not valid JSON: invalid character '[' after object key",
			map[string]any{"line": 1.0, "column": 9.0}},
		{"cut short", `{"urls": [`, `Body ends inside the JSON; send {"urls": ["https://..."]}`, nil},
		{"empty", ``, `Body is empty; send {"urls": ["https://..."]}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := lf.send(t, "POST", "/v2/links/health-check", tc.body, nil)
			assertEnvelope(t, resp, body, 400, CodeInvalidRequest)
			for _, leak := range []string{"Go value", "server.", "[]string", "json: "} {
				if strings.Contains(string(body), leak) {
					t.Fatalf("error names Go internals (%q): %s", leak, body)
				}
			}
			var env struct {
				Desc    string         `json:"error_description"`
				Details map[string]any `json:"details"`
			}
			_ = json.Unmarshal(body, &env)
			if env.Desc != tc.desc {
				t.Errorf("error_description %q, want %q", env.Desc, tc.desc)
			}
			for k, v := range tc.details {
				if env.Details[k] != v {
					t.Errorf("details[%s] = %v, want %v (%v)", k, env.Details[k], v, env.Details)
				}
			}
		})
	}
}

// A JSON body declared as something else is refused with 415; JSON types
// (with parameters, +json) and a missing Content-Type are accepted.
func TestLinksCheckContentType(t *testing.T) {
	t.Parallel()
	lf := newLinkFixture(t, false)
	body := urlsBody(lf.public.URL + "/")
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "json", "application/jsonx"} {
		resp, b := lf.send(t, "POST", "/v2/links/health-check", body, map[string]string{"Content-Type": ct})
		assertEnvelope(t, resp, b, 415, CodeUnsupportedMedia)
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.monitor+json", ""} {
		if res := lf.results(t, "POST", "/v2/links/health-check", body, map[string]string{"Content-Type": ct}); len(res) != 1 || res[0].Status != check.Pass {
			t.Errorf("Content-Type %q: %+v", ct, res)
		}
	}
}

// Link URLs from config and SQL sources carry passwords and tokens: every
// answer redacts them as /metrics does (check.RedactURL). Only the caller's
// own input to POST /v2/links/health-check is echoed.
func TestLinksRedactCredentials(t *testing.T) {
	t.Parallel()
	lf := newLinkFixture(t, false)
	pub := lf.public.URL
	host := strings.TrimPrefix(pub, "http://")
	secretURL := "http://user:hunter2-pw@" + host + "/private?token=sekrit-tok&lang=en#frag-secret"
	wantURL := "http://user:***@" + host + "/private?lang=***&token=***"
	db, _, err := lf.env.Pool.SQL("app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO links VALUES ('gamma', 'secret', ?, 1), ('gamma', 'signed', ?, 1)`,
		secretURL, pub+"/to-signed?auth=sekrit-tok"); err != nil {
		t.Fatal(err)
	}
	leaks := func(t *testing.T, body []byte) {
		t.Helper()
		for _, s := range []string{"hunter2-pw", "sekrit-tok", "frag-secret", "SIGNED-by-server"} {
			if strings.Contains(string(body), s) {
				t.Fatalf("%q leaked: %s", s, body)
			}
		}
	}

	t.Run("handle endpoint", func(t *testing.T) {
		resp, body := lf.send(t, "POST", "/v2/handles/gamma/links/health-check", "", nil)
		leaks(t, body)
		res := linkResults(t, resp, body)
		if len(res) != 2 || res[0].URL != wantURL || res[0].FinalURL != wantURL || res[0].Status != check.Pass {
			t.Fatalf("secret link: %+v", res)
		}
		if r := res[1]; r.URL != pub+"/to-signed?auth=***" || r.FinalURL != pub+"/landing?sig=***&x=***" ||
			len(r.Redirects) != 1 || r.Redirects[0].URL != pub+"/to-signed?auth=***" {
			t.Fatalf("signed link: %+v", r)
		}
	})

	t.Run("latest results", func(t *testing.T) {
		sp, _ := lf.snap.Spec("dest_links")
		r := probes.ProbeLink(context.Background(), sp, lf.env)
		r.CheckedAt = at
		lf.snap.Record(r)
		resp, body := lf.send(t, "GET", "/v2/links?check=dest_links", "", nil)
		leaks(t, body)
		found := false
		for _, l := range linkResults(t, resp, body) {
			if l.Slug == "secret" {
				found = l.URL == wantURL && l.FinalURL == wantURL
			}
		}
		if !found {
			t.Fatalf("no redacted secret link in %s", body)
		}
	})

	t.Run("caller's own input is echoed", func(t *testing.T) {
		own := pub + "/to-signed?auth=my-own-token"
		res := lf.results(t, "POST", "/v2/links/health-check", urlsBody(own), nil)
		if r := res[0]; r.URL != own || len(r.Redirects) != 1 || r.Redirects[0].URL != own ||
			r.FinalURL != pub+"/landing?sig=***&x=***" {
			t.Fatalf("on-demand: %+v", r)
		}
	})
}
