package statuspage

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/alerting"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/store"
)

// The severity fixtures: component API of two checks whose names and
// messages are private.
var (
	sevSpecs = []check.Spec{
		{Name: "api_gateway_probe", Kind: "http", Interval: time.Minute, Timeout: 5 * time.Second, Severity: check.Warn, Component: "API"},
		{Name: "api_db_replica_lag", Kind: "db", Interval: time.Minute, Timeout: 5 * time.Second, Severity: check.Critical, Component: "API"},
	}
	sevSecrets = []string{"api_gateway_probe", "api_db_replica_lag", "10.1.2.3", "tok_s3cr3t", "replica lag 94s"}
	sevMsg     = "GET https://10.1.2.3/health?token=tok_s3cr3t: i/o timeout"
	t0         = now.Add(-2 * time.Hour) // fires WARN
	t1         = t0.Add(10 * time.Minute)
	t2         = t0.Add(25 * time.Minute)
	t3         = t0.Add(40 * time.Minute)
)

func firingEv(at time.Time, target string, sev check.Severity) store.AuditEvent {
	return store.AuditEvent{At: at, Actor: "system", Action: alerting.ActionAlertFiring, Target: target,
		Details: map[string]any{"severity": string(sev), "summary": sevMsg}}
}

func changedEv(at time.Time, target string, sev, prev check.Severity) store.AuditEvent {
	return store.AuditEvent{At: at, Actor: "system", Action: alerting.ActionAlertSeverityChanged, Target: target,
		Details: map[string]any{"severity": string(sev), "previous": string(prev)}}
}

func resolvedEv(at time.Time, target string, sev check.Severity, d time.Duration) store.AuditEvent {
	return store.AuditEvent{At: at, Actor: "system", Action: alerting.ActionAlertResolved, Target: target,
		Details: map[string]any{"severity": string(sev), "duration": d.String()}}
}

func sevInputs(alerts []alerting.View, events []store.AuditEvent, results []check.Result) Inputs {
	return Inputs{Specs: sevSpecs, Alerts: alerts, AlertEvents: events, Results: results, Now: clock}
}

// updates is an incident's updates in one line each: status, time, the
// first words of the body.
func updates(inc *Incident) []string {
	var out []string
	for _, u := range inc.Updates {
		out = append(out, u.Status+" "+u.CreatedAt.Format("15:04")+" "+u.Body)
	}
	return out
}

// onlyIncident is the one automatic incident of the page.
func onlyIncident(t *testing.T, p *Page) *Incident {
	t.Helper()
	all := append(slices.Clone(p.Active), p.Recent...)
	if len(all) != 1 {
		t.Fatalf("%d incidents (%d active), want 1", len(all), len(p.Active))
	}
	return all[0]
}

// TestSeverityUpdates: an alert that fires WARN, worsens to CRITICAL,
// lessens to WARN and resolves makes one incident with an update at each
// step, newest first, dated by the audit trail; its impact is the highest
// reached (major) and its title says so. The same comes out whether the
// engine still has the alert (recently resolved) or only the audit trail
// does, and whether its alert.firing was read or is older than the events
// read (the changes then start from their previous severity).
func TestSeverityUpdates(t *testing.T) {
	const id = "check:api_gateway_probe"
	events := []store.AuditEvent{firingEv(t0, id, check.Warn), changedEv(t1, id, check.Critical, check.Warn),
		changedEv(t2, id, check.Warn, check.Critical), resolvedEv(t3, id, check.Warn, t3.Sub(t0))}
	end := t3
	live := alerting.View{ID: id, Check: "api_gateway_probe", Kind: "http", Status: "resolved", Severity: "WARN",
		Summary: sevMsg, StartsAt: t0, EndsAt: &end}
	want := []string{
		"resolved 09:10 API is operating normally again. This incident has been resolved.",
		"investigating 08:55 The problem has lessened to degraded performance affecting API. We are still investigating.",
		"investigating 08:40 The problem has worsened: we are now investigating a partial outage affecting API.",
		"investigating 08:30 We are investigating degraded performance affecting API.",
	}
	for _, tc := range []struct {
		name   string
		alerts []alerting.View
		events []store.AuditEvent
	}{
		{"engine and audit trail", []alerting.View{live}, events},
		{"audit trail only", nil, events},
		{"firing not read", []alerting.View{live}, events[1:]},
		{"firing not read, engine forgot", nil, events[1:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc := onlyIncident(t, build(t, sevInputs(tc.alerts, tc.events, nil)))
			if inc.Impact != IndicatorMajor || inc.Name != "Partial outage of API" || inc.Status != Resolved {
				t.Errorf("incident %q impact %s status %s, want Partial outage of API, major, resolved", inc.Name, inc.Impact, inc.Status)
			}
			if !inc.StartedAt.Equal(t0) || !inc.ResolvedAt.Equal(t3) || !inc.UpdatedAt.Equal(t3) {
				t.Errorf("started %s resolved %s updated %s", inc.StartedAt, inc.ResolvedAt, inc.UpdatedAt)
			}
			if got := updates(inc); !slices.Equal(got, want) {
				t.Fatalf("updates:\n got %q\nwant %q", got, want)
			}
			ids := map[string]bool{}
			for _, u := range inc.Updates {
				ids[u.ID] = true
			}
			if len(ids) != len(want) {
				t.Errorf("update ids not distinct: %v", ids)
			}
		})
	}
}

