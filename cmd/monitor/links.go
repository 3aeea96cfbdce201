package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
	"unicode/utf8"

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
	// Each result is its own allocation, set once: the JSON writer lets go
	// of a result once written, and the heap reuses its memory rather
	// than touching fresh pages for a slice of every result at once.
	results := make([]atomic.Pointer[check.LinkResult], len(targets))
	var doneN, failN atomic.Int64
	var out *linksJSON
	if *format == "json" {
		out = newLinksJSON(stdout, results)
	}
	bar := newProgress(stderr, *progress, len(targets), &doneN, &failN)
	start := time.Now()
	checker.Check(ctx, targets, func(i int, r check.LinkResult) {
		results[i].Store(&r)
		doneN.Add(1)
		if r.Status != check.Pass {
			failN.Add(1)
		}
	})
	elapsed := time.Since(start)
	bar.stop()

	if out != nil {
		if err := out.finish(); err != nil {
			fmt.Fprintf(stderr, "monitor links: %v\n", err)
			return exitFail
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "STATUS\tCODE\tMETHOD\tTIME\tURL\tERROR")
		for i := range results {
			r := results[i].Load()
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

// linksJSON writes {"results": [...]} in input order while the links are
// being checked: every tick it writes the results from the first one not
// yet written up to the first one not yet known, and lets go of them. The
// document is written one result at a time and never held whole, and most
// of it is written before the last link answers. The bytes are those of
// json.MarshalIndent (see appendLinkJSON).
type linksJSON struct {
	bw      *bufio.Writer
	results []atomic.Pointer[check.LinkResult] // nil: not known yet
	next    int                                // the first result not yet written
	buf     []byte
	err     error

	stop, stopped chan struct{}
}

// linksJSONTick is how often the results known so far are written.
const linksJSONTick = 10 * time.Millisecond

func newLinksJSON(w io.Writer, results []atomic.Pointer[check.LinkResult]) *linksJSON {
	j := &linksJSON{bw: bufio.NewWriterSize(w, 64<<10), results: results,
		stop: make(chan struct{}), stopped: make(chan struct{})}
	j.bw.WriteString("{\n  \"results\": [")
	go func() {
		defer close(j.stopped)
		t := time.NewTicker(linksJSONTick)
		defer t.Stop()
		for {
			select {
			case <-j.stop:
				return
			case <-t.C:
				j.drain()
			}
		}
	}()
	return j
}

// drain writes the results known so far, in order.
func (j *linksJSON) drain() {
	for j.err == nil && j.next < len(j.results) {
		r := j.results[j.next].Load()
		if r == nil {
			return
		}
		j.buf, j.err = appendLinkJSON(j.buf[:0], *r)
		if j.err != nil {
			return
		}
		if j.next > 0 {
			j.bw.WriteByte(',')
		}
		j.bw.WriteString("\n    ")
		j.bw.Write(j.buf)
		j.results[j.next].Store(nil)
		j.next++
	}
}

// finish writes what is left, once every link has its result.
func (j *linksJSON) finish() error {
	close(j.stop)
	<-j.stopped
	j.drain()
	if j.err != nil {
		return j.err
	}
	if len(j.results) > 0 {
		j.bw.WriteString("\n  ")
	}
	j.bw.WriteString("]\n}\n")
	return j.bw.Flush()
}

// appendLinkJSON appends r as json.MarshalIndent(r, "    ", "  ") writes
// it, byte for byte (a test holds it to that, field by field), at a
// fraction of the cost: no reflection, and no second pass to indent.
// Strings that need escaping, unusual floats and a set CheckedAt go
// through encoding/json itself.
func appendLinkJSON(b []byte, r check.LinkResult) ([]byte, error) {
	const in = "\n      " // a field of the result
	b = append(b, '{')
	b = append(b, in+`"url": `...)
	b = appendJSONString(b, r.URL)
	b = append(b, ","+in+`"status": `...)
	b = appendJSONString(b, string(r.Status))
	b = append(b, ","+in+`"statusCode": `...)
	b = strconv.AppendInt(b, int64(r.StatusCode), 10)
	b = append(b, ","+in+`"method": `...)
	b = appendJSONString(b, r.Method)
	b = append(b, ","+in+`"finalUrl": `...)
	b = appendJSONString(b, r.FinalURL)
	b = append(b, ","+in+`"durationMs": `...)
	b, err := appendJSONFloat(b, r.DurationMs)
	if err != nil {
		return b, err
	}
	b = append(b, ","+in+`"error": `...)
	b = appendJSONString(b, string(r.Error))
	if r.ErrorMessage != "" {
		b = append(b, ","+in+`"errorMessage": `...)
		b = appendJSONString(b, r.ErrorMessage)
	}
	if len(r.Redirects) > 0 {
		b = append(b, ","+in+`"redirects": [`...)
		for i, h := range r.Redirects {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n        {\n          \"url\": "...)
			b = appendJSONString(b, h.URL)
			b = append(b, ",\n          \"statusCode\": "...)
			b = strconv.AppendInt(b, int64(h.StatusCode), 10)
			b = append(b, "\n        }"...)
		}
		b = append(b, "\n      ]"...)
	}
	for _, f := range [...]struct{ name, v string }{{"check", r.Check}, {"handle", r.Handle}, {"slug", r.Slug}} {
		if f.v != "" {
			b = append(b, ","+in+`"`...)
			b = append(b, f.name...)
			b = append(b, `": `...)
			b = appendJSONString(b, f.v)
		}
	}
	if !r.CheckedAt.IsZero() {
		t, err := json.Marshal(r.CheckedAt)
		if err != nil {
			return b, err
		}
		b = append(b, ","+in+`"checkedAt": `...)
		b = append(b, t...)
	}
	if len(r.Locations) > 0 { // multi-location checks only: rare, so encoding/json
		m, err := json.MarshalIndent(r.Locations, in[1:], "  ")
		if err != nil {
			return b, err
		}
		b = append(b, ","+in+`"locations": `...)
		b = append(b, m...)
	}
	return append(b, "\n    }"...), nil
}

// appendJSONString appends s quoted as encoding/json quotes it: as is when
// every byte is printable ASCII other than " \\ < > &, through
// json.Marshal otherwise.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONFloat appends f as encoding/json writes a float64: plain
// decimal between 1e-6 and 1e21, through json.Marshal otherwise (exponent
// form; an error for NaN and infinities).
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if a := math.Abs(f); a == 0 || a >= 1e-6 && a < 1e21 {
		return strconv.AppendFloat(b, f, 'f', -1, 64), nil
	}
	q, err := json.Marshal(f)
	return append(b, q...), err
}
