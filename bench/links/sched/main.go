// Command sched benchmarks scheduled link checks: N checks of kind link
// (one URL each, every one to a distinct path, spread over the target's
// hosts, allow_private: true since the target is on loopback) at a fixed
// interval, run for a while, then reports the steady state: resident memory
// (VmRSS), CPU per check run, heap, goroutines, connections opened and the
// sockets in TIME-WAIT.
//
//	go run ./bench/links/target -port 18091 &
//	go run ./bench/links/sched -checks 1000 -interval 10s -duration 60s
//	go run ./bench/links/sched -mode daemon -monitor /path/to/monitor
//	go run ./bench/links/sched -mode bare
//
// Modes:
//
//	inproc  (default) the daemon's core in this process, wired as
//	        cmd/monitor/run.go newDaemon wires it: the config parsed by the
//	        config package, one probes.LinkClients shared by every link
//	        check, a probes.Env, snapshot.Snapshot, the Prometheus metrics,
//	        scheduler.New with the daemon's hub (hub.New over the snapshot:
//	        metrics.Observe, the status-change log). No HTTP server; the
//	        history store only with -history. CPU is getrusage(RUSAGE_SELF)
//	        over the steady window divided by the runs published in it.
//	daemon  the real binary, `monitor run -config <generated>` in a
//	        temporary directory (its history store is SQLite there): CPU
//	        from /proc/<pid>/stat, RSS from /proc/<pid>/status, runs counted
//	        at the target (one HEAD per run), heap and goroutines from one
//	        scrape of /metrics at the very end (a scrape of 1,000 checks'
//	        series allocates megabytes; it is not counted).
//	bare    the floor of the same work: a goroutine and a time.Ticker per
//	        check and a keep-alive net/http client; no scheduler, no probe.
//
// The steady window starts at -warmup (default 2 intervals: every check has
// run and the connections are open) and lasts until -duration. The target
// must be running (bench/links/target, default port 18091): its counters
// are reset at start-up and read at the end of the window, to show how many
// connections the checks opened; TIME-WAIT sockets to its port are counted
// at start-up and at the end of the window (new: not there at start-up).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
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
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/snapshot"
	"github.com/monitor-dev/monitor/store"
)

type params struct {
	mode, monitor          string
	checks, hosts          int
	port                   int
	interval               time.Duration
	duration, warmup       time.Duration
	targetStats, json      string
	cpuProfile, memProfile string
	jitter                 time.Duration
	groups                 int
	history                bool
	tw0                    map[string]bool // TIME-WAIT sockets to the target at start-up
}

