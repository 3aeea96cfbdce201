package config

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/monitor-dev/monitor/check"
)

// decoder walks the YAML node tree and collects every problem it meets, each
// at its position in the file.
type decoder struct {
	file    string
	pos     posMap
	errs    []*Error
	secrets []string // secret values of the configuration (Config.Secrets)
	hide    []string // more values to keep out of messages: invalid DSNs

	dbs        map[string]Database   // the databases, once read
	checkAt    map[string]*yaml.Node // where each check name is defined, once read
	checkKind  map[string]check.Kind // the kind of each check, once read
	components []string              // the components of checks, sorted, once read
	bodies     *int                  // characters of incident bodies left (incidents.MaxBodies)
	clusterOn  bool                  // cluster.enabled, once read
	clusterLoc string                // cluster.location, once read
}

// errorf records a problem at node n (nil: the file as a whole).
func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	e := &Error{File: d.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, d.pos.col(n.Line, n.Column)
	}
	d.errs = append(d.errs, e)
}

// secret remembers a secret value of the configuration.
func (d *decoder) secret(s string) {
	if s != "" {
		d.secrets = append(d.secrets, s)
	}
}

// fields is one YAML mapping, keyed by its (known) keys.
type fields struct {
	node  *yaml.Node // the mapping; nil when the section is absent
	ok    bool       // false when node is set but is not a mapping (reported)
	where string     // "check \"x\"", for messages; "" at the top level
	keys  map[string]*yaml.Node
	vals  map[string]*yaml.Node
}

// in is the " in WHERE" suffix of messages about f.
func (f fields) in() string {
	if f.where == "" {
		return ""
	}
	return " in " + f.where
}

// has reports whether key is set (to something other than null).
func (f fields) has(key string) bool {
	n := f.vals[key]
	return n != nil && !isNull(n)
}

// at is the position to report a problem with key at: its value, or the
// mapping itself when the key is absent.
func (f fields) at(key string) *yaml.Node {
	if n := f.vals[key]; n != nil {
		return n
	}
	return f.node
}

// mapping reads n as a mapping with the given known keys. Unknown and
// repeated keys are reported. A null or absent n gives empty fields.
func (d *decoder) mapping(n *yaml.Node, where string, known ...string) fields {
	f := fields{node: n, where: where, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}}
	if n = resolve(n); n != nil {
		f.node = n
	}
	if n == nil || isNull(n) {
		f.ok = true
		return f
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping", cmp.Or(where, "the configuration"))
		return f
	}
	f.ok = true
	d.addFields(&f, n, known, map[*yaml.Node]bool{})
	return f
}

func (d *decoder) addFields(f *fields, n *yaml.Node, known []string, seen map[*yaml.Node]bool) {
	if seen[n] {
		return
	}
	seen[n] = true
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "keys must be plain words%s", f.in())
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if !slices.Contains(known, k.Value) {
			d.errorf(k, "unknown key %q%s%s", k.Value, f.in(), didYouMean(k.Value, known))
			continue
		}
		if first, dup := f.keys[k.Value]; dup {
			d.errorf(k, "duplicate key %q%s (first at line %d)", k.Value, f.in(), first.Line)
			continue
		}
		f.keys[k.Value], f.vals[k.Value] = k, v
	}
	// Merge keys (<<: *anchor) add what the mapping does not set itself.
	for _, m := range merges {
		var srcs []*yaml.Node
		if m = resolve(m); m.Kind == yaml.SequenceNode {
			srcs = m.Content
		} else {
			srcs = []*yaml.Node{m}
		}
		for _, src := range srcs {
			if src = resolve(src); src.Kind != yaml.MappingNode {
				d.errorf(src, "a merge (<<) needs a mapping%s", f.in())
				continue
			}
			sub := fields{where: f.where, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}}
			d.addFields(&sub, src, known, seen)
			for key, kn := range sub.keys {
				if _, set := f.keys[key]; !set {
					f.keys[key], f.vals[key] = kn, sub.vals[key]
				}
			}
		}
	}
}

// only reports keys of f that are not in allowed: they are valid keys of the
// section, but not with this kind or type.
func (d *decoder) only(f fields, what string, allowed []string) {
	for key, k := range f.keys {
		if !slices.Contains(allowed, key) {
			d.errorf(k, "key %q does not apply to %s%s", key, what, f.in())
		}
	}
}

// resolve follows aliases and steps into documents.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && (n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode) {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) > 0 {
			n = n.Content[0]
		} else {
			return nil
		}
	}
	return n
}

// isNull reports an absent, empty or null node.
func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// scalar returns the scalar node of key; false when the key is absent or
// null, or when it is not a scalar (reported).
func (d *decoder) scalar(f fields, key string) (*yaml.Node, bool) {
	if !f.has(key) {
		return nil, false
	}
	n := resolve(f.vals[key])
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s%s must be a single value, not a %s", key, f.in(), kindName(n))
		return nil, false
	}
	return n, true
}

