package alerting

import (
	"slices"
	"testing"

	"github.com/monitor-dev/monitor/check"
)

func TestRouteMatching(t *testing.T) {
	routes := []Route{
		{Match: Match{Kind: KindEscalation, Handle: "acme"}, Receivers: []string{"acme"}},
		{Match: Match{Severity: check.Critical}, Receivers: []string{"pager"}, Continue: true},
		{Match: Match{Check: "targeting_*", Labels: map[string]string{"team": "ads"}}, Receivers: []string{"ads"}},
		{Match: Match{Severity: check.Warn, Component: "API"}, Receivers: []string{"api"}},
		{Receivers: []string{"rest"}},
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		sev    check.Severity
		want   []int
	}{
		{"escalation", map[string]string{"kind": "escalation", "handle": "acme"}, check.Info, []int{0}},
		{"other handle", map[string]string{"kind": "escalation", "handle": "beta"}, check.Critical, []int{1, 4}},
		{"critical continues", map[string]string{"check": "targeting_x", "team": "ads"}, check.Critical, []int{1, 2}},
		{"glob and label", map[string]string{"check": "targeting_x", "team": "ads"}, check.Info, []int{2}},
		{"label differs", map[string]string{"check": "targeting_x", "team": "web"}, check.Info, []int{4}},
		{"severity is a threshold", map[string]string{"check": "a", "component": "API"}, check.Critical, []int{1, 3}},
		{"below the threshold", map[string]string{"check": "a", "component": "API"}, check.Info, []int{4}},
	} {
		if got := route(routes, tc.labels, tc.sev); !slices.Equal(got, tc.want) {
			t.Errorf("%s: routes %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := route(routes[:4], map[string]string{"check": "x"}, check.Warn); len(got) != 0 {
		t.Errorf("no catch-all: routed to %v, want nowhere", got)
	}
}

func TestGroupKey(t *testing.T) {
	r := Route{GroupBy: []string{"component", "kind", "component"}}
	k, vals := groupKey("r2", r, "check:a", map[string]string{"component": `A "B"`, "kind": "db", "check": "a"})
	if k != `r2:{component="A \"B\"",kind="db"}` || len(vals) != 2 {
		t.Fatalf("key %s %v", k, vals)
	}
	k2, _ := groupKey("r2", r, "check:b", map[string]string{"component": `A "B"`, "kind": "db", "check": "b"})
	if k2 != k {
		t.Fatalf("alerts sharing the group_by labels got keys %s and %s", k, k2)
	}
	k, _ = groupKey("r0", Route{}, "check:a", nil)
	if k != `r0:{alert="check:a"}` {
		t.Fatalf("without group_by: %s", k)
	}
}

func TestSilenceMatches(t *testing.T) {
	l := map[string]string{"check": "targeting_a", "severity": "WARN"}
	for _, tc := range []struct {
		m    map[string]string
		want bool
	}{
		{map[string]string{"check": "targeting_*"}, true},
		{map[string]string{"check": "targeting_*", "severity": "CRITICAL"}, false},
		{map[string]string{"component": ""}, true},
		{map[string]string{"component": "*"}, true},
		{map[string]string{"component": "API"}, false},
		{map[string]string{}, false},
	} {
		if got := silenceMatches(tc.m, l); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.m, got, tc.want)
		}
	}
}

// A route keeps its id when a reload puts another route above it; only
// identical routes are told apart by their order.
func TestRouteIDsStable(t *testing.T) {
	a := Route{Match: Match{Severity: check.Critical}, Receivers: []string{"oncall"}, GroupBy: []string{"component"}}
	b := Route{Match: Match{Kind: "escalation"}, Receivers: []string{"owner"}}
	before := routeIDs([]Route{a})
	after := routeIDs([]Route{b, a})
	if before[0] != after[1] || after[0] == after[1] {
		t.Errorf("ids %v then %v: want a's id kept and b's different", before, after)
	}
	dup := routeIDs([]Route{a, a})
	if dup[0] == dup[1] || dup[1] != dup[0]+"#2" {
		t.Errorf("identical routes: %v", dup)
	}
}