func main() {
	var p params
	flag.StringVar(&p.mode, "mode", "inproc", "inproc (scheduler.New in this process), daemon (`monitor run`) or bare (a floor: no scheduler, no probes)")
	flag.StringVar(&p.monitor, "monitor", "", "mode daemon: path of the monitor binary")
	flag.IntVar(&p.checks, "checks", 1000, "number of link checks, one URL each")
	flag.IntVar(&p.hosts, "hosts", 200, "the target's hosts: 127.0.0.1 … 127.0.0.N")
	flag.IntVar(&p.port, "port", 18091, "the target's port")
	flag.DurationVar(&p.interval, "interval", 10*time.Second, "interval of every check")
	flag.DurationVar(&p.duration, "duration", 60*time.Second, "total run time from start-up (keep duration − warmup a whole number of intervals: runs cluster in the first half of each)")
	flag.DurationVar(&p.warmup, "warmup", 0, "start of the steady window after start-up (default 2 intervals)")
	flag.StringVar(&p.targetStats, "target-stats", "", "the target's stats URL (default http://127.0.0.1:<port>/_stats)")
	flag.StringVar(&p.json, "json", "", "also write the figures as JSON to this file")
	flag.DurationVar(&p.jitter, "jitter", 0, "mode inproc: scheduler.Options.MaxJitter (0: the daemon's 5s; negative: none, every check starts at once)")
	flag.BoolVar(&p.history, "history", false, "mode inproc: also the history store (SQLite) and its writer, as the daemon has them")
	flag.IntVar(&p.groups, "groups", 0, "mode bare: first runs in this many equal groups over the interval (0: one group per check, evenly spread)")
	flag.StringVar(&p.cpuProfile, "cpuprofile", "", "mode inproc: write a CPU profile of the steady window to this file")
	flag.StringVar(&p.memProfile, "memprofile", "", "mode inproc: write a heap profile (end of the window, after GC) to this file")
	flag.Parse()
	if p.warmup == 0 {
		p.warmup = 2 * p.interval
	}
	if p.targetStats == "" {
		p.targetStats = fmt.Sprintf("http://127.0.0.1:%d/_stats", p.port)
	}
	if p.checks < 1 || p.interval <= 0 || p.duration < p.warmup+p.interval {
		fatalf("need -checks ≥ 1 and -duration ≥ warm-up + one interval")
	}
	if p.mode != "inproc" && p.mode != "daemon" && p.mode != "bare" {
		fatalf("-mode must be inproc, daemon or bare")
	}
	if p.mode == "daemon" && p.monitor == "" {
		fatalf("-mode daemon needs -monitor")
	}

	p.tw0 = timeWaitSet(p.port)
	if _, err := targetStats(p.targetStats + "?reset=1"); err != nil {
		fatalf("target: %v (is bench/links/target running on port %d?)", err, p.port)
	}
	var res result
	switch p.mode {
	case "inproc":
		res = runInproc(p)
	case "daemon":
		res = runDaemon(p)
	default:
		res = runBare(p)
	}
	res.print(os.Stdout)
	if p.json != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(p.json, append(b, '\n'), 0o644); err != nil {
			fatalf("%v", err)
		}
	}
	if res.Failed > 0 || res.WindowRuns == 0 {
		os.Exit(1)
	}
}

// configYAML is a monitor config of n link checks, one URL each.
func configYAML(p params, listen string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "server: { listen: %q }\n", listen)
	fmt.Fprintf(&b, "defaults: { interval: %s, timeout: %s }\nchecks:\n", p.interval, min(4*time.Second, p.interval/2))
	for i := range p.checks {
		fmt.Fprintf(&b, "  - { name: link_%05d, kind: link, allow_private: true, urls: [\"http://127.0.0.%d:%d/sched/%d\"] }\n",
			i, i%p.hosts+1, p.port, i)
	}
	return b.String()
}

type result struct {
	Mode            string  `json:"mode"`
	Checks          int     `json:"checks"`
	IntervalS       float64 `json:"interval_s"`
	WindowS         float64 `json:"window_s"`
	WindowRuns      int64   `json:"window_runs"`
	ExpectedRuns    int64   `json:"expected_runs"`
	Failed          int64   `json:"failed_runs"` // runs not PASS, whole run
	FirstFailure    string  `json:"first_failure,omitempty"`
	CPUms           float64 `json:"cpu_ms_window"`
	CPUPerRunMs     float64 `json:"cpu_ms_per_run"`
	CPUPercent      float64 `json:"cpu_percent_of_one_core"`
	RSSMB           float64 `json:"rss_mb"`
	HWMMB           float64 `json:"rss_peak_mb"`
	HeapInuseMB     float64 `json:"heap_inuse_mb"`
	HeapLiveMB      float64 `json:"heap_live_after_gc_mb,omitempty"`
	StackMB         float64 `json:"stack_inuse_mb"`
	Goroutines      int     `json:"goroutines"`
	Threads         int     `json:"threads"`
	TimeWaitBefore  int     `json:"time_wait_target_port_before"`
	TimeWait        int     `json:"time_wait_target_port"`
	TimeWaitNew     int     `json:"time_wait_target_port_new"` // at the end, not there at start-up
	TimeWaitAll     int     `json:"time_wait_all"`
	Established     int     `json:"established_to_target"`
	TargetRequests  int64   `json:"target_requests"`
	TargetNewConns  int64   `json:"target_new_conns"`
	StartupS        float64 `json:"all_ran_once_after_s"`
	RunsWholeWindow int64   `json:"runs_total"`
}

