package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/probes"
)

func cmdLinks(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newCommand("links")
	var lf logFlags
	timeout := fs.Duration("timeout", probes.DefaultLinkTimeout, "per link, the whole exchange")
	concurrency := fs.Int("concurrency", 64, "links checked at once")
	perHost := fs.Int("per-host", probes.DefaultLinkPerHost, "links checked at once per host")
	allowPrivate := fs.Bool("allow-private", false, "let links reach loopback and private addresses (the SSRF guard is off)")
	method := fs.String("method", "HEAD", "HEAD (GET fallback) or GET")
	format := fs.String("format", "table", "output: table or json")
	progress := fs.String("progress", "auto", "progress bar on stderr: auto (on a terminal), always or never")
	lf.register(fs)
	urls, code, ok := parse(fs, "links", args, stdout, stderr)
	if !ok {
		return code
	}
	if !lf.check("links", stderr) {
		return exitConfig
	}
	*method = strings.ToUpper(*method)
	switch {
	case *format != "table" && *format != "json":
		fmt.Fprintf(stderr, "monitor links: bad --format %q (want table or json)\n", *format)
		return exitConfig
	case *method != "HEAD" && *method != "GET":
		fmt.Fprintf(stderr, "monitor links: bad --method %q (want HEAD or GET)\n", *method)
		return exitConfig
	case *concurrency < 1:
		fmt.Fprintf(stderr, "monitor links: bad --concurrency %d (want 1 or more)\n", *concurrency)
		return exitConfig
	case *perHost < 1:
		fmt.Fprintf(stderr, "monitor links: bad --per-host %d (want 1 or more)\n", *perHost)
		return exitConfig
	case *timeout <= 0:
		fmt.Fprintf(stderr, "monitor links: bad --timeout %s (want a positive duration like 4s)\n", *timeout)
		return exitConfig
	case len(urls) == 0:
		fmt.Fprintln(stderr, "monitor links: no URL given (want URL... or - to read one per line from stdin)\nRun 'monitor links --help' for usage.")
		return exitConfig
	}
	var targets []probes.LinkTarget
	for _, a := range urls {
		if a != "-" {
			targets = append(targets, probes.LinkTarget{URL: a})
			continue
		}
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line != "" && !strings.HasPrefix(line, "#") {
				targets = append(targets, probes.LinkTarget{URL: line})
			}
		}
		if err := sc.Err(); err != nil {
			fmt.Fprintf(stderr, "monitor links: reading stdin: %v\n", err)
			return exitConfig
		}
	}

	clients := probes.NewLinkClients(probes.Guard{})
	checker := clients.Checker(*allowPrivate, probes.LinkOptions{
		Timeout: *timeout, Concurrency: *concurrency, PerHost: *perHost, Method: *method, OneShot: true,
		AllowHint: "run with --allow-private to allow it",
	})
	results := make([]check.LinkResult, len(targets))
	var doneN, failN atomic.Int64
	bar := newProgress(stderr, *progress, len(targets), &doneN, &failN)
	start := time.Now()
	checker.Check(ctx, targets, func(i int, r check.LinkResult) {
		results[i] = r
		doneN.Add(1)
		if r.Status != check.Pass {
			failN.Add(1)
		}
	})
	elapsed := time.Since(start)
	bar.stop()

	if *format == "json" {
		if err := writeLinksJSON(stdout, results); err != nil {
			fmt.Fprintf(stderr, "monitor links: %v\n", err)
			return exitFail
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "STATUS\tCODE\tMETHOD\tTIME\tURL\tERROR")
		for _, r := range results {
			code := "-"
			if r.StatusCode > 0 {
				code = fmt.Sprint(r.StatusCode)
			}
			errText := string(r.Error)
			if r.ErrorMessage != "" {
				errText += ": " + r.ErrorMessage
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.1fms\t%s\t%s\n", r.Status, code, r.Method, r.DurationMs, r.URL, errText)
		}
		_ = tw.Flush()
		fmt.Fprintf(stdout, "\n%d of %s failing (%s)\n", failN.Load(), count(len(results), "link"), elapsed.Round(time.Millisecond))
	}
	if failN.Load() > 0 {
		return exitFail
	}
	return exitOK
}

// progress draws "checked N/M (F failing)" on a terminal.
type progress struct {
	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}
}

func newProgress(w io.Writer, mode string, total int, doneN, failN *atomic.Int64) *progress {
	p := &progress{quit: make(chan struct{}), done: make(chan struct{})}
	on := mode == "always"
	if mode == "auto" {
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 && total > 1 {
				on = true
			}
		}
	}
	if !on {
		close(p.done)
		return p
	}
	draw := func() {
		n := doneN.Load()
		const width = 30
		filled := int(int64(width) * n / int64(max(total, 1)))
		fmt.Fprintf(w, "\r[%s%s] %d/%d checked, %d failing ", strings.Repeat("#", filled),
			strings.Repeat(".", width-filled), n, total, failN.Load())
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				draw()
				fmt.Fprintln(w)
				return
			case <-t.C:
				draw()
			}
		}
	}()
	return p
}

func (p *progress) stop() {
	p.stopOnce.Do(func() { close(p.quit) })
	<-p.done
}

// writeLinksJSON writes {"results": [...]} one result at a time, so that a
// large batch is never held twice in memory as one document.
func writeLinksJSON(w io.Writer, results []check.LinkResult) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("{\n  \"results\": [")
	for i, r := range results {
		b, err := json.MarshalIndent(r, "    ", "  ")
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(b)
	}
	if len(results) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]\n}\n")
	return bw.Flush()
}
