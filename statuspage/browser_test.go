package statuspage

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/server"
	"github.com/monitor-dev/monitor/sla"
)

// overallCase is one overall state of the page and the current results
// that produce it.
type overallCase struct {
	indicator, banner string
	change            func(in *Inputs)
}

// overallCases produce each of the five banners from the fixtures' specs:
// Redirects has two CRITICAL checks, Redirect analytics one WARN check and
// Billing <API> one CRITICAL check.
var overallCases = []overallCase{
	{IndicatorNone, "All systems operational", func(in *Inputs) {}},
	{IndicatorMinor, "Degraded performance", func(in *Inputs) {
		fail(in, check.Warn, "analytics_freshness_lag")
	}},
	{IndicatorMajor, "Partial outage", func(in *Inputs) {
		fail(in, check.Critical, "redirects_http_probe") // one of the two checks of Redirects
	}},
	{IndicatorCritical, "Major outage", func(in *Inputs) {
		fail(in, check.Critical, "redirects_db", "redirects_http_probe") // all of them
	}},
	{IndicatorMaintenance, "Under maintenance", func(in *Inputs) {
		in.Maintenance = []Maintenance{{Window: sla.Maintenance{Components: []string{"Billing <API>"},
			Start: now.Add(-15 * time.Minute), End: now.Add(45 * time.Minute)}}}
	}},
}

// fail makes the current results of names FAIL with severity sev.
func fail(in *Inputs, sev check.Severity, names ...string) {
	for i, r := range in.Results {
		for _, n := range names {
			if r.Check == n {
				in.Results[i].Status, in.Results[i].Severity, in.Results[i].Message = check.Fail, sev, "down"
			}
		}
	}
}

// passingInputs are the fixtures with every check passing and nothing
// else going on: no alert, incident or maintenance. logo is the
// operator's logo URL.
func passingInputs(h History, logo string) Inputs {
	s := settings
	s.LogoURL = logo
	var rs []check.Result
	for _, sp := range specs {
		rs = append(rs, check.Result{Check: sp.Name, Kind: sp.Kind, Status: check.Pass, Severity: check.Info,
			Message: "ok", CheckedAt: now.Add(-20 * time.Second)})
	}
	return Inputs{Settings: s, Specs: specs, Results: rs, History: h, Now: clock}
}

