// Package incidents holds the incidents written by hand (`incidents:` and
// `incidents_dir:` in the configuration): their plain types, the words of
// their impact and status, and the safe rendering of their Markdown bodies.
// Package config decodes and validates them; the status page shows them.
package incidents

import (
	"html/template"
	"strings"
	"time"
)

// Impact is how badly an incident hurts the components it names, in
// Atlassian Statuspage's words.
type Impact string

// The impacts, mildest first.
const (
	None     Impact = "none"
	Minor    Impact = "minor"
	Major    Impact = "major"
	Critical Impact = "critical"
)

// Impacts lists the impacts, mildest first.
var Impacts = []Impact{None, Minor, Major, Critical}

// DefaultImpact is the impact of an incident that names none.
const DefaultImpact = Minor

// Status is the stage an update puts an incident in, in Atlassian
// Statuspage's words. An incident is resolved when its latest update is.
type Status string

// The statuses, in their usual order.
const (
	Investigating Status = "investigating"
	Identified    Status = "identified"
	Monitoring    Status = "monitoring"
	Resolved      Status = "resolved"
)

// Statuses lists the statuses in their usual order.
var Statuses = []Status{Investigating, Identified, Monitoring, Resolved}

// Bounds of incidents written by hand.
const (
	MaxIncidents = 1000      // incidents: and incidents_dir: together
	MaxUpdates   = 100       // updates of one incident
	MaxBody      = 10_000    // characters of an update's body
	MaxBodies    = 5_000_000 // characters of all bodies together
	MaxTitle     = 200       // characters of an incident's title
	MaxFileSize  = 2 << 20   // bytes of one file of incidents_dir
	MaxIDLength  = 64        // characters of an id
)

// Incident is one incident: a title, the public components it affects and
// its updates, oldest first (at least one).
type Incident struct {
	// ID is stable across restarts and reloads: the `id:` key when set,
	// else the file's name without its extension (incidents_dir), else the
	// first update's time and the title (`incidents:`), as
	// 20261121-1000-delayed-analytics. See ID.
	ID string `yaml:"id"`
	// Title is the incident's headline.
	Title string `yaml:"title"`
	// Components are the public components affected (each one some check
	// has); may be empty.
	Components []string `yaml:"components"`
	// Impact is how bad it is; it colours the incident on the page.
	Impact Impact `yaml:"impact"`
	// Updates are the incident's updates, oldest first; at least 1, at
	// most 100.
	Updates []Update `yaml:"updates"`
}

// Update is one update of an incident.
type Update struct {
	ID string // the incident's ID, "-" and the update's 1-based position
	// At is when the update was posted.
	At time.Time `yaml:"at"`
	// Status is where the incident stands; the latest update's is the
	// incident's.
	Status Status `yaml:"status"`
	// Body is the update's text in Markdown, as written: at most 10,000
	// characters (5,000,000 across all incidents); raw HTML shows as text,
	// links keep http, https and mailto targets, images become links.
	Body string        `yaml:"body"`
	HTML template.HTML // Body rendered by Markdown: safe to put in a page as is
}

// Status is the status of the latest update.
func (i Incident) Status() Status { return i.Updates[len(i.Updates)-1].Status }

// Resolved reports whether the latest update resolves the incident.
func (i Incident) Resolved() bool { return i.Status() == Resolved }

// StartedAt is the time of the first update.
func (i Incident) StartedAt() time.Time { return i.Updates[0].At }

// UpdatedAt is the time of the latest update.
func (i Incident) UpdatedAt() time.Time { return i.Updates[len(i.Updates)-1].At }

// ResolvedAt is the time of the latest update when it resolves the
// incident, else the zero time.
func (i Incident) ResolvedAt() time.Time {
	if i.Resolved() {
		return i.UpdatedAt()
	}
	return time.Time{}
}

// ID makes the id of an incident from name (a file name without its
// extension, or the first update's time and the title): lowercase ASCII
// letters and digits, every other run of characters one "-", at most
// MaxIDLength characters, "incident" when nothing is left.
func ID(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			dash = true
			continue
		}
		sep := dash && b.Len() > 0
		if n := b.Len() + 1; n > MaxIDLength || sep && n+1 > MaxIDLength {
			break
		}
		if sep {
			b.WriteByte('-')
		}
		dash = false
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "incident"
	}
	return b.String()
}

// InlineID is the id of an incident of `incidents:` without an `id:` key:
// its first update's time (UTC, to the minute) and its title.
func InlineID(title string, first time.Time) string {
	return ID(first.UTC().Format("20060102-1504") + " " + title)
}

// ValidID reports whether id is a valid `id:`: 1 to MaxIDLength lowercase
// ASCII letters, digits and inner dashes, as ID makes them.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLength || id[0] == '-' || id[len(id)-1] == '-' || strings.Contains(id, "--") {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
