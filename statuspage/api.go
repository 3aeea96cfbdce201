package statuspage

import (
	"encoding/json"
	"time"
)

// This file writes the Atlassian Statuspage API v2 documents
// (/api/v2/summary.json, status.json, components.json, incidents.json,
// scheduled-maintenances.json) in their documented shapes, so that
// existing widgets and scripts read them. Times are RFC 3339 in UTC;
// absent times are null, as Statuspage writes them.

type apiPage struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	URL       string `json:"url"`
	TimeZone  string `json:"time_zone"`
	UpdatedAt string `json:"updated_at"`
}

type apiStatus struct {
	Indicator   string `json:"indicator"`
	Description string `json:"description"`
}

type apiComponent struct {
	ID                 string   `json:"id"`
	Name               string   `json:"name"`
	Status             string   `json:"status"`
	CreatedAt          string   `json:"created_at"`
	UpdatedAt          string   `json:"updated_at"`
	Position           int      `json:"position"`
	Description        *string  `json:"description"`
	Showcase           bool     `json:"showcase"`
	StartDate          *string  `json:"start_date"`
	GroupID            *string  `json:"group_id"`
	PageID             string   `json:"page_id"`
	Group              bool     `json:"group"`
	OnlyShowIfDegraded bool     `json:"only_show_if_degraded"`
	Components         []string `json:"components,omitempty"`
}

type apiAffected struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	OldState string `json:"old_status"`
	NewState string `json:"new_status"`
}

type apiUpdate struct {
	ID                   string        `json:"id"`
	Status               string        `json:"status"`
	Body                 string        `json:"body"`
	IncidentID           string        `json:"incident_id"`
	CreatedAt            string        `json:"created_at"`
	UpdatedAt            string        `json:"updated_at"`
	DisplayAt            string        `json:"display_at"`
	AffectedComponents   []apiAffected `json:"affected_components"`
	DeliverNotifications bool          `json:"deliver_notifications"`
	CustomTweet          *string       `json:"custom_tweet"`
	TweetID              *string       `json:"tweet_id"`
}

type apiIncident struct {
	ID              string         `json:"id"`
	Name            string         `json:"name"`
	Status          string         `json:"status"`
	CreatedAt       string         `json:"created_at"`
	UpdatedAt       string         `json:"updated_at"`
	MonitoringAt    *string        `json:"monitoring_at"`
	ResolvedAt      *string        `json:"resolved_at"`
	Impact          string         `json:"impact"`
	Shortlink       string         `json:"shortlink"`
	StartedAt       string         `json:"started_at"`
	PageID          string         `json:"page_id"`
	IncidentUpdates []apiUpdate    `json:"incident_updates"`
	Components      []apiComponent `json:"components"`
	ScheduledFor    *string        `json:"scheduled_for,omitempty"`
	ScheduledUntil  *string        `json:"scheduled_until,omitempty"`
}

// APIFiles are the paths of the API documents, relative to the site root.
var APIFiles = []string{
	"api/v2/summary.json",
	"api/v2/status.json",
	"api/v2/components.json",
	"api/v2/incidents.json",
	"api/v2/incidents/unresolved.json",
	"api/v2/scheduled-maintenances.json",
	"api/v2/scheduled-maintenances/upcoming.json",
	"api/v2/scheduled-maintenances/active.json",
}

// apiLimit is how many incidents incidents.json and
// scheduled-maintenances.json list, as Statuspage does.
const apiLimit = 50

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func rfcPtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := rfc(t)
	return &s
}

func (p *Page) apiPage() apiPage {
	return apiPage{ID: p.ID, Name: p.Title, URL: p.URL, TimeZone: "Etc/UTC", UpdatedAt: rfc(p.UpdatedAt)}
}

func (p *Page) apiComponent(c *Component) apiComponent {
	a := apiComponent{ID: c.ID, Name: c.Name, Status: c.State, CreatedAt: rfc(c.CreatedAt), UpdatedAt: rfc(c.UpdatedAt),
		Position: c.Position, Showcase: true, PageID: p.ID}
	d := c.CreatedAt.UTC().Format(time.DateOnly)
	a.StartDate = &d
	if c.GroupID != "" {
		g := c.GroupID
		a.GroupID = &g
	}
	return a
}

// apiComponents lists the components, then the groups (with group: true
// and their components' ids), in position order as Statuspage does.
func (p *Page) apiComponents() []apiComponent {
	out := []apiComponent{}
	for _, c := range p.Components {
		out = append(out, p.apiComponent(c))
	}
	for _, g := range p.Groups {
		if g.Name == "" {
			continue
		}
		a := apiComponent{ID: g.ID, Name: g.Name, Status: g.Status, Position: g.Position, PageID: p.ID, Group: true}
		var created, updated time.Time
		for _, c := range g.Components {
			a.Components = append(a.Components, c.ID)
			if created.IsZero() || c.CreatedAt.Before(created) {
				created = c.CreatedAt
			}
			if c.UpdatedAt.After(updated) {
				updated = c.UpdatedAt
			}
		}
		a.CreatedAt, a.UpdatedAt = rfc(created), rfc(updated)
		out = append(out, a)
	}
	return out
}

