// Command scheduler benchmarks the check scheduler in-process, wired the way
// `monitor run` wires it (cmd/monitor/run.go): a config parsed by the config
// package, a probes.Env with a BeatStore and a connection pool, a
// snapshot.Snapshot, the Prometheus metrics, and scheduler.New with the
// daemon's hub (hub.New over the snapshot: metrics.Observe, the status-change
// log; not the history store).
// The only additions are ObserveLag, which records every schedule lag into a
// preallocated slice, and counters updated from Publish.
//
//	go run ./bench/scheduler -checks 10000 -interval 10s -duration 60s [-kind heartbeat|db]
//
// kind heartbeat: freshness checks with `source: {heartbeat: true}`, beaten
// once before start-up (max_age 1h, so they PASS for the whole run).
// kind db: `kind: db` with `query: SELECT 1` on one sqlite://:memory: database.
//
// See bench/README.md for what each figure means.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/hub"
	"github.com/monitor-dev/monitor/metrics"
	"github.com/monitor-dev/monitor/probes"
	"github.com/monitor-dev/monitor/scheduler"
	"github.com/monitor-dev/monitor/snapshot"
)

const namePrefix = "bench_check_"

func main() {
	var (
		checks     = flag.Int("checks", 10000, "number of checks")
		interval   = flag.Duration("interval", 10*time.Second, "interval of every check")
		timeout    = flag.Duration("timeout", 5*time.Second, "timeout of every check (< interval)")
		duration   = flag.Duration("duration", 60*time.Second, "total run time from start-up")
		kind       = flag.String("kind", "heartbeat", "heartbeat (freshness, pushed heartbeats) or db (SELECT 1 on sqlite://:memory:)")
		jitter     = flag.Duration("jitter", 0, "scheduler.Options.MaxJitter; 0 = the daemon's default (5s)")
		cpuProfile = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
		memProfile = flag.String("memprofile", "", "write a heap profile (after GC, at the end of the steady window) to this file")
		trace      = flag.String("trace", "", "write every lag observation and publish as CSV (event,at_ms,check,value_ms) to this file")
	)
	header := flag.Bool("summary-header", false, "print the names of the summary line's fields and exit")
	flag.Parse()
	if *header {
		fmt.Println(summaryHeader)
		return
	}
	if *checks <= 0 || *interval <= 0 || *timeout >= *interval || *duration < 2**interval {
		fatalf("need -checks > 0, -timeout < -interval, -duration ≥ 2×-interval")
	}
	if *kind != "heartbeat" && *kind != "db" {
		fatalf("-kind must be heartbeat or db")
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fatalf("%v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatalf("%v", err)
		}
		defer pprof.StopCPUProfile()
	}

	res := run(params{checks: *checks, interval: *interval, timeout: *timeout, duration: *duration,
		kind: *kind, jitter: *jitter, memProfile: *memProfile, trace: *trace})
	res.print(os.Stdout)
}

type params struct {
	checks            int
	interval, timeout time.Duration
	duration, jitter  time.Duration
	kind, memProfile  string
	trace             string
}

// rec is the benchmark's own instrumentation. Everything in it is allocated
// before the heap baseline, so it is not counted as the daemon's memory.
type rec struct {
	t0        atomic.Int64   // UnixNano of the scheduler's start
	firstRun  []atomic.Int64 // per check: ns after t0 of its first run, 0 = not yet
	runs      []atomic.Int64 // per check: published runs
	total     atomic.Int64   // all published runs
	ran       atomic.Int64   // checks that have run at least once
	lagAt     []int64        // ns after t0 at which the lag was observed
	lag       []int64        // the lag, ns
	lagChk    []int32        // the check it belongs to
	pubAt     []int64        // ns after t0 at which a result was published
	pubDur    []int64        // its Result.Duration, ns
	pubChk    []int32        // its check
	nPub      atomic.Int64   // next free slot of pubAt/pubDur/pubChk
	nLag      atomic.Int64   // next free slot of lagAt/lag
	lagDrop   atomic.Int64   // lags that did not fit
	unexpects atomic.Int64   // runs whose status was not PASS
	bad       atomic.Pointer[string]
}

