package main

import (
	"testing"
	"time"

	"github.com/monitor-dev/monitor/alerting"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/statuspage"
	"github.com/monitor-dev/monitor/store"
)

// TestPublicStateSeesUpdates: a new update of an incident (a severity
// that lessened: same status, same impact) is a change a visitor sees, so
// the daemon serves the rebuilt page.
func TestPublicStateSeesUpdates(t *testing.T) {
	inc := &statuspage.Incident{ID: "abc", Status: statuspage.Investigating, Impact: statuspage.IndicatorMajor,
		Updates: []statuspage.Update{{ID: "u1"}}}
	before := publicState(&statuspage.Page{Active: []*statuspage.Incident{inc}})
	inc.Updates = append([]statuspage.Update{{ID: "u2"}}, inc.Updates...)
	if after := publicState(&statuspage.Page{Active: []*statuspage.Incident{inc}}); after == before {
		t.Fatalf("a new update leaves the public state %q", after)
	}
}

// TestAuditBehind: the page is looked at again while a firing alert of a
// public component has a severity its audit events do not show yet.
func TestAuditBehind(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	cfg := &config.Config{Checks: []check.Spec{{Name: "api", Component: "API"}, {Name: "private"}}}
	firing := func(name, sev string) alerting.View {
		return alerting.View{ID: "check:" + name, Check: name, Kind: "http", Status: "firing", Severity: sev, StartsAt: t0}
	}
	ev := func(action, name, sev string, at time.Time) store.AuditEvent {
		return store.AuditEvent{At: at, Action: action, Target: "check:" + name, Details: map[string]any{"severity": sev}}
	}
	fired := ev(alerting.ActionAlertFiring, "api", "WARN", t0)
	worse := ev(alerting.ActionAlertSeverityChanged, "api", "CRITICAL", t0.Add(time.Minute))
	for _, tc := range []struct {
		name   string
		alerts []alerting.View
		events []store.AuditEvent
		want   bool
	}{
		{"agree", []alerting.View{firing("api", "WARN")}, []store.AuditEvent{fired}, false},
		{"change not written yet", []alerting.View{firing("api", "CRITICAL")}, []store.AuditEvent{fired}, true},
		{"change written", []alerting.View{firing("api", "CRITICAL")}, []store.AuditEvent{worse, fired}, false},
		{"private check", []alerting.View{firing("private", "CRITICAL")}, []store.AuditEvent{ev(alerting.ActionAlertFiring, "private", "WARN", t0)}, false},
		{"events of an earlier firing", []alerting.View{firing("api", "CRITICAL")},
			[]store.AuditEvent{ev(alerting.ActionAlertFiring, "api", "WARN", t0.Add(-time.Hour))}, false},
		{"no events (store down)", []alerting.View{firing("api", "CRITICAL")}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := auditBehind(cfg, tc.alerts, tc.events); got != tc.want {
				t.Fatalf("auditBehind = %t, want %t", got, tc.want)
			}
		})
	}
}

// The page is looked at every second up to 1,000 checks, less often above
// (a look copies every check's result), and at least every 10 s.
func TestLookEvery(t *testing.T) {
	for n, want := range map[int]time.Duration{0: time.Second, 3: time.Second, 1000: time.Second, 2500: 2500 * time.Millisecond, 10000: 10 * time.Second, 50000: 10 * time.Second} {
		if got := lookEvery(n); got != want {
			t.Errorf("lookEvery(%d) = %v, want %v", n, got, want)
		}
	}
}
