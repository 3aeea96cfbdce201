package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/incidents"
	"github.com/monitor-dev/monitor/probes"
)

// StatusPage is the `statuspage:` section: the public page's branding, the
// order and groups of its components, and where the daemon writes it.
type StatusPage struct {
	// Title is the page's title: one line, at most 100 characters.
	Title string `yaml:"title"`
	// LogoURL is the logo shown in the header: an absolute http(s) URL
	// without user or password; "" = none. The only thing the page loads
	// from elsewhere.
	LogoURL string `yaml:"logo_url"`
	// HomeURL is where the title links to: an absolute http(s) URL; "" =
	// none.
	HomeURL string `yaml:"home_url"`
	// Out is the directory the daemon rebuilds the static page into on
	// every public change; "" = none. Load makes a relative path relative
	// to the config file's directory. A folder of its own: validate and run
	// refuse one holding other files.
	Out string `yaml:"out"`
	// Components holds every public component (the `component` of some
	// check) exactly once, in page order: those listed under components:
	// first, as listed (at most 500), then the others by name, without a
	// group. An entry is a plain name or {name, group}.
	Components []PageComponent `yaml:"components" ref:"list of names or {name, group}"`
}

// PageComponent is one component of the status page.
type PageComponent struct {
	// Name is a component some check has (a near miss is named in the
	// error).
	Name string `yaml:"name"`
	// Group is a heading for the components that share it (at most 100
	// characters); "" = none.
	Group string `yaml:"group"`
}

// Incident is one incident written by hand (`incidents:` or a file of
// `incidents_dir:`), its updates oldest first and each body rendered to
// HTML.
type Incident = incidents.Incident

// IncidentUpdate is one update of an Incident.
type IncidentUpdate = incidents.Update

// Bounds of the status page section.
const (
	MaxPageComponents = 500 // entries of statuspage.components
	maxPageTitle      = 100 // characters of statuspage.title
	maxGroup          = 100 // characters of a group
)

// DefaultPageTitle is the title of a status page that sets none.
const DefaultPageTitle = "Status"

