package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/monitor-dev/monitor/alerting"
	"github.com/monitor-dev/monitor/alerting/alertmanager"
	"github.com/monitor-dev/monitor/alerting/email"
	"github.com/monitor-dev/monitor/alerting/pagerduty"
	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/alerting/slack"
	"github.com/monitor-dev/monitor/alerting/webhook"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/probes"
)

// receiverTypes are the receiver types, in the order messages list them. A
// new receiver type is one package under alerting/ and one line here.
var receiverTypes = []receiver.Type{
	webhook.Type,
	slack.Type,
	pagerduty.Type,
	email.Type,
	alertmanager.Type,
}

func (d *decoder) alerting(top fields) Alerting {
	f := d.mapping(top.vals["alerting"], "alerting", "receivers", "routes",
		"failure_threshold", "success_threshold", "repeat_interval", "flapping", "retry", "runbook_url")
	a := alerting.DefaultConfig
	a.RunbookURL = d.runbookURL(f, "runbook_url", true)
	a.Retry = slices.Clone(a.Retry)
	a.Receivers = d.receivers(f)
	a.Routes = d.routes(f, a.Receivers)
	count := func(key string, v *int, lo, hi int) {
		*v = d.integer(f, key, *v)
		if *v < lo || *v > hi {
			d.errorf(f.at(key), "%s must be between %d and %d%s", key, lo, hi, f.in())
		}
	}
	count("failure_threshold", &a.FailureThreshold, 1, alerting.MaxThreshold)
	count("success_threshold", &a.SuccessThreshold, 1, alerting.MaxThreshold)
	a.RepeatInterval = d.duration(f, "repeat_interval", a.RepeatInterval)
	d.between(f, "repeat_interval", a.RepeatInterval, time.Minute, alerting.MaxRepeatInterval)
	// Alertmanager ends an alert at its endsAt (now + resolve_timeout) unless
	// it is posted again first: a repeat must come before that.
	for _, r := range a.Receivers {
		if c, ok := r.Config.(*alertmanager.Config); ok && c.ResolveTimeout > 0 && c.ResolveTimeout <= a.RepeatInterval {
			at := f.at("repeat_interval")
			if at == nil || !f.has("repeat_interval") {
				at = f.at("receivers")
			}
			d.errorf(at, "receiver %q: resolve_timeout %s is not above repeat_interval %s: Alertmanager would end the alert between two repeats",
				r.Name, check.FormatDuration(c.ResolveTimeout), check.FormatDuration(a.RepeatInterval))
		}
	}

	fl := d.mapping(f.vals["flapping"], "alerting.flapping", "changes", "window")
	a.Flapping.Changes = d.integer(fl, "changes", a.Flapping.Changes)
	if c := a.Flapping.Changes; c < 0 || c > alerting.MaxFlapChanges {
		d.errorf(fl.at("changes"), "changes must be between 0 (off) and %d%s", alerting.MaxFlapChanges, fl.in())
	}
	a.Flapping.Window = d.duration(fl, "window", a.Flapping.Window)
	d.between(fl, "window", a.Flapping.Window, time.Minute, alerting.MaxFlapWindow)

	if f.has("retry") {
		a.Retry = []time.Duration{}
		items := d.items(f, "retry")
		if len(items) > alerting.MaxRetries {
			d.errorf(f.at("retry"), "more than %d entries in retry%s", alerting.MaxRetries, f.in())
		}
		for _, n := range items {
			n = resolve(n)
			v, err := ParseDuration(n.Value)
			if n.Kind != yaml.ScalarNode || err != nil {
				d.errorf(n, "invalid retry %q%s (want a list of durations like [5s, 10s, 20s])", n.Value, f.in())
				continue
			}
			if v < time.Second || v > alerting.MaxRetryWait {
				d.errorf(n, "retry %s must be between 1s and %s%s", check.FormatDuration(v), check.FormatDuration(alerting.MaxRetryWait), f.in())
			}
			a.Retry = append(a.Retry, v)
		}
	}
	if len(a.Receivers) > alerting.MaxReceivers {
		d.errorf(f.at("receivers"), "more than %d receivers%s", alerting.MaxReceivers, f.in())
	}
	if len(a.Routes) > alerting.MaxRoutes {
		d.errorf(f.at("routes"), "more than %d routes%s", alerting.MaxRoutes, f.in())
	}
	return a
}

