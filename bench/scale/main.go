// Command scale measures the memory per check of the real daemon: it starts
// `monitor run` (one or more builds, side by side) on generated configs of N
// heartbeat checks with a SQLite store, beats every check once through the
// API, waits until every check has run twice, and reads VmRSS/VmHWM from
// /proc, the Go memory figures and goroutines from /metrics, and a heap
// profile from the opt-in pprof listener ($MONITOR_PPROF_LISTEN; a build
// without it gives no profile).
//
//	go run ./bench/scale -bin new=/tmp/monitor-new -bin base=/tmp/monitor-base -checks 100,10000 -runs 3 -profiles /tmp/scale
//
// With no -bin it builds ./cmd/monitor of the working tree. Runs are
// interleaved (run 1 of every build and size, then run 2, …) so that the
// machine's load falls on all alike; the summary gives medians, and the
// figures per check above the smallest size ("baseline").
//
// See bench/scale/README.md for what each figure means and the results.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"
)

const (
	namePrefix = "scale_"
	token      = "bench-scale-token"
)

type binFlag []build

type build struct{ name, path string }

func (b *binFlag) String() string { return fmt.Sprint(*b) }
func (b *binFlag) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok {
		name, path = filepath.Base(v), v
	}
	*b = append(*b, build{name, path})
	return nil
}

type params struct {
	interval   time.Duration
	jitter     time.Duration
	kind       string
	beat       bool
	profiles   string
	keep       bool
	rssSamples int
	memRate    int
}

func main() {
	var bins binFlag
	flag.Var(&bins, "bin", "a `NAME=PATH` of a monitor binary to measure (repeatable); default: build ./cmd/monitor")
	checks := flag.String("checks", "100,10000", "comma-separated numbers of checks; the smallest is the baseline")
	runs := flag.Int("runs", 3, "runs of every build and size")
	var p params
	flag.DurationVar(&p.interval, "interval", 10*time.Second, "interval of every check")
	flag.DurationVar(&p.jitter, "jitter", 5*time.Second, "the daemon's start jitter bound (scheduler default 5s): waited for before the two intervals")
	flag.StringVar(&p.kind, "kind", "heartbeat", "heartbeat (freshness, source {heartbeat: true}, max_age 1h) or link (one link per check to a local server)")
	flag.BoolVar(&p.beat, "beat", true, "beat every heartbeat check once after start-up (POST /v2/heartbeats/{check}), so all PASS")
	flag.StringVar(&p.profiles, "profiles", "", "write heap profiles (and the pprof tops) to this `DIR`")
	flag.BoolVar(&p.keep, "keep", false, "keep every run's temporary directory (config, log, store)")
	flag.IntVar(&p.rssSamples, "rss-samples", 10, "VmRSS samples over one interval at steady state (the median is kept)")
	flag.IntVar(&p.memRate, "memprofilerate", 0, "sample one allocation per `BYTES` in the daemon's heap profiles (GODEBUG=memprofilerate); 0 keeps Go's 512 KiB, which is coarse below 10,000 checks, and a small rate costs memory itself: use it for profiles, not for the RSS figures")
	flag.Parse()

	var sizes []int
	for f := range strings.SplitSeq(*checks, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			fatalf("-checks: %q is not a positive number", f)
		}
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	if p.kind != "heartbeat" && p.kind != "link" {
		fatalf("-kind must be heartbeat or link")
	}
	if p.profiles != "" {
		if err := os.MkdirAll(p.profiles, 0o755); err != nil {
			fatalf("%v", err)
		}
	}
	if len(bins) == 0 {
		dir, err := os.MkdirTemp("", "scale-build-")
		if err != nil {
			fatalf("%v", err)
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "monitor")
		cmd := exec.Command("go", "build", "-o", path, "./cmd/monitor")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fatalf("go build: %v", err)
		}
		bins = binFlag{{"tree", path}}
	}

	var target *http.Server
	if p.kind == "link" {
		target = serveTarget()
		defer target.Close()
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("bench/scale: kind %s, beat %v, interval %s, %d runs; %d CPUs; load %s; %s\n",
		p.kind, p.beat, p.interval, *runs, runtime.NumCPU(), strings.Join(strings.Fields(string(load))[:3], " "),
		time.Now().UTC().Format(time.RFC3339))

	results := map[string][]sample{} // by build and size
	for run := 1; run <= *runs; run++ {
		for _, n := range sizes {
			for _, b := range bins {
				s, err := measure(b, n, run, p, target)
				if err != nil {
					fmt.Fprintf(os.Stderr, "%s N=%d run %d: %v\n", b.name, n, run, err)
					continue
				}
				fmt.Printf("run\t%s\t%d\t%d\t%s\n", b.name, n, run, s)
				key := fmt.Sprint(b.name, "/", n)
				results[key] = append(results[key], s)
			}
		}
	}
	summarize(os.Stdout, bins, sizes, results)
}