// TestSeverityUpdatesWhileFiring: while the alert fires, the engine's
// current severity counts in the impact at once, but an update comes only
// with its audit event (no invented time); an update keeps its id when
// later ones come; and a component in a major outage is worded so.
func TestSeverityUpdatesWhileFiring(t *testing.T) {
	const id = "check:api_gateway_probe"
	live := alerting.View{ID: id, Check: "api_gateway_probe", Kind: "http", Status: "firing", Severity: "CRITICAL",
		Summary: sevMsg, StartsAt: t0}
	failing := []check.Result{res("api_gateway_probe", check.Fail, check.Critical), pass("api_db_replica_lag")}

	// The change is not in the audit trail yet.
	inc := onlyIncident(t, build(t, sevInputs([]alerting.View{live}, []store.AuditEvent{firingEv(t0, id, check.Warn)}, failing)))
	if inc.Impact != IndicatorMajor || inc.Name != "Partial outage of API" || len(inc.Updates) != 1 {
		t.Fatalf("before the audit event: %q %s %q, want Partial outage of API, major, one update", inc.Name, inc.Impact, updates(inc))
	}

	events := []store.AuditEvent{firingEv(t0, id, check.Warn), changedEv(t1, id, check.Critical, check.Warn)}
	inc = onlyIncident(t, build(t, sevInputs([]alerting.View{live}, events, failing)))
	want := []string{
		"investigating 08:40 The problem has worsened: we are now investigating a partial outage affecting API.",
		"investigating 08:30 We are investigating degraded performance affecting API.",
	}
	if got := updates(inc); !slices.Equal(got, want) || inc.Status != Investigating || !inc.UpdatedAt.Equal(t1) {
		t.Fatalf("worsened: %s updated %s\n got %q\nwant %q", inc.Status, inc.UpdatedAt, got, want)
	}
	worsened := inc.Updates[0].ID

	// Both checks fail CRITICAL: a major outage, worded so while it lasts.
	all := []check.Result{res("api_gateway_probe", check.Fail, check.Critical), res("api_db_replica_lag", check.Fail, check.Critical)}
	inc = onlyIncident(t, build(t, sevInputs([]alerting.View{live}, events, all)))
	if inc.Impact != IndicatorCritical || inc.Name != "Major outage of API" ||
		inc.Updates[0].Body != "The problem has worsened: we are now investigating a major outage affecting API." {
		t.Fatalf("major outage: %q %s %q", inc.Name, inc.Impact, updates(inc))
	}

	// Back to WARN: the impact stays the highest reached.
	live.Severity = "WARN"
	events = append(events, changedEv(t2, id, check.Warn, check.Critical))
	inc = onlyIncident(t, build(t, sevInputs([]alerting.View{live}, events, []check.Result{res("api_gateway_probe", check.Fail, check.Warn)})))
	if inc.Impact != IndicatorMajor || inc.Name != "Partial outage of API" || len(inc.Updates) != 3 ||
		inc.Updates[0].Body != "The problem has lessened to degraded performance affecting API. We are still investigating." ||
		!inc.Updates[0].CreatedAt.Equal(t2) || inc.Updates[1].ID != worsened {
		t.Fatalf("lessened: %q %s %q", inc.Name, inc.Impact, updates(inc))
	}
}