// between reports a duration at key outside [lo, hi].
func (d *decoder) between(f fields, key string, v, lo, hi time.Duration) {
	if v < lo || v > hi {
		d.errorf(f.at(key), "%s must be between %s and %s%s", key, check.FormatDuration(lo), check.FormatDuration(hi), f.in())
	}
}

func (d *decoder) receivers(alerting fields) []Receiver {
	allKeys := []string{"name", "type"}
	typeKeys := map[string][]string{}
	for _, t := range receiverTypes {
		typeKeys[t.Name] = yamlKeys(reflect.TypeOf(t.New()).Elem())
		for _, k := range typeKeys[t.Name] {
			if !slices.Contains(allKeys, k) {
				allKeys = append(allKeys, k)
			}
		}
	}
	var out []Receiver
	first := map[string]int{}
	for i, item := range d.items(alerting, "receivers") {
		f := d.mapping(item, describe("receiver", peek(item, "name"), i), allKeys...)
		if !f.ok {
			continue
		}
		r := Receiver{Name: d.str(f, "name"), Type: d.str(f, "type")}
		if r.Name == "" {
			d.errorf(f.at("name"), "missing name%s", f.in())
		} else if line, dup := first[r.Name]; dup {
			d.errorf(f.at("name"), "duplicate receiver name %q (first at line %d)", r.Name, line)
		} else {
			first[r.Name] = f.at("name").Line
		}

		ti := slices.IndexFunc(receiverTypes, func(t receiver.Type) bool { return t.Name == r.Type })
		switch {
		case r.Type == "":
			d.errorf(f.at("type"), "missing type%s", f.in())
			out = append(out, r)
			continue
		case ti < 0:
			names := make([]string, len(receiverTypes))
			for j, t := range receiverTypes {
				names[j] = t.Name
			}
			d.errorf(f.at("type"), "unknown type %q%s (want %s)", r.Type, f.in(), orList(names))
			out = append(out, r)
			continue
		}
		d.only(f, fmt.Sprintf("type %q", r.Type), append([]string{"name", "type"}, typeKeys[r.Type]...))
		r.Config = receiverTypes[ti].New()
		rd := &structDecode{structs: map[string]fields{}, items: map[string]listEntry{},
			failed: map[string]bool{}, absent: map[string]bool{}}
		d.decodeStruct(f, reflect.ValueOf(r.Config).Elem(), "", rd)
		d.validated(f, r.Config.Validate(), rd)
		out = append(out, r)
	}
	return out
}

// structDecode remembers where decodeStruct found each key, so that the
// problems Validate reports come at their key's line and column.
type structDecode struct {
	structs map[string]fields    // the mappings, by dotted path ("" is the top)
	items   map[string]listEntry // list entries, by dotted path with index ("to.0")
	failed  map[string]bool      // keys whose decoding was reported already
	absent  map[string]bool      // mappings (like smtp) not in the file
}

type listEntry struct {
	node *yaml.Node
	in   fields // the mapping that holds the list
}

var (
	secretType   = reflect.TypeFor[check.Secret]()
	durationType = reflect.TypeFor[time.Duration]()
)

// yamlKeys lists the keys of a struct type: each field's yaml tag, and
// KEY_file beside every check.Secret field.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for sf := range t.Fields() {
		key := yamlKey(sf)
		if key == "" {
			continue
		}
		keys = append(keys, key)
		if sf.Type == secretType {
			keys = append(keys, key+"_file")
		}
	}
	return keys
}

func yamlKey(sf reflect.StructField) string {
	key, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
	if key == "-" || !sf.IsExported() {
		return ""
	}
	return key
}