// sample is one run's figures, in bytes (RSS in KiB as /proc gives it).
type sample struct {
	rssKiB, rssScrapeKiB, hwmKiB           float64 // steady VmRSS (median), after one scrape, peak
	heapInuse, heapAlloc, stackInuse, sys  float64 // go_memstats_*, at the scrape
	goroutines, runs, scrapeMs, metricsLen float64
	startup                                float64 // seconds from exec to /readyz
	cpuPct                                 float64 // CPU (user+system) over the steady window, % of one core
}

func (s sample) String() string {
	return fmt.Sprintf("cpu %.1f%%, rss %.1f MiB, after scrape %.1f MiB, hwm %.1f MiB, heap inuse %.1f MiB, stack %.1f MiB, goroutines %.0f, runs %.0f, scrape %.0f ms (%.1f MB)",
		s.cpuPct, s.rssKiB/1024, s.rssScrapeKiB/1024, s.hwmKiB/1024, s.heapInuse/(1<<20), s.stackInuse/(1<<20), s.goroutines, s.runs, s.scrapeMs, s.metricsLen/1e6)
}

func measure(b build, n, run int, p params, target *http.Server) (sample, error) {
	var s sample
	dir, err := os.MkdirTemp("", "scale-run-")
	if err != nil {
		return s, err
	}
	if !p.keep {
		defer os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "keeping", dir)
	}
	listen, pprofAddr := freeAddr(), freeAddr()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(configYAML(n, listen, dir, p, target)), 0o644); err != nil {
		return s, err
	}
	logf, err := os.Create(filepath.Join(dir, "monitor.log"))
	if err != nil {
		return s, err
	}
	defer logf.Close()
	cmd := exec.Command(b.path, "run", "--config", cfg, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "MONITOR_PPROF_LISTEN="+pprofAddr)
	if p.memRate > 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("GODEBUG=memprofilerate=%d", p.memRate))
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return s, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer stop(cmd, exited)
	base := "http://" + listen
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

	if err := waitReady(client, base+"/readyz", exited, 3*time.Minute); err != nil {
		log, _ := os.ReadFile(logf.Name())
		return s, fmt.Errorf("%w\n%s", err, tail(log))
	}
	ready := time.Now()
	s.startup = ready.Sub(t0).Seconds()
	if p.kind == "heartbeat" && p.beat {
		if err := beatAll(client, base, n); err != nil {
			return s, err
		}
	}
	// Steady state: every check's first run falls within the jitter after
	// start-up, so after jitter + 2 intervals each has run twice (checked
	// below with monitor_scheduler_runs_started_total).
	time.Sleep(time.Until(ready.Add(p.jitter + 2*p.interval + time.Second)))
	pid := cmd.Process.Pid
	var rss []float64
	every := p.interval / time.Duration(max(p.rssSamples, 1))
	cpu0, t0cpu := procCPU(pid), time.Now()
	for i := range p.rssSamples {
		if i > 0 {
			time.Sleep(every)
		}
		v, err := procStatus(pid, "VmRSS")
		if err != nil {
			return s, err
		}
		rss = append(rss, v)
	}
	s.rssKiB = median(rss)
	time.Sleep(every) // the window is a whole interval: every check ran once in it
	s.cpuPct = (procCPU(pid) - cpu0) / time.Since(t0cpu).Seconds() * 100

	// One scrape, as Prometheus does it.
	ts := time.Now()
	body, err := get(client, base+"/metrics")
	if err != nil {
		return s, err
	}
	s.scrapeMs = float64(time.Since(ts).Milliseconds())
	s.metricsLen = float64(len(body))
	m := parseMetrics(body)
	if p.profiles != "" {
		var stats []string
		for line := range strings.SplitSeq(string(body), "\n") {
			if strings.HasPrefix(line, "go_") || strings.HasPrefix(line, "process_") || strings.HasPrefix(line, "monitor_scheduler_") {
				stats = append(stats, line)
			}
		}
		stats = append(stats, fmt.Sprintf("VmRSS_steady_kib %.0f", s.rssKiB), "")
		_ = os.WriteFile(filepath.Join(p.profiles, fmt.Sprintf("metrics-%s-%d-%d.txt", b.name, n, run)), []byte(strings.Join(stats, "\n")), 0o644)
	}
	s.heapInuse, s.heapAlloc = m["go_memstats_heap_inuse_bytes"], m["go_memstats_heap_alloc_bytes"]
	s.stackInuse, s.sys = m["go_memstats_stack_inuse_bytes"], m["go_memstats_sys_bytes"]
	s.goroutines, s.runs = m["go_goroutines"], m["monitor_scheduler_runs_started_total"]
	body = nil
	time.Sleep(2 * time.Second)
	if s.rssScrapeKiB, err = procStatus(pid, "VmRSS"); err != nil {
		return s, err
	}
	if s.hwmKiB, err = procStatus(pid, "VmHWM"); err != nil {
		return s, err
	}
	if s.runs < float64(2*n) {
		return s, fmt.Errorf("only %.0f scheduled runs for %d checks: not yet steady", s.runs, n)
	}
	if p.profiles != "" {
		prof := filepath.Join(p.profiles, fmt.Sprintf("heap-%s-%d-%d.pb.gz", b.name, n, run))
		if err := saveProfile(client, "http://"+pprofAddr+"/debug/pprof/heap?gc=1", prof); err != nil {
			fmt.Fprintf(os.Stderr, "%s N=%d: no heap profile (a build without $MONITOR_PPROF_LISTEN?): %v\n", b.name, n, err)
		} else {
			top := exec.Command("go", "tool", "pprof", "-top", "-nodecount=100000", "-sample_index=inuse_space", b.path, prof)
			out, err := top.Output()
			if err == nil {
				err = os.WriteFile(strings.TrimSuffix(prof, ".pb.gz")+".top.txt", out, 0o644)
			}
			if err == nil {
				err = os.WriteFile(strings.TrimSuffix(prof, ".pb.gz")+".pkg.txt", []byte(byPackage(out, n)), 0o644)
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "pprof top: %v\n", err)
			}
		}
	}
	return s, nil
}