// buildCase builds the page of c and checks that the model has c's
// indicator, so that a failure in the browser is about the page.
func buildCase(t *testing.T, h History, logo string, c overallCase) *Page {
	t.Helper()
	in := passingInputs(h, logo)
	c.change(&in)
	p, err := Build(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Indicator != c.indicator {
		t.Fatalf("the fixture builds indicator %q, want %q", p.Status.Indicator, c.indicator)
	}
	return p
}

func files(t *testing.T, p *Page) map[string][]byte {
	t.Helper()
	fs, err := p.Files()
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// pageState is what a visitor sees of the page, read in the browser.
type pageState struct {
	Indicator  string
	Banner     string
	Components []struct {
		Slug      string
		State     string
		Bars      int
		Focusable int // bars with a tabindex: the keyboard reaches them
		TabStops  int // bars with tabindex 0: in the Tab order
		Tips      int // bars with a .tip
		Chart     bool
	}
	Charts, ChartsWithSVG int
	Sections              map[string]int // id → its items (articles, list items, days); -1 when absent
	Updated               string
	Styled                bool // assets/style.css loaded with rules
	Scripted              bool // assets/status.js is on the page
	Icon                  bool // a <link rel=icon>: no /favicon.ico 404
}

const readPage = `(() => {
	const o = document.querySelector('#overall');
	const comps = [...document.querySelectorAll('.component')].map(c => {
		const bars = [...c.querySelectorAll('ol.bars li.bar')];
		const st = c.querySelector('.state');
		return {Slug: c.getAttribute('data-slug') || '', State: st ? st.textContent.trim() : '',
			Bars: bars.length, Focusable: bars.filter(b => b.hasAttribute('tabindex')).length,
			TabStops: bars.filter(b => b.getAttribute('tabindex') === '0').length,
			Tips: bars.filter(b => b.querySelector('.tip')).length,
			Chart: !!c.querySelector('details.chart svg')};
	});
	const charts = [...document.querySelectorAll('details.chart')];
	const sections = {};
	for (const id of ['incidents', 'maintenance', 'history']) {
		const sec = document.getElementById(id);
		sections[id] = sec ? sec.querySelectorAll('article, li, .day').length : -1;
	}
	const updated = document.querySelector('footer time#updated');
	const sheet = [...document.styleSheets].find(s => s.href && s.href.endsWith('assets/style.css'));
	let rules = 0;
	try { rules = sheet ? sheet.cssRules.length : 0; } catch (e) {}
	return {Indicator: o ? o.getAttribute('data-indicator') || '' : '', Banner: o ? o.textContent.trim().replace(/\s+/g, ' ') : '',
		Components: comps, Charts: charts.length, ChartsWithSVG: charts.filter(c => c.querySelector('svg')).length,
		Sections: sections, Updated: updated ? updated.getAttribute('datetime') || '' : '',
		Styled: rules > 0,
		Scripted: [...document.scripts].some(s => s.src.endsWith('assets/status.js')),
		Icon: !!document.querySelector('link[rel~="icon"]')};
})()`

// checkPage compares what the browser shows with the model p.
func checkPage(t *testing.T, tb *tab, p *Page) pageState {
	t.Helper()
	st := eval[pageState](tb, readPage)
	if st.Indicator != p.Status.Indicator {
		t.Errorf("#overall data-indicator = %q, want %q", st.Indicator, p.Status.Indicator)
	}
	if !strings.Contains(st.Banner, p.Status.Description) {
		t.Errorf("#overall says %q, want it to say %q", st.Banner, p.Status.Description)
	}
	if len(st.Components) != len(p.Components) {
		t.Errorf("%d .component elements, want %d (%v)", len(st.Components), len(p.Components), st.Components)
	}
	for i, c := range st.Components {
		if i >= len(p.Components) {
			break
		}
		want := p.Components[i]
		if c.Slug != want.Slug {
			t.Errorf("component %d: data-slug %q, want %q", i, c.Slug, want.Slug)
		}
		if !strings.Contains(strings.ToLower(c.State), strings.ToLower(StateWords(want.State))) {
			t.Errorf("component %s: .state says %q, want %q", want.Slug, c.State, StateWords(want.State))
		}
		// The script may keep one Tab stop per component (the arrow keys
		// move between days); without it every day is a Tab stop.
		if c.Bars != Days || c.Focusable != Days || c.Tips != Days || c.TabStops == 0 {
			t.Errorf("component %s: %d bars, %d of them focusable (%d Tab stops), %d with a tooltip; want %d of each",
				want.Slug, c.Bars, c.Focusable, c.TabStops, c.Tips, Days)
		}
		if c.Chart != (want.Chart != nil) {
			t.Errorf("component %s: a chart with its svg: %v, want %v", want.Slug, c.Chart, want.Chart != nil)
		}
	}
	if st.Charts != st.ChartsWithSVG {
		t.Errorf("%d details.chart, only %d with an svg", st.Charts, st.ChartsWithSVG)
	}
	// A section is there when it has something to say, and then says it.
	upcoming := 0
	for _, m := range p.Maintenances {
		if !m.Resolved() {
			upcoming++
		}
	}
	for id, need := range map[string]bool{"incidents": len(p.Active) > 0, "maintenance": upcoming > 0, "history": len(p.Recent) > 0} {
		n := st.Sections[id]
		switch {
		case need && n <= 0:
			t.Errorf("section #%s: %d items, want it there with its items", id, n)
		case n == 0:
			t.Errorf("section #%s is there, empty", id)
		}
	}
	if len(p.Active) == 0 && st.Sections["incidents"] >= 0 {
		t.Error("section #incidents is there without an active incident")
	}
	if upcoming == 0 && st.Sections["maintenance"] >= 0 {
		t.Error("section #maintenance is there without maintenance to announce")
	}
	if st.Updated != rfc(p.UpdatedAt) {
		t.Errorf("footer time#updated datetime=%q, want %q", st.Updated, rfc(p.UpdatedAt))
	}
	if !st.Styled || !st.Scripted {
		t.Errorf("assets/style.css applied: %v; assets/status.js on the page: %v", st.Styled, st.Scripted)
	}
	if !st.Icon {
		t.Error("no <link rel=icon>: every browser then asks for /favicon.ico, a 404")
	}
	return st
}

// tip is the state of one bar's tooltip as the browser renders it.
type tip struct {
	Found     bool
	Shown     bool    // rendered, not transparent, unclipped and of a readable size
	Opacity   float64 // its own opacity times its ancestors'
	Text      string  // innerText: the rendered text only
	Left      float64
	Right     float64
	Viewport  float64 // the layout viewport's width
	ClippedBy string  // an ancestor whose overflow cuts the tip, if any
	CoveredBy string  // an element painted over part of the tip, if any
}

// readTip is a JavaScript function of a bar that returns its tip.
const readTip = `function tipOf(bar) {
	const tip = bar && bar.querySelector('.tip');
	if (!tip) return {Found: false};
	const r = tip.getBoundingClientRect();
	const cs = getComputedStyle(tip);
	// Opacity multiplies down the tree: a translucent bar makes its
	// tooltip translucent too.
	let opacity = 1;
	for (let e = tip; e; e = e.parentElement) opacity *= parseFloat(getComputedStyle(e).opacity);
	const shown = tip.checkVisibility({opacityProperty: true, visibilityProperty: true}) &&
		opacity > 0.5 && r.width >= 20 && r.height >= 10 &&
		(cs.clipPath === 'none' || cs.clipPath === '') && (cs.clip === 'auto' || cs.clip === '');
	// What the visitor sees at points of the tip: the tip, or something
	// painted over it. (The tip lets the mouse through, pointer-events:
	// none; for the hit test it must not.)
	let covered = '';
	if (shown) {
		const pe = tip.style.pointerEvents;
		tip.style.pointerEvents = 'auto';
		outer: for (const fx of [0.05, 0.25, 0.5, 0.75, 0.95]) for (const fy of [0.15, 0.5, 0.85]) {
			const x = r.left + r.width * fx, y = r.top + r.height * fy;
			if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) continue;
			const e = document.elementFromPoint(x, y);
			if (e && !tip.contains(e)) {
				covered = e.tagName.toLowerCase() + (e.className && e.className.baseVal === undefined ? '.' + e.className.split(' ').join('.') : '');
				break outer;
			}
		}
		tip.style.pointerEvents = pe;
	}
	let clipped = '';
	for (let a = tip.parentElement; a && a !== document.documentElement; a = a.parentElement) {
		const s = getComputedStyle(a);
		if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
		const ar = a.getBoundingClientRect();
		if (r.left < ar.left - 1 || r.right > ar.right + 1 || r.top < ar.top - 1 || r.bottom > ar.bottom + 1) {
			clipped = a.tagName.toLowerCase() + (a.className ? '.' + String(a.className).split(' ').join('.') : '');
			break;
		}
	}
	return {Found: true, Shown: shown, Text: tip.innerText.trim().replace(/\s+/g, ' '), Opacity: opacity,
		Left: r.left, Right: r.right, Viewport: document.documentElement.clientWidth, ClippedBy: clipped, CoveredBy: covered};
}`

// barJS is a JavaScript expression for bar i of component c.
func barJS(c, i int) string {
	return "document.querySelectorAll('.component')[" + strconv.Itoa(c) + "].querySelectorAll('ol.bars li.bar')[" + strconv.Itoa(i) + "]"
}

// tipOf reads the tip of the bar that expr finds.
func tipOf(tb *tab, expr string) tip {
	tb.t.Helper()
	return eval[tip](tb, "("+readTip+")("+expr+")")
}

// waitTip waits until the tip of the bar that expr finds is shown (a CSS
// transition may fade it in) and returns it; it fails t when it is not
// shown within a few seconds.
func waitTip(tb *tab, expr string) tip {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool]("("+readTip+")("+expr+").Shown", chromedp.WithPollingInterval(50*time.Millisecond)))
	tp := tipOf(tb, expr)
	if err != nil || !tp.Shown {
		tb.t.Fatalf("the tooltip of %s is not shown: %+v (%v)", expr, tp, err)
	}
	return tp
}

