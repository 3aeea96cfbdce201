// Package statuspage builds the public status page: a model of what the
// public may see (components by their public name, their state and uptime,
// incidents and scheduled maintenance), the Atlassian Statuspage API v2
// JSON files, shields-style badges, Atom and RSS feeds, and a static folder
// of all of them written atomically.
//
// Only what this package puts in a Page leaves the process: a check is
// shown only through its component's public name, state and uptime, never
// by its name, message, observed value, target or error. A check without a
// component is private and never appears.
package statuspage

import (
	"context"
	"html/template"
	"time"

	"github.com/monitor-dev/monitor/alerting"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/store"
)

// Component states, in Statuspage's words.
const (
	Operational         = "operational"
	DegradedPerformance = "degraded_performance"
	PartialOutage       = "partial_outage"
	MajorOutage         = "major_outage"
	UnderMaintenance    = "under_maintenance"
)

// Overall indicators (status.json's status.indicator) and incident impacts.
const (
	IndicatorNone        = "none"
	IndicatorMinor       = "minor"
	IndicatorMajor       = "major"
	IndicatorCritical    = "critical"
	IndicatorMaintenance = "maintenance"
)

// Incident statuses (and, for scheduled maintenance, the maintenance ones).
const (
	Investigating = "investigating"
	Identified    = "identified"
	Monitoring    = "monitoring"
	Resolved      = "resolved"

	Scheduled  = "scheduled"
	InProgress = "in_progress"
	Completed  = "completed"
)

// Days is the length of the uptime bars.
const Days = 90

// RecentDays is how long a resolved incident stays on the front page;
// older ones go to the monthly archive.
const RecentDays = 14

// Bounds of what a page holds.
const (
	MaxIncidents      = 200 // incidents of every kind in one page
	MaxOutagesPerDay  = 10  // outages listed per day bar (OutageCount counts all)
	MaxUpdates        = 50  // updates per incident
	maxUpcomingRepeat = 7 * 24 * time.Hour
)

// Settings is the `statuspage:` section of the config, as this package
// needs it.
type Settings struct {
	Title   string
	LogoURL string
	HomeURL string
	// URL is where the page is served (server.public_url); "" keeps every
	// link relative.
	URL string
	// Components gives the order and group of components; public
	// components not listed follow, by name, without a group.
	Components []ComponentOrder
}

// ComponentOrder is one entry of `statuspage: components:`.
type ComponentOrder struct {
	Name  string
	Group string
}

// ManualIncident is an incident written by hand (`incidents:` or
// incidents_dir). Its text is public: it is shown as written.
type ManualIncident struct {
	// ID is the incident's stable id (the config's: [a-z0-9-]); "" makes
	// one from the title and the first update's time.
	ID         string
	Title      string
	Components []string // public component names
	// Impact: none, minor, major or critical; "" derives it from the
	// affected components (minor when none is known).
	Impact  string
	Updates []ManualUpdate // in time order
}

// ManualUpdate is one update of a manual incident; Body is Markdown.
type ManualUpdate struct {
	At     time.Time
	Status string // investigating, identified, monitoring or resolved
	Body   string
	// HTML is Body rendered from Markdown, safe to put in a page as is
	// (the config renders it at load); "" shows Body as escaped text.
	HTML template.HTML
}

// Maintenance is one maintenance window as the page announces it. Title
// is public ("Scheduled maintenance" when empty); the config's reason is
// for operators and is not shown unless the caller puts it here.
type Maintenance struct {
	Window sla.Maintenance
	Title  string
}

// History is what the page reads from the store: daily rollups and
// outages. store.Store satisfies it.
type History interface {
	History(ctx context.Context, name string, from, to time.Time, step time.Duration) ([]store.Bucket, error)
	Outages(ctx context.Context, name string, from, to time.Time) ([]store.Outage, error)
}

