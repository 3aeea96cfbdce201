package config

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/probes"
)

// checkKeys are the keys every check takes.
var checkKeys = []string{"name", "kind", "interval", "cron", "timeout", "severity",
	"unknown_severity", "component", "depends_on"}

// kindKeys lists, per kind, the keys it takes besides checkKeys: each kind
// declares them (probes.Kind.Keys).
var kindKeys = func() map[check.Kind][]string {
	m := map[check.Kind][]string{}
	for _, k := range probes.Kinds() {
		m[k.Name] = k.Keys
	}
	return m
}()

// Defaults of checks, beyond the interval and timeout of `defaults:`.
const (
	defaultLinkMethod      = "HEAD"
	defaultLinkConcurrency = 32
	defaultLinkPerHost     = 4
)

func (d *decoder) checks(top fields, cfg *Config) []check.Spec {
	allKeys := slices.Clone(checkKeys)
	for _, kind := range slices.Sorted(maps.Keys(kindKeys)) {
		for _, k := range kindKeys[kind] {
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
	}
	switch {
	case spec.Name == "":
		d.errorf(f.at("name"), "missing name%s", f.in())
	case !checkName.MatchString(spec.Name):
		d.errorf(f.at("name"), "invalid check name %q (want lowercase letters, digits and _)", spec.Name)
	}

	interval := d.positive(f, "interval", spec.Interval)
	timeout := d.positive(f, "timeout", spec.Timeout)
	if interval && timeout && spec.Timeout >= spec.Interval && (f.has("interval") || f.has("timeout")) {
		at := f.at("timeout")
		if !f.has("timeout") {
			at = f.at("interval")
		}
		d.errorf(at, "timeout %s ≥ interval %s%s", formatDuration(spec.Timeout), formatDuration(spec.Interval), f.in())
	}
	if f.has("cron") {
		d.cron(f, spec.Cron)
	}

	keys, known := kindKeys[spec.Kind]
	switch {
	case spec.Kind == "":
		d.errorf(f.at("kind"), "missing kind%s", f.in())
	case !known:
		d.errorf(f.at("kind"), "unknown kind %q%s (want %s)", spec.Kind, f.in(),
			orList(slices.Sorted(maps.Keys(kindKeys))))
	default:
		d.only(f, fmt.Sprintf("kind %q", spec.Kind), append(slices.Clone(checkKeys), keys...))
	}
	if k, ok := probes.Lookup(spec.Kind); ok && k.Decode != nil {
		spec.Config = k.Decode(newKindFields(d, f))
		return spec
	}
	switch spec.Kind {
	case check.KindLink:
		d.link(f, &spec)
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

// link reads a check of kind link: a list of URLs, or a query that returns
// them.
func (d *decoder) link(f fields, spec *check.Spec) {
	method := d.str(f, "method")
	spec.Method = strings.ToUpper(method)
	spec.Concurrency = d.integer(f, "concurrency", defaultLinkConcurrency)
	spec.PerHost = d.integer(f, "per_host", defaultLinkPerHost)
	spec.FailRatio = d.float(f, "fail_ratio", 0)
	spec.AllowPrivate = d.boolean(f, "allow_private")
	spec.PerLinkMetrics = d.boolean(f, "per_link_metrics")
	for _, n := range d.list(f, "urls") {
		if !validHTTPURL(n.Value) {
			d.errorf(n, "invalid URL %q%s (want an absolute http(s) URL)", check.RedactURL(n.Value), f.in())
		}
		spec.URLs = append(spec.URLs, n.Value)
	}
	for _, n := range d.list(f, "valid_status_codes") {
		code, err := strconv.Atoi(n.Value)
		if err != nil || code < 100 || code > 599 {
			d.errorf(n, "invalid status code %q%s (want 100 to 599)", n.Value, f.in())
			continue
		}
		spec.ValidCodes = append(spec.ValidCodes, code)
	}
	switch {
	case f.has("urls") && f.has("source"):
		d.errorf(f.at("source"), "urls and source%s exclude each other (want one)", f.in())
	case f.has("source"):
		src := d.mapping(f.vals["source"], "source of "+f.where, "database", "query")
		if !src.ok {
			break
		}
		spec.Source = check.Source{Database: d.str(src, "database"), Query: d.str(src, "query")}
		d.databaseRef(src, "database", spec.Source.Database)
		if spec.Source.Query == "" {
			d.errorf(src.at("query"), "missing query%s", src.in())
		}
	case len(spec.URLs) == 0:
		d.errorf(f.at("urls"), "missing urls or source%s", f.in())
	}
	switch spec.Method {
	case "":
		spec.Method = defaultLinkMethod
	case "HEAD", "GET":
	default:
		d.errorf(f.at("method"), "invalid method %q%s (want HEAD or GET)", method, f.in())
	}
	if spec.Concurrency < 1 {
		d.errorf(f.at("concurrency"), "concurrency must be > 0%s", f.in())
	}
	if spec.PerHost < 1 {
		d.errorf(f.at("per_host"), "per_host must be > 0%s", f.in())
	}
	if spec.FailRatio < 0 || spec.FailRatio > 1 {
		d.errorf(f.at("fail_ratio"), "invalid fail_ratio %s%s (want a number from 0 to 1)", f.at("fail_ratio").Value, f.in())
	}
}

func isRedis(dsn string) bool {
	scheme, _, _ := strings.Cut(dsn, "://")
	scheme = strings.ToLower(scheme)
	return scheme == "redis" || scheme == "rediss"
}

func urlHasPassword(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	_, ok := u.User.Password()
	return ok
}

// andList writes a, b and c.
func andList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// kindOf is the kind of a check read earlier; "" when unknown.
func (d *decoder) kindOf(name string) check.Kind { return d.checkKind[name] }