// checkTip checks the text of a shown tip against the bar's day d, and
// that it is all on screen.
func checkTip(t *testing.T, what string, tp tip, d Day) {
	t.Helper()
	t.Logf("%s: tooltip %q at x %.0f…%.0f", what, tp.Text, tp.Left, tp.Right)
	if date := d.Date.Format("Jan 2, 2006"); !strings.Contains(tp.Text, date) {
		t.Errorf("%s: tooltip %q does not name its day %s", what, tp.Text, date)
	}
	if d.Uptime == nil && !strings.Contains(tp.Text, "No data") {
		t.Errorf("%s: tooltip %q of a day without data does not say No data", what, tp.Text)
	}
	if d.Uptime != nil && !strings.Contains(tp.Text, "% uptime") {
		t.Errorf("%s: tooltip %q of a day with data does not give its uptime", what, tp.Text)
	}
	if tp.Left < 0 || tp.Right > tp.Viewport {
		t.Errorf("%s: tooltip spans x %.0f…%.0f, outside the %.0f px wide screen", what, tp.Left, tp.Right, tp.Viewport)
	}
	if tp.ClippedBy != "" {
		t.Errorf("%s: tooltip cut by its ancestor %s (overflow)", what, tp.ClippedBy)
	}
	if tp.CoveredBy != "" {
		t.Errorf("%s: %s is painted over the tooltip", what, tp.CoveredBy)
	}
	if tp.Opacity < 0.99 {
		t.Errorf("%s: the tooltip is translucent (opacity %.2f with its ancestors'): the page under it shows through its text", what, tp.Opacity)
	}
}

