package server

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
)

func limitsWith(f func(*config.RateLimits)) config.RateLimits {
	rl := config.DefaultRateLimits
	f(&rl)
	return rl
}

func assertRateLimited(t *testing.T, resp *http.Response, body []byte) int {
	t.Helper()
	assertEnvelope(t, resp, body, http.StatusTooManyRequests, CodeRateLimited)
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After %q, want whole seconds ≥ 1", resp.Header.Get("Retry-After"))
	}
	return secs
}

// A client flooding the private API gets 429 rate_limited with Retry-After
// once its burst is spent; another client (token) is not affected.
func TestRateLimitFlood(t *testing.T) {
	f := newFixture(t, "tok-aaaa-1111", "tok-bbbb-2222")
	f.s.SetRateLimits(limitsWith(func(rl *config.RateLimits) { rl.RequestsPerSecond, rl.Burst = 1, 5 }))
	a := map[string]string{"Authorization": "Bearer tok-aaaa-1111"}
	ok, limited := 0, 0
	for range 50 {
		resp, body := f.do(t, "POST", "/v2/heartbeats/beat", a)
		switch resp.StatusCode {
		case http.StatusAccepted:
			ok++
		default:
			assertRateLimited(t, resp, body)
			limited++
		}
	}
	if ok > 6 || limited < 44 {
		t.Fatalf("%d accepted, %d limited; want the burst of 5 (+1 refill at most) accepted", ok, limited)
	}
	if resp, body := f.do(t, "POST", "/v2/heartbeats/beat", map[string]string{"Authorization": "Bearer tok-bbbb-2222"}); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("another token is limited too: %d %s", resp.StatusCode, body)
	}
	// Public endpoints are not limited: probes and Prometheus poll them.
	for range 50 {
		if resp, _ := f.do(t, "GET", "/v2/system/health", nil); resp.StatusCode == http.StatusTooManyRequests {
			t.Fatal("health is rate limited")
		}
	}
}

// Wrong tokens are limited much harder than right ones (the default
// config): after the failed-attempt burst, an address gets 429 without its
// token being compared, so guessing runs at 10 a minute.
func TestRateLimitWrongTokenFlood(t *testing.T) {
	f := newFixture(t, "right-token-1234")
	unauthorized, limited, retry := 0, 0, 0
	for i := range 300 {
		resp, body := f.do(t, "GET", "/v2/sla", map[string]string{"Authorization": fmt.Sprintf("Bearer guess-%d", i)})
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			unauthorized++
		default:
			retry = assertRateLimited(t, resp, body)
			limited++
		}
	}
	if unauthorized > config.DefaultRateLimits.FailedAuthBurst+1 || limited < 280 {
		t.Fatalf("%d answered 401, %d limited; want at most the failed_auth_burst of %d answered",
			unauthorized, limited, config.DefaultRateLimits.FailedAuthBurst)
	}
	if retry < 5 || retry > 6 {
		t.Fatalf("Retry-After %d, want 6 (10 attempts a minute)", retry)
	}
	// Even the right token is not compared now: a guess could not tell.
	resp, body := f.do(t, "GET", "/v2/sla", map[string]string{"Authorization": "Bearer right-token-1234"})
	assertRateLimited(t, resp, body)

	// The same number of good requests mostly pass (burst 40).
	g := newFixture(t, "right-token-1234")
	passed := 0
	for range 40 {
		if resp, _ := g.do(t, "GET", "/v2/sla", map[string]string{"Authorization": "Bearer right-token-1234"}); resp.StatusCode == 200 {
			passed++
		}
	}
	if passed != 40 {
		t.Fatalf("%d of 40 good requests passed", passed)
	}
}

