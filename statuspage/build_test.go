package statuspage

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/testenv"
	"github.com/monitor-dev/monitor/scheduler/cronspec"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/store"
)

func build(t testing.TB, in Inputs) *Page {
	t.Helper()
	p, err := Build(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGolden compares every file of the fixture's site with its golden
// copy: the API documents in Statuspage's shapes, the badges, the feeds
// and the pages. The style sheet and script are written as embedded, byte
// for byte (web/ is their source, not a second golden copy).
func TestGolden(t *testing.T) {
	st := openStore(t)
	fillHistory(t, st)
	p := build(t, inputs(st))
	if p.HistoryErr != nil {
		t.Fatal(p.HistoryErr)
	}
	files, err := p.Files()
	if err != nil {
		t.Fatal(err)
	}
	testenv.Golden(t, "files.txt", []byte(strings.Join(Names(files), "\n")+"\n"))
	for _, name := range Names(files) {
		if src, ok := assets[name]; ok {
			want, err := web.ReadFile(src)
			if err != nil || !bytes.Equal(files[name], want) {
				t.Errorf("%s is not %s as embedded (%v)", name, src, err)
			}
			continue
		}
		testenv.Golden(t, "site/"+name, files[name])
	}
}

func TestComponentStates(t *testing.T) {
	p := build(t, inputs(nil))
	got := map[string]string{}
	for _, c := range p.Components {
		got[c.Name] = c.State
	}
	want := map[string]string{"Redirects": PartialOutage, "Redirect analytics": DegradedPerformance, "Billing <API>": UnderMaintenance}
	if len(got) != len(want) {
		t.Errorf("components %v, want %v (private checks never appear)", got, want)
	}
	for n, s := range want {
		if got[n] != s {
			t.Errorf("%s: %s, want %s", n, got[n], s)
		}
	}
	if p.Status.Indicator != IndicatorMajor || p.Status.Description != "Partial outage" {
		t.Errorf("overall %+v, want major / Partial outage", p.Status)
	}
	if len(p.Components[0].Bars) != 0 {
		t.Error("bars without a history")
	}
}

func TestRules(t *testing.T) {
	sp := []check.Spec{{Name: "a", Component: "X"}, {Name: "b", Component: "X"}}
	for _, tc := range []struct {
		name      string
		a, b      check.Result
		state     string
		indicator string
	}{
		{"all pass", pass("a"), pass("b"), Operational, IndicatorNone},
		{"unknown counts as up", res("a", check.Unknown, check.Warn), pass("b"), Operational, IndicatorNone},
		{"warn fail", res("a", check.Fail, check.Warn), pass("b"), DegradedPerformance, IndicatorMinor},
		{"some critical", res("a", check.Fail, check.Critical), pass("b"), PartialOutage, IndicatorMajor},
		{"all critical", res("a", check.Fail, check.Critical), res("b", check.Fail, check.Critical), MajorOutage, IndicatorCritical},
		{"critical and unknown", res("a", check.Fail, check.Critical), res("b", check.Unknown, check.Warn), PartialOutage, IndicatorMajor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := build(t, Inputs{Specs: sp, Results: []check.Result{tc.a, tc.b}, Now: clock})
			if c := p.Components[0]; c.State != tc.state || p.Status.Indicator != tc.indicator {
				t.Errorf("state %s, indicator %s; want %s, %s", c.State, p.Status.Indicator, tc.state, tc.indicator)
			}
			if p.Status.Description != Description(tc.indicator) {
				t.Errorf("description %q", p.Status.Description)
			}
		})
	}
}

func pass(name string) check.Result { return res(name, check.Pass, check.Info) }

func res(name string, st check.Status, sev check.Severity) check.Result {
	return check.Result{Check: name, Status: st, Severity: sev, CheckedAt: now.Add(-time.Minute)}
}

func TestIncidents(t *testing.T) {
	p := build(t, inputs(nil))
	var names []string
	for _, i := range p.Active {
		names = append(names, i.Source+":"+i.Name+":"+i.Impact)
	}
	if got, want := strings.Join(names, " | "), "alert:Partial outage of Redirects:major | escalation:Slow dashboards for some customers:minor"; got != want {
		t.Errorf("active: %s\nwant:   %s", got, want)
	}
	var recent []string
	for _, i := range p.Recent {
		recent = append(recent, i.Source+":"+i.Name+":"+i.StartedAt.Format(time.RFC3339))
	}
	if got, want := strings.Join(recent, " | "), "alert:Degraded performance of Redirect analytics:2026-11-21T07:30:00Z | "+
		"manual:Delayed analytics:2026-11-19T10:00:00Z | alert:Degraded performance of Redirect analytics:2026-11-16T10:30:00Z"; got != want {
		t.Errorf("recent: %s\nwant:   %s", got, want)
	}
	if d := p.Recent[1]; d.MonitoringAt.IsZero() || d.ResolvedAt != time.Date(2026, 11, 19, 11, 10, 0, 0, time.UTC) || d.Updates[0].Status != Resolved {
		t.Errorf("manual incident: %+v", d)
	}
	if len(p.Archive) != 2 || p.Archive[0].Month != "2026-11" || p.Archive[0].Incidents[0].Name != "Partial outage of Redirects" ||
		!p.Archive[0].Incidents[0].StartedAt.Equal(now.Add(-20*24*time.Hour-65*time.Minute)) || p.Archive[1].Month != "2026-10" {
		t.Errorf("archive: %+v", p.Archive)
	}
	if len(p.Maintenances) != 2 || p.Maintenances[0].Status != Scheduled || p.Maintenances[1].Status != InProgress {
		t.Errorf("maintenances: %+v", p.Maintenances)
	}
}

func TestHistory(t *testing.T) {
	st := openStore(t)
	fillHistory(t, st)
	p := build(t, inputs(st))
	r := p.Components[0]
	if r.Name != "Redirects" || len(r.Bars) != Days {
		t.Fatalf("%s: %d bars", r.Name, len(r.Bars))
	}
	yesterday := r.Bars[Days-2]
	if yesterday.OutageCount != 1 || yesterday.Uptime == nil || *yesterday.Uptime > 98.0 || *yesterday.Uptime < 97.5 {
		t.Errorf("yesterday: %+v uptime %v", yesterday, FormatUptime(yesterday.Uptime))
	}
	if yesterday.Level != "minor" && yesterday.Level != "partial" {
		t.Errorf("yesterday's level %s", yesterday.Level)
	}
	if b := r.Bars[0]; b.Level != "no_data" || b.Uptime != nil {
		t.Errorf("90 days ago: %+v", b)
	}
	if r.Uptime30 == nil || *r.Uptime30 >= 100 || r.Uptime90 == nil || *r.Uptime90 != *r.Uptime30 {
		t.Errorf("uptime 30 %s, 90 %s", FormatUptime(r.Uptime30), FormatUptime(r.Uptime90))
	}
	if a := p.Components[1]; a.Uptime30 == nil || *a.Uptime30 >= 100 {
		t.Errorf("analytics uptime %s", FormatUptime(a.Uptime30))
	}
}

type brokenHistory struct{}

var errDown = errors.New("store down")

func (brokenHistory) History(context.Context, string, time.Time, time.Time, time.Duration) ([]store.Bucket, error) {
	return nil, errDown
}
func (brokenHistory) Outages(context.Context, string, time.Time, time.Time) ([]store.Outage, error) {
	return nil, errDown
}

// TestHistoryDown: a store that fails still gives a page from the current
// state.
func TestHistoryDown(t *testing.T) {
	p := build(t, inputs(brokenHistory{}))
	if !errors.Is(p.HistoryErr, errDown) || len(p.Components) != 3 || p.Components[0].Bars != nil || p.Status.Indicator != IndicatorMajor {
		t.Errorf("page: err %v, %d components, indicator %s", p.HistoryErr, len(p.Components), p.Status.Indicator)
	}
	if _, err := p.Files(); err != nil {
		t.Fatal(err)
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{"Redirects": "redirects", "Billing <API>": "billing-api", "  ": "component", "Redirect analytics": "redirect-analytics"} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCache: builds that keep a cache give the same files as one that
// reads everything, and the second reads only the last days.
func TestCache(t *testing.T) {
	st := openStore(t)
	fillHistory(t, st)
	want, err := build(t, inputs(st)).Files()
	if err != nil {
		t.Fatal(err)
	}
	in := inputs(st)
	in.Cache = NewCache()
	for i := range 2 {
		got, err := build(t, in).Files()
		if err != nil {
			t.Fatal(err)
		}
		for name := range want {
			if string(got[name]) != string(want[name]) {
				t.Errorf("build %d with the cache: %s differs", i, name)
			}
		}
	}
	if n := len(in.Cache.days); n != 4*(Days-1) {
		t.Errorf("%d days cached, want %d (4 checks × the finished days)", n, 4*(Days-1))
	}
}

// TestManualIDAndHTML: a manual incident keeps the config's id and its
// rendered Markdown; without HTML its body is shown escaped.
func TestManualIDAndHTML(t *testing.T) {
	in := inputs(nil)
	in.Incidents = []ManualIncident{{ID: "20261121-1000-delayed-analytics", Title: "Delayed", Updates: []ManualUpdate{
		{At: now.Add(-time.Hour), Status: Investigating, Body: "**late**", HTML: "<p><strong>late</strong></p>"},
		{At: now.Add(-time.Minute), Status: Identified, Body: "<b>x</b>"},
	}}}
	p := build(t, in)
	files, err := p.Files()
	if err != nil {
		t.Fatal(err)
	}
	page := string(files["incidents/20261121-1000-delayed-analytics.html"])
	if !strings.Contains(page, "<p><strong>late</strong></p>") || !strings.Contains(page, "&lt;b&gt;x&lt;/b&gt;") || strings.Contains(page, "<b>x</b>") {
		t.Errorf("incident page:\n%s", page)
	}
}

// TestRecurringMaintenance: a cron window shows its current activation in
// progress and the next ones of the week as scheduled; the component is
// under maintenance while it lasts.
func TestRecurringMaintenance(t *testing.T) {
	sched, err := cronspec.Parse("0 10 * * *", time.UTC, now) // every day 10:00 UTC
	if err != nil {
		t.Fatal(err)
	}
	in := Inputs{Specs: []check.Spec{{Name: "a", Component: "X"}}, Results: []check.Result{pass("a")}, Now: clock,
		Maintenance: []Maintenance{{Window: sla.Maintenance{Components: []string{"X"}, Cron: sched, Duration: time.Hour}}}}
	p := build(t, in)
	if len(p.Maintenances) != 8 {
		t.Fatalf("%d maintenances, want today's and 7 more", len(p.Maintenances))
	}
	cur := p.Maintenances[len(p.Maintenances)-1]
	if cur.Status != InProgress || !cur.ScheduledFor.Equal(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)) || p.Maintenances[0].Status != Scheduled {
		t.Errorf("current %+v", cur)
	}
	if p.Components[0].State != UnderMaintenance || p.Status.Indicator != IndicatorMaintenance || p.Status.Description != "Under maintenance" {
		t.Errorf("state %s, overall %+v", p.Components[0].State, p.Status)
	}
}

// TestWeight: the site of 20 components weighs under 100 KB as served
// (gzip, as the daemon serves it and as web servers and CDNs do); a
// visitor's first load (index.html, style sheet, script) is a fraction of
// that. Uncompressed, the 1,800 day bars with their tooltips make most of
// index.html.
func TestWeight(t *testing.T) {
	var in Inputs
	in.Now = clock
	for i := range 20 {
		name := fmt.Sprintf("c%02d", i)
		in.Specs = append(in.Specs, check.Spec{Name: name, Kind: "db", Component: "Component " + name})
		in.Results = append(in.Results, pass(name))
	}
	st := openStore(t)
	in.History = st
	files, err := build(t, in).Files()
	if err != nil {
		t.Fatal(err)
	}
	gz := func(b []byte) int {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		_, _ = w.Write(b)
		_ = w.Close()
		return buf.Len()
	}
	raw, served := 0, 0
	for _, b := range files {
		raw += len(b)
		served += gz(b)
	}
	first := gz(files["index.html"]) + gz(files["assets/style.css"]) + gz(files["assets/status.js"])
	t.Logf("20 components: %d files, %d bytes, %d gzipped; first load %d gzipped; index.html %d bytes", len(files), raw, served, first, len(files["index.html"]))
	if served > 100_000 {
		t.Errorf("the site weighs %d bytes served, want under 100 KB", served)
	}
	if first > 30_000 {
		t.Errorf("a first load weighs %d bytes served, want under 30 KB", first)
	}
}
