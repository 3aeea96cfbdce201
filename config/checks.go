package config

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/runbook"
	"github.com/monitor-dev/monitor/probes"
)

// checkKeys are the keys every check takes.
var checkKeys = []string{"name", "kind", "interval", "cron", "timeout", "severity",
	"unknown_severity", "component", "depends_on", "runbook_url"}

// MaxComponentName bounds a component's name, in characters.
const MaxComponentName = 100

// kindKeys lists, per registered kind, the keys it takes besides
// checkKeys: each kind declares them (probes.Kind.Keys).
func kindKeys() map[check.Kind][]string {
	m := map[check.Kind][]string{}
	for _, k := range probes.Kinds() {
		m[k.Name] = k.Keys
	}
	return m
}

func (d *decoder) checks(top fields, cfg *Config) []check.Spec {
	allKeys := slices.Clone(checkKeys)
	kinds := kindKeys()
	for _, kind := range slices.Sorted(maps.Keys(kinds)) {
		for _, k := range kinds[kind] {
			if !slices.Contains(allKeys, k) {
				allKeys = append(allKeys, k)
			}
		}
	}

	var specs []check.Spec
	deps := map[string][]*yaml.Node{}
	d.checkAt = map[string]*yaml.Node{}
	d.checkKind = map[string]check.Kind{}
	for i, item := range d.items(top, "checks") {
		f := d.mapping(item, describe("check", peek(item, "name"), i), allKeys...)
		if !f.ok {
			continue
		}
		spec := d.check(f, cfg.Defaults)
		if spec.Name != "" {
			if first, dup := d.checkAt[spec.Name]; dup {
				d.errorf(f.at("name"), "duplicate check name %q (first at line %d)", spec.Name, first.Line)
			} else {
				d.checkAt[spec.Name] = f.at("name")
				d.checkKind[spec.Name] = spec.Kind
				deps[spec.Name] = d.list(f, "depends_on")
			}
		}
		specs = append(specs, spec)
	}
	d.dependencies(specs, deps)
	for i := range specs {
		for _, n := range deps[specs[i].Name] {
			specs[i].DependsOn = append(specs[i].DependsOn, n.Value)
		}
	}
	return specs
}

