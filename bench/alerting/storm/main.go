// Command storm benchmarks an alert storm in-process, wired the way
// `monitor run` wires the daemon (cmd/monitor/run.go, alertwire.go): a
// config parsed by the config package, probes.Env with a BeatStore, the
// snapshot, the Prometheus metrics, the real SQLite store in a temporary
// directory with its history writer, the alerting engine as a hub
// subscriber, the outbox dispatcher with the receivers' own senders (type
// webhook), and scheduler.New. The only additions are
// scheduler.Options.ObserveLag, which records every schedule lag, a hub
// subscriber that counts results, and the receivers' HTTP servers.
//
//	go run ./bench/alerting/storm [-checks 1000] [-components 10] [-group=true]
//	    [-duration 60s] [-dead slow503|refused|hang] [-interval 5s] [-baseline 20s]
//	    [-group-wait 10s] [-sample 5s]
//
// The checks are `kind: freshness` with `source: {heartbeat: true}`,
// max_age 1h, severity CRITICAL, spread over -components components. Each
// is beaten once, at storm−1h, so that every one of them PASSes during the
// quiet baseline window and FAILs from the storm's start on (at its next
// run, within one interval). Alerting: failure_threshold 1, one route to
// three webhook receivers, group_wait -group-wait (10s: longer than the
// interval over which the failures are seen), group_interval 5m, group_by
// [component] with -group (the default), none with -group=false (one
// notification per alert). Two receivers answer 204 at once; the third is
// down (-dead): slow503 answers 503 after 2 s, refused is a closed port,
// hang never answers (the attempt times out after 10 s).
//
// It reports (a) the schedule lag in the baseline window and during the
// storm, (b) the notifications the healthy receivers got and when the last
// one arrived, (c) the heap (HeapInuse after runtime.GC) and VmRSS every
// -sample while the dead receiver's backlog grows. Outbox throughput to a
// receiver that answers at once is bench/alerting/outbox's job.
// See bench/README.md for figures.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/monitor-dev/monitor/alerting"
	"github.com/monitor-dev/monitor/alerting/outbox"
	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/hub"
	"github.com/monitor-dev/monitor/metrics"
	"github.com/monitor-dev/monitor/probes"
	"github.com/monitor-dev/monitor/scheduler"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/snapshot"
	"github.com/monitor-dev/monitor/store"
)

const (
	namePrefix = "storm_"
	maxAge     = time.Hour
	// slowWait is how long the slow503 receiver takes to answer.
	slowWait = 2 * time.Second
	// stormWindow is the part of the storm reported on its own: the
	// failures are seen, the alerts fire and the notifications go out.
	stormWindow = 15 * time.Second
	// senderTimeout is cmd/monitor's bound on one attempt.
	senderTimeout = 10 * time.Second
)

type params struct {
	checks, components int
	group              bool
	duration, interval time.Duration
	baseline, sample   time.Duration
	groupWait          time.Duration
	dead               string
}

func main() {
	var p params
	flag.IntVar(&p.checks, "checks", 1000, "checks that fail at once")
	flag.IntVar(&p.components, "components", 10, "components the checks are spread over (round robin)")
	flag.BoolVar(&p.group, "group", true, "group_by [component]; -group=false: no group_by, one notification per alert")
	flag.DurationVar(&p.duration, "duration", 60*time.Second, "how long to watch after the storm starts")
	flag.StringVar(&p.dead, "dead", "slow503", "the down receiver: slow503 (503 after 2s), refused (closed port) or hang (never answers)")
	flag.DurationVar(&p.interval, "interval", 5*time.Second, "interval of every check")
	flag.DurationVar(&p.baseline, "baseline", 20*time.Second, "quiet window before the storm (after the first interval)")
	flag.DurationVar(&p.groupWait, "group-wait", 10*time.Second, "group_wait of the route (longer than -interval, so that a group's first notification lists all its alerts)")
	flag.DurationVar(&p.sample, "sample", 5*time.Second, "how often memory and the backlog are sampled")
	flag.Parse()
	if p.checks <= 0 || p.components <= 0 || p.interval <= 0 || p.baseline < p.interval || p.duration < stormWindow ||
		p.sample <= 0 || p.groupWait < 0 {
		fatalf("need -checks > 0, -components > 0, -baseline ≥ -interval > 0, -duration ≥ %s, -sample > 0, -group-wait ≥ 0", stormWindow)
	}
	if p.dead != "slow503" && p.dead != "refused" && p.dead != "hang" {
		fatalf("-dead must be slow503, refused or hang")
	}
	if err := run(p, os.Stdout); err != nil {
		fatalf("%v", err)
	}
}

