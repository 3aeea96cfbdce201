package incidents_test

import (
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/incidents"
)

func TestID(t *testing.T) {
	for in, want := range map[string]string{
		"2026-11-21-delayed-analytics":  "2026-11-21-delayed-analytics",
		"Delayed  Analytics (EU)!":      "delayed-analytics-eu",
		"--x--":                         "x",
		"Café crème":                    "caf-cr-me",
		"日本":                            "incident",
		"":                              "incident",
		strings.Repeat("ab-", 40):       strings.TrimSuffix(strings.Repeat("ab-", 21), "-") + "-a",
		strings.Repeat("a", 63) + "-bc": strings.Repeat("a", 63),
	} {
		got := incidents.ID(in)
		if got != want {
			t.Errorf("ID(%q) = %q, want %q", in, got, want)
		}
		if !incidents.ValidID(got) {
			t.Errorf("ID(%q) = %q is not a ValidID", in, got)
		}
	}
	at := time.Date(2026, 11, 21, 11, 0, 30, 0, time.FixedZone("CET", 3600))
	if got, want := incidents.InlineID("Delayed analytics", at), "20261121-1000-delayed-analytics"; got != want {
		t.Errorf("InlineID = %q, want %q", got, want)
	}
	for _, bad := range []string{"", "-a", "a-", "a--b", "A", "a_b", strings.Repeat("a", 65)} {
		if incidents.ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func TestIncidentTimes(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	inc := incidents.Incident{Updates: []incidents.Update{
		{At: t0, Status: incidents.Investigating},
		{At: t0.Add(time.Hour), Status: incidents.Monitoring},
	}}
	if inc.Resolved() || !inc.ResolvedAt().IsZero() || inc.Status() != incidents.Monitoring ||
		!inc.StartedAt().Equal(t0) || !inc.UpdatedAt().Equal(t0.Add(time.Hour)) {
		t.Errorf("open incident: %v %v %v %v %v", inc.Resolved(), inc.ResolvedAt(), inc.Status(), inc.StartedAt(), inc.UpdatedAt())
	}
	inc.Updates = append(inc.Updates, incidents.Update{At: t0.Add(2 * time.Hour), Status: incidents.Resolved})
	if !inc.Resolved() || !inc.ResolvedAt().Equal(t0.Add(2*time.Hour)) {
		t.Errorf("resolved incident: %v %v", inc.Resolved(), inc.ResolvedAt())
	}
}
