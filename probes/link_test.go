package probes

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/testenv"
)

// linkServer starts an httptest server closed at the end of the test. quit
// is closed before the server, so that handlers that hang on purpose
// (select on quit and the request's context) let Close return.
func linkServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request, quit <-chan struct{})) *httptest.Server {
	t.Helper()
	quit := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(w, r, quit) }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(quit) })
	return srv
}

// linkServerOn is linkServer listening on addr (e.g. 127.0.0.2:0).
func linkServerOn(t *testing.T, addr string, h http.HandlerFunc) *httptest.Server {
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

// rawServer accepts connections on a loopback port and hands each to serve
// in its own goroutine: servers that break HTTP in ways net/http will not.
// The listener and every connection are closed at the end of the test.
func rawServer(t *testing.T, serve func(c net.Conn, quit <-chan struct{})) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	quit := make(chan struct{})
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { serve(c, quit) })
		}
	})
	t.Cleanup(func() {
		close(quit)
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// privateChecker is the checker of a scheduled check with allow_private,
// with clients of its own (so that no other test's HEAD memory leaks in).
func privateChecker(o LinkOptions) *LinkChecker {
	return NewLinkClients(Guard{}).Checker(true, o)
}

// checkURLs runs one batch and returns the results in order, failing the
// test when a link gets no result or more than one.
func checkURLs(t *testing.T, c *LinkChecker, urls ...string) []check.LinkResult {
	t.Helper()
	targets := make([]LinkTarget, len(urls))
	for i, u := range urls {
		targets[i] = LinkTarget{URL: u}
	}
	return checkTargets(t, context.Background(), c, targets)
}

func checkTargets(t *testing.T, ctx context.Context, c *LinkChecker, targets []LinkTarget) []check.LinkResult {
	t.Helper()
	results := make([]check.LinkResult, len(targets))
	calls := make([]atomic.Int32, len(targets))
	c.Check(ctx, targets, func(i int, r check.LinkResult) {
		calls[i].Add(1)
		results[i] = r
	})
	for i := range calls {
		if n := calls[i].Load(); n != 1 {
			t.Fatalf("link %d (%s) got %d results, want 1", i, targets[i].URL, n)
		}
	}
	return results
}

// linkWant is what a test expects of one link's result; zero fields are
// not checked, except Error and Status which always are.
type linkWant struct {
	status   check.Status
	code     int
	method   string
	finalURL string
	err      check.Reason
	msg      string // a substring of ErrorMessage
	hops     []check.Hop
	noHops   bool
}

func (w linkWant) check(t *testing.T, r check.LinkResult) {
	t.Helper()
	if r.Status != w.status || r.Error != w.err {
		t.Fatalf("got %s/%q (%s), want %s/%q", r.Status, r.Error, r.ErrorMessage, w.status, w.err)
	}
	if w.code != 0 && r.StatusCode != w.code {
		t.Errorf("statusCode = %d, want %d", r.StatusCode, w.code)
	}
	if w.method != "" && r.Method != w.method {
		t.Errorf("method = %q, want %q", r.Method, w.method)
	}
	if w.finalURL != "" && r.FinalURL != w.finalURL {
		t.Errorf("finalUrl = %q, want %q", r.FinalURL, w.finalURL)
	}
	if w.msg != "" && !strings.Contains(r.ErrorMessage, w.msg) {
		t.Errorf("errorMessage = %q, want it to contain %q", r.ErrorMessage, w.msg)
	}
	if w.err == "" && r.ErrorMessage != "" {
		t.Errorf("a passing link has errorMessage %q", r.ErrorMessage)
	}
	if w.hops != nil && !slices.Equal(r.Redirects, w.hops) {
		t.Errorf("redirects = %v, want %v", r.Redirects, w.hops)
	}
	if w.noHops && len(r.Redirects) != 0 {
		t.Errorf("redirects = %v, want none", r.Redirects)
	}
	if r.DurationMs < 0 {
		t.Errorf("durationMs = %v", r.DurationMs)
	}
}

// statusMux answers the status cases.
func statusMux(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
	p := r.URL.Path
	switch {
	case p == "/ok":
		w.WriteHeader(200)
	case p == "/moved":
		http.Redirect(w, r, "/ok", http.StatusMovedPermanently)
	case p == "/missing":
		http.NotFound(w, r)
	case p == "/error":
		http.Error(w, "boom", http.StatusInternalServerError)
	case p == "/head500":
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "hello")
	case p == "/nohead" || p == "/head501":
		if r.Method == http.MethodHead {
			code := http.StatusMethodNotAllowed
			if p == "/head501" {
				code = http.StatusNotImplemented
			}
			w.WriteHeader(code)
			return
		}
		_, _ = io.WriteString(w, "hello")
	case p == "/loop/a":
		http.Redirect(w, r, "/loop/b", http.StatusFound)
	case p == "/loop/b":
		http.Redirect(w, r, "/loop/a#frag", http.StatusFound)
	case strings.HasPrefix(p, "/hops/"):
		n, _ := strconv.Atoi(strings.TrimPrefix(p, "/hops/"))
		if n == 0 {
			w.WriteHeader(200)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/hops/%d", n-1), http.StatusFound)
	case p == "/gone-after-redirect":
		http.Redirect(w, r, "/missing", http.StatusTemporaryRedirect)
	case p == "/bad-location":
		w.Header().Set("Location", "http://[::1:bad/")
		w.WriteHeader(http.StatusFound)
	default:
		http.NotFound(w, r)
	}
}

func hops(base string, codeAndPaths ...any) []check.Hop {
	var out []check.Hop
	for i := 0; i < len(codeAndPaths); i += 2 {
		out = append(out, check.Hop{URL: base + codeAndPaths[i+1].(string), StatusCode: codeAndPaths[i].(int)})
	}
	return out
}

func hopChain(base string, from int) []check.Hop {
	var out []check.Hop
	for n := from; n > 0; n-- {
		out = append(out, check.Hop{URL: fmt.Sprintf("%s/hops/%d", base, n), StatusCode: 302})
	}
	return out
}

func TestLinkStatuses(t *testing.T) {
	t.Parallel()
	srv := linkServer(t, statusMux)
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	b := srv.URL
	refused := "http://" + closedAddr(t) + "/"

	cases := []struct {
		name string
		url  string
		opts LinkOptions
		want linkWant
	}{
		{"200", b + "/ok", LinkOptions{},
			linkWant{status: check.Pass, code: 200, method: "HEAD", finalURL: b + "/ok", noHops: true}},
		{"200 with GET", b + "/ok", LinkOptions{Method: "GET"},
			linkWant{status: check.Pass, code: 200, method: "GET", finalURL: b + "/ok", noHops: true}},
		{"301 then 200", b + "/moved", LinkOptions{},
			linkWant{status: check.Pass, code: 200, method: "HEAD", finalURL: b + "/ok", hops: hops(b, 301, "/moved")}},
		{"404", b + "/missing", LinkOptions{},
			linkWant{status: check.Fail, code: 404, method: "HEAD", err: check.LinkErrHTTPStatus, msg: "HTTP 404 Not Found"}},
		{"500 on HEAD and GET", b + "/error", LinkOptions{},
			linkWant{status: check.Fail, code: 500, method: "GET", err: check.LinkErrHTTPStatus, msg: "HTTP 500 Internal Server Error"}},
		{"HEAD 500 then GET 200", b + "/head500", LinkOptions{},
			linkWant{status: check.Pass, code: 200, method: "GET", finalURL: b + "/head500"}},
		{"500 with GET only", b + "/error", LinkOptions{Method: "GET"},
			linkWant{status: check.Fail, code: 500, method: "GET", err: check.LinkErrHTTPStatus}},
		{"307 then 404", b + "/gone-after-redirect", LinkOptions{},
			linkWant{status: check.Fail, code: 404, finalURL: b + "/missing", err: check.LinkErrHTTPStatus,
				hops: hops(b, 307, "/gone-after-redirect")}},
		{"HEAD 405 then GET 200", b + "/nohead", LinkOptions{},
			linkWant{status: check.Pass, code: 200, method: "GET", finalURL: b + "/nohead"}},
		{"HEAD 501 then GET 200", b + "/head501", LinkOptions{},
			linkWant{status: check.Pass, code: 200, method: "GET"}},
		{"redirect loop", b + "/loop/a", LinkOptions{},
			linkWant{status: check.Fail, code: 302, err: check.LinkErrRedirects, msg: "redirect loop",
				hops: hops(b, 302, "/loop/a", 302, "/loop/b")}},
		{"10 redirects", b + "/hops/10", LinkOptions{},
			linkWant{status: check.Pass, code: 200, finalURL: b + "/hops/0", hops: hopChain(b, 10)}},
		{"11 redirects", b + "/hops/11", LinkOptions{},
			linkWant{status: check.Fail, code: 302, err: check.LinkErrRedirects, msg: "more than 10 redirects",
				hops: hopChain(b, 11)}},
		{"bad Location", b + "/bad-location", LinkOptions{},
			linkWant{status: check.Fail, method: "HEAD", err: check.LinkErrInvalidURL, msg: "Location"}},
		{"404 listed as valid", b + "/missing", LinkOptions{ValidCodes: []int{404, 410}},
			linkWant{status: check.Pass, code: 404}},
		{"200 not listed as valid", b + "/ok", LinkOptions{ValidCodes: []int{204}},
			linkWant{status: check.Fail, code: 200, err: check.LinkErrHTTPStatus}},
		{"refused port", refused, LinkOptions{},
			linkWant{status: check.Fail, method: "HEAD", err: check.LinkErrConnect, msg: "refused"}},
		{"unresolvable name", "http://no-such-host.monitor-test.invalid/x", LinkOptions{},
			linkWant{status: check.Fail, method: "HEAD", err: check.LinkErrDNS, msg: "no-such-host.monitor-test.invalid"}},
		{"untrusted certificate", tlsSrv.URL + "/", LinkOptions{},
			linkWant{status: check.Fail, method: "HEAD", err: check.LinkErrTLS, msg: "certificate"}},
		{"not absolute", "/just/a/path", LinkOptions{},
			linkWant{status: check.Fail, err: check.LinkErrInvalidURL}},
		{"not a URL", "http://[::1", LinkOptions{},
			linkWant{status: check.Fail, err: check.LinkErrInvalidURL}},
		{"bad escape", b + "/%zz", LinkOptions{},
			linkWant{status: check.Fail, err: check.LinkErrInvalidURL, msg: `does not parse: invalid URL escape "%zz"`}},
		{"bad port", "http://u:secret@127.0.0.1:x/", LinkOptions{},
			linkWant{status: check.Fail, err: check.LinkErrInvalidURL, msg: `does not parse: invalid port ":x"`}},
		{"no host", "http:///path", LinkOptions{},
			linkWant{status: check.Fail, err: check.LinkErrInvalidURL}},
		{"other scheme", "ftp://example.com/file", LinkOptions{},
			linkWant{status: check.Fail, err: check.LinkErrBlocked, msg: "scheme"}},
		{"spaces around", "  " + b + "/ok\t", LinkOptions{},
			linkWant{status: check.Pass, code: 200}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := checkURLs(t, privateChecker(tc.opts), tc.url)[0]
			tc.want.check(t, r)
			if r.URL != tc.url {
				t.Errorf("url = %q, want the link as given %q", r.URL, tc.url)
			}
			if r.Status == check.Pass && r.StatusCode == 0 {
				t.Error("a passing link has no status code")
			}
		})
	}
}

// slowloris reads the request, writes a status line, then one header byte
// every 300ms, forever.
func slowloris(c net.Conn, quit <-chan struct{}) {
	br := bufio.NewReader(c)
	if _, err := http.ReadRequest(br); err != nil {
		return
	}
	go func() { _, _ = io.Copy(io.Discard, br) }()
	if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\n"); err != nil {
		return
	}
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-quit:
			return
		case <-tick.C:
			if _, err := c.Write([]byte("X")); err != nil {
				return
			}
		}
	}
}