// TestBrowserStaticSite opens the folder the page is written to, served
// below /status/, in chromium: the banner of each overall state, every
// component with its 90 bars, tooltips by keyboard and by mouse, a phone's
// width, a browser without JavaScript; nothing is asked of another host,
// nothing 404s and the console stays clean.
func TestBrowserStaticSite(t *testing.T) {
	b := newBrowser(t)
	st := openStore(t)
	fillHistory(t, st)
	site := newStaticSite(t)

	for _, c := range overallCases {
		t.Run("overall="+c.indicator, func(t *testing.T) {
			p := buildCase(t, st, site.logoURL(), c)
			u := site.publish(t, c.indicator, files(t, p))
			tb := b.newTab(t)
			tb.open(u)
			if st := checkPage(t, tb, p); !strings.Contains(st.Banner, c.banner) {
				t.Errorf("the banner says %q, want %q", st.Banner, c.banner)
			}
			tb.checkClean()
			site.hits.check(t)
		})
	}

	// The whole fixture: incidents, maintenance, a day with an outage.
	in := inputs(st)
	in.Settings.LogoURL = site.logoURL()
	full, err := Build(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	fullURL := site.publish(t, "full", files(t, full))

	t.Run("full", func(t *testing.T) {
		tb := b.newTab(t)
		tb.open(fullURL)
		checkPage(t, tb, full)
		// An incident's own page, one folder down, and the incident
		// history find their assets too.
		if len(full.Active) == 0 {
			t.Fatal("the full fixture has no active incident")
		}
		for _, path := range []string{full.Active[0].Path, "history.html"} {
			tb.open(fullURL + path)
			if !eval[bool](tb, `[...document.styleSheets].some(s => s.href && s.href.endsWith('assets/style.css') && s.cssRules.length > 0)`) {
				t.Errorf("%s: assets/style.css not applied", path)
			}
		}
		tb.checkClean()
		site.hits.check(t)
	})

	t.Run("tooltip", func(t *testing.T) {
		tb := b.newTab(t)
		tb.viewport(1280, 800, false)
		tb.open(fullURL)
		if tp := tipOf(tb, barJS(0, 0)); !tp.Found || tp.Shown {
			t.Fatalf("before any focus, the first bar's tooltip is %+v, want present and hidden", tp)
		}
		// Tab from the top of the page to the first bar, as a keyboard
		// user does.
		const maxTabs = 100
		for i := 0; ; i++ {
			if i == maxTabs {
				t.Fatalf("%d Tab presses did not reach a bar", maxTabs)
			}
			tb.do("press Tab", chromedp.KeyEvent(kb.Tab))
			if eval[bool](tb, `document.activeElement.matches('li.bar')`) {
				break
			}
		}
		at := eval[int](tb, `[...document.querySelectorAll('.component')[0].querySelectorAll('ol.bars li.bar')].indexOf(document.activeElement)`)
		if at < 0 {
			t.Fatal("the first bar reached by Tab is not one of the first component")
		}
		comp := full.Components[0]
		checkTip(t, "bar "+strconv.Itoa(at)+", reached by Tab", waitTip(tb, "document.activeElement"), comp.Bars[at])

		// Yesterday's bar (the 30-minute outage of the fixtures) by
		// focus: its tooltip gives the uptime and the outage; the tooltip
		// of the bar Tab reached goes away.
		yesterday := Days - 2
		tb.do("focus yesterday's bar", chromedp.Focus(chromedp.JSPath(barJS(0, yesterday))))
		tp := waitTip(tb, barJS(0, yesterday))
		checkTip(t, "yesterday's bar, focused", tp, comp.Bars[yesterday])
		if !strings.Contains(tp.Text, "14:00") {
			t.Errorf("yesterday's tooltip %q does not list the outage at 14:00", tp.Text)
		}
		if tp := tipOf(tb, barJS(0, at)); tp.Shown && at != yesterday {
			t.Errorf("the tooltip of bar %d still shows after the focus moved: %+v", at, tp)
		}

		// The mouse: hovering a bar of the second component shows its tip.
		tb.do("blur", chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`))
		hover(tb, barJS(1, Days-1))
		checkTip(t, "today's bar of "+full.Components[1].Slug+", hovered", waitTip(tb, barJS(1, Days-1)), full.Components[1].Bars[Days-1])
		tb.checkClean()
		site.hits.check(t)
	})

	t.Run("phone", func(t *testing.T) {
		tb := b.newTab(t)
		tb.viewport(360, 740, true)
		tb.open(fullURL)
		if w := eval[int](tb, `document.documentElement.scrollWidth`); w > 360 {
			t.Errorf("at 360 px wide the page is %d px wide: it scrolls sideways", w)
		}
		checkPage(t, tb, full)
		// The bars at both ends of what a phone shows (it may show fewer
		// days) keep their tooltip on screen.
		first := eval[int](tb, `[...document.querySelectorAll('.component')[0].querySelectorAll('ol.bars li.bar')].findIndex(b => b.getClientRects().length > 0)`)
		if first < 0 || first > Days-30 {
			t.Fatalf("at 360 px the first day shown is bar %d: fewer than 30 days shown", first)
		}
		for _, i := range []int{first, Days - 1} {
			tb.do("focus a bar", chromedp.Focus(chromedp.JSPath(barJS(0, i))))
			checkTip(t, "bar "+strconv.Itoa(i)+" at 360 px", waitTip(tb, barJS(0, i)), full.Components[0].Bars[i])
		}
		tb.checkClean()
		site.hits.check(t)
	})

	t.Run("no javascript", func(t *testing.T) {
		tb := b.newTab(t)
		call(tb, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		tb.open(fullURL)
		st := checkPage(t, tb, full)
		// Without the script every day is a Tab stop (and this shows that
		// the script did not run).
		for _, c := range st.Components {
			if c.TabStops != Days {
				t.Errorf("component %s without JavaScript: %d Tab stops, want %d", c.Slug, c.TabStops, Days)
			}
		}
		// The tooltips are CSS only: they work without scripts.
		tb.do("focus a bar", chromedp.Focus(chromedp.JSPath(barJS(0, Days-2))))
		checkTip(t, "yesterday's bar without JavaScript", waitTip(tb, barJS(0, Days-2)), full.Components[0].Bars[Days-2])
		tb.checkClean()
		site.hits.check(t)
	})

	t.Run("screenshots", func(t *testing.T) {
		dir := screenshotDir(t)
		if dir == "" {
			t.Skip("set STATUSPAGE_SCREENSHOTS to a folder to get screenshots of the page")
		}
		tb := b.newTab(t)
		for _, size := range []struct {
			name          string
			width, height int64
			mobile        bool
		}{{"desktop", 1280, 800, false}, {"phone", 360, 740, true}} {
			for _, scheme := range []string{"light", "dark"} {
				tb.viewport(size.width, size.height, size.mobile)
				tb.colorScheme(scheme)
				tb.open(fullURL)
				// Show all the page can show: the charts open, and the
				// tooltip of yesterday's bar of the first component.
				tb.do("open the charts", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('details.chart').forEach(d => d.open = true)`),
					chromedp.Focus(chromedp.JSPath(barJS(0, Days-2))))
				waitTip(tb, barJS(0, Days-2))
				png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatal(err)
				}
				name := filepath.Join(dir, size.name+"-"+scheme+".png")
				if err := os.WriteFile(name, png, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s", name)
			}
		}
		tb.checkClean()
		site.hits.check(t)
	})
}