// decodeStruct reads the keys of f into the fields of v (a struct) by
// their yaml tags; what v holds already are its defaults. The field types
// a receiver can use are those the cases below list (a map has string
// keys and string or check.Secret values): another type is a
// programming error, which TestReceivers (every type in testdata/receivers.yml) catches.
func (d *decoder) decodeStruct(f fields, v reflect.Value, path string, rd *structDecode) {
	rd.structs[path] = f
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		key := yamlKey(sf)
		if key == "" {
			continue
		}
		full := key
		if path != "" {
			full = path + "." + key
		}
		fv := v.Field(i)
		before := len(d.errs)
		switch {
		case sf.Type == secretType:
			if s, ok := d.secretValue(f, key); ok {
				fv.SetString(s)
			}
		case sf.Type == durationType:
			fv.SetInt(int64(d.duration(f, key, time.Duration(fv.Int()))))
		case sf.Type.Kind() == reflect.String:
			if f.has(key) {
				fv.SetString(d.str(f, key))
			}
		case sf.Type.Kind() == reflect.Int:
			fv.SetInt(int64(d.integer(f, key, int(fv.Int()))))
		case sf.Type.Kind() == reflect.Bool:
			if f.has(key) {
				fv.SetBool(d.boolean(f, key))
			}
		case sf.Type.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.String:
			nodes := d.list(f, key)
			list := reflect.MakeSlice(sf.Type, len(nodes), len(nodes))
			for j, n := range nodes {
				rd.items[fmt.Sprintf("%s.%d", full, j)] = listEntry{node: n, in: f}
				if sf.Type.Elem() == secretType {
					d.secret(n.Value)
				}
				list.Index(j).SetString(n.Value)
			}
			if f.has(key) {
				fv.Set(list)
			}
		case sf.Type.Kind() == reflect.Map && sf.Type.Key().Kind() == reflect.String && sf.Type.Elem().Kind() == reflect.String:
			// A mapping with free keys (webhook headers); check.Secret
			// values are secrets.
			sub := d.mapping(f.vals[key], key+" of "+f.where, mappingKeys(f.vals[key])...)
			rd.structs[full] = sub
			if !sub.ok || !f.has(key) {
				break
			}
			m := reflect.MakeMapWithSize(sf.Type, len(sub.keys))
			for k := range sub.keys {
				s := d.str(sub, k)
				if sf.Type.Elem() == secretType {
					d.secret(s)
				}
				m.SetMapIndex(reflect.ValueOf(k).Convert(sf.Type.Key()), reflect.ValueOf(s).Convert(sf.Type.Elem()))
			}
			fv.Set(m)
		case sf.Type.Kind() == reflect.Struct:
			sub := d.mapping(f.vals[key], key+" of "+f.where, yamlKeys(sf.Type)...)
			switch {
			case !sub.ok:
				rd.failed[full] = true
			case !f.has(key):
				rd.absent[full] = true
			default:
				d.decodeStruct(sub, fv, full, rd)
			}
			continue // problems inside are reported for their own keys
		default:
			panic(fmt.Sprintf("config: receiver key %s of type %s cannot be decoded", full, sf.Type))
		}
		if len(d.errs) > before {
			rd.failed[full] = true
		}
	}
}

// maxSecretFile bounds a *_file: a secret is a line, not a document.
const maxSecretFile = 64 << 10

// secretValue reads the secret at key, or from the file named at KEY_file
// (relative to the config file's directory); exactly one of them may be
// set. The file's trailing newline is dropped. ok is false when neither is
// set or the value could not be read (reported).
func (d *decoder) secretValue(f fields, key string) (string, bool) {
	fileKey := key + "_file"
	switch {
	case f.has(key) && f.has(fileKey):
		d.errorf(f.keys[fileKey], "%s and %s are both set%s (want one of them)", key, fileKey, f.in())
		return "", false
	case f.has(key):
		s := d.str(f, key)
		d.secret(s)
		return s, true
	case !f.has(fileKey):
		return "", false
	}
	name := d.str(f, fileKey)
	if name == "" {
		return "", false
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(d.file), path)
	}
	s, err := readSecretFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.errorf(f.at(fileKey), "%s %q%s does not exist", fileKey, name, f.in())
	case err != nil:
		d.errorf(f.at(fileKey), "cannot read %s %q%s: %v", fileKey, name, f.in(), err)
	case s == "":
		d.errorf(f.at(fileKey), "%s %q%s is empty", fileKey, name, f.in())
	default:
		d.secret(s)
		return s, true
	}
	return "", false
}