func TestLinkTimeouts(t *testing.T) {
	t.Parallel()
	headHangs := linkServer(t, func(w http.ResponseWriter, r *http.Request, quit <-chan struct{}) {
		if r.Method == http.MethodHead {
			select {
			case <-r.Context().Done():
			case <-quit:
			}
			return
		}
		_, _ = io.WriteString(w, "fine")
	})
	endless := linkServer(t, func(w http.ResponseWriter, r *http.Request, quit <-chan struct{}) {
		w.Header().Set("Content-Type", "application/octet-stream")
		chunk := make([]byte, 32<<10)
		for {
			select {
			case <-quit:
				return
			default:
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	slow := rawServer(t, slowloris)
	silent := testenv.Silent(t)

	cases := []struct {
		name     string
		url      string
		opts     LinkOptions
		want     linkWant
		min, max time.Duration
	}{
		{"HEAD hangs, GET answers", headHangs.URL + "/", LinkOptions{Timeout: 2 * time.Second},
			linkWant{status: check.Pass, code: 200, method: "GET"}, time.Second, 1900 * time.Millisecond},
		{"headers sent slowly", "http://" + slow + "/", LinkOptions{},
			linkWant{status: check.Fail, err: check.LinkErrTimeout, msg: "4s"}, 4 * time.Second, 4600 * time.Millisecond},
		{"never-ending body on GET", endless.URL + "/stream", LinkOptions{Method: "GET"},
			linkWant{status: check.Pass, code: 200, method: "GET"}, 0, time.Second},
		{"never a word", "http://" + silent + "/", LinkOptions{Timeout: time.Second},
			linkWant{status: check.Fail, err: check.LinkErrTimeout}, time.Second, 1800 * time.Millisecond},
	}
	// The checks run at once whatever -parallel is (CI machines may have two
	// CPUs, so two parallel tests): the test takes about 4s.
	type outcome struct {
		r    check.LinkResult
		took time.Duration
	}
	outcomes := make([]outcome, len(cases))
	var wg sync.WaitGroup
	for i, tc := range cases {
		wg.Go(func() {
			start := time.Now()
			privateChecker(tc.opts).Check(context.Background(), []LinkTarget{{URL: tc.url}},
				func(_ int, r check.LinkResult) { outcomes[i].r = r })
			outcomes[i].took = time.Since(start)
		})
	}
	wg.Wait()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, took := outcomes[i].r, outcomes[i].took
			tc.want.check(t, r)
			if took < tc.min || took > tc.max {
				t.Errorf("took %s, want %s..%s", took, tc.min, tc.max)
			}
			if d := time.Duration(r.DurationMs * float64(time.Millisecond)); d > took || d < tc.min-time.Millisecond {
				t.Errorf("durationMs %v does not match the %s the check took", r.DurationMs, took)
			}
		})
	}
}

// TestLinkGETReadsLittle drips a never-ending body and counts what the
// server managed to write before the checker hung up.
func TestLinkGETReadsLittle(t *testing.T) {
	t.Parallel()
	written := make(chan int, 1)
	srv := linkServer(t, func(w http.ResponseWriter, r *http.Request, quit <-chan struct{}) {
		chunk := make([]byte, 1024)
		n := 0
		defer func() { written <- n }()
		for {
			m, err := w.Write(chunk)
			n += m
			if err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-quit:
				return
			case <-r.Context().Done():
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	r := checkURLs(t, privateChecker(LinkOptions{Method: "GET"}), srv.URL+"/drip")[0]
	linkWant{status: check.Pass, code: 200, method: "GET"}.check(t, r)
	select {
	case n := <-written:
		if n < linkBodyCap || n > 256<<10 {
			t.Fatalf("the server wrote %d bytes before the checker hung up, want about %d", n, linkBodyCap)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the checker did not hang up on a never-ending body")
	}
}

// TestLinkHEADBrokenFallsBackToGET: a server that drops the connection on
// HEAD but answers GET.
func TestLinkHEADBrokenFallsBackToGET(t *testing.T) {
	t.Parallel()
	var heads atomic.Int32
	addr := rawServer(t, func(c net.Conn, _ <-chan struct{}) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if req.Method == http.MethodHead {
				heads.Add(1)
				return // hang up without a word
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	r := checkURLs(t, privateChecker(LinkOptions{}), "http://"+addr+"/x")[0]
	linkWant{status: check.Pass, code: 200, method: "GET"}.check(t, r)
	if heads.Load() == 0 {
		t.Fatal("HEAD was never tried")
	}
}

// TestLinkHEADMemory: after a host answers HEAD with 405 its next links go
// straight to GET; other hosts still get HEAD.
func TestLinkHEADMemory(t *testing.T) {
	t.Parallel()
	type counts struct{ head, get atomic.Int32 }
	var bad, good counts
	badSrv := linkServer(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		if r.Method == http.MethodHead {
			bad.head.Add(1)
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		bad.get.Add(1)
	})
	goodSrv := linkServer(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		if r.Method == http.MethodHead {
			good.head.Add(1)
		} else {
			good.get.Add(1)
		}
	})
	clients := NewLinkClients(Guard{})
	// One at a time, so that "next" means something.
	c := clients.Checker(true, LinkOptions{Concurrency: 1})
	res := checkURLs(t, c, badSrv.URL+"/a", badSrv.URL+"/b", badSrv.URL+"/c", goodSrv.URL+"/d")
	for i, r := range res[:3] {
		if r.Status != check.Pass || r.Method != "GET" {
			t.Errorf("link %d: %s via %s, want PASS via GET", i, r.Status, r.Method)
		}
	}
	if got := [2]int32{bad.head.Load(), bad.get.Load()}; got != [2]int32{1, 3} {
		t.Errorf("the HEAD-mishandling host saw %d HEAD and %d GET, want 1 and 3", got[0], got[1])
	}
	if res[3].Method != "HEAD" || good.head.Load() != 1 || good.get.Load() != 0 {
		t.Errorf("another host: method %s, %d HEAD, %d GET; want HEAD only", res[3].Method, good.head.Load(), good.get.Load())
	}
	// The memory belongs to the clients: a later run remembers it.
	r := checkURLs(t, clients.Checker(true, LinkOptions{}), badSrv.URL+"/e")[0]
	if r.Method != "GET" || bad.head.Load() != 1 {
		t.Errorf("next run: method %s, %d HEAD in all; want GET and still 1", r.Method, bad.head.Load())
	}
}

func TestLinkRequestHeaders(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	srv := linkServer(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.UserAgent()+" "+r.Header.Get("Accept"))
		mu.Unlock()
		if r.URL.Path == "/nohead" && r.Method == http.MethodHead {
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
	checkURLs(t, privateChecker(LinkOptions{}), srv.URL+"/ok", srv.URL+"/nohead")
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 {
		t.Fatalf("requests: %q, want HEAD /ok, HEAD and GET /nohead", seen)
	}
	for _, s := range seen {
		if !strings.HasSuffix(s, " "+UserAgent+" */*") {
			t.Errorf("request %q lacks the User-Agent %q", s, UserAgent)
		}
	}
	if !strings.HasPrefix(UserAgent, "monitor-linkcheck/") {
		t.Errorf("UserAgent = %q", UserAgent)
	}
}

// concurrencyMeter counts requests in flight per host and in all.
type concurrencyMeter struct {
	mu        sync.Mutex
	now, peak map[string]int
	all, top  int
	requests  int
}

func (m *concurrencyMeter) handler(host string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.now[host]++
		m.all++
		m.requests++
		m.peak[host] = max(m.peak[host], m.now[host])
		m.top = max(m.top, m.all)
		m.mu.Unlock()
		time.Sleep(40 * time.Millisecond)
		m.mu.Lock()
		m.now[host]--
		m.all--
		m.mu.Unlock()
	}
}

func TestLinkConcurrencyLimits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                      string
		hosts, perHostLinks       int
		concurrency, perHost      int
		wantPeakAll, wantPeakHost int
	}{
		{"per host binds", 4, 8, 32, 2, 8, 2},
		{"global binds", 4, 8, 3, 2, 3, 1}, // round-robin: one link per host
		{"one host", 1, 12, 32, 3, 3, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := &concurrencyMeter{now: map[string]int{}, peak: map[string]int{}}
			var urls []string
			for h := range tc.hosts {
				name := fmt.Sprintf("h%d", h)
				srv := httptest.NewServer(m.handler(name))
				t.Cleanup(srv.Close)
				for i := range tc.perHostLinks {
					urls = append(urls, fmt.Sprintf("%s/%d", srv.URL, i))
				}
			}
			// Interleave nothing: the links of each host come in a block,
			// the worst case for a naive worker pool.
			res := checkURLs(t, privateChecker(LinkOptions{Concurrency: tc.concurrency, PerHost: tc.perHost}), urls...)
			for i, r := range res {
				if r.Status != check.Pass {
					t.Fatalf("link %d: %s %s %s", i, r.Status, r.Error, r.ErrorMessage)
				}
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.requests != len(urls) {
				t.Errorf("%d requests for %d links", m.requests, len(urls))
			}
			for h, p := range m.peak {
				if p > tc.perHost {
					t.Errorf("host %s saw %d requests at once, limit %d", h, p, tc.perHost)
				}
			}
			if m.top > tc.concurrency {
				t.Errorf("%d requests at once in all, limit %d", m.top, tc.concurrency)
			}
			// The limits are reached, not just respected (a serial checker
			// would pass the checks above).
			if m.top < tc.wantPeakAll || slices.Max(mapValues(m.peak)) < tc.wantPeakHost {
				t.Errorf("peaks: %d in all, per host %v; want %d and %d", m.top, m.peak, tc.wantPeakAll, tc.wantPeakHost)
			}
		})
	}
}

func mapValues(m map[string]int) []int {
	var out []int
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestLinkSlowHostSkipped: a host whose links keep timing out is slowed to
// one link at a time and then skipped, without holding up the other hosts.
func TestLinkSlowHostSkipped(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	reached := map[string]bool{}
	slow := linkServer(t, func(w http.ResponseWriter, r *http.Request, quit <-chan struct{}) {
		mu.Lock()
		reached[r.URL.Path] = true
		mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-quit:
		}
	})
	fast := linkServer(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {})
	const slowLinks = 20
	var urls []string
	for i := range slowLinks {
		urls = append(urls, fmt.Sprintf("%s/slow/%d", slow.URL, i))
	}
	for i := range 5 {
		urls = append(urls, fmt.Sprintf("%s/fast/%d", fast.URL, i))
	}
	start := time.Now()
	res := checkURLs(t, privateChecker(LinkOptions{Timeout: 400 * time.Millisecond, PerHost: 4}), urls...)
	took := time.Since(start)

	skipped := 0
	for i, r := range res[:slowLinks] {
		if r.Status != check.Fail || r.Error != check.LinkErrTimeout {
			t.Errorf("slow link %d: %s/%s, want FAIL/timeout", i, r.Status, r.Error)
		}
		if strings.HasPrefix(r.ErrorMessage, "not checked") {
			skipped++
		}
	}
	for i, r := range res[slowLinks:] {
		if r.Status != check.Pass {
			t.Errorf("fast link %d: %s %s", i, r.Status, r.Error)
		}
	}
	mu.Lock()
	n := len(reached)
	mu.Unlock()
	if n >= slowLinks/2 {
		t.Errorf("%d of the slow host's %d links reached it; it should have been skipped", n, slowLinks)
	}
	if skipped == 0 || skipped+n != slowLinks {
		t.Errorf("%d skipped and %d reached, want a sum of %d", skipped, n, slowLinks)
	}
	if took > 3*time.Second {
		t.Errorf("took %s: the skipped links were waited for", took)
	}
}

func TestLinkCanceled(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := linkServer(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) { hits.Add(1) })
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("shutting down"))
	targets := []LinkTarget{{URL: srv.URL + "/a"}, {URL: srv.URL + "/b"}, {URL: "http://127.0.0.1:1/"}}
	res := checkTargets(t, ctx, privateChecker(LinkOptions{}), targets)
	for i, r := range res {
		if r.Status != check.Fail || r.URL != targets[i].URL || !strings.Contains(r.ErrorMessage, "shutting down") {
			t.Errorf("link %d: %+v", i, r)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests after cancellation", hits.Load())
	}
	// Nothing at all is fine too.
	privateChecker(LinkOptions{}).Check(context.Background(), nil, func(int, check.LinkResult) { t.Error("called") })
}

func TestLinkErrorsHideCredentials(t *testing.T) {
	t.Parallel()
	urls := []string{
		"http://user:s3cr3t-pass@" + closedAddr(t) + "/x?token=s3cr3t-pass",
		"http://user:s3cr3t-pass@no-such-host.monitor-test.invalid/",
		"http://user:s3cr3t-pass@127.0.0.1:22/",
	}
	res := checkURLs(t, NewLinkClients(Guard{}).Checker(false, LinkOptions{}), urls[2])
	res = append(res, checkURLs(t, privateChecker(LinkOptions{}), urls[:2]...)...)
	for _, r := range res {
		if r.Status != check.Fail || r.ErrorMessage == "" {
			t.Errorf("%s: %s %q", r.Error, r.Status, r.ErrorMessage)
		}
		if strings.Contains(r.ErrorMessage, "s3cr3t") {
			t.Errorf("%s message leaks the password: %q", r.Error, r.ErrorMessage)
		}
	}
}

func TestSummarizeLinks(t *testing.T) {
	t.Parallel()
	results := func(pass int, failKinds ...check.Reason) []check.LinkResult {
		var out []check.LinkResult
		for range pass {
			out = append(out, check.LinkResult{Status: check.Pass})
		}
		for _, k := range failKinds {
			out = append(out, check.LinkResult{Status: check.Fail, Error: k})
		}
		return out
	}
	cases := []struct {
		name     string
		ratio    float64
		links    []check.LinkResult
		status   check.Status
		msg      string
		observed float64
	}{
		{"none failing", 0, results(3), check.Pass, "0 of 3 links failing", 0},
		{"three of 1,204", 0, results(1201, "http_status", "timeout", "http_status"), check.Fail,
			"3 of 1,204 links failing (2 http_status, 1 timeout)", 3},
		{"kinds tied are sorted by name", 0, results(0, "timeout", "dns", "blocked"), check.Fail,
			"3 of 3 links failing (1 blocked, 1 dns, 1 timeout)", 3},
		{"under the ratio", 0.01, results(1201, "dns", "dns", "dns"), check.Pass,
			"3 of 1,204 links failing (3 dns)", 3},
		{"at the ratio", 0.25, results(3, "connect"), check.Pass, "1 of 4 links failing (1 connect)", 1},
		{"over the ratio", 0.25, results(2, "connect"), check.Fail, "1 of 3 links failing (1 connect)", 1},
		{"many", 0, results(10_000, "tls"), check.Fail, "1 of 10,001 links failing (1 tls)", 1},
		{"one link", 0, results(0, "dns"), check.Fail, "1 of 1 link failing (1 dns)", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := check.Spec{Name: "links", Kind: "link", Config: LinkConfig{FailRatio: tc.ratio}, Severity: check.Critical}
			r := SummarizeLinks(spec, tc.links)
			if r.Status != tc.status || r.Message != tc.msg {
				t.Fatalf("got %s %q, want %s %q", r.Status, r.Message, tc.status, tc.msg)
			}
			wantSev := check.Info
			if tc.status == check.Fail {
				wantSev = check.Critical
			}
			if r.Severity != wantSev || r.Check != "links" || r.Kind != "link" {
				t.Errorf("severity %s, check %q, kind %q", r.Severity, r.Check, r.Kind)
			}
			if r.ObservedValue == nil || *r.ObservedValue != tc.observed || r.ObservedUnit != "links" {
				t.Errorf("observed %v %q, want %v links", r.ObservedValue, r.ObservedUnit, tc.observed)
			}
			if len(r.Links) != len(tc.links) {
				t.Errorf("%d link results, want %d", len(r.Links), len(tc.links))
			}
		})
	}
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 1204: "1,204",
		123456: "123,456", 1234567: "1,234,567", -1204: "-1,204"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestProbeLinkURLs checks 1,204 links for real: three fail.
func TestProbeLinkURLs(t *testing.T) {
	t.Parallel()
	srv := linkServer(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		if strings.HasPrefix(r.URL.Path, "/missing/") {
			w.WriteHeader(404)
		}
	})
	var urls []string
	for i := range 1201 {
		urls = append(urls, fmt.Sprintf("%s/ok/%d", srv.URL, i))
	}
	urls = append(urls, srv.URL+"/missing/1", "http://"+closedAddr(t)+"/", srv.URL+"/missing/2")
	now := time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)
	env := &Env{Links: NewLinkClients(Guard{}), Now: func() time.Time { return now }}

	spec := check.Spec{Name: "destination_links", Kind: "link",
		Config: LinkConfig{URLs: urls, AllowPrivate: true, Concurrency: 32}, Severity: check.Warn}
	r := ProbeLink(context.Background(), spec, env)
	const msg = "3 of 1,204 links failing (2 http_status, 1 connect)"
	if r.Status != check.Fail || r.Severity != check.Warn || r.Message != msg {
		t.Fatalf("fail_ratio 0: %s/%s %q", r.Status, r.Severity, r.Message)
	}
	if r.ObservedValue == nil || *r.ObservedValue != 3 || r.ObservedUnit != "links" {
		t.Fatalf("observed %v %q", r.ObservedValue, r.ObservedUnit)
	}
	if len(r.Links) != len(urls) {
		t.Fatalf("%d link results for %d links", len(r.Links), len(urls))
	}
	for i, l := range r.Links {
		if l.URL != urls[i] || l.Check != "destination_links" || !l.CheckedAt.Equal(now) {
			t.Fatalf("link %d: %+v", i, l)
		}
	}
	// 3 of 1,204 is under 1%.
	spec.Config = LinkConfig{URLs: urls, AllowPrivate: true, Concurrency: 32, FailRatio: 0.01}
	if r := SummarizeLinks(spec, r.Links); r.Status != check.Pass || r.Message != msg {
		t.Fatalf("fail_ratio 0.01: %s %q", r.Status, r.Message)
	}
}

// TestProbeLinkGuard: a scheduled check without allow_private is guarded.
func TestProbeLinkGuard(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := linkServer(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) { hits.Add(1) })
	port, _ := strconv.Atoi(srv.URL[strings.LastIndex(srv.URL, ":")+1:])
	env := &Env{Links: NewLinkClients(Guard{Ports: []uint16{uint16(port)}})}
	spec := check.Spec{Name: "l", Kind: "link", Config: LinkConfig{URLs: []string{srv.URL + "/"}}}
	if r := ProbeLink(context.Background(), spec, env); r.Status != check.Fail || r.Links[0].Error != check.LinkErrBlocked {
		t.Fatalf("guarded: %s %q %+v", r.Status, r.Message, r.Links)
	}
	spec.Config = LinkConfig{URLs: []string{srv.URL + "/"}, AllowPrivate: true}
	if r := ProbeLink(context.Background(), spec, env); r.Status != check.Pass {
		t.Fatalf("allow_private: %s %q", r.Status, r.Message)
	}
	if hits.Load() != 1 {
		t.Fatalf("%d requests reached the server, want 1 (the allowed one)", hits.Load())
	}
}

