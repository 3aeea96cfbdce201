// Command soak runs the real monitor daemon for a long time under a steady
// load and tells whether its memory plateaus (issue 13, point 4).
//
//	go run ./bench/soak -duration 1h [-checks 1000] [-bin PATH] [-warmup 5m]
//
// It starts a local HTTP target on 127.0.0.1 (keep-alive; every link answers
// at once but for a deterministic few that answer 404 or more slowly than the
// link timeout), writes a config of -checks link checks (one URL each,
// interval 10s, default 4 s link timeout, allow_private), a SQLite store in a
// temporary directory and a bearer token, builds ./cmd/monitor (or takes
// -bin) and runs `monitor run` on it. For the duration it scrapes /metrics
// every 15 s with Prometheus's Accept header, polls GET /v2/system/health
// every second and the status page / every minute, and once a minute prints
// one CSV line: VmRSS, VmHWM, go_memstats_heap_inuse_bytes,
// go_memstats_heap_objects, go_goroutines, process_open_fds, the SQLite
// files' size, the runs completed (sum of monitor_check_runs_total), the
// daemon's CPU and the machine's load average. At the end it prints a
// summary over the minutes after the warm-up: min/median/max, the slope of a
// least-squares line (KiB/min) and the verdict:
//
//	plateau  when |slope| × (minutes after warm-up) < 5% of the median,
//	         for both VmRSS and heap in use;
//	creep    otherwise.
//
// The daemon and the target are stopped at the end (and on SIGINT/SIGTERM).
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// promAccept is the Accept header Prometheus 3 sends by default
// (scrape_protocols without protobuf).
const promAccept = "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=underscores;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"

const token = "soak-bench-token-0123456789abcdef"

func main() {
	duration := flag.Duration("duration", time.Hour, "how long the daemon runs under load")
	checks := flag.Int("checks", 1000, "link checks in the config (one URL each)")
	interval := flag.Duration("interval", 10*time.Second, "the checks' interval")
	warmup := flag.Duration("warmup", 5*time.Minute, "minutes before this are left out of the summary")
	sample := flag.Duration("sample", time.Minute, "how often a CSV line is printed")
	scrapeEvery := flag.Duration("scrape", 15*time.Second, "how often /metrics is scraped")
	healthEvery := flag.Duration("health", time.Second, "how often GET /v2/system/health is polled")
	bin := flag.String("bin", "", "the monitor binary (default: go build ./cmd/monitor into the temporary directory)")
	keep := flag.Bool("keep", false, "keep the temporary directory (config, store, daemon log)")
	flag.Parse()

	dir, err := os.MkdirTemp("", "soak-")
	if err != nil {
		log.Fatal(err)
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	if err := run(dir, *bin, *checks, *interval, *duration, *warmup, *sample, *scrapeEvery, *healthEvery); err != nil {
		log.Printf("soak: %v (files in %s)", err, dir)
		if !*keep {
			os.RemoveAll(dir)
		}
		os.Exit(1)
	}
}

// linkPath is the target path of check i: 1 in 100 answers 404, 1 in 100
// answers after 5 s (past the 4 s link timeout), the rest 200 at once.
func linkPath(i int) string {
	switch i % 100 {
	case 7:
		return fmt.Sprintf("/missing/%d", i)
	case 13:
		return fmt.Sprintf("/slow/%d", i)
	}
	return fmt.Sprintf("/ok/%d", i)
}

// startTarget serves the links on 127.0.0.1 and returns its address.
func startTarget() (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ok/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "2")
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/missing/", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/slow/", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "late")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	go srv.Serve(ln)
	return srv, ln.Addr().String(), nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func writeConfig(path, listen, target, db string, n int, interval time.Duration) error {
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n  listen: %s\n  tokens: [%s]\n", listen, token)
	fmt.Fprintf(&b, "storage:\n  dsn: sqlite://%s\n", db)
	fmt.Fprintf(&b, "defaults:\n  interval: %s\n  timeout: 4s\n", interval)
	b.WriteString("checks:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - name: link_%04d\n    kind: link\n    component: Links %d\n    allow_private: true\n    urls: [http://%s%s]\n",
			i, i%10, target, linkPath(i))
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// sampleRow is one minute of the curve.
type sampleRow struct {
	minute                   float64
	rssKiB, hwmKiB           int64
	anonKiB, fileKiB         int64   // RssAnon, RssFile
	goResident               float64 // go_memstats_sys_bytes − go_memstats_heap_released_bytes
	heapLive                 float64 // go_memstats_next_gc_bytes × 100 / (100 + go_gc_gogc_percent)
	heapInuse, heapObjects   float64
	goroutines, fds          float64
	dbBytes                  int64
	runs                     float64
	cpuSec                   float64
	load1                    string
	scrapes, scrapeErr       int64
	scrapeMsMax, scrapeBytes int64
	health, healthErr        int64
	healthMsMax              int64
	pageErr                  int64
}

type counters struct {
	scrapes, scrapeErr, scrapeMsMax, scrapeBytes atomic.Int64
	health, healthErr, healthMsMax               atomic.Int64
	pageErr                                      atomic.Int64
	mu                                           sync.Mutex
	metrics                                      map[string]float64 // the last scrape's figures
	body                                         []byte             // and its text
}

func maxStore(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

func run(dir, bin string, n int, interval, duration, warmup, sampleEvery, scrapeEvery, healthEvery time.Duration) error {
	if bin == "" {
		bin = filepath.Join(dir, "monitor")
		build := exec.Command("go", "build", "-o", bin, "./cmd/monitor")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/monitor (run from the repository's root): %w", err)
		}
	}
	srv, target, err := startTarget()
	if err != nil {
		return err
	}
	defer srv.Close()
	listen, err := freePort()
	if err != nil {
		return err
	}
	db := filepath.Join(dir, "monitor.db")
	cfg := filepath.Join(dir, "config.yaml")
	if err := writeConfig(cfg, listen, target, db, n, interval); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	defer stop()

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	base := "http://" + listen
	client := &http.Client{Timeout: 10 * time.Second}
	ready := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(ready) {
			return fmt.Errorf("the daemon did not become ready in 30 s (see %s)", logf.Name())
		}
		select {
		case <-exited:
			return fmt.Errorf("the daemon exited: %v (see %s)", waitErr, logf.Name())
		case <-time.After(200 * time.Millisecond):
		}
	}
	start := time.Now()
	fmt.Fprintf(os.Stderr, "soak: daemon pid %d on %s, target %s, %d link checks every %s, dir %s, for %s\n",
		pid, listen, target, n, interval, dir, duration)

	c := &counters{metrics: map[string]float64{}}
	var wg sync.WaitGroup
	loop := func(every time.Duration, f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			f()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					f()
				}
			}
		}()
	}
	loop(scrapeEvery, func() { scrape(client, base, c) })
	loop(healthEvery, func() { pollHealth(client, base, c) })
	loop(time.Minute, func() { pollPage(client, base, c) })

	fmt.Println("minute,vmrss_kib,vmhwm_kib,heap_inuse_kib,heap_objects,goroutines,open_fds,sqlite_kib,runs,cpu_s,load1,scrapes,scrape_err,scrape_ms_max,scrape_kib,health,health_err,health_ms_max,page_err,rss_anon_kib,rss_file_kib,go_resident_kib,outside_go_kib,heap_live_kib")
	var rows []sampleRow
	// Samples are taken half a scrape interval after a scrape, not during
	// one (a scrape's transient RSS would make the curve noisy).
	time.Sleep(scrapeEvery / 2)
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	deadline := time.After(duration)
	var dead error
