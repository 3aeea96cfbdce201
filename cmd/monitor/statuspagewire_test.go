package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/alerting"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/snapshot"
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

// idleAlertStore is an alerting store with nothing stored, enough for
// an engine that is only observed and read (no Run).
type idleAlertStore struct{ store.AlertStore }

func (idleAlertStore) LoadAlerts(context.Context) ([]store.AlertRow, error) { return nil, nil }
func (idleAlertStore) Silences(context.Context, time.Time) ([]store.Silence, error) {
	return nil, nil
}
func (idleAlertStore) Escalations(context.Context, string, int) ([]store.Escalation, error) {
	return nil, nil
}

// pageDaemon is a daemon with n checks of public components, each with a
// result (failing ones fire alerts), as far as the status page's looks
// need one: a snapshot and an alerting engine.
func pageDaemon(t testing.TB, n, failing int) (*daemon, *config.Config) {
	t.Helper()
	cfg := &config.Config{}
	for i := range n {
		cfg.Checks = append(cfg.Checks, check.Spec{Name: fmt.Sprintf("c%05d", i), Kind: "freshness",
			Interval: time.Hour, Timeout: time.Second, Severity: check.Critical, Component: fmt.Sprintf("Component %d", i%100)})
	}
	d := &daemon{snap: snapshot.New(cfg.Checks, time.Now),
		alerts: alerting.New(alerting.Config{FailureThreshold: 1}, alerting.Options{Store: idleAlertStore{}})}
	if err := d.alerts.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	d.alerts.SetSpecs(cfg.Checks)
	for i, sp := range cfg.Checks {
		st, sev := check.Pass, check.Info
		if i < failing {
			st, sev = check.Fail, check.Critical
		}
		d.record(sp, st, sev)
	}
	return d, cfg
}

// record hands the daemon's snapshot and engine one result, as the hub
// does.
func (d *daemon) record(sp check.Spec, st check.Status, sev check.Severity) {
	eff, ch, _ := d.snap.RecordChange(check.Result{Check: sp.Name, Kind: sp.Kind, Status: st, Severity: sev,
		Message: string(st), CheckedAt: time.Now()})
	d.alerts.Observe(eff, ch)
}

// TestStatusPageLookKey: the cheap key a look compares stays put while
// results say the same again, and moves on what the page is made of: a
// check's status or severity, an alert, a reload, the minute while
// maintenance windows exist.
func TestStatusPageLookKey(t *testing.T) {
	d, cfg := pageDaemon(t, 20, 2)
	now := time.Date(2026, 11, 30, 10, 0, 10, 0, time.UTC)
	k := d.lookKey(cfg, now)
	step := func(what string, cfg *config.Config, now time.Time, do func(), moves bool) {
		t.Helper()
		do()
		got := d.lookKey(cfg, now)
		if (got != k) != moves {
			t.Errorf("%s: look key %+v → %+v, want moved=%t", what, k, got, moves)
		}
		k = got
	}
	pass, fail := cfg.Checks[5], cfg.Checks[0]
	step("the same results again", cfg, now, func() {
		d.record(pass, check.Pass, check.Info)
		d.record(fail, check.Fail, check.Critical)
	}, false)
	step("a check failing", cfg, now, func() { d.record(pass, check.Fail, check.Warn) }, true)
	step("its severity", cfg, now, func() { d.record(pass, check.Fail, check.Critical) }, true)
	step("a check recovering", cfg, now, func() { d.record(fail, check.Pass, check.Info) }, true)
	step("a minute later, no maintenance windows", cfg, now.Add(time.Minute), func() {}, false)
	reloaded := &config.Config{Checks: cfg.Checks, Maintenance: []config.Maintenance{{Checks: []string{"c00000"}}}}
	step("a reload", reloaded, now.Add(time.Minute), func() {}, true)
	step("a minute later, with maintenance windows", reloaded, now.Add(2*time.Minute), func() {}, true)
}

// BenchmarkStatusPageIdleLook: a look at the page of 10,000 checks when
// nothing changed, as it was (copy the results and alerts, hash the
// public ones) and as it is (compare the change counters).
func BenchmarkStatusPageIdleLook(b *testing.B) {
	d, cfg := pageDaemon(b, 10_000, 20)
	cache := statuspage.NewCache()
	now := func() time.Time { return time.Now().UTC() }
	b.Run("copy-and-hash", func(b *testing.B) {
		last := inputState(cfg, d.statusPageInputs(cfg, cache, now), now())
		b.ReportAllocs()
		for b.Loop() {
			if inputState(cfg, d.statusPageInputs(cfg, cache, now), now()) != last {
				b.Fatal("the page's inputs changed")
			}
		}
	})
	b.Run("versions", func(b *testing.B) {
		looked := d.lookKey(cfg, now())
		b.ReportAllocs()
		for b.Loop() {
			if d.lookKey(cfg, now()) != looked {
				b.Fatal("the look key moved")
			}
		}
	})
}