func TestProbeLinkSQLite(t *testing.T) {
	t.Parallel()
	srv := linkServer(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		if r.URL.Path == "/gone" {
			w.WriteHeader(410)
		}
	})
	p := newPool(t, map[string]string{"app": "sqlite://" + filepath.Join(t.TempDir(), "app.db")})
	db, _ := sqlOf(t, p, "app")
	mustExec(t, db, `CREATE TABLE links (handle TEXT, slug TEXT, destination_url TEXT, active INTEGER)`)
	for _, row := range [][]any{
		{"acme", "home", srv.URL + "/", 1},
		{"acme", "old", srv.URL + "/gone", 1},
		{"beta", "docs", "  " + srv.URL + "/docs  ", 1},
		{"beta", "off", srv.URL + "/off", 0},
		{"beta", "empty", "", 1},
		{"beta", "null", nil, 1},
	} {
		mustExec(t, db, `INSERT INTO links VALUES (?, ?, ?, ?)`, row...)
	}
	env := &Env{Pool: p, Links: NewLinkClients(Guard{})}
	spec := func(query string) check.Spec {
		return check.Spec{Name: "dest", Kind: "link", Severity: check.Warn,
			Config: LinkConfig{AllowPrivate: true, Source: SQLSource{Database: "app", Query: query}}}
	}

	t.Run("handle, slug, destination_url", func(t *testing.T) {
		r := ProbeLink(context.Background(), spec(`SELECT handle, slug, destination_url FROM links WHERE active = 1 ORDER BY rowid`), env)
		if r.Status != check.Fail || r.Message != "1 of 3 links failing (1 http_status)" {
			t.Fatalf("%s %q", r.Status, r.Message)
		}
		want := []struct{ handle, slug, url string }{
			{"acme", "home", srv.URL + "/"}, {"acme", "old", srv.URL + "/gone"}, {"beta", "docs", srv.URL + "/docs"}}
		for i, w := range want {
			l := r.Links[i]
			if l.Handle != w.handle || l.Slug != w.slug || l.URL != w.url || l.Check != "dest" {
				t.Errorf("link %d: %+v, want %v", i, l, w)
			}
		}
		if r.Links[1].StatusCode != 410 || r.Links[1].Status != check.Fail {
			t.Errorf("the gone link: %+v", r.Links[1])
		}
	})
	t.Run("one column", func(t *testing.T) {
		r := ProbeLink(context.Background(), spec(`SELECT destination_url FROM links WHERE handle = 'acme' ORDER BY rowid`), env)
		if r.Status != check.Fail || r.Message != "1 of 2 links failing (1 http_status)" {
			t.Fatalf("%s %q", r.Status, r.Message)
		}
		if l := r.Links[0]; l.Handle != "" || l.Slug != "" || l.URL != srv.URL+"/" {
			t.Errorf("%+v", l)
		}
	})
	t.Run("no rows", func(t *testing.T) {
		r := ProbeLink(context.Background(), spec(`SELECT destination_url FROM links WHERE 0`), env)
		if r.Status != check.Pass || r.Message != "no links to check" || r.ObservedValue == nil || *r.ObservedValue != 0 {
			t.Fatalf("%s %q %v", r.Status, r.Message, r.ObservedValue)
		}
	})
	for _, tc := range []struct{ name, query, msg string }{
		{"two columns", `SELECT handle, destination_url FROM links`, "2 columns"},
		{"bad query", `SELECT nope FROM nowhere`, "no such table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ProbeLink(context.Background(), spec(tc.query), env)
			if r.Status != check.Unknown || !strings.Contains(r.Message, tc.msg) || !strings.HasPrefix(r.Message, "link source: ") {
				t.Fatalf("%s %q, want UNKNOWN mentioning %q", r.Status, r.Message, tc.msg)
			}
		})
	}
	t.Run("unknown database", func(t *testing.T) {
		sp := spec(`SELECT 1`)
		sp.Config = LinkConfig{AllowPrivate: true, Source: SQLSource{Database: "nope", Query: `SELECT 1`}}
		if r := ProbeLink(context.Background(), sp, env); r.Status != check.Unknown {
			t.Fatalf("%s %q", r.Status, r.Message)
		}
		if r := ProbeLink(context.Background(), spec(`SELECT 1`), &Env{}); r.Status != check.Unknown {
			t.Fatalf("no pool: %s %q", r.Status, r.Message)
		}
	})
}