func configYAML(n int, listen, dir string, p params, target *http.Server) string {
	var b strings.Builder
	// No rate limit: the harness beats every check as fast as it can.
	fmt.Fprintf(&b, "server:\n  listen: %q\n  tokens: [%q]\n  rate_limits: { requests_per_second: 0 }\n", listen, token)
	fmt.Fprintf(&b, "storage:\n  dsn: %q\n", "sqlite://"+filepath.Join(dir, "monitor.db"))
	fmt.Fprintf(&b, "defaults: { interval: %s, timeout: 5s }\nchecks:\n", p.interval)
	for i := range n {
		if p.kind == "link" {
			fmt.Fprintf(&b, "  - { name: %s%06d, kind: link, allow_private: true, urls: [\"http://%s/l/%d\"] }\n", namePrefix, i, targetAddr(target), i)
		} else {
			fmt.Fprintf(&b, "  - { name: %s%06d, kind: freshness, source: { heartbeat: true }, max_age: 1h }\n", namePrefix, i)
		}
	}
	return b.String()
}

func targetAddr(t *http.Server) string {
	if t == nil {
		return ""
	}
	return t.Addr
}

// serveTarget answers every link with 200 on a loopback port.
func serveTarget() *http.Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("%v", err)
	}
	srv := &http.Server{Addr: ln.Addr().String(), Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv
}

