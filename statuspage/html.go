package statuspage

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// web holds the page's templates, style sheet and script.
//
//go:embed web
var web embed.FS

// Refresh is how often, in seconds, a page served over HTTP fetches itself
// again and swaps its content in place.
const Refresh = 60

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"words":     pageWords,
	"uptime":    FormatUptime,
	"indicator": indicatorOf,
	"rfc":       rfc,
	"when":      when,
	"status":    statusWords,
	"monthName": monthName,
	"chart":     chartSVG,
	"favicon":   favicon,
}).ParseFS(web, "web/*.html"))

// assets are the files every page links to, by path in the site.
var assets = map[string]string{"assets/style.css": "web/style.css", "assets/status.js": "web/status.js"}

// view is what a page template reads: the page, where the site's root is
// from this page, and the page's own parts.
type view struct {
	*Page
	Root      string
	Refresh   int
	PageTitle string
	Front     bool // the front page: the page's title is its h1
	// incident page
	Inc *Incident
	// history pages
	Heading string
	Months  []Month
	Index   bool
}

// incView is an incident in a template of a list: its root comes along.
type incView struct {
	Root string
	Inc  *Incident
}

// With pairs an incident with the view's root, for the list templates.
func (v view) With(inc *Incident) incView { return incView{Root: v.Root, Inc: inc} }

// PastDay is one day of the front page's incident history.
type PastDay struct {
	Date      time.Time
	Incidents []*Incident
}

// PastDays are the last RecentDays days, newest first, with the incidents
// that started on each (those that started before the first day are shown
// on it).
func (v view) PastDays() []PastDay {
	today := v.UpdatedAt.UTC().Truncate(day)
	out := make([]PastDay, RecentDays)
	for i := range out {
		out[i].Date = today.Add(-time.Duration(i) * day)
	}
	for _, inc := range v.Recent {
		i := int(today.Sub(inc.StartedAt.UTC().Truncate(day)) / day)
		i = min(max(i, 0), RecentDays-1)
		out[i].Incidents = append(out[i].Incidents, inc)
	}
	return out
}

// OpenMaintenances are the maintenances in progress, then the upcoming
// ones, soonest first (completed ones are in the incident history).
func (v view) OpenMaintenances() []*Incident {
	var now, next []*Incident
	for _, m := range v.Maintenances {
		switch m.Status {
		case InProgress:
			now = append(now, m)
		case Scheduled:
			next = append(next, m)
		}
	}
	slices.SortStableFunc(now, func(a, b *Incident) int { return a.ScheduledFor.Compare(b.ScheduledFor) })
	slices.SortStableFunc(next, func(a, b *Incident) int { return a.ScheduledFor.Compare(b.ScheduledFor) })
	return append(now, next...)
}

// barView is one day bar as the template shows it.
type barView struct {
	Level   string
	Class   string // the level's short class: n, o, mi, pa, ma (bytes count: 90 bars a component)
	Date    string
	Uptime  string
	Outages []string
}

// Bars are a component's 90 days, oldest first: with no history, every
// day reads "No data" so that the page keeps its shape.
func (v view) Bars(c *Component) []barView {
	out := make([]barView, len(v.Days))
	for i, d := range v.Days {
		b := barView{Level: "no_data", Date: d.Format("Jan 2, 2006"), Uptime: "No data"}
		if i < len(c.Bars) {
			bar := c.Bars[i]
			b.Level = bar.Level
			if bar.Uptime != nil {
				b.Uptime = FormatUptime(bar.Uptime) + " uptime"
			}
			for _, o := range bar.Outages {
				b.Outages = append(b.Outages, outageWords(o, d))
			}
			if more := bar.OutageCount - len(bar.Outages); more > 0 {
				b.Outages = append(b.Outages, fmt.Sprintf("and %d more", more))
			}
			if bar.Maintenance {
				b.Outages = append(b.Outages, "Maintenance")
			}
			if bar.Level != "no_data" && bar.Level != "operational" && bar.OutageCount == 0 && !bar.Maintenance {
				b.Outages = append(b.Outages, "Some down time")
			}
		}
		b.Class = levelClass[b.Level]
		out[i] = b
	}
	return out
}

var levelClass = map[string]string{"no_data": "n", "operational": "o", "minor": "mi", "partial": "pa", "major": "ma"}

// outageWords is one outage on one day's bar: its hours within the day,
// in UTC.
func outageWords(s Span, date time.Time) string {
	start, end := s.Start.UTC(), s.End.UTC()
	from := start.Format("15:04")
	if start.Before(date) {
		from = start.Format("Jan 2 15:04")
	}
	switch {
	case end.IsZero():
		return "Outage since " + from + " UTC"
	case !end.Before(date.Add(day)):
		return "Outage " + from + " – " + end.Format("Jan 2 15:04") + " UTC"
	}
	return "Outage " + from + " – " + end.Format("15:04") + " UTC"
}

