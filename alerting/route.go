package alerting

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/monitor-dev/monitor/check"
)

// Routing, as Alertmanager does it, with two decisions of ours:
//
//   - match.severity is a threshold: a route with severity WARN takes WARN
//     and CRITICAL alerts ("FAIL with severity ≥ the route's threshold";
//     Alertmanager compares equality). Routes are tried in order, so a
//     CRITICAL route placed first takes the CRITICAL ones. The severity a
//     route sees is the highest of the alert's firing episode (alert.Peak):
//     an alert that paged a CRITICAL route and drops to WARN stays there,
//     so that route's receivers hear its de-escalation and its resolution.
//   - there is no root route: an alert that no route matches goes to no
//     receiver (it shows in GET /v2/alerts with no receivers). A catch-all
//     is a last route with an empty match.

// Label names the engine sets on every alert (besides a route's labels).
const (
	LabelCheck     = "check"
	LabelKind      = "kind"
	LabelSeverity  = "severity"
	LabelComponent = "component"
	LabelHandle    = "handle"
)

// matches reports whether route match m takes an alert with labels at
// routing severity sev.
func matches(m Match, labels map[string]string, sev check.Severity) bool {
	if m.Severity != "" && sev.Rank() < m.Severity.Rank() {
		return false
	}
	if m.Check != "" && !globMatch(m.Check, labels[LabelCheck]) {
		return false
	}
	if m.Kind != "" && m.Kind != labels[LabelKind] {
		return false
	}
	if m.Component != "" && m.Component != labels[LabelComponent] {
		return false
	}
	if m.Handle != "" && m.Handle != labels[LabelHandle] {
		return false
	}
	for k, v := range m.Labels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// globMatch is path.Match with a malformed pattern meaning equality.
func globMatch(pattern, s string) bool {
	ok, err := path.Match(pattern, s)
	if err != nil {
		return pattern == s
	}
	return ok
}

// route returns the indexes of the routes that take an alert: the first
// that matches, and the ones after it while the matched ones continue.
func route(routes []Route, labels map[string]string, sev check.Severity) []int {
	var out []int
	for i, r := range routes {
		if !matches(r.Match, labels, sev) {
			continue
		}
		out = append(out, i)
		if !r.Continue {
			break
		}
	}
	return out
}

// routeIDs names each route by what it is (its match, receivers,
// group_by and continue), not by its place, so that a reload that adds a
// route above it keeps its groups' keys: a receiver pairing a resolved
// with its firing by groupKey still finds it. Identical routes get "#2",
// "#3", ... in order.
func routeIDs(routes []Route) []string {
	out := make([]string, len(routes))
	seen := map[string]int{}
	for i, r := range routes {
		by := slices.Clone(r.GroupBy)
		slices.Sort(by)
		labels := make([]string, 0, len(r.Match.Labels))
		for k, v := range r.Match.Labels {
			labels = append(labels, strconv.Quote(k)+"="+strconv.Quote(v))
		}
		slices.Sort(labels)
		sum := sha256.Sum256(fmt.Appendf(nil, "%q|%q|%q|%q|%q|%q|%q|%q|%t",
			r.Match.Severity, r.Match.Check, r.Match.Kind, r.Match.Component, r.Match.Handle,
			labels, r.Receivers, by, r.Continue))
		id := hex.EncodeToString(sum[:4])
		seen[id]++
		if n := seen[id]; n > 1 {
			id += "#" + strconv.Itoa(n)
		}
		out[i] = id
	}
	return out
}

// groupKey names the group of an alert in the route named routeID: the
// route and the values of its group_by labels, or the alert itself when
// the route has no group_by. Keys read like Alertmanager's:
// `5d41402a:{component="Usage"}`.
func groupKey(routeID string, r Route, id string, labels map[string]string) (string, map[string]string) {
	var b strings.Builder
	b.WriteString(routeID)
	b.WriteString(":{")
	if len(r.GroupBy) == 0 {
		b.WriteString("alert=")
		b.WriteString(strconv.Quote(id))
		b.WriteString("}")
		return b.String(), map[string]string{"alert": id}
	}
	by := slices.Clone(r.GroupBy)
	slices.Sort(by)
	by = slices.Compact(by)
	vals := make(map[string]string, len(by))
	for j, k := range by {
		if j > 0 {
			b.WriteByte(',')
		}
		v := labels[k]
		vals[k] = v
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(v))
	}
	b.WriteString("}")
	return b.String(), vals
}
