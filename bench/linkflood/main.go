// Command linkflood measures GET /v2/system/health while the on-demand link
// API is flooded: the real server.Server with the daemon's http.Server
// settings and server.rate_limits, a loopback link target (allow-private),
// F flooding clients each POSTing 100-URL /v2/links/health-check requests
// back to back, and one client timing health requests one after another.
//
//	go run ./bench/linkflood -duration 10s -flooders 20
//	go run ./bench/linkflood -rps 1000000      # per-client limit out of the way: only link_checks/link_connections bound the work
//
// It prints the health latency percentiles, what the flood got (200 / 429),
// the links checked, and the peaks of outbound connections and goroutines.
// Exit status 1 when the health p99 is 10 ms or more.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/probes"
	"github.com/monitor-dev/monitor/server"
	"github.com/monitor-dev/monitor/snapshot"
)

func main() {
	duration := flag.Duration("duration", 10*time.Second, "how long to flood")
	flooders := flag.Int("flooders", 20, "clients POSTing 100-URL link checks back to back")
	checks := flag.Int("checks", 100, "checks in the health snapshot")
	rps := flag.Float64("rps", config.DefaultRateLimits.RequestsPerSecond, "rate_limits.requests_per_second (per client)")
	burst := flag.Int("burst", config.DefaultRateLimits.Burst, "rate_limits.burst")
	linkChecks := flag.Int("link-checks", config.DefaultRateLimits.LinkChecks, "rate_limits.link_checks")
	linkConns := flag.Int("link-connections", config.DefaultRateLimits.LinkConnections, "rate_limits.link_connections")
	delay := flag.Duration("target-delay", 5*time.Millisecond, "how long the link target takes to answer")
	flag.Parse()

	// The link target: every URL answers 200 after a delay.
	var targetOpen, targetPeak atomic.Int64
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(*delay) }),
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				n := targetOpen.Add(1)
				for p := targetPeak.Load(); n > p && !targetPeak.CompareAndSwap(p, n); p = targetPeak.Load() {
				}
			case http.StateClosed, http.StateHijacked:
				targetOpen.Add(-1)
			}
		}}
	tln := must(net.Listen("tcp", "127.0.0.1:0"))
	go func() { _ = target.Serve(tln) }()

	// The monitor's server, wired as cmd/monitor/run.go wires it.
	specs := make([]check.Spec, *checks)
	for i := range specs {
		specs[i] = check.Spec{Name: fmt.Sprintf("check_%04d", i), Kind: "db", Interval: time.Hour, Timeout: 5 * time.Second,
			Severity: check.Warn}
	}
	snap := snapshot.New(specs, time.Now)
	for _, sp := range specs {
		r := sp.PassResult("ok")
		r.CheckedAt, r.Duration = time.Now(), 3*time.Millisecond
		snap.Record(r)
	}
	srv := server.New(server.Options{Snapshot: snap, Gatherer: prometheus.NewRegistry()})
	const token = "bench-token-0123456789"
	srv.SetTokens([]string{token}, nil)
	rl := config.DefaultRateLimits
	rl.RequestsPerSecond, rl.Burst, rl.LinkChecks, rl.LinkConnections = *rps, *burst, *linkChecks, *linkConns
	srv.SetRateLimits(rl)
	srv.SetLinks(&probes.Env{}, probes.NewLinkClients(probes.Guard{}), true)
	ln := must(net.Listen("tcp", "127.0.0.1:0"))
	httpSrv := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	go func() { _ = httpSrv.Serve(ln) }()
	base := "http://" + ln.Addr().String()

	urls := make([]string, 100)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://%s/link/%d", tln.Addr(), i)
	}
	body := must(json.Marshal(map[string][]string{"urls": urls}))

	stop := make(chan struct{})
	var ok200, limited, other, links atomic.Int64
	var wg sync.WaitGroup
	floodClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *flooders}}
	for range *flooders {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("POST", base+"/v2/links/health-check", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := floodClient.Do(req)
				if err != nil {
					other.Add(1)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					ok200.Add(1)
					links.Add(int64(bytes.Count(b, []byte(`"url"`))))
				case http.StatusTooManyRequests:
					limited.Add(1)
					// A well-behaved client would wait Retry-After; a flood does not.
				default:
					other.Add(1)
				}
			}
		})
	}
	var gPeak atomic.Int64
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				if n := int64(runtime.NumGoroutine()); n > gPeak.Load() {
					gPeak.Store(n)
				}
			}
		}
	}()

	// The health client: one request after another on a kept-alive connection.
	healthClient := &http.Client{}
	var lat []time.Duration
	bad := 0
	end := time.Now().Add(*duration)
	for time.Now().Before(end) {
		t0 := time.Now()
		resp, err := healthClient.Get(base + "/v2/system/health")
		if err != nil {
			bad++
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			bad++
		}
		lat = append(lat, time.Since(t0))
	}
	close(stop)
	wg.Wait()

	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(int(p*float64(len(lat))), len(lat)-1)] }
	fmt.Printf("health under a link-API flood: %d flooders for %s, rate_limits %+v\n", *flooders, *duration, rl)
	fmt.Printf("health: %d requests (%d not 200), p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
		len(lat), bad, ms(pct(0.50)), ms(pct(0.99)), ms(pct(0.999)), ms(lat[len(lat)-1]))
	secs := duration.Seconds()
	fmt.Printf("flood: %d answered 200 (%.0f/s, %d links checked), %d answered 429 (%.0f/s), %d other\n",
		ok200.Load(), float64(ok200.Load())/secs, links.Load(), limited.Load(), float64(limited.Load())/secs, other.Load())
	fmt.Printf("peaks: %d connections open at the link target (server view, includes its linger after close; bound %d), %d goroutines\n",
		targetPeak.Load(), *linkConns, gPeak.Load())
	if pct(0.99) >= 10*time.Millisecond {
		fmt.Println("FAIL: health p99 is 10 ms or more")
		os.Exit(1)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func must[T any](v T, err error) T {
	if err != nil {
		fmt.Fprintln(os.Stderr, "linkflood:", err)
		os.Exit(1)
	}
	return v
}
