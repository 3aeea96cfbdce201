// Command inproc runs the link checker of `monitor links` in-process on the
// URLs read from stdin (one a line) and reports what the CLI cannot show
// from outside: the most goroutines alive at once, the heap at its peak, and
// the allocations per link. It is the "memory flat" half of the benchmark:
// run it with 10,000 and 100,000 URLs and compare.
//
//	go run ./bench/links/inproc -concurrency 256 [-keep] [-cpuprofile f] [-memprofile f] < urls.txt
//
// The checker is built exactly as cmd/monitor/links.go builds it
// (probes.NewLinkClients(probes.Guard{}).Checker(allowPrivate, …)). With
// -keep every result is kept in a slice, as the CLI does for its output;
// without it results are dropped, so that what remains is the checker's own
// memory. Goroutines and the heap are sampled every millisecond.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/probes"
)

func main() {
	var (
		concurrency = flag.Int("concurrency", 256, "links checked at once")
		perHost     = flag.Int("per-host", probes.DefaultLinkPerHost, "links checked at once per host")
		keep        = flag.Bool("keep", false, "keep every result, as the CLI does")
		cpuProfile  = flag.String("cpuprofile", "", "write a CPU profile of the check to this file")
		memProfile  = flag.String("memprofile", "", "write a heap profile (at the end, before results are dropped)")
	)
	flag.Parse()
	var targets []probes.LinkTarget
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			targets = append(targets, probes.LinkTarget{URL: s})
		}
	}
	if len(targets) == 0 {
		fmt.Fprintln(os.Stderr, "inproc: no URLs on stdin")
		os.Exit(2)
	}

	checker := probes.NewLinkClients(probes.Guard{}).Checker(true, probes.LinkOptions{
		Concurrency: *concurrency, PerHost: *perHost})
	var results []check.LinkResult
	if *keep {
		results = make([]check.LinkResult, len(targets))
	}
	var fails atomic.Int64
	each := func(i int, r check.LinkResult) {
		if r.Status != check.Pass {
			fails.Add(1)
		}
		if *keep {
			results[i] = r
		}
	}

	runtime.GC()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	g0 := runtime.NumGoroutine()
	stop := make(chan struct{})
	sampled := make(chan [2]uint64)
	go func() { // sampler: peak goroutines and peak live heap
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/sched/goroutines:goroutines"}}
		var maxHeap, maxG uint64
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			maxHeap = max(maxHeap, s[0].Value.Uint64())
			maxG = max(maxG, s[1].Value.Uint64())
			select {
			case <-stop:
				sampled <- [2]uint64{maxHeap, maxG}
				return
			case <-t.C:
			}
		}
	}()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "inproc:", err)
			os.Exit(2)
		}
	}
	cpu0 := cpuTime()
	start := time.Now()
	checker.Check(context.Background(), targets, each)
	wall := time.Since(start)
	cpu := cpuTime() - cpu0
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	close(stop)
	peak := <-sampled
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	if *memProfile != "" {
		if f, err := os.Create(*memProfile); err == nil {
			runtime.GC()
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	runtime.GC()
	var ms2 runtime.MemStats
	runtime.ReadMemStats(&ms2)
	n := float64(len(targets))
	fmt.Printf("n=%d fail=%d keep=%t wall_s=%.3f cpu_s=%.3f cpu_us_per_link=%.1f goroutines_before=%d peak_goroutines=%d "+
		"peak_heap_MB=%.1f live_heap_after_MB=%.1f alloc_B_per_link=%.0f allocs_per_link=%.1f rss_MB=%.1f hwm_MB=%.1f\n",
		len(targets), fails.Load(), *keep, wall.Seconds(), cpu.Seconds(), float64(cpu.Microseconds())/n, g0, peak[1],
		float64(peak[0])/1e6, float64(ms2.HeapAlloc)/1e6,
		float64(ms1.TotalAlloc-ms0.TotalAlloc)/n, float64(ms1.Mallocs-ms0.Mallocs)/n,
		float64(procStatus("VmRSS"))/1024, float64(procStatus("VmHWM"))/1024)
	runtime.KeepAlive(results)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStatus reads a kB field of /proc/self/status.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb)
			return kb
		}
	}
	return 0
}
