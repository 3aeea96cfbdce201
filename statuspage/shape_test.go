package statuspage

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
)

// The keys of Statuspage's documented API v2 objects
// (https://metastatuspage.com/api/v2/): every one must be there, and no
// other, so that widgets and scripts written for Statuspage read ours.
var documented = map[string][]string{
	"page":      {"id", "name", "url", "time_zone", "updated_at"},
	"status":    {"indicator", "description"},
	"component": {"id", "name", "status", "created_at", "updated_at", "position", "description", "showcase", "start_date", "group_id", "page_id", "group", "only_show_if_degraded"},
	"group":     {"id", "name", "status", "created_at", "updated_at", "position", "description", "showcase", "start_date", "group_id", "page_id", "group", "only_show_if_degraded", "components"},
	"incident":  {"id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at", "impact", "shortlink", "started_at", "page_id", "incident_updates", "components"},
	"maintenance": {"id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at", "impact", "shortlink", "started_at", "page_id", "incident_updates", "components",
		"scheduled_for", "scheduled_until"},
	"update": {"id", "status", "body", "incident_id", "created_at", "updated_at", "display_at", "affected_components", "deliver_notifications", "custom_tweet", "tweet_id"},
}

// TestDocumentedShapes checks every object of every API document against
// the documented keys, and the values against the documented words.
func TestDocumentedShapes(t *testing.T) {
	st := openStore(t)
	fillHistory(t, st)
	files, err := build(t, inputs(st)).API()
	if err != nil {
		t.Fatal(err)
	}
	keys := func(where, kind string, v any) map[string]any {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: %s is %T", where, kind, v)
		}
		got := slices.Sorted(maps.Keys(m))
		want := slices.Sorted(slices.Values(documented[kind]))
		if !slices.Equal(got, want) {
			t.Errorf("%s: %s keys %v, want %v", where, kind, got, want)
		}
		return m
	}
	oneOf := func(where, field string, v any, allowed ...string) {
		if s, _ := v.(string); !slices.Contains(allowed, s) {
			t.Errorf("%s: %s %v, want one of %v", where, field, v, allowed)
		}
	}
	states := []string{Operational, DegradedPerformance, PartialOutage, MajorOutage, UnderMaintenance}
	incidents := func(where, kind string, list any) {
		for _, v := range list.([]any) {
			inc := keys(where, kind, v)
			if kind == "maintenance" {
				oneOf(where, "status", inc["status"], Scheduled, InProgress, "verifying", Completed)
			} else {
				oneOf(where, "status", inc["status"], Investigating, Identified, Monitoring, Resolved, "postmortem")
			}
			oneOf(where, "impact", inc["impact"], "none", "minor", "major", "critical", "maintenance")
			for _, u := range inc["incident_updates"].([]any) {
				keys(where, "update", u)
			}
			for _, c := range inc["components"].([]any) {
				keys(where, "component", c)
			}
		}
	}
	for _, name := range APIFiles {
		var doc map[string]any
		if err := json.Unmarshal(files[name], &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		keys(name, "page", doc["page"])
		if s, ok := doc["status"]; ok {
			st := keys(name, "status", s)
			oneOf(name, "indicator", st["indicator"], "none", "minor", "major", "critical", "maintenance")
		}
		if cs, ok := doc["components"]; ok {
			for _, v := range cs.([]any) {
				kind := "component"
				if v.(map[string]any)["group"] == true {
					kind = "group"
				}
				c := keys(name, kind, v)
				oneOf(name, "component status", c["status"], states...)
			}
		}
		if is, ok := doc["incidents"]; ok {
			incidents(name, "incident", is)
		}
		if ms, ok := doc["scheduled_maintenances"]; ok {
			incidents(name, "maintenance", ms)
		}
		if strings.HasSuffix(name, "summary.json") {
			for _, k := range []string{"page", "components", "incidents", "scheduled_maintenances", "status"} {
				if _, ok := doc[k]; !ok {
					t.Errorf("summary.json has no %s", k)
				}
			}
		}
	}
}