// pageWords are a component state as the page says it (badges say it
// shorter).
func pageWords(state string) string {
	return map[string]string{Operational: "Operational", DegradedPerformance: "Degraded performance",
		PartialOutage: "Partial outage", MajorOutage: "Major outage", UnderMaintenance: "Under maintenance"}[state]
}

// when is a time as the page shows it.
func when(t time.Time) string { return t.UTC().Format("Jan 2, 2006 15:04 UTC") }

// statusWords are an incident status in plain words.
func statusWords(s string) string {
	switch s {
	case InProgress:
		return "In progress"
	case "":
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// monthName is "October 2026" for "2026-10".
func monthName(m string) string {
	t, err := time.Parse("2006-01", m)
	if err != nil {
		return m
	}
	return t.Format("January 2006")
}

// favicon is a dot in the colour of the overall state, as a data URL: the
// browser asks for no /favicon.ico, and the tab shows the state.
func favicon(indicator string) template.URL {
	colour := map[string]string{IndicatorNone: "#1a7f37", IndicatorMinor: "#9a6700", IndicatorMajor: "#bc4c00",
		IndicatorCritical: "#cf222e", IndicatorMaintenance: "#0969da"}[indicator]
	if colour == "" {
		colour = "#59636e"
	}
	svg := `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="` + colour + `"/></svg>`
	return template.URL("data:image/svg+xml," + url.PathEscape(svg))
}

// seconds writes a duration in seconds in the unit that reads best.
func seconds(s float64) string {
	switch {
	case s < 1:
		return strconv.FormatFloat(math.Round(s*1000), 'f', 0, 64) + " ms"
	case s < 120:
		return strconv.FormatFloat(s, 'f', 1, 64) + " s"
	case s < 2*3600:
		return strconv.FormatFloat(s/60, 'f', 1, 64) + " min"
	}
	return strconv.FormatFloat(s/3600, 'f', 1, 64) + " h"
}

// Chart drawing box: a point per day across, values upwards.
const chartW, chartH = 900, 120

// chartSVG draws a chart as inline SVG, from its first day with a value
// to the last day: the daily maximum as a shaded band, the daily average
// as a line, days without a value as gaps. A sentence under it says the
// same in words for screen readers.
func chartSVG(c *Chart) template.HTML {
	top, first := 0.0, -1
	var last *Point
	for i := range c.Points {
		if p := &c.Points[i]; p.Known {
			top = max(top, p.Max, p.Avg)
			last = p
			if first < 0 {
				first = i
			}
		}
	}
	if first < 0 {
		return ""
	}
	if top <= 0 {
		top = 1
	}
	pts := c.Points[first:]
	n := len(pts)
	x := func(i int) float64 {
		if n <= 1 {
			return chartW
		}
		return float64(i) * chartW / float64(n-1)
	}
	y := func(v float64) float64 { return chartH - v/top*(chartH-4) }
	var line, band strings.Builder
	for i := 0; i < n; {
		if !pts[i].Known {
			i++
			continue
		}
		j := i
		for j < n && pts[j].Known {
			j++
		}
		// one run of known days: the line, and the band from max down to 0
		for k := i; k < j; k++ {
			cmd := "L"
			if k == i {
				cmd = "M"
			}
			fmt.Fprintf(&line, "%s%.1f %.1f", cmd, x(k), y(pts[k].Avg))
		}
		if j-i == 1 { // a single day: a short tick so that it shows
			fmt.Fprintf(&line, "h-6")
		}
		fmt.Fprintf(&band, "M%.1f %d", x(i), chartH)
		for k := i; k < j; k++ {
			fmt.Fprintf(&band, "L%.1f %.1f", x(k), y(pts[k].Max))
		}
		fmt.Fprintf(&band, "L%.1f %dZ", x(j-1), chartH)
		i = j
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<div class="plot"><span class="ymax" aria-hidden="true">%s</span>`, seconds(top))
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" preserveAspectRatio="none" aria-hidden="true" focusable="false">`, chartW, chartH)
	fmt.Fprintf(&b, `<path class="grid" d="M0 %d H%d M0 %.1f H%d"/>`, chartH, chartW, y(top), chartW)
	fmt.Fprintf(&b, `<path class="max" d="%s"/><path class="avg" d="%s"/></svg></div>`, band.String(), line.String())
	words := fmt.Sprintf("Daily average (line) and maximum (shaded) over the last %d days; highest %s", n, seconds(top))
	if n == 1 {
		words = "Average and maximum of today; highest " + seconds(top)
	}
	words += ", latest daily average " + seconds(last.Avg)
	fmt.Fprintf(&b, "<p>%s.</p>", template.HTMLEscapeString(words))
	return template.HTML(b.String())
}

// render executes one page template.
func render(name string, v view) ([]byte, error) {
	if v.Refresh == 0 {
		v.Refresh = Refresh
	}
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, v); err != nil {
		return nil, fmt.Errorf("status page %s: %w", name, err)
	}
	return b.Bytes(), nil
}