// str reads a string; "" when absent.
func (d *decoder) str(f fields, key string) string {
	if n, ok := d.scalar(f, key); ok {
		return n.Value
	}
	return ""
}

// list reads a list of strings as its scalar nodes.
func (d *decoder) list(f fields, key string) []*yaml.Node {
	var out []*yaml.Node
	for _, item := range d.items(f, key) {
		item = resolve(item)
		if item.Kind != yaml.ScalarNode || isNull(item) {
			d.errorf(item, "%s%s must be a list of strings", key, f.in())
			continue
		}
		out = append(out, item)
	}
	return out
}

// duration reads a duration (see ParseDuration), or returns def.
func (d *decoder) duration(f fields, key string, def time.Duration) time.Duration {
	n, ok := d.scalar(f, key)
	if !ok {
		return def
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		d.errorf(n, "invalid %s %q%s (want a duration like 30s, 15m or 1d)", key, n.Value, f.in())
		return def
	}
	return v
}

// boolean reads true or false; false when absent.
func (d *decoder) boolean(f fields, key string) bool {
	n, ok := d.scalar(f, key)
	if !ok {
		return false
	}
	var v bool
	if n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		d.errorf(n, "invalid %s %q%s (want true or false)", key, n.Value, f.in())
	}
	return v
}

// integer reads a whole number, or returns def.
func (d *decoder) integer(f fields, key string, def int) int {
	n, ok := d.scalar(f, key)
	if !ok {
		return def
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil {
		d.errorf(n, "invalid %s %q%s (want a whole number)", key, n.Value, f.in())
		return def
	}
	return v
}

// float reads a number, or returns def.
func (d *decoder) float(f fields, key string, def float64) float64 {
	n, ok := d.scalar(f, key)
	if !ok {
		return def
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		d.errorf(n, "invalid %s %q%s (want a number)", key, n.Value, f.in())
		return def
	}
	return v
}

// timestamp reads an RFC 3339 time.
func (d *decoder) timestamp(f fields, key string) time.Time {
	n, ok := d.scalar(f, key)
	if !ok {
		return time.Time{}
	}
	v, err := time.Parse(time.RFC3339, n.Value)
	if err != nil {
		d.errorf(n, "invalid %s %q%s (want an RFC 3339 time like 2026-12-01T02:00:00Z)", key, n.Value, f.in())
	}
	return v
}

// items reads key as a list and returns its entries.
func (d *decoder) items(f fields, key string) []*yaml.Node {
	if !f.has(key) {
		return nil
	}
	n := resolve(f.vals[key])
	if n.Kind != yaml.SequenceNode {
		hint := ""
		if n.Kind == yaml.ScalarNode && n.Value != "" && !strings.ContainsAny(n.Value, "[]{},\n") && len(n.Value) <= 40 {
			hint = " (write [" + n.Value + "] for one)"
		}
		d.errorf(n, "%s%s must be a list%s", key, f.in(), hint)
		return nil
	}
	return n.Content
}

// peek returns the scalar value of key in mapping n without reporting
// anything, to name an entry in messages before it is read.
func peek(n *yaml.Node, key string) string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			if v := resolve(n.Content[i+1]); v.Kind == yaml.ScalarNode && !isNull(v) {
				return v.Value
			}
		}
	}
	return ""
}

// describe names an entry for messages: `check "x"` when it has a name,
// `check #3` (1-based) when it has none.
func describe(what, name string, i int) string {
	if name != "" {
		return fmt.Sprintf("%s %q", what, name)
	}
	return fmt.Sprintf("%s #%d", what, i+1)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

// orList writes a, b or c.
func orList[S ~string](words []S) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return string(words[0])
	}
	s := make([]string, len(words))
	for i, w := range words {
		s[i] = string(w)
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// didYouMean names the known key or name a typo most likely meant,
// as ` (did you mean "interval"?)`: the closest within two edits, case
// ignored, if there is exactly one.
func didYouMean(key string, known []string) string {
	best, bestD, ties := "", 3, 0
	for _, k := range known {
		switch d := editDistance(strings.ToLower(key), strings.ToLower(k)); {
		case d < bestD:
			best, bestD, ties = k, d, 0
		case d == bestD:
			ties++
		}
	}
	if best == "" || ties > 0 || bestD >= len(best) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// DidYouMean is didYouMean for the command line: ` (did you mean "check"?)`
// for a mistyped command, or "".
func DidYouMean(word string, known []string) string { return didYouMean(word, known) }

// editDistance is the Levenshtein distance of a and b (keys are short).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
