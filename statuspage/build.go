package statuspage

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/monitor-dev/monitor/alerting"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/store"
)

const day = 24 * time.Hour

// Build computes the page from its inputs. It fails only when ctx is done;
// a history that cannot be read leaves the bars empty and sets
// Page.HistoryErr, so that the page still answers "is it them or me?"
// when the store is down.
func Build(ctx context.Context, in Inputs) (*Page, error) {
	now := time.Now
	if in.Now != nil {
		now = in.Now
	}
	t := now().UTC().Truncate(time.Second)
	p := &Page{Title: in.Settings.Title, URL: strings.TrimSuffix(in.Settings.URL, "/"), LogoURL: in.Settings.LogoURL,
		HomeURL: in.Settings.HomeURL, UpdatedAt: t}
	if p.Title == "" {
		p.Title = "Status"
	}
	p.ID = newID("page", p.Title, p.URL)

	windows := make([]sla.Maintenance, len(in.Maintenance))
	for i, m := range in.Maintenance {
		windows[i] = m.Window
	}
	p.components(in.Settings, in.Specs)
	byName := map[string]*Component{}
	for _, c := range p.Components {
		byName[c.Name] = c
	}
	p.states(in.Results, windows, t)

	today := t.Truncate(day)
	for i := Days - 1; i >= 0; i-- {
		p.Days = append(p.Days, today.Add(-time.Duration(i)*day))
	}
	if in.History != nil {
		if err := p.history(ctx, in.History, in.Cache, t); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			p.HistoryErr = err
			for _, c := range p.Components {
				c.Bars, c.Chart, c.Uptime30, c.Uptime90, c.CreatedAt = nil, nil, nil, nil, c.UpdatedAt
			}
		}
	}

	specs := map[string]check.Spec{}
	for _, sp := range in.Specs {
		specs[sp.Name] = sp
	}
	var all []*Incident
	all = append(all, alertIncidents(in.Alerts, in.AlertEvents, specs, byName, t)...)
	all = append(all, escalationIncidents(in.Escalations)...)
	all = append(all, manualIncidents(in.Incidents, byName)...)
	slices.SortStableFunc(all, func(a, b *Incident) int { return b.StartedAt.Compare(a.StartedAt) })
	if len(all) > MaxIncidents {
		all = all[:MaxIncidents]
	}
	recent := t.Add(-RecentDays * day)
	for _, inc := range all {
		switch {
		case !inc.Resolved():
			p.Active = append(p.Active, inc)
		case !inc.ResolvedAt.Before(recent):
			p.Recent = append(p.Recent, inc)
		default:
			m := inc.StartedAt.Format("2006-01")
			if n := len(p.Archive); n == 0 || p.Archive[n-1].Month != m {
				p.Archive = append(p.Archive, Month{Month: m})
			}
			a := &p.Archive[len(p.Archive)-1]
			a.Incidents = append(a.Incidents, inc)
		}
	}
	p.Maintenances = maintenances(in.Maintenance, p.Components, t)
	for _, inc := range append(all, p.Maintenances...) {
		for i := range inc.Updates {
			if u := &inc.Updates[i]; u.HTML == "" {
				u.HTML = template.HTML(template.HTMLEscapeString(u.Body))
			}
		}
	}
	p.overall(t)
	return p, nil
}

// newID is a stable id made from parts, in Statuspage's style: 12
// lowercase letters and digits.
func newID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return strings.ToLower(base32.StdEncoding.EncodeToString(h[:]))[:12]
}

// validID reports whether a given id is fit for a file name: 1 to 64
// lowercase letters, digits and dashes.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// Slug makes a badge file name from a component name: lowercase letters,
// digits and dashes.
func Slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return "component"
	}
	return b.String()
}