func newRec(p params) *rec {
	perCheck := int(p.duration/p.interval) + 3
	n := p.checks * perCheck
	return &rec{firstRun: make([]atomic.Int64, p.checks), runs: make([]atomic.Int64, p.checks),
		lagAt: make([]int64, n), lag: make([]int64, n), lagChk: make([]int32, n),
		pubAt: make([]int64, n), pubDur: make([]int64, n), pubChk: make([]int32, n)}
}

func (r *rec) observeLag(name string, lag time.Duration) {
	i := r.nLag.Add(1) - 1
	if i >= int64(len(r.lag)) {
		r.lagDrop.Add(1)
		return
	}
	r.lagAt[i] = time.Now().UnixNano() - r.t0.Load()
	r.lag[i] = int64(lag)
	r.lagChk[i] = int32(r.index(name))
}

// index is the number in a check's name, -1 if none.
func (r *rec) index(name string) int {
	i, err := strconv.Atoi(strings.TrimPrefix(name, namePrefix))
	if err != nil || i < 0 || i >= len(r.runs) {
		return -1
	}
	return i
}

func (r *rec) published(res check.Result) {
	i := r.index(res.Check)
	if i < 0 {
		return
	}
	if j := r.nPub.Add(1) - 1; j < int64(len(r.pubAt)) {
		r.pubAt[j] = time.Now().UnixNano() - r.t0.Load()
		r.pubDur[j] = int64(res.Duration)
		r.pubChk[j] = int32(i)
	}
	if r.runs[i].Add(1) == 1 {
		r.firstRun[i].Store(time.Now().UnixNano() - r.t0.Load())
		r.ran.Add(1)
	}
	r.total.Add(1)
	if res.Status != check.Pass {
		if r.unexpects.Add(1) == 1 {
			msg := fmt.Sprintf("%s %s: %s", res.Check, res.Status, res.Message)
			r.bad.Store(&msg)
		}
	}
}

// configYAML is a monitor config of n identical checks.
func configYAML(p params) string {
	var b strings.Builder
	b.WriteString("server: { listen: 127.0.0.1:0 }\n")
	if p.kind == "db" {
		b.WriteString("databases:\n  mem: { dsn: \"sqlite://:memory:\" }\n")
	}
	fmt.Fprintf(&b, "defaults: { interval: %s, timeout: %s }\nchecks:\n", p.interval, p.timeout)
	for i := range p.checks {
		if p.kind == "db" {
			fmt.Fprintf(&b, "  - { name: %s%06d, kind: db, database: mem, query: SELECT 1 }\n", namePrefix, i)
		} else {
			fmt.Fprintf(&b, "  - { name: %s%06d, kind: freshness, source: { heartbeat: true }, max_age: 1h }\n", namePrefix, i)
		}
	}
	return b.String()
}

type mem struct {
	heapInuse, stackInuse, heapAlloc, sys uint64
	goroutines                            int
}