loop:
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(os.Stderr, "soak: interrupted")
			break loop
		case <-exited:
			dead = fmt.Errorf("the daemon exited during the soak: %v (see %s)", waitErr, logf.Name())
			break loop
		case <-deadline:
			break loop
		case <-tick.C:
			// the figures of /metrics are those of the last 15-s scrape
			r := take(c, pid, db, time.Since(start))
			if r.minute == warmup.Minutes() || time.Since(start)+sampleEvery > duration {
				// the whole exposition at the warm-up's end and at the last
				// minute, to compare what grew (kept with -keep)
				c.mu.Lock()
				os.WriteFile(filepath.Join(dir, fmt.Sprintf("metrics-minute-%02.0f.txt", r.minute)), c.body, 0o644)
				c.mu.Unlock()
			}
			rows = append(rows, r)
			fmt.Printf("%.0f,%d,%d,%.0f,%.0f,%.0f,%.0f,%d,%.0f,%.1f,%s,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%.0f,%.0f,%.0f\n",
				r.minute, r.rssKiB, r.hwmKiB, r.heapInuse/1024, r.heapObjects, r.goroutines, r.fds,
				r.dbBytes/1024, r.runs, r.cpuSec, r.load1, r.scrapes, r.scrapeErr, r.scrapeMsMax,
				r.scrapeBytes/1024, r.health, r.healthErr, r.healthMsMax, r.pageErr,
				r.anonKiB, r.fileKiB, r.goResident/1024, float64(r.anonKiB)-r.goResident/1024, r.heapLive/1024)
		}
	}
	cancel()
	wg.Wait()
	summary(rows, warmup.Minutes(), n, interval)
	if dead != nil {
		return dead
	}
	stop()
	return nil
}