// components lays out the public components: the configured order and
// groups first, then every other component of a check, by name.
func (p *Page) components(s Settings, specs []check.Spec) {
	checks := map[string][]check.Spec{}
	for _, sp := range specs {
		if sp.Component != "" {
			checks[sp.Component] = append(checks[sp.Component], sp)
		}
	}
	order := slices.Clone(s.Components)
	listed := map[string]bool{}
	for _, o := range order {
		listed[o.Name] = true
	}
	var rest []string
	for name := range checks {
		if !listed[name] {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	for _, name := range rest {
		order = append(order, ComponentOrder{Name: name})
	}
	slugs := map[string]bool{}
	seen := map[string]bool{}
	groups := map[string]int{}
	for _, o := range order {
		if seen[o.Name] || len(checks[o.Name]) == 0 {
			continue // listed twice, or no check feeds it: nothing to show
		}
		seen[o.Name] = true
		c := &Component{ID: newID("component", o.Name), Name: o.Name, Group: o.Group, Position: len(p.Components) + 1,
			checks: checks[o.Name]}
		c.Slug = Slug(o.Name)
		if slugs[c.Slug] {
			c.Slug += "-" + c.ID[:6]
		}
		slugs[c.Slug] = true
		p.Components = append(p.Components, c)
		if o.Group == "" {
			p.Groups = append(p.Groups, Group{Components: []*Component{c}})
			continue
		}
		c.GroupID = newID("group", o.Group)
		if i, ok := groups[o.Group]; ok {
			p.Groups[i].Components = append(p.Groups[i].Components, c)
			continue
		}
		groups[o.Group] = len(p.Groups)
		p.Groups = append(p.Groups, Group{ID: c.GroupID, Name: o.Group, Components: []*Component{c}})
	}
	// Consecutive ungrouped components share one unnamed group.
	var merged []Group
	for _, g := range p.Groups {
		if n := len(merged); g.Name == "" && n > 0 && merged[n-1].Name == "" {
			merged[n-1].Components = append(merged[n-1].Components, g.Components...)
			continue
		}
		merged = append(merged, g)
	}
	p.Groups = merged
	pos := len(p.Components)
	for i := range p.Groups {
		if p.Groups[i].Name != "" {
			pos++
			p.Groups[i].Position = pos
		}
	}
}

// states sets every component's state from its checks' current results.
//
// The rule: a check in a maintenance window now counts as in maintenance;
// of the others, FAIL CRITICAL is an outage and FAIL WARN or INFO a
// degradation. UNKNOWN counts as up: the monitor could not tell (a source
// unreachable, a parent failing, a check not yet run), and a page that
// turned red whenever the monitor lost sight of something would cry wolf;
// the parent's own FAIL, or the alert that follows, shows the real
// problem. Then:
//
//   - every check in maintenance, or some in maintenance and the rest up:
//     under_maintenance;
//   - every check not in maintenance FAIL CRITICAL: major_outage;
//   - some FAIL CRITICAL: partial_outage;
//   - some FAIL WARN or INFO: degraded_performance;
//   - otherwise operational.
func (p *Page) states(results []check.Result, windows []sla.Maintenance, now time.Time) {
	byCheck := make(map[string]check.Result, len(results))
	for _, r := range results {
		byCheck[r.Check] = r
	}
	for _, c := range p.Components {
		c.UpdatedAt = time.Time{}
		var maint, crit, warn, up int
		for _, sp := range c.checks {
			r, ok := byCheck[sp.Name]
			if ok && r.CheckedAt.After(c.UpdatedAt) {
				c.UpdatedAt = r.CheckedAt.UTC().Truncate(time.Second)
			}
			switch {
			case sla.InMaintenance(windows, sp.Name, sp.Component, now):
				maint++
			case ok && r.Status == check.Fail && r.Severity == check.Critical:
				crit++
			case ok && r.Status == check.Fail:
				warn++
			default:
				up++
			}
		}
		if c.UpdatedAt.IsZero() || c.UpdatedAt.After(now) {
			c.UpdatedAt = now
		}
		c.CreatedAt = c.UpdatedAt
		switch {
		case crit > 0 && warn == 0 && up == 0:
			c.State = MajorOutage
		case crit > 0:
			c.State = PartialOutage
		case warn > 0:
			c.State = DegradedPerformance
		case maint > 0:
			c.State = UnderMaintenance
		default:
			c.State = Operational
		}
	}
	for i := range p.Groups {
		g := &p.Groups[i]
		g.Status = Operational
		for _, c := range g.Components {
			if stateRank(c.State) > stateRank(g.Status) {
				g.Status = c.State
			}
		}
	}
}

// stateRank orders component states, worst last.
func stateRank(s string) int {
	switch s {
	case UnderMaintenance:
		return 1
	case DegradedPerformance:
		return 2
	case PartialOutage:
		return 3
	case MajorOutage:
		return 4
	}
	return 0
}

// indicatorRank orders indicators and impacts, worst last.
func indicatorRank(s string) int {
	switch s {
	case IndicatorMaintenance:
		return 1
	case IndicatorMinor:
		return 2
	case IndicatorMajor:
		return 3
	case IndicatorCritical:
		return 4
	}
	return 0
}

var descriptions = map[string]string{
	IndicatorNone:        "All systems operational",
	IndicatorMinor:       "Degraded performance",
	IndicatorMajor:       "Partial outage",
	IndicatorCritical:    "Major outage",
	IndicatorMaintenance: "Under maintenance",
}

// Description is the plain words of an indicator.
func Description(indicator string) string { return descriptions[indicator] }

// indicatorOf maps a component state to the overall indicator.
func indicatorOf(state string) string {
	switch state {
	case DegradedPerformance:
		return IndicatorMinor
	case PartialOutage:
		return IndicatorMajor
	case MajorOutage:
		return IndicatorCritical
	case UnderMaintenance:
		return IndicatorMaintenance
	}
	return IndicatorNone
}

// overall is the worst of the components' states and of the active
// incidents' impacts; maintenance in progress shows when nothing is worse.
func (p *Page) overall(now time.Time) {
	ind := IndicatorNone
	raise := func(i string) {
		if indicatorRank(i) > indicatorRank(ind) {
			ind = i
		}
	}
	for _, c := range p.Components {
		raise(indicatorOf(c.State))
	}
	for _, inc := range p.Active {
		raise(inc.Impact)
	}
	for _, m := range p.Maintenances {
		if m.Status == InProgress {
			raise(IndicatorMaintenance)
		}
	}
	p.Status = Status{Indicator: ind, Description: Description(ind)}
}

// historyWorkers is how many components read their history at once: the
// SQLite store's read pool.
const historyWorkers = 4

// history reads every component's history, a few at a time; the first
// error stops it.
func (p *Page) history(ctx context.Context, h History, cache *Cache, now time.Time) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan *Component)
	for range min(historyWorkers, len(p.Components)) {
		wg.Go(func() {
			for c := range next {
				if err := c.history(ctx, h, cache, p.Days, now); err != nil {
					mu.Lock()
					if first == nil {
						first = err
						cancel()
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, c := range p.Components {
		if ctx.Err() != nil {
			break
		}
		next <- c
	}
	close(next)
	wg.Wait()
	return first
}

// history fills the component's bars and uptime from daily rollups and
// outages.
//
// A check's uptime over a span is the time it was PASS over the time it
// was PASS or FAIL (UNKNOWN and maintenance are left out, as in the
// availability SLI); a component's is the lowest of its checks' (it is as
// available as its weakest part). A day with nothing known has no uptime.
func (c *Component) history(ctx context.Context, h History, cache *Cache, days []time.Time, now time.Time) error {
	from, to := days[0], days[len(days)-1].Add(day)
	type sums struct{ good, bad [Days]time.Duration }
	per := make([]sums, len(c.checks))
	maint := make([]bool, len(days))
	var spans []Span
	first := time.Time{}
	c.Chart = nil
	for i, sp := range c.checks {
		ds, err := checkDays(ctx, h, cache, sp.Name, days, now)
		if err != nil {
			return fmt.Errorf("history of %s: %w", c.Name, err)
		}
		if label := sp.Kind.Behaviour().Chart; label != "" && c.Chart == nil {
			c.Chart = chartOf(label, ds)
		}
		for d, s := range ds {
			per[i].good[d], per[i].bad[d] = s.Good, s.Bad
			if s.Maintenance {
				maint[d] = true
			}
			if s.Runs && (first.IsZero() || days[d].Before(first)) {
				first = days[d]
			}
		}
		os, err := h.Outages(ctx, sp.Name, from, to)
		if err != nil {
			return fmt.Errorf("outages of %s: %w", c.Name, err)
		}
		for _, o := range os {
			spans = append(spans, Span{Start: o.Start.UTC().Truncate(time.Second), End: o.End.UTC().Truncate(time.Second)})
		}
	}
	spans = mergeSpans(spans, now)
	if !first.IsZero() && first.Before(c.CreatedAt) {
		c.CreatedAt = first.UTC()
	}
	ratio := func(lo, hi int) *float64 {
		var low *float64
		for i := range c.checks {
			var g, b time.Duration
			for d := lo; d < hi; d++ {
				g += per[i].good[d]
				b += per[i].bad[d]
			}
			if g+b <= 0 {
				continue
			}
			r := 100 * float64(g) / float64(g+b)
			if low == nil || r < *low {
				low = &r
			}
		}
		return low
	}
	c.Bars = make([]Day, len(days))
	for d, date := range days {
		bar := Day{Date: date, Uptime: ratio(d, d+1), Maintenance: maint[d]}
		end := date.Add(day)
		for _, s := range spans {
			e := s.End
			if e.IsZero() {
				e = now
			}
			if s.Start.Before(end) && e.After(date) {
				bar.OutageCount++
				if len(bar.Outages) < MaxOutagesPerDay {
					bar.Outages = append(bar.Outages, s)
				}
			}
		}
		bar.Level = dayLevel(bar.Uptime, bar.OutageCount)
		c.Bars[d] = bar
	}
	c.Uptime90 = ratio(0, len(days))
	c.Uptime30 = ratio(max(0, len(days)-30), len(days))
	return nil
}

// chartOf is a chart of one check's days; nil when no day has a value.
func chartOf(label string, ds []DaySums) *Chart {
	ch := &Chart{Label: label, Points: make([]Point, len(ds))}
	known := false
	for d, s := range ds {
		if s.Values > 0 {
			ch.Points[d], known = Point{Avg: s.Avg, Max: s.Max, Known: true}, true
		}
	}
	if !known {
		return nil
	}
	return ch
}

// dayLevel is a bar's colour in words: no_data when nothing is known;
// operational without down time; then minor (uptime ≥ 99 %), partial
// (≥ 90 %) or major.
func dayLevel(uptime *float64, outages int) string {
	switch {
	case uptime == nil && outages == 0:
		return "no_data"
	case uptime == nil:
		return "minor"
	case *uptime >= 100 && outages == 0:
		return "operational"
	case *uptime >= 99:
		return "minor"
	case *uptime >= 90:
		return "partial"
	}
	return "major"
}

// mergeSpans sorts spans and merges those that overlap (an open one lasts
// until now).
func mergeSpans(spans []Span, now time.Time) []Span {
	slices.SortFunc(spans, func(a, b Span) int { return a.Start.Compare(b.Start) })
	end := func(s Span) time.Time {
		if s.End.IsZero() {
			return now
		}
		return s.End
	}
	var out []Span
	for _, s := range spans {
		if n := len(out); n > 0 && !s.Start.After(end(out[n-1])) {
			last := &out[n-1]
			if s.End.IsZero() || (!last.End.IsZero() && s.End.After(last.End)) {
				last.End = s.End
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// incidentPath is an incident's own page, relative to the site's root.
func incidentPath(id string) string { return "incidents/" + id + ".html" }

// alertEpisode is one firing of one alert of a public component.
type alertEpisode struct {
	comp       *Component
	start, end time.Time // end zero while firing
	sev        check.Severity
}

// alertIncidents makes the automatic incidents: the firings of the alerts
// of a component's checks, merged where they overlap, make one incident,
// unresolved while one fires (started at the first one's start, impact
// from the highest severity: CRITICAL major — critical when the
// component is in a major outage — WARN and INFO minor), resolved when
// every one has. The firings come from the engine's alerts (firing and
// recently resolved) and from the audit trail's alert.firing and
// alert.resolved events (the history). Alerts of checks without a
// component, SLO burn-rate alerts and escalation alerts (see
// escalationIncidents) make none; pending alerts (not yet past
// failure_threshold) make none either.
func alertIncidents(alerts []alerting.View, events []store.AuditEvent, specs map[string]check.Spec, byName map[string]*Component, now time.Time) []*Incident {
	component := func(checkName string) *Component {
		if sp, ok := specs[checkName]; ok && sp.Component != "" {
			return byName[sp.Component]
		}
		return nil
	}
	var eps []alertEpisode
	for _, v := range alerts {
		if v.Kind == alerting.KindSLOBurn || v.Kind == "escalation" || (v.Status != "firing" && v.Status != "resolved") {
			continue
		}
		c := component(v.Check)
		if c == nil {
			continue
		}
		ep := alertEpisode{comp: c, start: v.StartsAt.UTC().Truncate(time.Second), sev: check.Severity(v.Severity)}
		if v.Status == "resolved" {
			ep.end = ep.start
			if v.EndsAt != nil {
				ep.end = v.EndsAt.UTC().Truncate(time.Second)
			}
		}
		eps = append(eps, ep)
	}
	eps = append(eps, auditEpisodes(events, component)...)
	slices.SortStableFunc(eps, func(a, b alertEpisode) int {
		return cmp.Or(cmp.Compare(a.comp.Position, b.comp.Position), a.start.Compare(b.start))
	})
	var out []*Incident
	for i := 0; i < len(eps); {
		c, start, end, firing, sev := eps[i].comp, eps[i].start, eps[i].end, eps[i].end.IsZero(), eps[i].sev
		j := i + 1
		for ; j < len(eps) && eps[j].comp == c && (firing || !eps[j].start.After(end)); j++ {
			if eps[j].end.IsZero() {
				firing = true
			} else if eps[j].end.After(end) {
				end = eps[j].end
			}
			if eps[j].sev.Rank() > sev.Rank() {
				sev = eps[j].sev
			}
		}
		i = j
		out = append(out, alertIncident(c, start, end, firing, sev, now))
	}
	return out
}

// auditEpisodes pairs the audit trail's alert.firing and alert.resolved
// events of check alerts into firings.
func auditEpisodes(events []store.AuditEvent, component func(string) *Component) []alertEpisode {
	evs := slices.Clone(events)
	slices.SortStableFunc(evs, func(a, b store.AuditEvent) int { return a.At.Compare(b.At) })
	open := map[string]int{} // alert id → index in out of its open firing
	var out []alertEpisode
	for _, e := range evs {
		name, ok := strings.CutPrefix(e.Target, "check:")
		if !ok {
			continue
		}
		c := component(name)
		if c == nil {
			continue
		}
		sev, _ := e.Details["severity"].(string)
		at := e.At.UTC().Truncate(time.Second)
		switch e.Action {
		case alerting.ActionAlertFiring:
			open[e.Target] = len(out)
			out = append(out, alertEpisode{comp: c, start: at, sev: check.Severity(sev)})
		case alerting.ActionAlertResolved:
			if i, ok := open[e.Target]; ok {
				out[i].end = at
				delete(open, e.Target)
				continue
			}
			// its firing is older than the events read: start from the duration
			start := at
			if ds, _ := e.Details["duration"].(string); ds != "" {
				if d, err := time.ParseDuration(ds); err == nil {
					start = at.Add(-d).Truncate(time.Second)
				}
			}
			out = append(out, alertEpisode{comp: c, start: start, end: at, sev: check.Severity(sev)})
		}
	}
	return out
}

// alertIncident is the incident of one merged firing of a component.
func alertIncident(c *Component, start, end time.Time, firing bool, sev check.Severity, now time.Time) *Incident {
	impact := IndicatorMinor
	if sev == check.Critical {
		impact = IndicatorMajor
		if firing && c.State == MajorOutage {
			impact = IndicatorCritical
		}
	}
	id := newID("alert", c.Name, start.Format(time.RFC3339))
	inc := &Incident{ID: id, Name: incidentTitle(c.Name, impact), Status: Investigating, Impact: impact, Source: "alert",
		CreatedAt: start, UpdatedAt: start, StartedAt: start, Components: []*Component{c}, Path: incidentPath(id)}
	inc.Updates = []Update{{ID: newID(id, "0"), Status: Investigating, CreatedAt: start,
		Body: fmt.Sprintf("We are investigating %s affecting %s.", impactWords(impact), c.Name)}}
	if !firing {
		if end.After(now) {
			end = now
		}
		inc.Status, inc.ResolvedAt, inc.UpdatedAt = Resolved, end, end
		inc.Updates = append([]Update{{ID: newID(id, "1"), Status: Resolved, CreatedAt: end,
			Body: c.Name + " is operating normally again. This incident has been resolved."}}, inc.Updates...)
	}
	return inc
}

// incidentTitle is an automatic incident's title: the component and the
// impact, in plain words.
func incidentTitle(component, impact string) string {
	switch impact {
	case IndicatorMinor:
		return "Degraded performance of " + component
	case IndicatorCritical:
		return "Major outage of " + component
	}
	return "Partial outage of " + component
}

func impactWords(impact string) string {
	switch impact {
	case IndicatorMinor:
		return "degraded performance"
	case IndicatorCritical:
		return "a major outage"
	}
	return "a partial outage"
}

// escalationIncidents makes an incident of every public escalation,
// titled by its summary (the operator marked it public); its details and
// handle stay private. LOW is minor, MEDIUM major, HIGH critical.
func escalationIncidents(escs []store.Escalation) []*Incident {
	var out []*Incident
	for _, e := range escs {
		if !e.Public {
			continue
		}
		impact := map[string]string{"LOW": IndicatorMinor, "MEDIUM": IndicatorMajor, "HIGH": IndicatorCritical}[e.Severity]
		if impact == "" {
			impact = IndicatorMinor
		}
		at := e.CreatedAt.UTC().Truncate(time.Second)
		id := newID("escalation", e.ID)
		inc := &Incident{ID: id, Name: e.Summary, Status: Investigating, Impact: impact, Source: "escalation",
			CreatedAt: at, UpdatedAt: at, StartedAt: at, Path: incidentPath(id)}
		inc.Updates = []Update{{ID: newID(id, "0"), Status: Investigating, CreatedAt: at, Body: "We are investigating this issue."}}
		if e.Status == "resolved" {
			end := e.ResolvedAt.UTC().Truncate(time.Second)
			if end.IsZero() {
				end = at
			}
			inc.Status, inc.ResolvedAt, inc.UpdatedAt = Resolved, end, end
			inc.Updates = append([]Update{{ID: newID(id, "1"), Status: Resolved, CreatedAt: end, Body: "This incident has been resolved."}}, inc.Updates...)
		}
		out = append(out, inc)
	}
	return out
}

// manualIncidents turns the incidents written by hand into the model: the
// status is the last update's; monitoring_at and resolved_at the first
// update with that status.
func manualIncidents(ms []ManualIncident, byName map[string]*Component) []*Incident {
	var out []*Incident
	for _, m := range ms {
		ups := slices.Clone(m.Updates)
		slices.SortStableFunc(ups, func(a, b ManualUpdate) int { return a.At.Compare(b.At) })
		if len(ups) > MaxUpdates {
			ups = ups[len(ups)-MaxUpdates:]
		}
		if len(ups) == 0 {
			continue
		}
		start := ups[0].At.UTC().Truncate(time.Second)
		id := m.ID
		if !validID(id) {
			id = newID("manual", m.Title, start.Format(time.RFC3339))
		}
		inc := &Incident{ID: id, Name: m.Title, Impact: m.Impact, Source: "manual", CreatedAt: start, StartedAt: start,
			Path: incidentPath(id)}
		worst := ""
		for _, n := range m.Components {
			if c := byName[n]; c != nil && !slices.Contains(inc.Components, c) {
				inc.Components = append(inc.Components, c)
				if stateRank(c.State) > stateRank(worst) {
					worst = c.State
				}
			}
		}
		for i, u := range ups {
			at := u.At.UTC().Truncate(time.Second)
			st := cmp.Or(u.Status, Investigating)
			inc.Status, inc.UpdatedAt = st, at
			if st == Monitoring && inc.MonitoringAt.IsZero() {
				inc.MonitoringAt = at
			}
			if st == Resolved && inc.ResolvedAt.IsZero() {
				inc.ResolvedAt = at
			}
			h := u.HTML
			if h == "" {
				h = template.HTML(template.HTMLEscapeString(u.Body))
			}
			inc.Updates = append([]Update{{ID: newID(id, fmt.Sprint(i)), Status: st, Body: u.Body, HTML: h, CreatedAt: at}}, inc.Updates...)
		}
		if inc.Status != Resolved {
			inc.ResolvedAt = time.Time{}
		}
		if inc.Impact == "" {
			inc.Impact = indicatorOf(worst)
			if inc.Impact == IndicatorNone || inc.Impact == IndicatorMaintenance {
				inc.Impact = IndicatorMinor
			}
		}
		out = append(out, inc)
	}
	return out
}

// maintenances lists the maintenance windows that concern public
// components: one-off windows ending after RecentDays ago, and for a
// recurring window its current or last activation and the next ones
// within a week.
func maintenances(ms []Maintenance, comps []*Component, now time.Time) []*Incident {
	var out []*Incident
	since := now.Add(-RecentDays * day)
	for _, m := range ms {
		w := m.Window
		var spans []Span
		if w.Cron == nil {
			if w.End.After(since) {
				spans = append(spans, Span{Start: w.Start, End: w.End})
			}
		} else if w.Duration > 0 {
			at := w.Cron.Next(now.Add(-w.Duration))
			for i := 0; i < 8 && !at.IsZero() && at.Before(now.Add(maxUpcomingRepeat)); i++ {
				spans = append(spans, Span{Start: at, End: at.Add(w.Duration)})
				at = w.Cron.Next(at)
			}
		}
		for _, s := range spans {
			start, end := s.Start.UTC().Truncate(time.Second), s.End.UTC().Truncate(time.Second)
			var affected []*Component
			for _, c := range comps {
				for _, sp := range c.checks {
					if sla.InMaintenance([]sla.Maintenance{w}, sp.Name, sp.Component, s.Start) {
						affected = append(affected, c)
						break
					}
				}
			}
			if len(affected) == 0 {
				continue // only private checks: nothing to announce
			}
			title := cmp.Or(m.Title, "Scheduled maintenance")
			id := newID("maintenance", title, start.Format(time.RFC3339))
			st := Scheduled
			switch {
			case !now.Before(end):
				st = Completed
			case !now.Before(start):
				st = InProgress
			}
			created := start
			if created.After(now) {
				created = now
			}
			names := make([]string, len(affected))
			for i, c := range affected {
				names[i] = c.Name
			}
			inc := &Incident{ID: id, Name: title, Status: st, Impact: IndicatorMaintenance, Source: "maintenance",
				CreatedAt: created, UpdatedAt: created, StartedAt: start, ScheduledFor: start, ScheduledUntil: end,
				Components: affected, Path: incidentPath(id)}
			if st == Completed {
				inc.ResolvedAt, inc.UpdatedAt = end, end
			}
			inc.Updates = []Update{{ID: newID(id, "0"), Status: st, CreatedAt: inc.UpdatedAt,
				Body: fmt.Sprintf("Maintenance of %s from %s to %s.", strings.Join(names, ", "),
					start.Format("2006-01-02 15:04 MST"), end.Format("2006-01-02 15:04 MST"))}}
			out = append(out, inc)
		}
	}
	slices.SortStableFunc(out, func(a, b *Incident) int { return b.ScheduledFor.Compare(a.ScheduledFor) })
	if len(out) > MaxIncidents {
		out = out[:MaxIncidents]
	}
	return out
}