func (r result) print(w io.Writer) {
	fmt.Fprintf(w, "mode=%s checks=%d interval=%gs window=%.1fs runs=%d expected=%d failed=%d\n",
		r.Mode, r.Checks, r.IntervalS, r.WindowS, r.WindowRuns, r.ExpectedRuns, r.Failed)
	fmt.Fprintf(w, "cpu_window_ms=%.0f cpu_ms_per_run=%.3f cpu_pct_one_core=%.2f\n", r.CPUms, r.CPUPerRunMs, r.CPUPercent)
	fmt.Fprintf(w, "rss_mb=%.1f rss_peak_mb=%.1f heap_inuse_mb=%.1f heap_live_after_gc_mb=%.1f stack_mb=%.1f goroutines=%d threads=%d\n",
		r.RSSMB, r.HWMMB, r.HeapInuseMB, r.HeapLiveMB, r.StackMB, r.Goroutines, r.Threads)
	fmt.Fprintf(w, "time_wait_to_target=%d (new %d, at start-up %d) time_wait_all=%d established_to_target=%d target_requests=%d target_new_conns=%d\n",
		r.TimeWait, r.TimeWaitNew, r.TimeWaitBefore, r.TimeWaitAll, r.Established, r.TargetRequests, r.TargetNewConns)
	if r.FirstFailure != "" {
		fmt.Fprintf(w, "first_failure=%q\n", r.FirstFailure)
	}
}

