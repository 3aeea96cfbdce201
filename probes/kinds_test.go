package probes

import (
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// Every kind of the registry brings its probe and keys, and what it means
// outside the probe reaches package check.
func TestKindsRegistry(t *testing.T) {
	for _, k := range Kinds() {
		if k.Probe == nil || len(k.Keys) == 0 {
			t.Errorf("kind %q: probe or keys missing", k.Name)
		}
		if fn, ok := Probe(k.Name); !ok || fn == nil {
			t.Errorf("Probe(%q) not found", k.Name)
		}
	}
	if _, ok := Probe("nope"); ok {
		t.Error("Probe(nope) found")
	}
	sp := func(kind check.Kind) check.Spec {
		return check.Spec{Name: "c", Kind: kind, Interval: time.Minute, Timeout: time.Second,
			Config: FreshnessConfig{MaxAge: time.Minute}}
	}
	if r := sp(KindDB).TimeoutResult(time.Second); r.Status != check.Fail || r.Message != "timed out after 1s" {
		t.Errorf("db timeout = %s %q, want FAIL", r.Status, r.Message)
	}
	if r := sp(KindFreshness).TimeoutResult(time.Second); r.Status != check.Unknown {
		t.Errorf("freshness timeout = %s, want UNKNOWN", r.Status)
	}
	if got := KindDB.ComponentType(); got != "datastore" {
		t.Errorf("db componentType = %q", got)
	}
	if got := KindLink.ComponentType(); got != "component" {
		t.Errorf("link componentType = %q", got)
	}
	if got := sp(KindLink).RunTimeout(); got != time.Minute {
		t.Errorf("link run timeout = %s, want the interval", got)
	}
	late := check.Result{Status: check.Fail, ObservedValue: check.Value(90)}
	if sp(KindFreshness).Within(late) {
		t.Error("freshness 90s old with max_age 1m counted within the SLA")
	}
	crit := sp(KindFreshness)
	crit.Config = FreshnessConfig{MaxAge: time.Minute, CriticalAge: 2 * time.Minute}
	if !crit.Within(late) {
		t.Error("freshness 90s old with critical_age 2m counted outside the SLA")
	}
	if sp(KindDB).Within(late) {
		t.Error("a db FAIL counted within the SLA")
	}
}