func readSecretFile(path string) (string, error) {
	file, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer file.Close()
	if st, err := file.Stat(); err == nil && !st.Mode().IsRegular() {
		return "", errors.New("not a regular file")
	}
	b, err := io.ReadAll(io.LimitReader(file, maxSecretFile+1))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", err
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("larger than %d KiB", maxSecretFile>>10)
	}
	s := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}

// validated reports the problems Validate found in a receiver, each at its
// key; a key whose decoding failed already is not reported twice.
func (d *decoder) validated(f fields, err error, rd *structDecode) {
	reported := map[string]bool{}
	for _, e := range leafErrors(err) {
		var fe *receiver.FieldError
		if !errors.As(e, &fe) {
			d.errorf(f.node, "%s%s", e, f.in())
			continue
		}
		// Nothing more about a key (or a mapping or list holding it) that
		// could not be read; one "missing smtp" for a mapping not there.
		parts := strings.Split(fe.Key, ".")
		skip := false
		for i := range parts {
			prefix := strings.Join(parts[:i+1], ".")
			if rd.failed[prefix] {
				skip = true
				break
			}
			if rd.absent[prefix] {
				if !reported[prefix] {
					reported[prefix] = true
					d.errorf(f.node, "missing %s%s", prefix, f.in())
				}
				skip = true
				break
			}
		}
		if skip {
			continue
		}
		node, in := f.node, f
		if it, ok := rd.items[fe.Key]; ok {
			node, in = it.node, it.in
		} else {
			parent, key := "", fe.Key
			if i := strings.LastIndex(fe.Key, "."); i >= 0 {
				parent, key = fe.Key[:i], fe.Key[i+1:]
			}
			if sub, ok := rd.structs[parent]; ok {
				in = sub
				node = sub.at(key)
				if sub.vals[key] == nil && sub.vals[key+"_file"] != nil {
					node = sub.vals[key+"_file"]
				}
			}
		}
		msg := fe.Err.Error() + in.in()
		if fe.Hint != "" {
			msg += " (" + fe.Hint + ")"
		}
		d.errorf(node, "%s", msg)
	}
}

// leafErrors flattens the trees errors.Join builds.
func leafErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// matchKeys are the keys of a route's match.
var matchKeys = []string{"severity", "check", "kind", "component", "handle", "labels"}