// publicComponents lists the components checks have, sorted, once each.
func publicComponents(checks []check.Spec) []string {
	var names []string
	for _, sp := range checks {
		if sp.Component != "" {
			names = append(names, sp.Component)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// componentRef reports a component name no check has, naming the closest
// one when a single one is close.
func (d *decoder) componentRef(n *yaml.Node, name, where string) bool {
	if slices.Contains(d.components, name) {
		return true
	}
	hint := strings.TrimSuffix(strings.TrimPrefix(didYouMean(name, d.components), " ("), ")")
	if hint != "" {
		hint = "; " + hint
	}
	d.errorf(n, "unknown component %q in %s (no check has it%s)", name, where, hint)
	return false
}

func (d *decoder) statusPage(top fields) StatusPage {
	f := d.mapping(top.vals["statuspage"], "statuspage", "title", "logo_url", "home_url", "out", "components")
	sp := StatusPage{Title: DefaultPageTitle}
	if n, ok := d.scalar(f, "title"); ok {
		sp.Title = n.Value
		switch {
		case strings.TrimSpace(sp.Title) == "":
			d.errorf(f.at("title"), "empty title in statuspage")
		case strings.ContainsFunc(sp.Title, unicode.IsControl):
			d.errorf(f.at("title"), "title in statuspage must be one line of text")
		case utf8.RuneCountInString(sp.Title) > maxPageTitle:
			d.errorf(f.at("title"), "title is longer than %d characters in statuspage", maxPageTitle)
		}
	}
	sp.LogoURL = d.pageURL(f, "logo_url")
	sp.HomeURL = d.pageURL(f, "home_url")
	if n, ok := d.scalar(f, "out"); ok {
		sp.Out = n.Value
		d.outDir(f, sp.Out)
	}

	listed := map[string]*yaml.Node{}
	items := d.items(f, "components")
	if len(items) > MaxPageComponents {
		d.errorf(f.at("components"), "more than %d components in statuspage", MaxPageComponents)
		items = nil
	}
	for i, item := range items {
		where := fmt.Sprintf("statuspage.components #%d", i+1)
		var c PageComponent
		var at *yaml.Node
		if n := resolve(item); n.Kind == yaml.ScalarNode && !isNull(n) {
			c.Name, at = n.Value, n // a plain name: no group
		} else {
			cf := d.mapping(item, where, "name", "group")
			if !cf.ok {
				continue
			}
			c.Name, c.Group, at = d.str(cf, "name"), d.str(cf, "group"), cf.at("name")
			if !cf.has("name") {
				d.errorf(cf.node, "missing name in %s", where)
				continue
			}
			if utf8.RuneCountInString(c.Group) > maxGroup {
				d.errorf(cf.at("group"), "group is longer than %d characters in %s", maxGroup, where)
			}
		}
		if !d.componentRef(at, c.Name, where) {
			continue
		}
		if first, dup := listed[c.Name]; dup {
			d.errorf(at, "duplicate component %q in %s (first at line %d)", c.Name, where, first.Line)
			continue
		}
		listed[c.Name] = at
		sp.Components = append(sp.Components, c)
	}
	for _, name := range d.components {
		if listed[name] == nil {
			sp.Components = append(sp.Components, PageComponent{Name: name})
		}
	}
	return sp
}

// pageURL reads an optional absolute http(s) URL shown on the public page:
// it may not carry a user or password.
func (d *decoder) pageURL(f fields, key string) string {
	n, ok := d.scalar(f, key)
	if !ok {
		return ""
	}
	s := n.Value
	u, err := url.Parse(s)
	switch {
	case !probes.ValidHTTPURL(s):
		d.errorf(f.at(key), "invalid %s %q in statuspage (want an absolute http(s) URL)", key, check.RedactURL(s))
	case err == nil && u.User != nil:
		d.hide = append(d.hide, s)
		d.errorf(f.at(key), "%s in statuspage holds a user or password (it is shown on the public page)", key)
	}
	return s
}

// outDir refuses an out: directory the daemon must not replace: the config
// file's directory or one that holds it (the page is rebuilt in a
// temporary directory that then takes the place of out).
func (d *decoder) outDir(f fields, out string) {
	if strings.TrimSpace(out) == "" {
		d.errorf(f.at("out"), "empty out in statuspage (want a directory, or no out: for no static copy)")
		return
	}
	dir := filepath.Dir(d.file)
	abs, err1 := filepath.Abs(relTo(dir, out))
	cfgDir, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return
	}
	if abs == cfgDir || strings.HasPrefix(cfgDir, strings.TrimSuffix(abs, string(filepath.Separator))+string(filepath.Separator)) {
		d.errorf(f.at("out"), "out %q in statuspage holds the config file (want a directory of its own: each rebuild replaces it)", out)
	}
}

// relTo makes a relative path p relative to dir.
func relTo(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// incidentKeys are the keys of an incident, inline or in a file.
var incidentKeys = []string{"id", "title", "components", "impact", "updates"}

// incidents reads `incidents:` and the files of `incidents_dir:`, and
// checks that their ids are unique.
func (d *decoder) incidents(top fields) (list []Incident, dir string) {
	type seen struct {
		file string
		line int
	}
	ids := map[string]seen{}
	left := incidents.MaxBodies
	d.bodies = &left
	add := func(inc Incident, at *yaml.Node, file string, where string) {
		if first, dup := ids[inc.ID]; dup {
			loc := fmt.Sprintf("line %d", first.line)
			if first.file != file {
				loc = fmt.Sprintf("%s:%d", first.file, first.line)
			}
			msg := fmt.Sprintf("duplicate incident id %q in %s (first at %s; set id: to tell them apart)", inc.ID, where, loc)
			if file == d.file {
				d.errorf(at, "%s", msg)
			} else {
				d.errs = append(d.errs, &Error{File: file, Line: at.Line, Col: at.Column, Msg: msg})
			}
			return
		}
		ids[inc.ID] = seen{file, at.Line}
		list = append(list, inc)
	}

	items := d.items(top, "incidents")
	if len(items) > incidents.MaxIncidents {
		d.errorf(top.at("incidents"), "more than %d incidents", incidents.MaxIncidents)
		items = nil
	}
	for i, item := range items {
		where := describe("incident", peek(item, "title"), i)
		f := d.mapping(item, where, incidentKeys...)
		if !f.ok {
			continue
		}
		if inc, ok := d.incident(f, where, ""); ok {
			add(inc, idAt(f), d.file, where)
		}
	}

	if !top.has("incidents_dir") {
		return list, ""
	}
	dir = d.str(top, "incidents_dir")
	if strings.TrimSpace(dir) == "" {
		d.errorf(top.at("incidents_dir"), "empty incidents_dir (want a directory of incident files)")
		return list, ""
	}
	path := relTo(filepath.Dir(d.file), dir)
	files, err := incidentFiles(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.errorf(top.at("incidents_dir"), "incidents_dir %q does not exist", dir)
		return list, dir
	case err != nil:
		d.errorf(top.at("incidents_dir"), "incidents_dir %q cannot be read: %s", dir, errors.Unwrap(err))
		return list, dir
	case len(list)+len(files) > incidents.MaxIncidents:
		d.errorf(top.at("incidents_dir"), "more than %d incidents (incidents and the files of incidents_dir together)", incidents.MaxIncidents)
		return list, dir
	}
	for _, file := range files {
		inc, at, ok := d.incidentFile(file)
		if ok {
			add(inc, at, file, "incident")
		}
	}
	return list, dir
}

// idAt is where to report an incident's id: its id: key, else its title.
func idAt(f fields) *yaml.Node {
	if f.has("id") {
		return f.at("id")
	}
	return f.at("title")
}

// incidentFiles lists the .yaml and .yml files of dir, by name; hidden
// files (editors' backups) and directories are left out.
func incidentFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if strings.HasPrefix(name, ".") || e.IsDir() || ext != ".yaml" && ext != ".yml" {
			continue
		}
		files = append(files, filepath.Join(dir, name))
	}
	return files, nil
}

// incidentFile reads one file of incidents_dir: one incident, its problems
// reported at positions in that file. ${VAR} is not expanded: an incident
// is text for the public, not configuration.
func (d *decoder) incidentFile(file string) (Incident, *yaml.Node, bool) {
	sub := &decoder{file: file, pos: posMap{}, components: d.components, bodies: d.bodies}
	defer func() { d.errs = append(d.errs, sub.errs...) }()
	data, err := readBounded(file, incidents.MaxFileSize)
	if err != nil {
		sub.errs = append(sub.errs, &Error{File: file, Msg: err.Error()})
		return Incident{}, nil, false
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		sub.errs = append(sub.errs, &Error{File: file, Msg: "empty incident file (want a mapping with title and updates)"})
		return Incident{}, nil, false
	case err != nil:
		sub.errs = append(sub.errs, syntaxError(file, string(data), err))
		return Incident{}, nil, false
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil && !isNull(&next) {
		sub.errorf(&next, "a second YAML document is not read (want one incident per file)")
	}
	f := sub.mapping(&doc, "incident", incidentKeys...)
	if !f.ok || f.node == nil {
		return Incident{}, nil, false
	}
	stem := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	inc, ok := sub.incident(f, "incident", incidents.ID(stem))
	at := f.node
	if f.has("id") {
		at = f.at("id")
	}
	return inc, at, ok && len(sub.errs) == 0
}

// readBounded reads a file of at most max bytes.
func readBounded(file string, max int64) ([]byte, error) {
	fh, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("cannot be read: %w", errors.Unwrap(err))
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, max+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("cannot be read: %w", err)
	case int64(len(data)) > max:
		return nil, fmt.Errorf("incident file is larger than %d bytes", max)
	}
	return data, nil
}

// incident reads one incident; id is its default id ("" for an inline
// incident: its first update's time and its title).
func (d *decoder) incident(f fields, where, id string) (Incident, bool) {
	before := len(d.errs)
	inc := Incident{Title: d.str(f, "title"), Impact: incidents.DefaultImpact}
	switch {
	case !f.has("title"):
		d.errorf(f.node, "missing title in %s", where)
	case strings.TrimSpace(inc.Title) == "":
		d.errorf(f.at("title"), "empty title in %s", where)
	case utf8.RuneCountInString(inc.Title) > incidents.MaxTitle:
		d.errorf(f.at("title"), "title is longer than %d characters in %s", incidents.MaxTitle, where)
	}
	if f.has("id") {
		id = d.str(f, "id")
		if !incidents.ValidID(id) {
			d.errorf(f.at("id"), "invalid id %q in %s (want 1 to %d lowercase letters, digits and single inner dashes, like delayed-analytics)",
				id, where, incidents.MaxIDLength)
		}
	}

	seen := map[string]bool{}
	for _, n := range d.list(f, "components") {
		if seen[n.Value] {
			d.errorf(n, "duplicate component %q in %s", n.Value, where)
			continue
		}
		seen[n.Value] = true
		if d.componentRef(n, n.Value, where) {
			inc.Components = append(inc.Components, n.Value)
		}
	}

	if f.has("impact") {
		inc.Impact = incidents.Impact(d.str(f, "impact"))
		if !slices.Contains(incidents.Impacts, inc.Impact) {
			d.errorf(f.at("impact"), "invalid impact %q in %s (want %s)", inc.Impact, where, orList(incidents.Impacts))
		}
	}

	items := d.items(f, "updates")
	switch {
	case len(items) == 0:
		d.errorf(f.at("updates"), "missing updates in %s (want at least one, like {at: 2026-11-21T10:00:00Z, status: investigating, body: ...})", where)
	case len(items) > incidents.MaxUpdates:
		d.errorf(f.at("updates"), "more than %d updates in %s", incidents.MaxUpdates, where)
		items = nil
	}
	for i, item := range items {
		uwhere := fmt.Sprintf("update #%d of %s", i+1, where)
		uf := d.mapping(item, uwhere, "at", "status", "body")
		if !uf.ok {
			continue
		}
		u := IncidentUpdate{At: d.timestamp(uf, "at").UTC(), Status: incidents.Status(d.str(uf, "status")), Body: d.str(uf, "body")}
		switch {
		case !uf.has("at"):
			d.errorf(uf.node, "missing at in %s", uwhere)
		case u.At.IsZero():
		case len(inc.Updates) > 0 && !u.At.After(inc.Updates[len(inc.Updates)-1].At):
			prev := inc.Updates[len(inc.Updates)-1].At
			d.errorf(uf.at("at"), "at %s in %s is not after the update before it (%s): list updates oldest first",
				u.At.Format(time.RFC3339), uwhere, prev.Format(time.RFC3339))
		}
		switch {
		case !uf.has("status"):
			d.errorf(uf.node, "missing status in %s", uwhere)
		case !slices.Contains(incidents.Statuses, u.Status):
			d.errorf(uf.at("status"), "invalid status %q in %s (want %s)", u.Status, uwhere, orList(incidents.Statuses))
		}
		switch {
		case strings.TrimSpace(u.Body) == "":
			d.errorf(uf.at("body"), "missing body in %s", uwhere)
		case utf8.RuneCountInString(u.Body) > incidents.MaxBody:
			d.errorf(uf.at("body"), "body is longer than %d characters in %s", incidents.MaxBody, uwhere)
		case *d.bodies < 0: // reported once, below
		default:
			// Bounded together too: rendering is the cost of a load.
			if *d.bodies -= utf8.RuneCountInString(u.Body); *d.bodies < 0 {
				d.errorf(uf.at("body"), "the bodies of all incidents together are longer than %d characters (at %s)",
					incidents.MaxBodies, uwhere)
				break
			}
			u.HTML = incidents.Markdown(u.Body)
		}
		if !u.At.IsZero() {
			inc.Updates = append(inc.Updates, u)
		}
	}
	if len(d.errs) > before {
		return Incident{}, false
	}
	if id == "" {
		id = incidents.InlineID(inc.Title, inc.StartedAt())
	}
	inc.ID = id
	for i := range inc.Updates {
		inc.Updates[i].ID = fmt.Sprintf("%s-%d", id, i+1)
	}
	return inc, true
}