// TestSeverityUpdatesTwoAlerts: the incident's level is the highest of
// its component's firing alerts: a second alert firing CRITICAL while the
// first fires WARN worsens it, its resolution lessens it.
func TestSeverityUpdatesTwoAlerts(t *testing.T) {
	a, b := "check:api_gateway_probe", "check:api_db_replica_lag"
	events := []store.AuditEvent{firingEv(t0, a, check.Warn), firingEv(t1, b, check.Critical),
		resolvedEv(t2, b, check.Critical, t2.Sub(t1)), resolvedEv(t3, a, check.Warn, t3.Sub(t0))}
	inc := onlyIncident(t, build(t, sevInputs(nil, events, nil)))
	want := []string{
		"resolved 09:10 API is operating normally again. This incident has been resolved.",
		"investigating 08:55 The problem has lessened to degraded performance affecting API. We are still investigating.",
		"investigating 08:40 The problem has worsened: we are now investigating a partial outage affecting API.",
		"investigating 08:30 We are investigating degraded performance affecting API.",
	}
	if got := updates(inc); !slices.Equal(got, want) || inc.Impact != IndicatorMajor {
		t.Fatalf("impact %s updates:\n got %q\nwant %q", inc.Impact, got, want)
	}
}

// TestSeverityUpdatesBounded: a severity that keeps changing makes at
// most MaxUpdates updates, the newest kept.
func TestSeverityUpdatesBounded(t *testing.T) {
	const id = "check:api_gateway_probe"
	events := []store.AuditEvent{firingEv(t0, id, check.Warn)}
	prev := check.Warn
	for i := range 100 {
		sev := map[check.Severity]check.Severity{check.Warn: check.Critical, check.Critical: check.Warn}[prev]
		events = append(events, changedEv(t0.Add(time.Duration(i+1)*time.Minute), id, sev, prev))
		prev = sev
	}
	live := alerting.View{ID: id, Check: "api_gateway_probe", Kind: "http", Status: "firing", Severity: string(prev), StartsAt: t0}
	inc := onlyIncident(t, build(t, sevInputs([]alerting.View{live}, events, nil)))
	if len(inc.Updates) != MaxUpdates-1 || !inc.Updates[0].CreatedAt.Equal(t0.Add(100*time.Minute)) ||
		!inc.Updates[len(inc.Updates)-1].CreatedAt.Equal(t0) {
		t.Fatalf("%d updates from %s to %s", len(inc.Updates), inc.Updates[len(inc.Updates)-1].CreatedAt, inc.Updates[0].CreatedAt)
	}
}

// TestSeverityLeak: the leak test's reasoning for severity updates: the
// audit events and alerts carry check names and messages (a URL with a
// token, an address); no file of the site built from them contains any,
// and the updates' words are there.
func TestSeverityLeak(t *testing.T) {
	a, b := "check:api_gateway_probe", "check:api_db_replica_lag"
	events := []store.AuditEvent{firingEv(t0, a, check.Warn), changedEv(t1, a, check.Critical, check.Warn),
		changedEv(t2, a, check.Warn, check.Critical), firingEv(t3, b, check.Critical)}
	events[3].Details["summary"] = "replica lag 94s"
	alerts := []alerting.View{
		{ID: a, Check: "api_gateway_probe", Kind: "http", Status: "firing", Severity: "WARN", Summary: sevMsg, StartsAt: t0},
		{ID: b, Check: "api_db_replica_lag", Kind: "db", Status: "firing", Severity: "CRITICAL", Summary: "replica lag 94s", StartsAt: t3},
	}
	results := []check.Result{
		{Check: "api_gateway_probe", Kind: "http", Status: check.Fail, Severity: check.Warn, Message: sevMsg, CheckedAt: now},
		{Check: "api_db_replica_lag", Kind: "db", Status: check.Fail, Severity: check.Critical, Message: "replica lag 94s", CheckedAt: now},
	}
	p := build(t, sevInputs(alerts, events, results))
	files, err := p.Files()
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for name, body := range files {
		text := strings.ToLower(string(body))
		for _, s := range sevSecrets {
			if strings.Contains(text, strings.ToLower(s)) {
				t.Errorf("%s contains %q", name, s)
			}
		}
		all.Write(body)
	}
	for _, want := range []string{"The problem has worsened", "The problem has lessened", "Partial outage of API"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("no file says %q", want)
		}
	}
}