// beatAll POSTs one heartbeat per check, 8 at a time.
func beatAll(client *http.Client, base string, n int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for w := range errs {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/v2/heartbeats/%s%06d", base, namePrefix, i), nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err != nil {
					errs[w] = err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					errs[w] = fmt.Errorf("heartbeat %d: %s", i, resp.Status)
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func waitReady(client *http.Client, url string, exited <-chan error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("monitor exited before ready: %v", err)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("not ready in time")
}

func stop(cmd *exec.Cmd, exited <-chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

func get(client *http.Client, url string) ([]byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, err
}

func saveProfile(client *http.Client, url, path string) error {
	body, err := get(client, url)
	if err != nil {
		return err
	}
	return os.WriteFile(path, body, 0o644)
}

// parseMetrics keeps the unlabelled samples (and sums labelled ones) of the
// exposition text.
func parseMetrics(body []byte) map[string]float64 {
	m := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		name := line[:i]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name = name[:j]
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			m[name] += v
		}
	}
	return m
}

func procStatus(pid int, field string) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseFloat(f[0], 64)
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// byPackage sums the flat in-use bytes of a `pprof -top` listing by Go
// package, largest first, with the bytes per check.
func byPackage(top []byte, checks int) string {
	sum := map[string]float64{}
	var total float64
	for line := range strings.SplitSeq(string(top), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		v, ok := parseSize(f[0])
		if !ok {
			continue
		}
		fn := strings.Join(f[5:], " ")
		sum[pkgOf(fn)] += v
		total += v
	}
	pkgs := make([]string, 0, len(sum))
	for p := range sum {
		pkgs = append(pkgs, p)
	}
	slices.SortFunc(pkgs, func(a, b string) int { return int(sum[b] - sum[a]) })
	var b strings.Builder
	fmt.Fprintf(&b, "%10s %8s %12s  %s\n", "MiB", "%", "B per check", "package (flat in-use heap, after GC)")
	for _, p := range pkgs {
		fmt.Fprintf(&b, "%10.2f %7.1f%% %12.0f  %s\n", sum[p]/(1<<20), 100*sum[p]/total, sum[p]/float64(checks), p)
	}
	fmt.Fprintf(&b, "%10.2f %7s %12.0f  total\n", total/(1<<20), "100%", total/float64(checks))
	return b.String()
}

// pkgOf is the package path of a function name as pprof prints it.
func pkgOf(fn string) string {
	if i := strings.IndexAny(fn, "[ "); i >= 0 {
		fn = fn[:i] // type arguments name other packages
	}
	slash := strings.LastIndexByte(fn, '/')
	if i := strings.IndexByte(fn[slash+1:], '.'); i >= 0 {
		return fn[:slash+1+i]
	}
	return fn
}

// parseSize reads pprof's "1.50MB", "512kB", "64B".
func parseSize(s string) (float64, bool) {
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"kB", 1 << 10}, {"B", 1}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			return v * u.mult, err == nil
		}
	}
	return 0, false
}

// procCPU is the user and system CPU time of pid so far, in seconds.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("%v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func summarize(w io.Writer, bins []build, sizes []int, results map[string][]sample) {
	fmt.Fprintln(w, "\nmedians:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "build\tchecks\truns\tCPU %\tVmRSS MiB\tafter scrape MiB\tVmHWM MiB\theap inuse MiB\tstack MiB\tgoroutines\tscrape ms\tstart-up s\t")
	med := func(key string, f func(sample) float64) float64 {
		var v []float64
		for _, s := range results[key] {
			v = append(v, f(s))
		}
		return median(v)
	}
	for _, n := range sizes {
		for _, b := range bins {
			key := fmt.Sprint(b.name, "/", n)
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.2f\t%.0f\t%.0f\t%.1f\t\n", b.name, n, len(results[key]),
				med(key, func(s sample) float64 { return s.cpuPct }),
				med(key, func(s sample) float64 { return s.rssKiB / 1024 }),
				med(key, func(s sample) float64 { return s.rssScrapeKiB / 1024 }),
				med(key, func(s sample) float64 { return s.hwmKiB / 1024 }),
				med(key, func(s sample) float64 { return s.heapInuse / (1 << 20) }),
				med(key, func(s sample) float64 { return s.stackInuse / (1 << 20) }),
				med(key, func(s sample) float64 { return s.goroutines }),
				med(key, func(s sample) float64 { return s.scrapeMs }),
				med(key, func(s sample) float64 { return s.startup }))
		}
	}
	_ = tw.Flush()
	if len(sizes) < 2 {
		return
	}
	fmt.Fprintf(w, "\nper check above the %d-check baseline (medians):\n", sizes[0])
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "build\tchecks\tVmRSS KiB\tafter scrape KiB\tVmHWM KiB\theap inuse KiB\tstack KiB\tgoroutines\t")
	for _, n := range sizes[1:] {
		for _, b := range bins {
			hi, lo := fmt.Sprint(b.name, "/", n), fmt.Sprint(b.name, "/", sizes[0])
			per := func(f func(sample) float64, unit float64) float64 {
				return (med(hi, f) - med(lo, f)) / float64(n-sizes[0]) / unit
			}
			fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.4f\t\n", b.name, n,
				per(func(s sample) float64 { return s.rssKiB }, 1),
				per(func(s sample) float64 { return s.rssScrapeKiB }, 1),
				per(func(s sample) float64 { return s.hwmKiB }, 1),
				per(func(s sample) float64 { return s.heapInuse }, 1024),
				per(func(s sample) float64 { return s.stackInuse }, 1024),
				per(func(s sample) float64 { return s.goroutines }, 1))
		}
	}
	_ = tw.Flush()
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "scale: "+format+"\n", args...)
	os.Exit(2)
}