// check reads the keys every check has, then those of its kind.
func (d *decoder) check(f fields, def Defaults) check.Spec {
	if k, ok := probes.Lookup(check.Kind(peek(f.node, "kind"))); ok && k.DefaultTimeout > 0 {
		// E.g. a link check's timeout bounds each link, not the whole run.
		def.Timeout = k.DefaultTimeout
	}
	spec := check.Spec{
		Name:            d.str(f, "name"),
		Kind:            check.Kind(d.str(f, "kind")),
		Interval:        d.duration(f, "interval", def.Interval),
		Cron:            d.str(f, "cron"),
		Timeout:         d.duration(f, "timeout", def.Timeout),
		Severity:        d.severity(f, "severity"),
		UnknownSeverity: d.severity(f, "unknown_severity"),
		Component:       d.str(f, "component"),
		RunbookURL:      d.runbookURL(f, "runbook_url", false),
	}
	switch {
	case spec.Name == "":
		d.errorf(f.at("name"), "missing name%s", f.in())
	case !checkName.MatchString(spec.Name):
		d.errorf(f.at("name"), "invalid check name %q (want lowercase letters, digits and _)", spec.Name)
	}

	if f.has("component") && strings.TrimSpace(spec.Component) != spec.Component || f.has("component") && spec.Component == "" {
		// A component is a public name: a blank one shows as a nameless
		// row, and edge spaces make two names that read the same.
		d.errorf(f.at("component"), "invalid component %q%s (want a name without leading or trailing spaces)", spec.Component, f.in())
	} else if f.has("component") && (strings.IndexFunc(spec.Component, unicode.IsControl) >= 0 || utf8.RuneCountInString(spec.Component) > MaxComponentName) {
		// Shown on the public page, in feeds, badges and labels: no
		// newlines, tabs or NULs, and a length a row can show.
		d.errorf(f.at("component"), "invalid component %q%s (want at most %d characters and no control characters)", spec.Component, f.in(), MaxComponentName)
	}

	interval := d.positive(f, "interval", spec.Interval)
	timeout := d.positive(f, "timeout", spec.Timeout)
	if interval && timeout && spec.Timeout >= spec.Interval && (f.has("interval") || f.has("timeout")) {
		at, which, fix := f.at("timeout"), "", ""
		if !f.has("timeout") {
			// the timeout is a default: say so, or the user looks for it
			at, which, fix = f.at("interval"), " (the default)", " (set a shorter timeout)"
		}
		d.errorf(at, "timeout %s%s ≥ interval %s%s%s", check.FormatDuration(spec.Timeout), which, check.FormatDuration(spec.Interval), f.in(), fix)
	}
	if f.has("cron") {
		d.cron(f, spec.Cron)
	}

	kinds := kindKeys()
	keys, known := kinds[spec.Kind]
	switch {
	case spec.Kind == "":
		d.errorf(f.at("kind"), "missing kind%s", f.in())
	case !known:
		d.errorf(f.at("kind"), "unknown kind %q%s (want %s)", spec.Kind, f.in(),
			orList(slices.Sorted(maps.Keys(kinds))))
	default:
		d.only(f, fmt.Sprintf("kind %q", spec.Kind), append(slices.Clone(checkKeys), keys...))
	}
	// The kind reads its own keys (probes: one file per kind).
	if k, ok := probes.Lookup(spec.Kind); ok && k.Decode != nil {
		spec.Config = k.Decode(newKindFields(d, f))
	}
	return spec
}

func (d *decoder) severity(f fields, key string) check.Severity {
	n, ok := d.scalar(f, key)
	if !ok {
		return check.Warn
	}
	sev, err := check.ParseSeverity(n.Value)
	if err != nil {
		d.errorf(n, "invalid %s %q%s (want INFO, WARN or CRITICAL)", key, n.Value, f.in())
		return check.Warn
	}
	return sev
}

// kindOf is the kind of a check read earlier; "" when unknown.
func (d *decoder) kindOf(name string) check.Kind { return d.checkKind[name] }

// runbookURL reads an optional runbook link: an absolute http(s) URL
// without a user or password (it goes to every receiver); base: a page
// whose section anchors are appended, so no #fragment. The value is never
// printed: a link may carry a token.
func (d *decoder) runbookURL(f fields, key string, base bool) string {
	n, ok := d.scalar(f, key)
	if !ok {
		return ""
	}
	s := n.Value
	switch err := runbook.Validate(s, base); {
	case errors.Is(err, runbook.ErrCredentials):
		d.hide = append(d.hide, s)
		if u, err := url.Parse(s); err == nil {
			p, _ := u.User.Password()
			d.secret(p)
		}
		d.errorf(n, "%s%s holds a user or password (the link goes to every receiver; want a URL without credentials)", key, f.in())
	case errors.Is(err, runbook.ErrTooLong):
		d.errorf(n, "%s%s is longer than %d bytes (it goes into every notification)", key, f.in(), runbook.MaxLen)
	case errors.Is(err, runbook.ErrUnescaped):
		d.errorf(n, "%s%s holds a character to %%-encode, one of \" < > \\ ^ ` { | } (they end a link in Slack or HTML; want the URL as a browser's address bar copies it)", key, f.in())
	case errors.Is(err, runbook.ErrFragment):
		d.errorf(n, "%s%s has a #fragment (each alert's section anchor is appended to it; want the page's URL)", key, f.in())
	case err != nil:
		d.hide = append(d.hide, s)
		d.errorf(n, "invalid %s%s (want an absolute http(s) URL)", key, f.in())
	}
	return s
}