// A flood from many addresses cannot grow the limiter maps past max_clients.
func TestRateLimitClientsBounded(t *testing.T) {
	f := newFixture(t, "right-token-1234")
	f.s.SetRateLimits(limitsWith(func(rl *config.RateLimits) { rl.MaxClients = 500 }))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 20_000 {
		req := httptest.NewRequest("GET", "/v2/sla", nil)
		req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:4000", i>>16&255, i>>8&255, i&255)
		req.Header.Set("Authorization", "Bearer wrong")
		f.s.ServeHTTP(httptest.NewRecorder(), req)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	l := f.s.limits.Load()
	if n := l.failed.len(); n > 500 {
		t.Fatalf("%d addresses remembered, want at most max_clients 500", n)
	}
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 4<<20 {
		t.Fatalf("heap grew by %d bytes for 20,000 addresses", grown)
	}
}

// 20 parallel on-demand requests of 100 URLs each: the outbound
// connections open at once never exceed link_connections, and every link
// still gets its answer (the requests queue for link_checks slots).
func TestOnDemandOutboundBound(t *testing.T) {
	lf := newLinkFixture(t, true)
	const bound = 24
	lf.s.SetRateLimits(limitsWith(func(rl *config.RateLimits) {
		rl.LinkChecks, rl.LinkConnections, rl.QueueTimeout = 3, bound, time.Minute
	}))
	// Counted two ways at the loopback listener: the monitor's own count of
	// open connections at every new connection, and the client sockets
	// connected to the listener as the kernel sees them (/proc/net/tcp,
	// ESTABLISHED), sampled all along. The server's own view would include
	// the time it lingers after closing, which is not ours.
	var peak, kernelPeak, total atomic.Int64
	raise := func(p *atomic.Int64, n int64) {
		for cur := p.Load(); n > cur && !p.CompareAndSwap(cur, n); cur = p.Load() {
		}
	}
	onDemand := lf.s.links.rt.Load().onDemand
	target := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond)
	}))
	target.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			total.Add(1)
			raise(&peak, int64(onDemand.OpenConns()))
		}
	}
	target.Start()
	t.Cleanup(target.Close)
	port := target.Listener.Addr().(*net.TCPAddr).Port
	_, kernelErr := establishedTo(port)
	sampled := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(sampled)
		for kernelErr == nil {
			select {
			case <-stopSampling:
				return
			default:
			}
			n, _ := establishedTo(port)
			raise(&kernelPeak, int64(n))
			time.Sleep(200 * time.Microsecond)
		}
	}()

	var goroutinesPeak atomic.Int64
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				if n := int64(runtime.NumGoroutine()); n > goroutinesPeak.Load() {
					goroutinesPeak.Store(n)
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for req := range 20 {
		wg.Go(func() {
			urls := make([]string, 100)
			for i := range urls {
				urls[i] = fmt.Sprintf("%s/r%d/l%d", target.URL, req, i)
			}
			res := lf.results(t, "POST", "/v2/links/health-check", urlsBody(urls...), nil)
			for _, r := range res {
				if r.Status != check.Pass {
					t.Errorf("%s: %s %s %s", r.URL, r.Status, r.Error, r.ErrorMessage)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	close(stopSampling)
	<-sampled
	t.Logf("peak %d connections open (kernel: %d; bound %d), %d dialled, peak %d goroutines",
		peak.Load(), kernelPeak.Load(), bound, total.Load(), goroutinesPeak.Load())
	if p := peak.Load(); p > bound || p == 0 {
		t.Fatalf("%d outbound connections open at once, want at most link_connections %d", p, bound)
	}
	if kernelErr != nil {
		t.Logf("kernel count skipped: %v", kernelErr)
	} else if p := kernelPeak.Load(); p > 2*bound || p == 0 {
		// A slot is given back when Close returns, but Go closes the
		// socket itself only once a concurrent Read on it has returned:
		// under -race on a loaded machine the kernel still lists a few
		// just-closed sockets as ESTABLISHED for a moment (seen: 37 for a
		// bound of 24). Unbounded, it was 2,000.
		t.Fatalf("the kernel saw %d connections to the listener at once, want about link_connections %d", p, bound)
	}
	// 3 requests in flight × 8 workers (24 / 3), 2 per connection, the
	// transport's dials and the 17 queued requests: far below the 6,000
	// seen before the bound.
	if g := goroutinesPeak.Load(); g > 500 {
		t.Fatalf("%d goroutines at the peak", g)
	}
}

// With every link_checks slot busy, a request waits queue_timeout, then
// gets 429 rate_limited with Retry-After.
func TestOnDemandQueueFull(t *testing.T) {
	lf := newLinkFixture(t, true)
	lf.s.SetRateLimits(limitsWith(func(rl *config.RateLimits) { rl.LinkChecks, rl.QueueTimeout = 1, 50*time.Millisecond }))
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	first := make(chan struct{})
	go func() {
		defer close(first)
		resp, _ := lf.send(t, "POST", "/v2/links/health-check", urlsBody(slow.URL+"/"), nil)
		_ = resp
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(lf.s.limits.Load().links) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first request never took its slot")
		}
		time.Sleep(time.Millisecond)
	}
	resp, body := lf.send(t, "POST", "/v2/links/health-check", urlsBody(slow.URL+"/"), nil)
	assertRateLimited(t, resp, body)
	if !strings.Contains(string(body), `"limit":"link_checks"`) {
		t.Fatalf("details do not name the limit: %s", body)
	}
}

// establishedTo counts the ESTABLISHED IPv4 sockets whose remote port is
// port: the client ends of connections to a local listener, as the kernel
// sees them.
func establishedTo(port int) (int, error) {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return 0, err
	}
	want := fmt.Sprintf(":%04X", port)
	// The file is read in chunks and is no atomic snapshot: a socket can
	// be listed twice when the table changes between two reads, so count
	// each local address (the client's ephemeral port) once.
	seen := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[2], want) && f[3] == "01" {
			seen[f[1]] = true
		}
	}
	return len(seen), nil
}