func TestProbeLinkPostgres(t *testing.T) {
	t.Parallel()
	srv := linkServer(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {})
	p := newPool(t, map[string]string{"app": postgresDSN(t)})
	db, _ := sqlOf(t, p, "app")
	table := "monitor_links_" + suffix()
	mustExec(t, db, `CREATE TABLE `+table+` (handle text, slug text, destination_url text)`)
	t.Cleanup(func() { _, _ = db.Exec(`DROP TABLE ` + table) })
	mustExec(t, db, `INSERT INTO `+table+` VALUES ($1, $2, $3), ($4, $5, $6)`,
		"acme", "a", srv.URL+"/a", "acme", "b", srv.URL+"/b")
	spec := check.Spec{Name: "pg_links", Kind: "link", Config: LinkConfig{AllowPrivate: true,
		Source: SQLSource{Database: "app", Query: `SELECT handle, slug, destination_url FROM ` + table + ` ORDER BY slug`}}}
	r := ProbeLink(context.Background(), spec, &Env{Pool: p, Links: NewLinkClients(Guard{})})
	if r.Status != check.Pass || r.Message != "0 of 2 links failing" || len(r.Links) != 2 || r.Links[1].Slug != "b" {
		t.Fatalf("%s %q %+v", r.Status, r.Message, r.Links)
	}
}