func readMem(gc bool) mem {
	if gc {
		runtime.GC()
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return mem{heapInuse: ms.HeapInuse, stackInuse: ms.StackInuse, heapAlloc: ms.HeapAlloc, sys: ms.Sys,
		goroutines: runtime.NumGoroutine()}
}

func (m mem) total() int64 { return int64(m.heapInuse + m.stackInuse) }

type result struct {
	p                  params
	parse, apply       time.Duration
	startGap           time.Duration // Apply's end to Start's return
	allRan             time.Duration // start-up → every check has run once (0: never)
	ranBy1Interval     int           // checks that ran within one interval of start-up
	firstP50, firstMax time.Duration // first-run times after start-up
	startLag           []int64       // sorted lags of the first interval
	steadyLag          []int64       // sorted lags after the first interval
	probeDur           []int64       // sorted Result.Duration of the window's runs
	window             time.Duration
	windowRuns         int64
	cpu                time.Duration // user+sys over the window
	minRuns, maxRuns   int64         // per check, in the window
	missed             int           // checks with fewer runs in the window than floor(window/interval)
	expectedRuns       int64
	lagDrop            int64
	unexpected         int64
	firstBad           string
	rssKB, hwmKB       int64
	base, cfg, wired   mem
	steady             mem
	shutdown           time.Duration
}

func run(p params) result {
	r := newRec(p)
	startRuns := make([]int64, p.checks) // per-check counts at the window's start
	endRuns := make([]int64, p.checks)   // and at its end
	lagBuf := make([]int64, 0, len(r.lag))
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	out := result{p: p}

	out.base = readMem(true)

	// Config, as `monitor run` loads it.
	t := time.Now()
	cfg, err := config.Parse("bench.yaml", []byte(configYAML(p)), os.LookupEnv)
	if err != nil {
		fatalf("config: %v", err)
	}
	out.parse = time.Since(t)
	out.cfg = readMem(true)

	// Wiring, as newDaemon does it.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	beats := probes.NewBeatStore()
	dsns := map[string]string{}
	for name, db := range cfg.Databases {
		dsns[name] = db.DSN
	}
	pool, err := probes.NewPool(dsns, logger)
	if err != nil {
		fatalf("pool: %v", err)
	}
	env := &probes.Env{Pool: pool, Heartbeats: beats, HTTP: &http.Client{}, Now: time.Now, Logger: logger}
	snap := snapshot.New(cfg.Checks, time.Now)
	met := metrics.New(snap)
	met.SetChecks(cfg.Checks)
	h := hub.New(snap, // cmd/monitor/run.go newDaemon, without the history store
		hub.Func(func(res check.Result, _ hub.Change) { met.Observe(res) }),
		hub.StatusLog(logger),
		hub.Func(func(res check.Result, _ hub.Change) { r.published(res) }),
	)
	sched, err := scheduler.New(scheduler.Options{Env: env, Publish: h.Publish,
		Logger: logger.With("component", "scheduler"), Registerer: reg, MaxJitter: p.jitter,
		ObserveLag: r.observeLag})
	if err != nil {
		fatalf("scheduler: %v", err)
	}
	if p.kind == "heartbeat" {
		now := time.Now()
		for _, sp := range cfg.Checks {
			beats.Beat(sp.Name, now)
		}
	}
	out.wired = readMem(true)

	// Start-up, as serve does it: Apply, then Start.
	r.t0.Store(time.Now().UnixNano())
	t0 := time.Now()
	if err := sched.Apply(cfg.Checks); err != nil {
		fatalf("apply (the daemon exits with status 1 here): %v", err)
	}
	out.apply = time.Since(t0)
	if err := sched.Start(); err != nil {
		panic(err)
	}
	out.startGap = time.Since(t0) - out.apply

	// Wait for every check to run once, then for the first interval to end.
	// The steady window is a whole number of intervals, so that every check
	// is due the same number of times in it.
	end := t0.Add(p.duration)
	for r.ran.Load() < int64(p.checks) && time.Now().Before(end) {
		time.Sleep(20 * time.Millisecond)
	}
	ws := t0.Add(p.interval)
	for time.Now().After(ws) && ws.Add(p.interval).Before(end) {
		ws = ws.Add(p.interval)
	}
	deadline := ws.Add((end.Sub(ws) / p.interval) * p.interval)
	time.Sleep(time.Until(ws))

	ru0 := rusage()
	w0 := time.Now()
	runs0 := r.total.Load()
	for i := range startRuns {
		startRuns[i] = r.runs[i].Load()
	}
	time.Sleep(time.Until(deadline))
	ru1 := rusage()
	out.window = time.Since(w0)
	out.windowRuns = r.total.Load() - runs0
	for i := range endRuns {
		endRuns[i] = r.runs[i].Load()
	}
	out.cpu = ru1 - ru0
	out.rssKB, out.hwmKB = procStatus("VmRSS"), procStatus("VmHWM")
	out.steady = readMem(true)
	if p.memProfile != "" {
		writeHeapProfile(p.memProfile)
	}

	// Per-check figures.
	perWindow := int64(math.Round(out.window.Seconds() / p.interval.Seconds()))
	out.expectedRuns = int64(float64(p.checks) * out.window.Seconds() / p.interval.Seconds())
	out.minRuns = math.MaxInt64
	var firsts []int64
	for i := range r.runs {
		n := endRuns[i] - startRuns[i]
		out.minRuns, out.maxRuns = min(out.minRuns, n), max(out.maxRuns, n)
		if n < perWindow {
			out.missed++
		}
		f := r.firstRun[i].Load()
		if f == 0 {
			continue
		}
		firsts = append(firsts, f)
		if f <= int64(p.interval) {
			out.ranBy1Interval++
		}
	}
	slices.Sort(firsts)
	if len(firsts) == p.checks {
		out.allRan = time.Duration(firsts[len(firsts)-1])
	}
	if len(firsts) > 0 {
		out.firstP50, out.firstMax = time.Duration(pct(firsts, 50)), time.Duration(firsts[len(firsts)-1])
	}

	n := min(r.nLag.Load(), int64(len(r.lag)))
	wsOff, weOff := int64(w0.Sub(t0)), int64(deadline.Sub(t0))
	for i := range n {
		if r.lagAt[i] < wsOff {
			lagBuf = append(lagBuf, r.lag[i])
		}
	}
	out.startLag = slices.Clone(lagBuf)
	slices.Sort(out.startLag)
	lagBuf = lagBuf[:0]
	for i := range n {
		if r.lagAt[i] >= wsOff && r.lagAt[i] < weOff {
			lagBuf = append(lagBuf, r.lag[i])
		}
	}
	slices.Sort(lagBuf)
	out.steadyLag = lagBuf
	np := min(r.nPub.Load(), int64(len(r.pubAt)))
	for i := range np {
		if r.pubAt[i] >= wsOff && r.pubAt[i] < weOff {
			out.probeDur = append(out.probeDur, r.pubDur[i])
		}
	}
	slices.Sort(out.probeDur)
	if p.trace != "" {
		writeTrace(p.trace, r, n, np)
	}
	out.lagDrop = r.lagDrop.Load()
	out.unexpected = r.unexpects.Load()
	if b := r.bad.Load(); b != nil {
		out.firstBad = *b
	}

	t = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sched.Shutdown(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "shutdown: %v\n", err)
	}
	out.shutdown = time.Since(t)
	_ = pool.Close()
	return out
}