// rec is the benchmark's own instrumentation, allocated before start-up.
type rec struct {
	t0      time.Time
	lagAt   []int64 // ns after t0 at which a lag was observed
	lag     []int64
	nLag    atomic.Int64
	lagDrop atomic.Int64
	fails   atomic.Int64 // FAIL results published
	failed  []atomic.Bool
	nFailed atomic.Int64 // checks that have FAILed at least once
	lastNew atomic.Int64 // ns after t0 of the first FAIL of the last check to fail
	firstNw atomic.Int64 // ns after t0 of the first FAIL of any check
	bad     atomic.Int64 // results that were neither PASS nor FAIL
}

func (r *rec) observeLag(_ string, lag time.Duration) {
	i := r.nLag.Add(1) - 1
	if i >= int64(len(r.lag)) {
		r.lagDrop.Add(1)
		return
	}
	r.lagAt[i] = int64(time.Since(r.t0))
	r.lag[i] = int64(lag)
}

func (r *rec) published(res check.Result) {
	switch res.Status {
	case check.Pass:
		return
	case check.Fail:
	default:
		r.bad.Add(1)
		return
	}
	r.fails.Add(1)
	i, err := strconv.Atoi(strings.TrimPrefix(res.Check, namePrefix))
	if err != nil || i < 0 || i >= len(r.failed) {
		return
	}
	if !r.failed[i].Swap(true) {
		at := int64(time.Since(r.t0))
		if r.nFailed.Add(1) == 1 {
			r.firstNw.Store(at)
		}
		r.lastNew.Store(at)
	}
}