// Inputs is everything Build reads.
type Inputs struct {
	Settings Settings
	Specs    []check.Spec
	// Results are the current effective results (snapshot.View().Checks):
	// staleness and depends_on applied.
	Results []check.Result
	// History may be nil (no store, or the store is down): the page is
	// then built from the current state alone, with empty bars.
	History History
	// Alerts are the alerting engine's alerts (engine.Alerts(), or
	// alerting.ViewOfRow of the stored ones): firing and recently resolved
	// alerts of checks with a component become incidents.
	Alerts []alerting.View
	// AlertEvents are the audit trail's alert.firing and alert.resolved
	// events (store.AuditEvents): the history of the automatic incidents
	// once the engine has forgotten a resolved alert.
	AlertEvents []store.AuditEvent
	// Escalations marked Public become incidents (titled by their summary).
	Escalations []store.Escalation
	Incidents   []ManualIncident
	Maintenance []Maintenance
	// Cache, when set, keeps the daily sums of finished days between
	// builds (the daemon rebuilds on every change): only the last days are
	// read again. Nil reads all 90 days every time.
	Cache *Cache
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Page is the public status page at one instant.
type Page struct {
	ID        string
	Title     string
	URL       string // Settings.URL
	LogoURL   string
	HomeURL   string
	UpdatedAt time.Time
	Status    Status
	// Groups are in configured order; components without a group form
	// groups with an empty Name (one per run of consecutive ungrouped
	// components), so that the order of Components is kept.
	Groups     []Group
	Components []*Component // every public component, in order
	// Active are the unresolved incidents, newest first; Recent the
	// resolved ones of the last RecentDays; Archive the older ones by
	// month, newest month first.
	Active  []*Incident
	Recent  []*Incident
	Archive []Month
	// Maintenances are scheduled maintenance: in progress, upcoming, and
	// completed in the last RecentDays.
	Maintenances []*Incident
	// Days are the UTC days of the bars, oldest first.
	Days []time.Time
	// HistoryErr is set when the history could not be read: the page is
	// then built from the current state alone. It is not public text.
	HistoryErr error `json:"-"`
}

// Status is the overall state in plain words.
type Status struct {
	Indicator   string // none, minor, major, critical or maintenance
	Description string // "All systems operational", ...
}

// Group is a named group of components.
type Group struct {
	ID         string
	Name       string
	Position   int
	Status     string // the worst of its components
	Components []*Component
}

// Component is one public component.
type Component struct {
	ID       string
	Name     string
	Slug     string // for badge/{slug}.svg
	Group    string
	GroupID  string
	Position int
	State    string // operational, degraded_performance, ...
	// UpdatedAt is the newest result of its checks (the page's time when
	// none has run); CreatedAt the first day with history, else UpdatedAt.
	UpdatedAt, CreatedAt time.Time
	// Uptime30 and Uptime90 are percentages; nil when nothing is known.
	Uptime30, Uptime90 *float64
	Bars               []Day // Days long, oldest first (empty without history)
	// Chart is the daily response time or data age of the first of its
	// checks whose kind draws one; nil when none does or nothing is known.
	Chart *Chart

	checks []check.Spec
}

// Day is one bar: one UTC day of one component.
type Day struct {
	Date time.Time
	// Uptime is the share of known time the component was up, in percent;
	// nil when nothing is known that day.
	Uptime *float64
	// Level: no_data, operational, minor, partial or major (see dayLevel).
	Level       string
	Maintenance bool // some of the day was in maintenance
	Outages     []Span
	OutageCount int
}

// Chart is a component's daily response time or data age, in seconds.
type Chart struct {
	Label  string  // the kind's words: "Response time", "Data age"
	Points []Point // one per day of the bars, oldest first
}

// Point is one day of a chart; Known is false when no value was observed.
type Point struct {
	Avg, Max float64
	Known    bool
}

// Span is one stretch of time; End is zero while it lasts.
type Span struct {
	Start, End time.Time
}

// Month is one month of the incident archive.
type Month struct {
	Month     string // 2026-10
	Incidents []*Incident
}

// Incident is one incident or scheduled maintenance, as the public sees it.
type Incident struct {
	ID     string
	Name   string
	Status string // investigating … resolved; scheduled, in_progress, completed
	Impact string // none, minor, major, critical (maintenance: maintenance)
	// Source: "alert", "escalation", "manual" or "maintenance".
	Source                       string
	CreatedAt, UpdatedAt         time.Time
	StartedAt                    time.Time
	MonitoringAt                 time.Time // zero when never
	ResolvedAt                   time.Time // zero while unresolved
	ScheduledFor, ScheduledUntil time.Time // maintenance only
	Components                   []*Component
	Updates                      []Update // newest first, as Statuspage lists them
	// Path is the incident's own page, relative to the site's root.
	Path string
}

// Update is one incident update; Body is Markdown (plain text for the
// automatic ones).
type Update struct {
	ID        string
	Status    string
	Body      string
	HTML      template.HTML // Body for a page: rendered Markdown, or Body escaped
	CreatedAt time.Time
}

// Resolved reports whether the incident is over.
func (i *Incident) Resolved() bool {
	return i.Status == Resolved || i.Status == Completed
}