func (o result) print(w io.Writer) {
	p := o.p
	n := int64(p.checks)
	perCheck := func(m mem) string {
		d := m.total() - o.base.total()
		return fmt.Sprintf("%s (%s/check)", kb(d), kb(d/n))
	}
	fmt.Fprintf(w, "scheduler benchmark: %d %s checks, interval %s, timeout %s, duration %s, jitter %s\n",
		p.checks, p.kind, p.interval, p.timeout, p.duration, jitterText(p.jitter))
	fmt.Fprintf(w, "go %s, GOMAXPROCS %d, %d CPUs, %s\n\n", runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(),
		time.Now().UTC().Format(time.RFC3339))
	row := func(k, v string) { fmt.Fprintf(w, "  %-42s %s\n", k, v) }
	fmt.Fprintln(w, "start-up")
	row("config.Parse", ms(o.parse))
	row("scheduler.Apply", ms(o.apply))
	row("scheduler.Start (after Apply)", ms(o.startGap))
	if o.allRan > 0 {
		row("all checks ran once after", fmt.Sprintf("%s (interval %s: %s)", secs(o.allRan), p.interval, ok(o.allRan <= p.interval)))
	} else {
		row("all checks ran once after", fmt.Sprintf("NEVER within %s", p.duration))
	}
	row("ran within one interval", fmt.Sprintf("%d / %d", o.ranBy1Interval, p.checks))
	row("first run p50 / max", fmt.Sprintf("%s / %s", secs(o.firstP50), secs(o.firstMax)))
	row("lag, first interval p50/p99/max", lagText(o.startLag, false))
	fmt.Fprintf(w, "\nsteady state (window %s from t0+%s)\n", secs(o.window), secs(p.duration-o.window))
	row("runs", fmt.Sprintf("%d (expected ≈ %d)", o.windowRuns, o.expectedRuns))
	row("runs/s", fmt.Sprintf("%.0f (expected %.0f)", float64(o.windowRuns)/o.window.Seconds(),
		float64(p.checks)/p.interval.Seconds()))
	row("runs per check min/max", fmt.Sprintf("%d / %d (checks with < %d: %d)", o.minRuns, o.maxRuns,
		int64(math.Round(o.window.Seconds()/p.interval.Seconds())), o.missed))
	row("schedule lag samples", fmt.Sprintf("%d (dropped %d)", len(o.steadyLag), o.lagDrop))
	row("schedule lag p50/p90/p99/max", lagText(o.steadyLag, true))
	p99 := time.Duration(pct(o.steadyLag, 99))
	row("schedule lag p99 < 1s", ok(len(o.steadyLag) > 0 && p99 < time.Second))
	row("run duration (Result.Duration) p50/p90/p99/max", lagText(o.probeDur, true))
	cpuPerRun := time.Duration(0)
	if o.windowRuns > 0 {
		cpuPerRun = o.cpu / time.Duration(o.windowRuns)
	}
	row("CPU user+sys", fmt.Sprintf("%s (%.1f%% of one core)", secs(o.cpu), 100*o.cpu.Seconds()/o.window.Seconds()))
	row("CPU per run", fmt.Sprintf("%.1f µs", float64(cpuPerRun)/1e3))
	row("non-PASS results", fmt.Sprintf("%d %s", o.unexpected, o.firstBad))
	fmt.Fprintln(w, "\nmemory (HeapInuse+StackInuse after runtime.GC, minus the baseline before the config)")
	row("baseline HeapInuse / StackInuse", fmt.Sprintf("%s / %s", kb(int64(o.base.heapInuse)), kb(int64(o.base.stackInuse))))
	row("after config.Parse", perCheck(o.cfg))
	row("after wiring (snapshot, metrics, beats)", perCheck(o.wired))
	row("steady state", perCheck(o.steady))
	row("  of which HeapInuse", fmt.Sprintf("%s (%s/check)", kb(int64(o.steady.heapInuse-o.base.heapInuse)),
		kb(int64(o.steady.heapInuse-o.base.heapInuse)/n)))
	row("  of which StackInuse", fmt.Sprintf("%s (%s/check)", kb(int64(o.steady.stackInuse-o.base.stackInuse)),
		kb(int64(o.steady.stackInuse-o.base.stackInuse)/n)))
	row("  scheduler+results (steady − wiring)", perCheck(mem{heapInuse: o.steady.heapInuse - o.wired.heapInuse + o.base.heapInuse,
		stackInuse: o.steady.stackInuse - o.wired.stackInuse + o.base.stackInuse}))
	heapPerCheck := (o.steady.total() - o.base.total()) / n
	row("heap per check ≤ 8 KB", ok(heapPerCheck <= 8*1024))
	row("HeapAlloc (live) / Sys", fmt.Sprintf("%s / %s", kb(int64(o.steady.heapAlloc)), kb(int64(o.steady.sys))))
	row("goroutines baseline / steady", fmt.Sprintf("%d / %d (%.2f/check)", o.base.goroutines, o.steady.goroutines,
		float64(o.steady.goroutines-o.base.goroutines)/float64(n)))
	row("VmRSS (steady, before GC) / VmHWM", fmt.Sprintf("%s / %s", kb(o.rssKB*1024), kb(o.hwmKB*1024)))
	row("VmRSS per 1,000 checks", kb(o.rssKB*1024*1000/n))
	row("scheduler.Shutdown", ms(o.shutdown))

	// One machine-readable line for bench/scheduler/run.sh.
	allRan := -1.0
	if o.allRan > 0 {
		allRan = o.allRan.Seconds()
	}
	f := func(ns int64) string { return fmt.Sprintf("%.3f", float64(ns)/1e6) }
	fields := []string{strconv.Itoa(p.checks), p.kind, fmt.Sprintf("%.3f", allRan), strconv.Itoa(p.checks - o.ranBy1Interval),
		f(pct(o.steadyLag, 50)), f(pct(o.steadyLag, 90)), f(pct(o.steadyLag, 99)), f(pct(o.steadyLag, 100)),
		fmt.Sprintf("%.1f", float64(o.windowRuns)/o.window.Seconds()), fmt.Sprintf("%.1f", float64(cpuPerRun)/1e3),
		fmt.Sprintf("%.1f", float64(o.rssKB)/1024), fmt.Sprintf("%.2f", float64(o.steady.total()-o.base.total())/1024/float64(n)),
		fmt.Sprintf("%.2f", float64(int64(o.steady.heapInuse)-int64(o.base.heapInuse))/1024/float64(n)),
		fmt.Sprintf("%.2f", float64(int64(o.steady.stackInuse)-int64(o.base.stackInuse))/1024/float64(n)),
		strconv.Itoa(o.steady.goroutines), strconv.Itoa(o.missed), fmt.Sprintf("%.1f", o.apply.Seconds()*1000)}
	fmt.Fprintf(w, "\nsummary\t%s\n", strings.Join(fields, "\t"))
}