// TestLinkClientBehaviours: what http.Client.Do did for a link request
// still happens: a URL's user and password go as basic auth (a relative
// redirect keeps them: it resolves against the URL), and an https link to a
// plain-HTTP server is told apart from a TLS failure.
func TestLinkClientBehaviours(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var saw []string
	srv := linkServer(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		user, pass, ok := r.BasicAuth()
		mu.Lock()
		saw = append(saw, fmt.Sprintf("%s %s %q %q %v", r.Method, r.URL.Path, user, pass, ok))
		mu.Unlock()
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/target", http.StatusFound)
		}
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	c := privateChecker(LinkOptions{})
	res := checkURLs(t, c, "http://us%20er:p%40ss@"+host+"/auth", "http://"+host+"/none",
		"http://u:p@"+host+"/moved", "https://"+host+"/tls")
	for i, r := range res[:3] {
		if r.Status != check.Pass {
			t.Errorf("link %d: %s %s %s", i, r.Status, r.Error, r.ErrorMessage)
		}
	}
	mu.Lock()
	got := strings.Join(saw, "\n")
	mu.Unlock()
	for _, want := range []string{`HEAD /auth "us er" "p@ss" true`, `HEAD /none "" "" false`,
		`HEAD /moved "u" "p" true`, `HEAD /target "u" "p" true`} {
		if !strings.Contains(got, want) {
			t.Errorf("the server did not see %s; it saw:\n%s", want, got)
		}
	}
	if r := res[3]; r.Status != check.Fail || r.Error != check.LinkErrConnect ||
		r.ErrorMessage != "http: server gave HTTP response to HTTPS client" {
		t.Errorf("https to a plain server: %s %s %q", r.Status, r.Error, r.ErrorMessage)
	}
}
