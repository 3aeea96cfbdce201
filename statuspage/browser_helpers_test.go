package statuspage

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/monitor-dev/monitor/internal/testenv"
)

// The browser tests drive Debian's chromium headless through the DevTools
// protocol: what they check is what a visitor's browser does with the
// page (CSS applied, tooltips shown, scripts run without errors), which no
// test of the HTML text can see.

// browserTestTimeout bounds one browser test function, its browser start
// included: generous, as the suite runs under -race on two shared cores.
// actionTimeout bounds one step in a tab, so that a missing element (a
// query waits for it to appear) fails that step, not the whole function.
const (
	browserTestTimeout = 2 * time.Minute
	actionTimeout      = 20 * time.Second
)

// browser is one headless chromium, started once per test function and
// shared by its subtests, each in a tab of its own.
type browser struct {
	ctx context.Context // the browser's first tab; other tabs are its children
}

// newBrowser starts chromium for t and stops it when t ends. Without
// chromium the test is skipped (a failure under CI=true).
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := testenv.Tool(t, "chromium", "chromium")
	ctx, cancel := context.WithTimeout(context.Background(), browserTestTimeout)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root, where chromium's sandbox cannot start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		// Nothing resolves but 127.0.0.1, so that a page which asks for
		// another host fails here instead of reaching the network; the
		// tests still see the attempt (requestWillBeSent) and fail on it.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
	)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser() // closes the browser and waits for it
		cancelAlloc()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	return &browser{ctx: bctx}
}

// tab is one browser tab with a record of what its pages did: every
// request, every console error, exception and error log entry, and every
// navigation of the main frame.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu          sync.Mutex
	requests    []string // URLs, in order
	problems    []string // console errors, exceptions, error log entries
	navigations int      // of the main frame
}

// newTab opens a tab, closed when t ends. Its context ends with the
// browser's (the test function's timeout). The tab is in front and acts
// as if it had the focus, as the tab a visitor looks at: a hidden page
// does not refresh itself, and :focus styles need a focused window.
func (b *browser) newTab(t *testing.T) *tab {
	t.Helper()
	tb := &tab{t: t}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(tb.listen))
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	tb.ctx = ctx
	call(tb, page.BringToFront, cdp.Empty{})
	call(tb, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
	return tb
}

// listen runs in the tab's event loop: it only records.
func (tb *tab) listen(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		tb.requests = append(tb.requests, ev.Request.URL)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				if a.Value != nil {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			tb.problems = append(tb.problems, "console."+string(ev.Type)+": "+strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		tb.problems = append(tb.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError {
			tb.problems = append(tb.problems, fmt.Sprintf("log %s error: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	case *page.EventFrameNavigated:
		if ev.Frame.ParentID == "" {
			tb.navigations++
		}
	}
}

// do runs actions in the tab and fails t on an error.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// open loads url and waits for its load event.
func (tb *tab) open(url string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		tb.t.Fatalf("open %s: %v", url, err)
	}
	if resp.Status != http.StatusOK {
		tb.t.Fatalf("open %s: HTTP %d", url, resp.Status)
	}
}

// eval evaluates a JavaScript expression in the page and decodes its
// result into T.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// call sends one protocol command to the tab.
func call[P, R any](tb *tab, cmd cdp.Command[P, R], params P) R {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	r, err := chromedp.Call(ctx, cmd, params)
	if err != nil {
		tb.t.Fatalf("%s: %v", cmd.Method, err)
	}
	return r
}

// viewport sets the tab's size; mobile applies the page's viewport meta
// tag and overlay scrollbars, as a phone does.
func (tb *tab) viewport(width, height int64, mobile bool) {
	tb.t.Helper()
	call(tb, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: width, Height: height, DeviceScaleFactor: 1, Mobile: mobile})
}

// colorScheme emulates prefers-color-scheme: light or dark.
func (tb *tab) colorScheme(scheme string) {
	tb.t.Helper()
	call(tb, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
}

// checkClean fails t when a page of the tab asked for anything but
// 127.0.0.1 (or a data: URL), or wrote an error to the console, threw an
// exception or logged an error (a failed load among them).
func (tb *tab) checkClean() {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, raw := range tb.requests {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "data" && u.Hostname() != "127.0.0.1") {
			tb.t.Errorf("the page asked for %s: everything it needs must come from its own server", raw)
		}
	}
	for _, p := range tb.problems {
		tb.t.Errorf("browser console: %s", p)
	}
}

// requested reports the requests of the tab so far.
func (tb *tab) requested() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.requests...)
}

// mainNavigations counts the loads of the main frame so far.
func (tb *tab) mainNavigations() int {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.navigations
}

// hits records what a test server answered, so that a test can fail on a
// 404 the browser does not report to the page (a favicon).
type hits struct {
	mu   sync.Mutex
	list []string // "GET /path 200"
	bad  []string // the same, for answers >= 400
}

func (h *hits) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		line := fmt.Sprintf("%s %s %d", r.Method, r.URL.Path, sw.code)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.list = append(h.list, line)
		if sw.code >= 400 {
			h.bad = append(h.bad, line)
		}
	})
}

// check fails t for every answer >= 400 so far.
func (h *hits) check(t *testing.T) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, b := range h.bad {
		t.Errorf("the server answered %s: the page asked for something that does not exist", b)
	}
	h.bad = nil
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// staticSite serves folders written by WriteDir under /status/ of a
// server on 127.0.0.1, as a web server in front of statuspage.out would:
// the page must work below a sub path, with relative links. /logo.svg is
// the operator's logo, beside it. Each build gets a folder of its own
// (/status/{name}/): the file server's Last-Modified has whole seconds, so
// a folder rewritten within a second would answer the browser's
// If-Modified-Since with a 304 of the previous build.
type staticSite struct {
	srv  *httptest.Server
	dir  string
	hits hits
}

// logoSVG is the operator's logo of the browser tests.
const logoSVG = `<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><circle cx="16" cy="16" r="14" fill="#3b82f6"/></svg>`

func newStaticSite(t *testing.T) *staticSite {
	t.Helper()
	s := &staticSite{dir: t.TempDir()}
	mux := http.NewServeMux()
	mux.Handle("/status/", http.StripPrefix("/status/", http.FileServer(http.Dir(s.dir))))
	mux.HandleFunc("GET /logo.svg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		_, _ = w.Write([]byte(logoSVG))
	})
	s.srv = httptest.NewServer(s.hits.wrap(mux))
	t.Cleanup(s.srv.Close)
	return s
}

// logoURL is the logo's absolute URL, for Settings.LogoURL.
func (s *staticSite) logoURL() string { return s.srv.URL + "/logo.svg" }

// publish writes files as the folder name of the site and returns the
// URL of its page.
func (s *staticSite) publish(t *testing.T, name string, files map[string][]byte) string {
	t.Helper()
	if err := WriteDir(filepath.Join(s.dir, name), files); err != nil {
		t.Fatal(err)
	}
	return s.srv.URL + "/status/" + name + "/"
}

// screenshotDir is where the tests write screenshots of the page
// (STATUSPAGE_SCREENSHOTS), "" for none.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("STATUSPAGE_SCREENSHOTS")
	if dir == "" {
		return ""
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
