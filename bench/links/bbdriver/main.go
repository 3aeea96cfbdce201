// Command bbdriver is the reference side of the link-check benchmark: it
// reads URLs (one a line) from stdin and checks them all at a fixed
// concurrency, in one of three ways, then prints one line of figures.
//
//	blackbox   GET <bb>/probe?module=<m>&target=<URL> on a running
//	           blackbox_exporter, one request per URL; a URL counts as up
//	           when the answer holds "probe_success 1". The driver keeps its
//	           own connections to the exporter alive, so what is measured is
//	           the exporter's probing.
//	bare       HEAD every URL with a bare net/http client and a fresh
//	           connection per URL (DisableKeepAlives): the issue's baseline.
//	keepalive  HEAD every URL with a bare net/http client reusing
//	           connections (up to -concurrency per host): a floor, for
//	           reference.
//
//	bbdriver -mode blackbox -bb http://127.0.0.1:19115 -module http_head -concurrency 256 < urls.txt
//	bbdriver -mode bare -concurrency 256 < urls.txt
//
// Output: mode=… n=… ok=… fail=… wall_s=… cpu_s=… (cpu_s is the driver's own
// user+system time), and the first failure, if any, on stderr. The exit
// status is 1 when any URL failed.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	var (
		mode        = flag.String("mode", "bare", "blackbox, bare or keepalive")
		bb          = flag.String("bb", "http://127.0.0.1:19115", "blackbox_exporter base URL (mode blackbox)")
		module      = flag.String("module", "http_head", "blackbox_exporter module (mode blackbox)")
		concurrency = flag.Int("concurrency", 256, "URLs checked at once")
		timeout     = flag.Duration("timeout", 10*time.Second, "per URL")
		cpuProfile  = flag.String("cpuprofile", "", "write a CPU profile of the checks to this file")
	)
	flag.Parse()
	var urls []string
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" && !strings.HasPrefix(s, "#") {
			urls = append(urls, s)
		}
	}
	if err := sc.Err(); err != nil || len(urls) == 0 || *concurrency < 1 {
		fmt.Fprintln(os.Stderr, "bbdriver: need URLs on stdin and -concurrency ≥ 1", err)
		os.Exit(2)
	}

	var check func(ctx context.Context, u string) error
	switch *mode {
	case "blackbox":
		// Connections to the exporter are kept alive: only the exporter's
		// own probe connections are fresh.
		tr := &http.Transport{MaxIdleConns: *concurrency, MaxIdleConnsPerHost: *concurrency,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
		c := &http.Client{Transport: tr}
		base := strings.TrimRight(*bb, "/") + "/probe?module=" + url.QueryEscape(*module) + "&target="
		check = func(ctx context.Context, u string) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+url.QueryEscape(u), nil)
			if err != nil {
				return err
			}
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte("\nprobe_success 1\n")) {
				return fmt.Errorf("%s: exporter answered %d, probe not successful", u, resp.StatusCode)
			}
			return nil
		}
	case "bare", "keepalive":
		tr := &http.Transport{DisableKeepAlives: *mode == "bare",
			MaxIdleConns: 4096, MaxIdleConnsPerHost: *concurrency,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
		c := &http.Client{Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		check = func(ctx context.Context, u string) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
			if err != nil {
				return err
			}
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode < 200 || resp.StatusCode >= 400 {
				return fmt.Errorf("%s: HTTP %d", u, resp.StatusCode)
			}
			return nil
		}
	default:
		fmt.Fprintf(os.Stderr, "bbdriver: unknown -mode %q\n", *mode)
		os.Exit(2)
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bbdriver:", err)
			os.Exit(2)
		}
		defer f.Close()
	}
	var ok, fail atomic.Int64
	var firstErr atomic.Pointer[string]
	var next atomic.Int64
	cpu0 := cpuTime()
	start := time.Now()
	var wg sync.WaitGroup
	for range min(*concurrency, len(urls)) {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(urls)) {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), *timeout)
				err := check(ctx, urls[i])
				cancel()
				if err != nil {
					fail.Add(1)
					s := err.Error()
					firstErr.CompareAndSwap(nil, &s)
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	cpu := cpuTime() - cpu0
	pprof.StopCPUProfile()
	fmt.Printf("mode=%s n=%d ok=%d fail=%d wall_s=%.3f cpu_s=%.3f\n", *mode, len(urls), ok.Load(), fail.Load(),
		wall.Seconds(), cpu.Seconds())
	if p := firstErr.Load(); p != nil {
		fmt.Fprintf(os.Stderr, "bbdriver: first failure: %s\n", *p)
		os.Exit(1)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