// groupKeys are the alert labels a route can group by besides its own labels.
var groupKeys = []string{"check", "kind", "severity", "component", "handle"}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]{0,63}$`)

// knownKind reports an alert kind: a check kind or escalation.
func knownKind(kind string) bool {
	_, ok := probes.Lookup(check.Kind(kind))
	return ok || kind == alerting.KindEscalation
}

func (d *decoder) routes(al fields, receivers []Receiver) []Route {
	var out []Route
	for i, item := range d.items(al, "routes") {
		where := fmt.Sprintf("route #%d", i+1)
		f := d.mapping(item, where, "match", "receivers", "group_by", "group_wait", "group_interval", "continue", "unknown")
		if !f.ok {
			continue
		}
		route := alerting.DefaultRoute
		route.Match = d.match(f.vals["match"], where)

		for _, n := range d.list(f, "receivers") {
			if !slices.ContainsFunc(receivers, func(r Receiver) bool { return r.Name == n.Value }) {
				d.errorf(n, "undefined receiver %q in %s", n.Value, where)
			}
			route.Receivers = append(route.Receivers, n.Value)
		}
		if len(route.Receivers) == 0 {
			d.errorf(f.at("receivers"), "missing receivers in %s", where)
		}
		for _, n := range d.list(f, "group_by") {
			if !slices.Contains(groupKeys, n.Value) && !labelName.MatchString(n.Value) {
				d.errorf(n, "invalid group_by %q in %s (want a label name: %s or one of the alerts' labels)", n.Value, where, orList(groupKeys))
			}
			route.GroupBy = append(route.GroupBy, n.Value)
		}
		if len(route.GroupBy) > alerting.MaxGroupBy {
			d.errorf(f.at("group_by"), "more than %d labels in group_by in %s", alerting.MaxGroupBy, where)
		}
		route.GroupWait = d.duration(f, "group_wait", route.GroupWait)
		d.between(f, "group_wait", route.GroupWait, 0, alerting.MaxGroupWait)
		route.GroupInterval = d.duration(f, "group_interval", route.GroupInterval)
		d.between(f, "group_interval", route.GroupInterval, time.Second, alerting.MaxGroupInterval)
		route.Continue = d.boolean(f, "continue")
		switch route.Unknown = d.str(f, "unknown"); route.Unknown {
		case "":
			route.Unknown = alerting.UnknownKeep
		case alerting.UnknownKeep, alerting.UnknownFire, alerting.UnknownResolve:
		default:
			d.errorf(f.at("unknown"), "invalid unknown %q in %s (want %s, %s or %s)", route.Unknown, where,
				alerting.UnknownKeep, alerting.UnknownFire, alerting.UnknownResolve)
		}
		out = append(out, route)
	}
	return out
}

// match reads a route's match: severity, check (a name or a glob), kind,
// component, handle and labels.
func (d *decoder) match(n *yaml.Node, route string) alerting.Match {
	f := d.mapping(n, "match of "+route, matchKeys...)
	var m alerting.Match
	if f.has("severity") {
		v := d.str(f, "severity")
		sev, err := check.ParseSeverity(v)
		if err != nil {
			d.errorf(f.at("severity"), "invalid severity %q%s (want INFO, WARN or CRITICAL)", v, f.in())
		}
		m.Severity = sev
	}
	if f.has("check") {
		m.Check = d.str(f, "check")
		if strings.ContainsAny(m.Check, `*?[\`) {
			if _, err := path.Match(m.Check, ""); err != nil {
				d.errorf(f.at("check"), "invalid pattern %q%s (want a check name or a glob like targeting_*)", m.Check, f.in())
			}
		} else {
			d.checkRef(f, "check", m.Check)
		}
	}
	if f.has("kind") {
		m.Kind = d.str(f, "kind")
		if !knownKind(m.Kind) {
			d.errorf(f.at("kind"), "unknown kind %q%s", m.Kind, f.in())
		}
	}
	m.Component = d.str(f, "component")
	m.Handle = d.str(f, "handle")
	lf := d.mapping(f.vals["labels"], "labels of "+route, mappingKeys(f.vals["labels"])...)
	for key, kn := range lf.keys {
		if !labelName.MatchString(key) {
			d.errorf(kn, "invalid label name %q%s (want letters, digits and _)", key, lf.in())
		}
		if m.Labels == nil {
			m.Labels = map[string]string{}
		}
		m.Labels[key] = d.str(lf, key)
	}
	if len(m.Labels) > alerting.MaxLabels {
		d.errorf(f.at("labels"), "more than %d labels%s", alerting.MaxLabels, f.in())
	}
	return m
}

// mappingKeys lists the keys of a mapping node, for mappings whose keys
// are free (labels).
func mappingKeys(n *yaml.Node) []string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var keys []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	return keys
}

// ReceiverType returns the registered receiver type named name.
func ReceiverType(name string) (receiver.Type, bool) {
	for _, t := range receiverTypes {
		if t.Name == name {
			return t, true
		}
	}
	return receiver.Type{}, false
}