func runInproc(p params) result {
	logger := slog.New(slog.DiscardHandler)
	cfg, err := config.Parse("bench.yaml", []byte(configYAML(p, "127.0.0.1:0")), os.LookupEnv)
	if err != nil {
		fatalf("config: %v", err)
	}
	// As newDaemon and newEnv (cmd/monitor/run.go, wire.go) wire it.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pool, err := probes.NewPool(map[string]string{}, logger)
	if err != nil {
		fatalf("pool: %v", err)
	}
	env := &probes.Env{Pool: pool, Heartbeats: probes.NewBeatStore(), HTTP: &http.Client{},
		Links: probes.NewLinkClients(probes.Guard{}), Now: time.Now, Logger: logger}
	snap := snapshot.New(cfg.Checks, time.Now)
	met := metrics.New(snap)
	met.SetChecks(cfg.Checks)

	// -history: the history store and its batched writer, as newDaemon
	// opens them (SQLite in a temporary directory).
	var writer *store.Writer
	bg, stopBg := context.WithCancel(context.Background())
	defer stopBg()
	if p.history {
		dir, err := os.MkdirTemp("", "linkbench-history-")
		if err != nil {
			fatalf("%v", err)
		}
		defer os.RemoveAll(dir)
		st, err := store.Open(bg, "sqlite://"+filepath.Join(dir, "monitor.db"),
			store.Options{Retention: cfg.Storage.Retention, Logger: logger})
		if err != nil {
			fatalf("history store: %v", err)
		}
		defer st.Close()
		writer = store.NewWriter(st, store.WriterOptions{Logger: logger, Registerer: reg})
		go writer.Run(bg)
	}

	var total, failed, ranOnce atomic.Int64
	var firstFail atomic.Pointer[string]
	seen := make([]atomic.Bool, p.checks)
	subs := []hub.Subscriber{hub.Func(func(r check.Result, _ hub.Change) { met.Observe(r) })}
	if writer != nil { // historywire.go history, without maintenance windows or SLO events
		subs = append(subs, hub.Func(func(r check.Result, _ hub.Change) {
			rec := store.Record{Result: r, WithinSLA: r.Status == check.Pass}
			rec.Down = sla.Down(rec)
			rec.Links = nil
			writer.Enqueue(rec)
		}))
	}
	subs = append(subs, hub.StatusLog(logger), hub.Func(func(r check.Result, _ hub.Change) {
		total.Add(1)
		if r.Status != check.Pass {
			failed.Add(1)
			msg := r.Check + ": " + r.Message
			firstFail.CompareAndSwap(nil, &msg)
		}
		if i, err := strconv.Atoi(strings.TrimPrefix(r.Check, "link_")); err == nil && i < len(seen) &&
			!seen[i].Swap(true) {
			ranOnce.Add(1)
		}
	}))
	h := hub.New(snap, subs...) // cmd/monitor/run.go newDaemon
	sched, err := scheduler.New(scheduler.Options{Env: env, Publish: h.Publish,
		Logger: logger.With("component", "scheduler"), Registerer: reg, MaxJitter: p.jitter})
	if err != nil {
		fatalf("scheduler: %v", err)
	}
	t0 := time.Now()
	if err := sched.Apply(cfg.Checks); err != nil {
		fatalf("apply: %v", err)
	}
	if err := sched.Start(); err != nil {
		panic(err)
	}

	mode := "inproc"
	if p.history {
		mode = "inproc+history"
	}
	res := result{Mode: mode, Checks: p.checks, IntervalS: p.interval.Seconds()}
	for ranOnce.Load() < int64(p.checks) && time.Since(t0) < p.warmup {
		time.Sleep(10 * time.Millisecond)
	}
	res.StartupS = time.Since(t0).Seconds()
	time.Sleep(time.Until(t0.Add(p.warmup)))
	if p.cpuProfile != "" {
		f, err := os.Create(p.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fatalf("cpu profile: %v", err)
		}
	}
	cpu0, runs0, w0 := cpuSelf(), total.Load(), time.Now()
	time.Sleep(time.Until(t0.Add(p.duration)))
	cpu1, runs1 := cpuSelf(), total.Load()
	if p.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	res.WindowS = time.Since(w0).Seconds()
	res.fillWindow(p, cpu1-cpu0, runs1-runs0)
	res.fillSockets(p)

	res.fillMem()
	if p.memProfile != "" {
		f, err := os.Create(p.memProfile)
		if err == nil {
			err = pprof.WriteHeapProfile(f)
			f.Close()
		}
		if err != nil {
			fatalf("heap profile: %v", err)
		}
	}
	res.Failed, res.RunsWholeWindow = failed.Load(), total.Load()
	if f := firstFail.Load(); f != nil {
		res.FirstFailure = *f
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = sched.Shutdown(ctx)
	if writer != nil {
		_ = writer.Close(ctx) // before the deferred store Close
	}
	return res
}

// runBare is the floor of the same work: one goroutine per check with a
// time.Ticker (first tick spread over the first interval), a HEAD with a
// bare net/http client sharing one keep-alive transport, a counter. No
// scheduler, no probe, no results kept.
func runBare(p params) result {
	c := &http.Client{Transport: &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 8,
		IdleConnTimeout: 90 * time.Second}}
	var total, failed, ranOnce atomic.Int64
	var firstFail atomic.Pointer[string]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := time.Now()
	for i := range p.checks {
		u := fmt.Sprintf("http://127.0.0.%d:%d/sched/%d", i%p.hosts+1, p.port, i)
		groups := p.checks
		if p.groups > 0 {
			groups = p.groups
		}
		first := time.Duration(i%groups) * p.interval / time.Duration(groups)
		go func() {
			once := func() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
				resp, err := c.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				if total.Add(1); err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
					msg := fmt.Sprint(u, err)
					firstFail.CompareAndSwap(nil, &msg)
				}
			}
			select {
			case <-time.After(first):
			case <-ctx.Done():
				return
			}
			once()
			ranOnce.Add(1)
			tk := time.NewTicker(p.interval)
			defer tk.Stop()
			for {
				select {
				case <-tk.C:
					once()
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	res := result{Mode: "bare", Checks: p.checks, IntervalS: p.interval.Seconds()}
	for ranOnce.Load() < int64(p.checks) && time.Since(t0) < p.warmup {
		time.Sleep(10 * time.Millisecond)
	}
	res.StartupS = time.Since(t0).Seconds()
	time.Sleep(time.Until(t0.Add(p.warmup)))
	cpu0, runs0, w0 := cpuSelf(), total.Load(), time.Now()
	time.Sleep(time.Until(t0.Add(p.duration)))
	cpu1, runs1 := cpuSelf(), total.Load()
	res.WindowS = time.Since(w0).Seconds()
	res.fillWindow(p, cpu1-cpu0, runs1-runs0)
	res.fillSockets(p)
	res.fillMem()
	res.Failed, res.RunsWholeWindow = failed.Load(), total.Load()
	if f := firstFail.Load(); f != nil {
		res.FirstFailure = *f
	}
	return res
}

// fillMem reads this process's memory figures.
func (r *result) fillMem() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.RSSMB, r.HWMMB = kbMB(procStatus("self", "VmRSS")), kbMB(procStatus("self", "VmHWM"))
	r.Threads = int(procStatus("self", "Threads"))
	r.HeapInuseMB, r.StackMB = float64(ms.HeapInuse)/1e6, float64(ms.StackInuse)/1e6
	r.Goroutines = runtime.NumGoroutine()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	r.HeapLiveMB = float64(ms.HeapAlloc) / 1e6
}

// fillSockets counts the sockets to the target, and reads the target's
// counters, at the end of the window while the checks still run.
func (r *result) fillSockets(p params) {
	r.TimeWaitBefore = len(p.tw0)
	tw := timeWaitSet(p.port)
	r.TimeWait = len(tw)
	for k := range tw {
		if !p.tw0[k] {
			r.TimeWaitNew++
		}
	}
	r.TimeWaitAll = len(timeWaitSet(0))
	r.Established = established(p.port)
	if st, err := targetStats(p.targetStats); err == nil {
		r.TargetRequests, r.TargetNewConns = st.Requests, st.NewConns
	}
}

func (r *result) fillWindow(p params, cpu time.Duration, runs int64) {
	r.WindowRuns = runs
	r.ExpectedRuns = int64(float64(p.checks) * r.WindowS / p.interval.Seconds())
	r.CPUms = float64(cpu) / 1e6
	if runs > 0 {
		r.CPUPerRunMs = r.CPUms / float64(runs)
	}
	r.CPUPercent = 100 * cpu.Seconds() / r.WindowS
}

func runDaemon(p params) result {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("%v", err)
	}
	listen := ln.Addr().String()
	ln.Close()
	dir, err := os.MkdirTemp("", "linkbench-sched-")
	if err != nil {
		fatalf("%v", err)
	}
	defer os.RemoveAll(dir)
	cfgPath := filepath.Join(dir, "monitor.yaml")
	if err := os.WriteFile(cfgPath, []byte(configYAML(p, listen)), 0o644); err != nil {
		fatalf("%v", err)
	}
	bin, err := filepath.Abs(p.monitor)
	if err != nil {
		fatalf("%v", err)
	}
	cmd := exec.Command(bin, "run", "-config", cfgPath, "-log-level", "error")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		fatalf("start monitor: %v", err)
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	t0 := time.Now()
	base := "http://" + listen + "/metrics"
	res := result{Mode: "daemon", Checks: p.checks, IntervalS: p.interval.Seconds()}
	time.Sleep(time.Until(t0.Add(p.warmup)))
	// Runs are counted at the target (one HEAD per run), so that /metrics
	// is scraped once, at the end: a scrape of 1,000 checks' series
	// allocates megabytes, and would be counted as the daemon's.
	st0, err := targetStats(p.targetStats)
	if err != nil {
		fatalf("target: %v", err)
	}
	cpu0, w0 := cpuPid(pid), time.Now()
	time.Sleep(time.Until(t0.Add(p.duration)))
	cpu1 := cpuPid(pid)
	st1, err := targetStats(p.targetStats)
	if err != nil {
		fatalf("target: %v", err)
	}
	// /proc first: the scrape itself allocates.
	res.RSSMB, res.HWMMB = kbMB(procStatus(pid, "VmRSS")), kbMB(procStatus(pid, "VmHWM"))
	res.Threads = int(procStatus(pid, "Threads"))
	m1, err := scrape(base)
	if err != nil {
		fatalf("scrape: %v", err)
	}
	res.WindowS = time.Since(w0).Seconds()
	res.fillWindow(p, cpu1-cpu0, st1.Requests-st0.Requests)
	res.fillSockets(p)
	res.HeapInuseMB, res.StackMB = m1["go_memstats_heap_inuse_bytes"]/1e6, m1["go_memstats_stack_inuse_bytes"]/1e6
	res.Goroutines = int(m1["go_goroutines"])
	res.RunsWholeWindow = int64(sumMetric(m1, "monitor_check_runs_total"))
	res.Failed = res.RunsWholeWindow - int64(m1[`monitor_check_runs_total{status="PASS"}`])
	return res
}