// summaryHeader names the fields of the summary line.
const summaryHeader = "checks\tkind\tall_ran_s\tlate_first_runs\tlag_p50_ms\tlag_p90_ms\tlag_p99_ms\tlag_max_ms\t" +
	"runs_per_s\tcpu_per_run_us\trss_mib\theap_stack_per_check_kib\theap_inuse_per_check_kib\t" +
	"stack_inuse_per_check_kib\tgoroutines\tchecks_missing_runs\tapply_ms"

func lagText(s []int64, p90 bool) string {
	if len(s) == 0 {
		return "-"
	}
	if p90 {
		return fmt.Sprintf("%s / %s / %s / %s", ms(time.Duration(pct(s, 50))), ms(time.Duration(pct(s, 90))),
			ms(time.Duration(pct(s, 99))), ms(time.Duration(s[len(s)-1])))
	}
	return fmt.Sprintf("%s / %s / %s", ms(time.Duration(pct(s, 50))), ms(time.Duration(pct(s, 99))),
		ms(time.Duration(s[len(s)-1])))
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

func jitterText(j time.Duration) string {
	if j == 0 {
		return "default (5s)"
	}
	return j.String()
}

func ms(d time.Duration) string   { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }
func secs(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }

func kb(b int64) string {
	switch a := math.Abs(float64(b)); {
	case a >= 10*1024*1024:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1024*1024))
	default:
		return fmt.Sprintf("%.1f KiB", float64(b)/1024)
	}
}

// rusage is this process's user+system CPU time so far.
func rusage() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStatus reads a kB field of /proc/self/status.
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

// writeTrace dumps the raw observations: "lag" rows carry the schedule lag,
// "pub" rows the published run's Result.Duration.
func writeTrace(path string, r *rec, nLag, nPub int64) {
	f, err := os.Create(path)
	if err != nil {
		fatalf("%v", err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "event,at_ms,check,value_ms")
	for i := range nLag {
		fmt.Fprintf(w, "lag,%.3f,%d,%.3f\n", float64(r.lagAt[i])/1e6, r.lagChk[i], float64(r.lag[i])/1e6)
	}
	for i := range nPub {
		fmt.Fprintf(w, "pub,%.3f,%d,%.3f\n", float64(r.pubAt[i])/1e6, r.pubChk[i], float64(r.pubDur[i])/1e6)
	}
	if err := w.Flush(); err != nil {
		fatalf("%v", err)
	}
}

func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		fatalf("%v", err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench/scheduler: "+format+"\n", args...)
	os.Exit(1)
}