func (p *Page) link(path string) string {
	if p.URL == "" {
		return path
	}
	return p.URL + "/" + path
}

func (p *Page) apiIncident(inc *Incident) apiIncident {
	a := apiIncident{ID: inc.ID, Name: inc.Name, Status: inc.Status, CreatedAt: rfc(inc.CreatedAt), UpdatedAt: rfc(inc.UpdatedAt),
		MonitoringAt: rfcPtr(inc.MonitoringAt), ResolvedAt: rfcPtr(inc.ResolvedAt), Impact: inc.Impact,
		Shortlink: p.link(inc.Path), StartedAt: rfc(inc.StartedAt), PageID: p.ID,
		IncidentUpdates: []apiUpdate{}, Components: []apiComponent{}}
	if inc.Source == "maintenance" {
		a.ScheduledFor, a.ScheduledUntil = rfcPtr(inc.ScheduledFor), rfcPtr(inc.ScheduledUntil)
	}
	for _, c := range inc.Components {
		a.Components = append(a.Components, p.apiComponent(c))
	}
	for _, u := range inc.Updates {
		at := rfc(u.CreatedAt)
		a.IncidentUpdates = append(a.IncidentUpdates, apiUpdate{ID: u.ID, Status: u.Status, Body: u.Body, IncidentID: inc.ID,
			CreatedAt: at, UpdatedAt: at, DisplayAt: at, AffectedComponents: []apiAffected{}})
	}
	return a
}

func (p *Page) apiIncidents(list []*Incident) []apiIncident {
	out := []apiIncident{}
	for _, inc := range list {
		if len(out) == apiLimit {
			break
		}
		out = append(out, p.apiIncident(inc))
	}
	return out
}

// allIncidents are the incidents newest first: active, recent, archive.
func (p *Page) allIncidents() []*Incident {
	all := append(append([]*Incident{}, p.Active...), p.Recent...)
	for _, m := range p.Archive {
		all = append(all, m.Incidents...)
	}
	return all
}

func (p *Page) maintenancesWhere(keep func(*Incident) bool) []*Incident {
	var out []*Incident
	for _, m := range p.Maintenances {
		if keep(m) {
			out = append(out, m)
		}
	}
	return out
}

// API returns the API documents, by path (APIFiles), as indented JSON.
func (p *Page) API() (map[string][]byte, error) {
	pg := p.apiPage()
	status := apiStatus{Indicator: p.Status.Indicator, Description: p.Status.Description}
	comps := p.apiComponents()
	upcoming := p.maintenancesWhere(func(m *Incident) bool { return m.Status == Scheduled })
	active := p.maintenancesWhere(func(m *Incident) bool { return m.Status == InProgress })
	docs := map[string]any{
		"api/v2/summary.json": struct {
			Page                  apiPage        `json:"page"`
			Components            []apiComponent `json:"components"`
			Incidents             []apiIncident  `json:"incidents"`
			ScheduledMaintenances []apiIncident  `json:"scheduled_maintenances"`
			Status                apiStatus      `json:"status"`
		}{pg, comps, p.apiIncidents(p.Active), p.apiIncidents(append(active, upcoming...)), status},
		"api/v2/status.json": struct {
			Page   apiPage   `json:"page"`
			Status apiStatus `json:"status"`
		}{pg, status},
		"api/v2/components.json": struct {
			Page       apiPage        `json:"page"`
			Components []apiComponent `json:"components"`
		}{pg, comps},
		"api/v2/incidents.json": struct {
			Page      apiPage       `json:"page"`
			Incidents []apiIncident `json:"incidents"`
		}{pg, p.apiIncidents(p.allIncidents())},
		"api/v2/incidents/unresolved.json": struct {
			Page      apiPage       `json:"page"`
			Incidents []apiIncident `json:"incidents"`
		}{pg, p.apiIncidents(p.Active)},
		"api/v2/scheduled-maintenances.json": struct {
			Page                  apiPage       `json:"page"`
			ScheduledMaintenances []apiIncident `json:"scheduled_maintenances"`
		}{pg, p.apiIncidents(p.Maintenances)},
		"api/v2/scheduled-maintenances/upcoming.json": struct {
			Page                  apiPage       `json:"page"`
			ScheduledMaintenances []apiIncident `json:"scheduled_maintenances"`
		}{pg, p.apiIncidents(upcoming)},
		"api/v2/scheduled-maintenances/active.json": struct {
			Page                  apiPage       `json:"page"`
			ScheduledMaintenances []apiIncident `json:"scheduled_maintenances"`
		}{pg, p.apiIncidents(active)},
	}
	out := make(map[string][]byte, len(docs))
	for path, doc := range docs {
		b, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return nil, err
		}
		out[path] = append(b, '\n')
	}
	return out, nil
}