// scrape reads a Prometheus text exposition: unlabelled series by name, and
// monitor_check_runs_total summed by status.
func scrape(u string) (map[string]float64, error) {
	resp, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		name := line[:i]
		if rest, ok := strings.CutPrefix(name, "monitor_check_runs_total{"); ok {
			if j := strings.Index(rest, `status="`); j >= 0 {
				st := rest[j+len(`status="`):]
				st = st[:strings.IndexByte(st, '"')]
				m[`monitor_check_runs_total{status="`+st+`"}`] += v
				m["monitor_check_runs_total"] += v
			}
			continue
		}
		m[name] = v
	}
	return m, sc.Err()
}

func sumMetric(m map[string]float64, name string) float64 { return m[name] }

func targetStats(u string) (struct{ Requests, NewConns int64 }, error) {
	var st struct {
		Requests int64 `json:"requests"`
		NewConns int64 `json:"new_conns"`
	}
	resp, err := http.Get(u)
	if err != nil {
		return struct{ Requests, NewConns int64 }{}, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return struct{ Requests, NewConns int64 }{st.Requests, st.NewConns}, err
}

// timeWaitSet lists the TCP sockets in TIME-WAIT to port (0: all), by
// address pair: its size is what `ss -tan state time-wait | wc -l` counts,
// less the header line. Sockets of the previous run (they stay 60 s) are
// told apart from this run's by comparing the set at start-up and the end.
func timeWaitSet(port int) map[string]bool { return ssSet("time-wait", port) }

func established(port int) int { return len(ssSet("established", port)) }

func ssSet(state string, port int) map[string]bool {
	args := []string{"-Htan", "state", state}
	if port > 0 {
		args = append(args, fmt.Sprintf("( dport = :%d )", port))
	}
	out, err := exec.Command("ss", args...).Output()
	if err != nil {
		fatalf("ss: %v", err)
	}
	m := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 4 {
			m[f[len(f)-2]+" "+f[len(f)-1]] = true
		}
	}
	return m
}

func cpuSelf() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuPid is utime+stime of /proc/<pid>/stat (clock ticks, USER_HZ = 100).
func cpuPid(pid string) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// procStatus reads a numeric field of /proc/<pid>/status (kB for Vm*).
func procStatus(pid, field string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			v, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return v
		}
	}
	return 0
}

func kbMB(kb int64) float64 { return float64(kb) / 1024 }

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "sched: "+format+"\n", args...)
	os.Exit(2)
}
