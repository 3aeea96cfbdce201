// Command health serves the real server.Server (the handler `monitor run`
// serves) over a snapshot of N checks that all have results, for load
// generators such as wrk. It serves until killed.
//
//	go run ./bench/health -checks 1000 -listen 127.0.0.1:18080 [-churn 0]
//
// The checks are a deterministic mix of db and freshness checks: about 80%
// PASS, 10% FAIL/WARN, 10% UNKNOWN, every tenth depending on a parent. With
// -critical one check is FAIL/CRITICAL, so the endpoint answers 503. Their
// interval is 1h, so nothing goes stale while the benchmark runs: with
// -churn 0 the body stays the same and the snapshot's render cache serves it
// (re-rendered once a second). -churn R records R fresh results per second,
// round-robin over the checks, as a running scheduler does (N checks at
// interval I record N/I results per second); every record invalidates the
// cache.
//
// bench/health/run.sh drives it with wrk; health_test.go has the in-process
// Go benchmarks.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/metrics"
	"github.com/monitor-dev/monitor/probes"
	"github.com/monitor-dev/monitor/server"
	"github.com/monitor-dev/monitor/snapshot"
)

func main() {
	checks := flag.Int("checks", 1000, "number of checks in the snapshot")
	listen := flag.String("listen", "127.0.0.1:18080", "address to serve on")
	churn := flag.Float64("churn", 0, "fresh results recorded per second (0: a static snapshot)")
	critical := flag.Bool("critical", false, "make one check FAIL/CRITICAL (the endpoint then answers 503)")
	flag.Parse()
	if *checks <= 0 {
		fmt.Fprintln(os.Stderr, "bench/health: -checks must be > 0")
		os.Exit(2)
	}

	f := newFixture(*checks, *critical, time.Now())
	for _, ietf := range []bool{false, true} {
		r := f.snap.Health(ietf)
		fmt.Fprintf(os.Stderr, "bench/health: %d checks, ietf=%v: HTTP %d, body %d bytes\n", *checks, ietf, r.Code, len(r.Body))
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench/health: %v\n", err)
		os.Exit(1)
	}
	// The daemon's http.Server settings (cmd/monitor/run.go).
	srv := &http.Server{
		Handler:           f.srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if *churn > 0 {
		go f.churn(ctx, *churn)
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Fprintf(os.Stderr, "bench/health: serving http://%s/v2/system/health (churn %g/s)\n", ln.Addr(), *churn)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "bench/health: %v\n", err)
		os.Exit(1)
	}
}

// fixture is a server over a snapshot of n checks, all with results.
type fixture struct {
	specs   []check.Spec
	results []check.Result
	snap    *snapshot.Snapshot
	met     *metrics.Metrics
	srv     *server.Server
}

func newFixture(n int, critical bool, now time.Time) *fixture {
	f := &fixture{}
	for i := range n {
		sp := check.Spec{
			Interval:        time.Hour,
			Timeout:         10 * time.Second,
			Severity:        check.Warn,
			UnknownSeverity: check.Warn,
		}
		if i%3 == 0 {
			sp.Name, sp.Kind = fmt.Sprintf("orders_db_%05d_connectivity", i), "db"
			sp.Config = probes.DBConfig{Database: "app", Query: "SELECT 1"}
		} else {
			sp.Name, sp.Kind = fmt.Sprintf("pipeline_%05d_freshness", i), "freshness"
			sp.Config = probes.FreshnessConfig{
				Source: probes.SQLSource{Database: "app", Query: "SELECT max(received_at) FROM events"},
				MaxAge: 15 * time.Minute, CriticalAge: time.Hour, Skew: time.Minute,
			}
		}
		if i%10 == 5 && len(f.specs) > 0 {
			sp.DependsOn = []string{f.specs[0].Name}
		}
		f.specs = append(f.specs, sp)
	}
	for i, sp := range f.specs {
		f.results = append(f.results, result(sp, i, critical && i == n-1, now))
	}
	f.snap = snapshot.New(f.specs, time.Now)
	reg := prometheus.NewRegistry()
	f.met = metrics.New(f.snap)
	f.met.SetChecks(f.specs)
	for _, r := range f.results {
		f.met.Observe(f.snap.Record(r))
	}
	f.srv = server.New(server.Options{Snapshot: f.snap, Gatherer: reg, Metrics: f.met, Beats: probes.NewBeatStore(),
		Logger: slog.New(slog.DiscardHandler)})
	f.srv.SetReady(true)
	return f
}

// result is check i's result: a deterministic mix of statuses, with messages
// like the probes write.
func result(sp check.Spec, i int, critical bool, now time.Time) check.Result {
	var r check.Result
	age := time.Duration(i%600) * time.Second
	switch {
	case critical:
		r = sp.FailResult("newest row is 1h12m0s old (critical 1h)")
		r.Severity = check.Critical
	case i%10 == 3 && sp.Kind == "db":
		r = sp.FailResult("ping: dial tcp 10.0.3.7:5432: i/o timeout (after 10s)")
	case i%10 == 3:
		r = sp.FailResult(fmt.Sprintf("newest row is %s old (max 15m)", (16*time.Minute + age).Round(time.Second)))
	case i%10 == 7:
		r = sp.UnknownResult("query: dial tcp 10.0.3.7:5432: connect: connection refused")
	case sp.Kind == "db":
		r = sp.PassResult("ok")
	default:
		r = sp.PassResult(fmt.Sprintf("newest row is %s old (max 15m)", age))
	}
	if sp.Kind == "db" {
		r.ObservedValue, r.ObservedUnit = check.Value(0.0012+float64(i%7)/1000), "s"
	} else if r.Status != check.Unknown {
		r.ObservedValue, r.ObservedUnit = check.Value(age.Seconds()), "s"
		r.NewestAt = now.Add(-age)
	}
	r.Check, r.Kind = sp.Name, sp.Kind
	r.CheckedAt, r.Duration = now.Add(-time.Duration(i%50)*time.Second), time.Duration(1+i%40)*time.Millisecond
	return r
}

// churn records perSec fresh results a second, round-robin, the way the
// scheduler's publish does (Record, then metrics.Observe).
func (f *fixture) churn(ctx context.Context, perSec float64) {
	const tick = 10 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	next, owed := 0, 0.0
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			owed += perSec * tick.Seconds()
			for ; owed >= 1; owed-- {
				r := f.results[next]
				r.CheckedAt = now
				f.met.Observe(f.snap.Record(r))
				next = (next + 1) % len(f.results)
			}
		}
	}
}