// hook is a healthy receiver: it answers 204 at once and counts what it got.
type hook struct {
	t0            time.Time
	mu            sync.Mutex
	notifications int
	alerts        map[string]bool // distinct firing alert IDs
	firstAt       time.Duration   // after t0
	lastAt        time.Duration
	undecodable   int
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var n struct {
		Status string `json:"status"`
		Alerts []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"alerts"`
	}
	err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&n)
	at := time.Since(h.t0)
	h.mu.Lock()
	if err != nil {
		h.undecodable++
	}
	h.notifications++
	if h.firstAt == 0 {
		h.firstAt = at
	}
	h.lastAt = at
	for _, a := range n.Alerts {
		if a.Status == "firing" {
			h.alerts[a.ID] = true
		}
	}
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

type hookStats struct {
	notifications, alerts, undecodable int
	firstAt, lastAt                    time.Duration
}

func (h *hook) stats() hookStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return hookStats{h.notifications, len(h.alerts), h.undecodable, h.firstAt, h.lastAt}
}

// deadReceiver starts the down receiver; it returns its URL, a counter of
// the requests it got (none when refused) and a stop function.
func deadReceiver(mode string) (url string, hits *atomic.Int64, stop func(), err error) {
	hits = &atomic.Int64{}
	switch mode {
	case "refused":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", nil, nil, err
		}
		addr := ln.Addr().String()
		_ = ln.Close() // nothing listens there any more: connection refused
		return "http://" + addr + "/hook", hits, func() {}, nil
	case "slow503":
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-time.After(slowWait):
			case <-r.Context().Done():
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		return srv.URL + "/hook", hits, srv.Close, nil
	default: // hang
		done := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			select {
			case <-r.Context().Done():
			case <-done:
			}
		}))
		return srv.URL + "/hook", hits, func() { close(done); srv.Close() }, nil
	}
}

// configYAML is the monitor config of the run.
func configYAML(p params, urlA, urlB, urlDead string) string {
	var b strings.Builder
	b.WriteString("server: { listen: 127.0.0.1:0 }\n")
	fmt.Fprintf(&b, "defaults: { interval: %s, timeout: %s }\nchecks:\n", p.interval, min(p.interval/2, 5*time.Second))
	for i := range p.checks {
		fmt.Fprintf(&b, "  - { name: %s%05d, kind: freshness, source: { heartbeat: true }, max_age: %s, severity: CRITICAL, component: comp%02d }\n",
			namePrefix, i, maxAge, i%p.components)
	}
	fmt.Fprintf(&b, `alerting:
  failure_threshold: 1
  receivers:
    - { name: healthy_a, type: webhook, url: "%s" }
    - { name: healthy_b, type: webhook, url: "%s" }
    - { name: dead, type: webhook, url: "%s" }
  routes:
    - receivers: [healthy_a, healthy_b, dead]
      group_wait: %s
      group_interval: 5m
`, urlA, urlB, urlDead, p.groupWait)
	if p.group {
		b.WriteString("      group_by: [component]\n")
	}
	return b.String()
}

type sample struct {
	at         time.Duration // after the storm's start (negative: before)
	heapInuse  uint64        // after runtime.GC
	rssKB      int64
	goroutines int
	pending    map[string]int
	deadHits   int64
}

func takeSample(ctx context.Context, st store.Store, at time.Duration, deadHits *atomic.Int64) sample {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := sample{at: at, heapInuse: ms.HeapInuse, rssKB: procStatus("VmRSS"), goroutines: runtime.NumGoroutine(),
		deadHits: deadHits.Load()}
	if c, err := st.PendingCounts(ctx); err == nil {
		s.pending = c
	}
	return s
}

func run(p params, w io.Writer) error {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	total := p.interval + p.baseline + p.duration
	nObs := p.checks * (int(total/p.interval) + 3)
	r := &rec{lagAt: make([]int64, nObs), lag: make([]int64, nObs), failed: make([]atomic.Bool, p.checks)}

	dir, err := os.MkdirTemp("", "storm-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "monitor.db"), store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()

	hookA, hookB := &hook{alerts: map[string]bool{}}, &hook{alerts: map[string]bool{}}
	srvA, srvB := httptest.NewServer(hookA), httptest.NewServer(hookB)
	defer srvA.Close()
	defer srvB.Close()
	deadURL, deadHits, stopDead, err := deadReceiver(p.dead)
	if err != nil {
		return err
	}
	defer stopDead()

	// Config, as `monitor run` loads it.
	cfg, err := config.Parse("storm.yaml", []byte(configYAML(p, srvA.URL+"/hook", srvB.URL+"/hook", deadURL)), os.LookupEnv)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}

	// Wiring, as newDaemon and newAlerting do it (without the HTTP API,
	// the SLO evaluator, which has no objectives here, and maintenance).
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	beats := probes.NewBeatStore()
	pool, err := probes.NewPool(map[string]string{}, logger)
	if err != nil {
		return err
	}
	defer pool.Close()
	env := &probes.Env{Pool: pool, Heartbeats: beats, HTTP: &http.Client{}, Now: time.Now, Logger: logger}
	snap := snapshot.New(cfg.Checks, time.Now)
	met := metrics.New(snap)
	met.SetChecks(cfg.Checks)
	writer := store.NewWriter(st, store.WriterOptions{Logger: logger, Registerer: reg})
	snd := make(map[string]receiver.Sender, len(cfg.Alerting.Receivers))
	deps := receiver.Deps{HTTP: &http.Client{Timeout: senderTimeout}, PublicURL: cfg.Server.PublicURL, Now: time.Now, Logger: logger}
	for _, rc := range cfg.Alerting.Receivers {
		t, ok := config.ReceiverType(rc.Type)
		if !ok || t.Sender == nil {
			return fmt.Errorf("receiver %s: type %s cannot send", rc.Name, rc.Type)
		}
		if snd[rc.Name], err = t.Sender(rc.Name, rc.Config, deps); err != nil {
			return err
		}
	}
	ob := outbox.New(st, snd, outbox.Options{Retry: cfg.Alerting.Retry, Logger: logger})
	eng := alerting.New(cfg.Alerting, alerting.Options{Store: st, Logger: logger, PublicURL: cfg.Server.PublicURL, Wake: ob.Wake})
	eng.SetSpecs(cfg.Checks)
	if err := eng.Restore(ctx); err != nil {
		return err
	}
	reg.MustRegister(eng.Collector(), ob.Collector())
	h := hub.New(snap,
		hub.Func(func(res check.Result, _ hub.Change) { met.Observe(res) }),
		hub.Func(func(res check.Result, ch hub.Change) { writer.Enqueue(record(res, ch)) }),
		eng,
		hub.StatusLog(logger),
		hub.Func(func(res check.Result, _ hub.Change) { r.published(res) }),
	)
	sched, err := scheduler.New(scheduler.Options{Env: env, Publish: h.Publish, Logger: logger, Registerer: reg,
		ObserveLag: r.observeLag})
	if err != nil {
		return err
	}

	// Every check PASSes until stormAt, then FAILs.
	r.t0 = time.Now()
	hookA.t0, hookB.t0 = r.t0, r.t0
	stormAt := r.t0.Add(p.interval + p.baseline)
	for _, sp := range cfg.Checks {
		beats.Beat(sp.Name, stormAt.Add(-maxAge))
	}
	if err := sched.Apply(cfg.Checks); err != nil {
		return err
	}
	if err := sched.Start(); err != nil {
		return err
	}
	bg, stopBg := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { writer.Run(bg) })
	wg.Go(func() { eng.Run(bg) })
	wg.Go(func() { ob.Run(bg) })

	var samples []sample
	end := stormAt.Add(p.duration)
	for at := r.t0.Add(p.interval); at.Before(end); at = at.Add(p.sample) {
		time.Sleep(time.Until(at))
		samples = append(samples, takeSample(ctx, st, time.Since(stormAt), deadHits))
	}
	time.Sleep(time.Until(end))
	samples = append(samples, takeSample(ctx, st, time.Since(stormAt), deadHits))
	load := loadAvg()
	a, b := hookA.stats(), hookB.stats()

	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_ = sched.Shutdown(sctx)
	stopBg()
	wg.Wait()

	// Lags by window, relative to t0.
	base0, storm0 := int64(p.interval), int64(stormAt.Sub(r.t0))
	var baseLag, stormLag, afterLag []int64
	for i := range min(r.nLag.Load(), int64(len(r.lag))) {
		switch at := r.lagAt[i]; {
		case at >= base0 && at < storm0:
			baseLag = append(baseLag, r.lag[i])
		case at >= storm0 && at < storm0+int64(stormWindow):
			stormLag = append(stormLag, r.lag[i])
		case at >= storm0+int64(stormWindow):
			afterLag = append(afterLag, r.lag[i])
		}
	}
	for _, s := range [][]int64{baseLag, stormLag, afterLag} {
		slices.Sort(s)
	}
	stormLagAll := slices.Concat(stormLag, afterLag)
	slices.Sort(stormLagAll)

	// Report.
	sinceStorm := func(d time.Duration) time.Duration { return d - stormAt.Sub(r.t0) }
	groupText := "group_by [component]"
	if !p.group {
		groupText = "no group_by"
	}
	fmt.Fprintf(w, "alert storm: %d CRITICAL freshness checks in %d components, interval %s, %s, group_wait %s; dead receiver %s\n",
		p.checks, p.components, p.interval, groupText, p.groupWait, p.dead)
	fmt.Fprintf(w, "baseline %s, watched %s after the storm; go %s, GOMAXPROCS %d, %d CPUs; load average at the end %s; %s\n\n",
		p.baseline, p.duration, runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), load, time.Now().UTC().Format(time.RFC3339))
	row := func(k, v string) { fmt.Fprintf(w, "  %-46s %s\n", k, v) }
	fmt.Fprintln(w, "(a) schedule lag p50 / p99 / max (samples)")
	row("baseline (quiet)", lagText(baseLag))
	row(fmt.Sprintf("storm, first %s", stormWindow), lagText(stormLag))
	row(fmt.Sprintf("storm, %s to %s", stormWindow, p.duration), lagText(afterLag))
	p99 := time.Duration(pct(stormLagAll, 99))
	row("p99 during the storm < 1s", fmt.Sprintf("%s (%s)", ok(len(stormLagAll) > 0 && p99 < time.Second), ms(p99)))
	row("lags dropped (buffer full)", strconv.FormatInt(r.lagDrop.Load(), 10))

	fmt.Fprintln(w, "\n(b) failures and notifications (times after the storm's start)")
	lastFail := sinceStorm(time.Duration(r.lastNew.Load()))
	row("checks that failed", fmt.Sprintf("%d / %d (last one's first FAIL at %s; %d FAIL results, %d neither PASS nor FAIL)",
		r.nFailed.Load(), p.checks, secs(lastFail), r.fails.Load(), r.bad.Load()))
	want := p.checks
	if p.group {
		want = min(p.components, p.checks)
	}
	for _, x := range []struct {
		name string
		s    hookStats
	}{{"healthy_a", a}, {"healthy_b", b}} {
		row(x.name+": notifications (expected)", fmt.Sprintf("%d (%d), covering %d / %d firing alerts, %d undecodable",
			x.s.notifications, want, x.s.alerts, p.checks, x.s.undecodable))
		if x.s.notifications > 0 {
			span := x.s.lastAt - x.s.firstAt
			rate := "-"
			if span > 0 && x.s.notifications > 1 {
				rate = fmt.Sprintf("%.0f/s", float64(x.s.notifications-1)/span.Seconds())
			}
			row(x.name+": first / last delivery", fmt.Sprintf("%s / %s (rate between them %s)",
				secs(sinceStorm(x.s.firstAt)), secs(sinceStorm(x.s.lastAt)), rate))
		}
	}
	// The last group to be notified opened at the first FAIL of its first
	// alert: with group_by [component] over round-robin components, every
	// group opens with the storm's first failures; without, at the last.
	groupStart, gsText := lastFail, "last check's first FAIL"
	if p.group {
		groupStart, gsText = sinceStorm(time.Duration(r.firstNw.Load())), "first FAIL"
	}
	row("last delivery − ("+gsText+" + group_wait)", secs(sinceStorm(max(a.lastAt, b.lastAt))-groupStart-p.groupWait))
	row("all delivered to the healthy two", ok(a.notifications >= want && b.notifications >= want &&
		a.alerts == p.checks && b.alerts == p.checks))

	fmt.Fprintf(w, "\n(c) memory and the dead receiver's backlog (HeapInuse after runtime.GC; every %s)\n", p.sample)
	fmt.Fprintf(w, "  %9s %10s %10s %10s %13s %13s %13s\n", "t (s)", "HeapInuse", "VmRSS", "goroutines", "pending dead", "pending ok", "dead requests")
	var before sample
	for _, s := range samples {
		if s.at < 0 {
			before = s
		}
		fmt.Fprintf(w, "  %9.1f %10s %10s %10d %13d %13d %13d\n", s.at.Seconds(), mib(int64(s.heapInuse)), mib(s.rssKB*1024),
			s.goroutines, s.pending["dead"], s.pending["healthy_a"]+s.pending["healthy_b"], s.deadHits)
	}
	last := samples[len(samples)-1]
	var peakHeap uint64
	var peakRSS int64
	for _, s := range samples {
		if s.at >= 0 {
			peakHeap, peakRSS = max(peakHeap, s.heapInuse), max(peakRSS, s.rssKB)
		}
	}
	row("HeapInuse before → end (peak)", fmt.Sprintf("%s → %s (%s), growth %s", mib(int64(before.heapInuse)), mib(int64(last.heapInuse)),
		mib(int64(peakHeap)), mib(int64(last.heapInuse)-int64(before.heapInuse))))
	row("VmRSS before → end (peak)", fmt.Sprintf("%s → %s (%s), growth %s", mib(before.rssKB*1024), mib(last.rssKB*1024),
		mib(peakRSS*1024), mib((last.rssKB-before.rssKB)*1024)))
	return nil
}

// record is cmd/monitor's history record of a result (historywire.go).
func record(r check.Result, ch hub.Change) store.Record {
	r.Links = nil
	rec := store.Record{Result: r, Maintenance: ch.Maintenance, WithinSLA: sla.Within(r, ch.Spec)}
	rec.Down = sla.Down(rec)
	return rec
}

func lagText(s []int64) string {
	if len(s) == 0 {
		return "-"
	}
	return fmt.Sprintf("%s / %s / %s (%d)", ms(time.Duration(pct(s, 50))), ms(time.Duration(pct(s, 99))),
		ms(time.Duration(s[len(s)-1])), len(s))
}

// pct is the nearest-rank percentile of sorted s.
func pct(s []int64, p float64) int64 {
	if len(s) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ok(b bool) string {
	if b {
		return "MET"
	}
	return "NOT MET"
}

func ms(d time.Duration) string   { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }
func secs(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }
func mib(b int64) string          { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// procStatus reads a kB field of /proc/self/status; -1 if unknown.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return -1
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench/alerting/storm: "+format+"\n", args...)
	os.Exit(1)
}