// hover moves the mouse over the middle of the element expr finds.
func hover(tb *tab, expr string) {
	tb.t.Helper()
	box := eval[struct{ X, Y float64 }](tb, `(() => { const e = `+expr+`; e.scrollIntoView({block: 'center'});
		const r = e.getBoundingClientRect(); return {X: r.left + r.width / 2, Y: r.top + r.height / 2}; })()`)
	tb.do("hover", chromedp.MouseEvent(chromedp.MouseMoved, box.X, box.Y))
}

// liveFiles are the files of p as the daemon serves them, the page
// refreshing itself every second instead of every minute.
func liveFiles(t *testing.T, p *Page) map[string][]byte {
	t.Helper()
	fs := files(t, p)
	const every = `data-refresh="60"`
	if !bytes.Contains(fs["index.html"], []byte(every)) {
		t.Fatalf("index.html has no %s: it does not refresh itself", every)
	}
	fs["index.html"] = bytes.Replace(fs["index.html"], []byte(every), []byte(`data-refresh="1"`), 1)
	return fs
}

// TestBrowserLiveRefresh opens the page the daemon serves at / and
// changes the served site under it: the open page takes the new state by
// itself, without a reload (a variable of the window survives) and without
// a console error.
func TestBrowserLiveRefresh(t *testing.T) {
	b := newBrowser(t)
	// No history: the bars read "No data" (the page of a new install or of
	// a store that is down), which the refresh swaps like any other.
	srv := server.New(server.Options{Gatherer: prometheus.NewRegistry(), Now: clock})
	var served hits
	ts := httptest.NewServer(served.wrap(srv))
	t.Cleanup(ts.Close)

	before := buildCase(t, nil, "", overallCases[0])
	srv.SetStatusPage(server.NewSite(liveFiles(t, before)))
	tb := b.newTab(t)
	defer func() { // also after a t.Fatal: what went wrong in the browser
		tb.checkClean()
		served.check(t)
	}()
	tb.open(ts.URL + "/")
	checkPage(t, tb, before)
	tb.do("mark the window", chromedp.Evaluate[chromedp.Void](`window.__notReloaded = 'still here'`))
	loads := tb.mainNavigations()

	// Both checks of Redirects go down: Major outage, in a build half a
	// minute later.
	later := func() time.Time { return now.Add(30 * time.Second) }
	in := passingInputs(nil, "")
	in.Now = later
	overallCases[3].change(&in)
	after, err := Build(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetStatusPage(server.NewSite(liveFiles(t, after)))
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(document.querySelector('#overall') || {}).getAttribute?.('data-indicator') === '`+IndicatorCritical+`'`,
		chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		// A reload ends the poll early: wait for the document and say so.
		tb.do("wait for the page", chromedp.WaitReady(chromedp.CSS("body")))
		if v := eval[string](tb, `String(window.__notReloaded)`); v != "still here" || tb.mainNavigations() != loads {
			t.Fatalf("the page reloaded itself (%d loads, want %d) instead of swapping its content: %v", tb.mainNavigations(), loads, err)
		}
		t.Fatalf("15 s after the served page changed, the open page still shows %+v (%v)", eval[pageState](tb, readPage).Banner, err)
	}
	checkPage(t, tb, after)
	if v := eval[string](tb, `String(window.__notReloaded)`); v != "still here" || tb.mainNavigations() != loads {
		t.Errorf("the page reloaded to refresh (window variable %q, %d loads of the page, want %d)", v, tb.mainNavigations(), loads)
	}
	var refreshes int
	for _, u := range tb.requested() {
		if strings.TrimPrefix(u, ts.URL) == "/" {
			refreshes++
		}
	}
	if refreshes < 2 {
		t.Errorf("the page was fetched %d times: the refresh did not fetch it", refreshes)
	}
}