func scrape(client *http.Client, base string, c *counters) {
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Accept", promAccept)
	req.Header.Set("User-Agent", "Prometheus/3.0.0 (soak)")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		c.scrapeErr.Add(1)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		c.scrapeErr.Add(1)
		log.Printf("soak: /metrics: HTTP %d %v", resp.StatusCode, err)
		return
	}
	c.scrapes.Add(1)
	maxStore(&c.scrapeMsMax, time.Since(t0).Milliseconds())
	c.scrapeBytes.Store(int64(len(body)))
	m := parseMetrics(body)
	c.mu.Lock()
	c.metrics, c.body = m, body
	c.mu.Unlock()
}

// parseMetrics reads the few figures the soak records from a text or
// OpenMetrics exposition; monitor_check_runs_total is summed over its series.
func parseMetrics(body []byte) map[string]float64 {
	want := map[string]bool{"go_memstats_heap_inuse_bytes": true, "go_memstats_heap_objects": true,
		"go_memstats_sys_bytes": true, "go_memstats_heap_released_bytes": true, "go_goroutines": true,
		"go_memstats_next_gc_bytes": true, "go_gc_gogc_percent": true, "process_open_fds": true, "monitor_check_runs_total": true}
	m := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		end := strings.IndexAny(line, "{ ")
		if end < 0 || !want[line[:end]] {
			continue
		}
		rest := line[end:]
		if rest[0] == '{' {
			i := strings.LastIndexByte(rest, '}')
			if i < 0 {
				continue
			}
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		m[line[:end]] += v
	}
	return m
}

func pollHealth(client *http.Client, base string, c *counters) {
	t0 := time.Now()
	resp, err := client.Get(base + "/v2/system/health")
	if err != nil {
		c.healthErr.Add(1)
		return
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// 503 is the contract's answer while a check FAILs; both are answers.
	if err != nil || (resp.StatusCode != 200 && resp.StatusCode != 503) {
		c.healthErr.Add(1)
		log.Printf("soak: health: HTTP %d %v", resp.StatusCode, err)
		return
	}
	c.health.Add(1)
	maxStore(&c.healthMsMax, time.Since(t0).Milliseconds())
}

func pollPage(client *http.Client, base string, c *counters) {
	resp, err := client.Get(base + "/")
	if err != nil {
		c.pageErr.Add(1)
		log.Printf("soak: status page: %v", err)
		return
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		c.pageErr.Add(1)
		log.Printf("soak: status page: HTTP %d %v", resp.StatusCode, err)
	}
}

// procStatus reads VmRSS and VmHWM (KiB) of a process.
func procStatus(pid int) (rss, hwm, anon, file int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1, -1, -1, -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			hwm = v
		case "RssAnon:":
			anon = v
		case "RssFile:":
			file = v
		}
	}
	return rss, hwm, anon, file
}

// cpuSeconds is utime+stime of a process (clock ticks of 1/100 s).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return -1
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}

func fileSize(paths ...string) int64 {
	var n int64
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func take(c *counters, pid int, db string, since time.Duration) sampleRow {
	r := sampleRow{minute: math.Round(since.Minutes())}
	r.rssKiB, r.hwmKiB, r.anonKiB, r.fileKiB = procStatus(pid)
	c.mu.Lock()
	m := c.metrics
	c.mu.Unlock()
	r.heapInuse, r.heapObjects = m["go_memstats_heap_inuse_bytes"], m["go_memstats_heap_objects"]
	r.goResident = m["go_memstats_sys_bytes"] - m["go_memstats_heap_released_bytes"]
	if gogc := m["go_gc_gogc_percent"]; gogc > 0 {
		r.heapLive = m["go_memstats_next_gc_bytes"] * 100 / (100 + gogc)
	}
	r.goroutines, r.fds, r.runs = m["go_goroutines"], m["process_open_fds"], m["monitor_check_runs_total"]
	r.dbBytes = fileSize(db, db+"-wal", db+"-shm")
	r.cpuSec = cpuSeconds(pid)
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		r.load1 = strings.Fields(string(b))[0]
	}
	r.scrapes, r.scrapeErr = c.scrapes.Swap(0), c.scrapeErr.Swap(0)
	r.scrapeMsMax, r.scrapeBytes = c.scrapeMsMax.Swap(0), c.scrapeBytes.Load()
	r.health, r.healthErr, r.healthMsMax = c.health.Swap(0), c.healthErr.Swap(0), c.healthMsMax.Swap(0)
	r.pageErr = c.pageErr.Swap(0)
	return r
}

// stats of one series after the warm-up.
type stats struct{ min, median, max, slope float64 }

func describe(xs, ys []float64) stats {
	s := append([]float64(nil), ys...)
	sort.Float64s(s)
	st := stats{min: s[0], max: s[len(s)-1]}
	if len(s)%2 == 1 {
		st.median = s[len(s)/2]
	} else {
		st.median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	// least-squares slope of y over x
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(xs))
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den > 0 {
		st.slope = num / den
	}
	return st
}

func summary(rows []sampleRow, warmup float64, n int, interval time.Duration) {
	var after []sampleRow
	for _, r := range rows {
		if r.minute >= warmup {
			after = append(after, r)
		}
	}
	fmt.Println()
	if len(after) < 2 {
		fmt.Printf("summary: only %d minutes after the %.0f-minute warm-up; no verdict\n", len(after), warmup)
		return
	}
	first, last := after[0], after[len(after)-1]
	span := last.minute - first.minute
	xs := make([]float64, len(after))
	for i, r := range after {
		xs[i] = r.minute
	}
	col := func(f func(sampleRow) float64) stats {
		ys := make([]float64, len(after))
		for i, r := range after {
			ys[i] = f(r)
		}
		return describe(xs, ys)
	}
	fmt.Printf("summary: warm-up ends at minute %.0f; minutes %.0f-%.0f (%d samples, span %.0f min)\n",
		warmup, first.minute, last.minute, len(after), span)
	fmt.Println("rule: plateau when |slope| x span < 5% of the median, for VmRSS and the live heap (slope: least squares, per minute)")
	type series struct {
		name   string
		unit   string
		scale  float64 // to the printed unit
		f      func(sampleRow) float64
		judged bool
	}
	all := []series{
		{"VmRSS", "KiB", 1, func(r sampleRow) float64 { return float64(r.rssKiB) }, true},
		{"heap_live", "KiB", 1.0 / 1024, func(r sampleRow) float64 { return r.heapLive }, true},
		{"heap_inuse", "KiB", 1.0 / 1024, func(r sampleRow) float64 { return r.heapInuse }, false},
		{"heap_objects", "", 1, func(r sampleRow) float64 { return r.heapObjects }, false},
		{"goroutines", "", 1, func(r sampleRow) float64 { return r.goroutines }, false},
		{"open_fds", "", 1, func(r sampleRow) float64 { return r.fds }, false},
		{"VmHWM", "KiB", 1, func(r sampleRow) float64 { return float64(r.hwmKiB) }, false},
		{"RssAnon", "KiB", 1, func(r sampleRow) float64 { return float64(r.anonKiB) }, false},
		{"RssFile", "KiB", 1, func(r sampleRow) float64 { return float64(r.fileKiB) }, false},
		{"go_resident", "KiB", 1.0 / 1024, func(r sampleRow) float64 { return r.goResident }, false},
		{"outside_go", "KiB", 1, func(r sampleRow) float64 { return float64(r.anonKiB) - r.goResident/1024 }, false},
		{"sqlite", "KiB", 1.0 / 1024, func(r sampleRow) float64 { return float64(r.dbBytes) }, false},
	}
	verdict := "plateau"
	for _, s := range all {
		st := col(func(r sampleRow) float64 { return s.f(r) * s.scale })
		drift := math.Abs(st.slope) * span
		pct := 0.0
		if st.median != 0 {
			pct = 100 * drift / st.median
		}
		mark := ""
		if s.judged {
			mark = "  ok"
			if pct >= 5 {
				mark = "  CREEP"
				verdict = "creep"
			}
		}
		fmt.Printf("%-13s min %10.0f  median %10.0f  max %10.0f %-3s  slope %+9.2f %s/min  (x%.0f min = %.2f%% of median)%s\n",
			s.name, st.min, st.median, st.max, s.unit, st.slope, orCount(s.unit), span, pct, mark)
	}
	runs := last.runs - first.runs
	expect := float64(n) * span * 60 / interval.Seconds()
	fmt.Printf("runs after warm-up: %.0f of %.0f expected (%.1f%%); daemon CPU %.1f s over %.0f min (%.1f%% of one core)\n",
		runs, expect, 100*runs/expect, last.cpuSec-first.cpuSec, span, 100*(last.cpuSec-first.cpuSec)/(span*60))
	var sErr, hErr, pErr, scrapes, health int64
	for _, r := range rows {
		sErr += r.scrapeErr
		hErr += r.healthErr
		pErr += r.pageErr
		scrapes += r.scrapes
		health += r.health
	}
	fmt.Printf("scrapes %d (errors %d), health polls %d (errors %d), status page errors %d\n", scrapes, sErr, health, hErr, pErr)
	fmt.Printf("verdict: %s\n", verdict)
	if sErr+hErr+pErr > 0 {
		fmt.Println("note: some requests failed; see the CSV columns")
	}
}

func orCount(unit string) string {
	if unit == "" {
		return "count"
	}
	return unit
}
