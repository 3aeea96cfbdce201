package alerting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/hub"
	"github.com/monitor-dev/monitor/metrics"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/snapshot"
	"github.com/monitor-dev/monitor/store"
)

func cfgWith(routes ...Route) Config {
	c := testConfig()
	c.Routes = routes
	return c
}

func TestFiresOnceResolvesOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, cfgWith(catchAll), []check.Spec{spec("db", check.Critical, "")}, Options{})
		r.fail("db")
		r.wait(time.Second)
		r.expect()
		if v := r.view("check:db"); v.Status != StatusPending {
			t.Fatalf("after one failure: %s, want pending", v.Status)
		}
		r.fail("db")
		r.wait(time.Second)
		r.expect("oncall firing check:db=firing")
		for range 5 {
			r.fail("db")
			r.wait(time.Minute)
		}
		r.expect("oncall firing check:db=firing")
		r.pass("db")
		r.wait(time.Second)
		r.expect("oncall firing check:db=firing", "oncall resolved check:db=resolved")
		ns := r.st.sent(t)
		got := ns[1].Alerts[0]
		if got.EndsAt == nil || got.EndsAt.Sub(got.StartsAt) < 5*time.Minute || got.EndsAt.Sub(got.StartsAt) > 6*time.Minute {
			t.Fatalf("resolution %s..%v: want the 5m2s outage", got.StartsAt, got.EndsAt)
		}
		if got.Result == nil || got.Result.Status != check.Pass || got.Severity != check.Critical {
			t.Fatalf("resolved alert carries %+v", got)
		}
		if !slices.Equal(r.st.actions(), []string{"alert.firing check:db by system", "alert.resolved check:db by system"}) {
			t.Fatalf("audit trail %q", r.st.actions())
		}
		if r.wakes == 0 {
			t.Fatal("the dispatcher was never woken")
		}
		if v := r.view("check:db"); v.Status != "resolved" || v.EndsAt == nil {
			t.Fatalf("view after resolution: %+v", v)
		}
		r.wait(ResolvedRetention)
		for _, v := range r.e.Alerts() {
			t.Fatalf("resolved alert still shown after the retention: %+v", v)
		}
	})
}

// TestStorm: 300 checks of one component fail at once; with group_by
// [component] each receiver gets one notification listing them all.
func TestStorm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := cfgWith(Route{Match: Match{Severity: check.Critical}, Receivers: []string{"oncall", "chat"},
			GroupBy: []string{LabelComponent}, GroupWait: 30 * time.Second, GroupInterval: 5 * time.Minute})
		var specs []check.Spec
		var names []string
		for i := range 300 {
			n := fmt.Sprintf("c%03d", i)
			specs = append(specs, spec(n, check.Critical, "Usage"))
			names = append(names, n)
		}
		specs = append(specs, spec("other", check.Critical, "Redirects"))
		r := newRig(t, cfg, specs, Options{})
		for range 2 {
			for _, n := range names {
				r.fail(n)
				time.Sleep(10 * time.Millisecond) // a storm over 3 s, over several ticks
			}
		}
		r.fail("other")
		r.wait(time.Second)
		r.fail("other")
		r.wait(time.Second)
		r.expect() // group_wait
		r.wait(30 * time.Second)
		ns := r.st.sent(t)
		var usage []receiver.Notification
		for _, n := range ns {
			if strings.Contains(n.GroupKey, "Usage") {
				usage = append(usage, n)
			}
		}
		if len(ns) != 4 || len(usage) != 2 {
			t.Fatalf("%d notifications (%d for Usage), want 2 per receiver: one per group", len(ns), len(usage))
		}
		for _, n := range usage {
			if n.Status != receiver.StatusFiring || len(n.Alerts) != 300 || n.GroupKey != routeIDs(cfg.Routes)[0]+`:{component="Usage"}` {
				t.Fatalf("%s: %s with %d alerts, group %s", n.Receiver, n.Status, len(n.Alerts), n.GroupKey)
			}
		}
		if usage[0].ID == usage[1].ID || usage[0].Receiver == usage[1].Receiver {
			t.Fatal("the receivers share a notification id")
		}
		// One more fails later: it waits group_interval, and the group's
		// notification lists the whole group again.
		r.fail("c000", "c001")
		r.e.SetSpecs(append(specs, spec("late", check.Critical, "Usage")))
		r.specs["late"] = spec("late", check.Critical, "Usage")
		r.fail("late")
		r.fail("late")
		r.wait(time.Minute)
		if n := len(r.st.sent(t)); n != 4 {
			t.Fatalf("%d notifications before group_interval, want 4", n)
		}
		r.wait(4 * time.Minute)
		ns = r.st.sent(t)
		if len(ns) != 6 || len(ns[4].Alerts) != 301 {
			t.Fatalf("after group_interval: %d notifications, the last with %d alerts; want 6, 301", len(ns), len(ns[len(ns)-1].Alerts))
		}
	})
}

func TestNotificationSizeBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := cfgWith(Route{Receivers: []string{"oncall"}, GroupBy: []string{LabelKind}, GroupWait: time.Minute})
		var specs []check.Spec
		for i := range MaxNotificationAlerts + 5 {
			specs = append(specs, spec(fmt.Sprintf("c%04d", i), check.Warn, ""))
		}
		r := newRig(t, cfg, specs, Options{})
		for range 2 {
			for _, sp := range specs {
				r.fail(sp.Name)
			}
		}
		r.wait(time.Minute)
		ns := r.st.sent(t)
		if len(ns) != 1 || len(ns[0].Alerts) != MaxNotificationAlerts || ns[0].TruncatedAlerts != 5 {
			t.Fatalf("%d notifications, first with %d alerts and %d truncated", len(ns), len(ns[0].Alerts), ns[0].TruncatedAlerts)
		}
	})
}

func TestRoutesSeverityAndUnknown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := cfgWith(
			Route{Match: Match{Severity: check.Critical}, Receivers: []string{"pager"}, Continue: true},
			Route{Match: Match{Check: "fresh_*"}, Receivers: []string{"chat"}, Unknown: UnknownFire},
		)
		r := newRig(t, cfg, []check.Spec{spec("fresh_a", check.Warn, ""), spec("db", check.Warn, "")}, Options{})
		// fresh_a: UNKNOWN counts as a failure on its route.
		r.result("fresh_a", check.Unknown, check.Warn)
		r.result("fresh_a", check.Unknown, check.Warn)
		// db: WARN matches no route (pager is CRITICAL and up).
		r.fail("db")
		r.fail("db")
		r.wait(time.Second)
		r.expect("chat firing check:fresh_a=firing")
		if v := r.view("check:db"); v.Status != "firing" || len(v.Receivers) != 0 {
			t.Fatalf("db: %+v, want firing to no receiver", v)
		}
		// fresh_a escalates to CRITICAL: the pager route takes it too
		// (continue), and the chat hears of the severity change.
		r.result("fresh_a", check.Fail, check.Critical)
		r.wait(time.Second)
		r.expect("chat firing check:fresh_a=firing", "pager firing/severity check:fresh_a=firing",
			"chat firing/severity check:fresh_a=firing")
		// (groups flush in key order: route 0's first)
		// Back to WARN: the pager route keeps it (peak severity) and hears
		// the de-escalation and the resolution.
		r.result("fresh_a", check.Fail, check.Warn)
		r.wait(time.Second)
		if v := r.view("check:fresh_a"); !slices.Equal(v.Receivers, []string{"pager", "chat"}) {
			t.Fatalf("receivers %q", v.Receivers)
		}
		r.pass("fresh_a")
		r.wait(time.Second)
		got := summaries(r.st.sent(t))[3:]
		slices.Sort(got)
		want := []string{"chat firing/severity check:fresh_a=firing", "chat resolved check:fresh_a=resolved",
			"pager firing/severity check:fresh_a=firing", "pager resolved check:fresh_a=resolved"}
		if !slices.Equal(got, want) {
			t.Fatalf("after de-escalation and resolution:\n got %q\nwant %q", got, want)
		}
	})
}

func TestUnknownKeepsByDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, cfgWith(catchAll), []check.Spec{spec("db", check.Warn, "")}, Options{})
		for range 10 {
			r.result("db", check.Unknown, check.Warn)
		}
		r.wait(time.Second)
		r.expect()
		r.fail("db")
		r.fail("db")
		r.wait(time.Second)
		for range 10 {
			r.result("db", check.Unknown, check.Warn)
		}
		r.wait(time.Second)
		r.expect("oncall firing check:db=firing")
	})
}

func TestInhibition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := cfgWith(Route{Receivers: []string{"oncall"}, Unknown: UnknownFire})
		r := newRig(t, cfg, []check.Spec{spec("db", check.Critical, ""), spec("fresh", check.Warn, "", "db")}, Options{})
		r.fail("db")
		r.fail("db")
		r.wait(time.Second)
		// The hub turns the child's results into UNKNOWN "parent failing":
		// never a page, even where UNKNOWN counts as a failure.
		for range 3 {
			r.e.Observe(check.Result{Check: "fresh", Kind: "db", Status: check.Unknown, Severity: check.Warn,
				Reason: check.ReasonParentFailing, Message: "parent db failing"}, hubChange(r.specs["fresh"]))
		}
		// Its own failures while the parent fires: firing, inhibited.
		r.fail("fresh")
		r.fail("fresh")
		r.wait(time.Second)
		r.expect("oncall firing check:db=firing")
		if v := r.view("check:fresh"); v.Status != "firing" || !slices.Equal(v.InhibitedBy, []string{"check:db"}) {
			t.Fatalf("child: %+v, want firing and inhibited by check:db", v)
		}
		// The parent recovers, the child still fails: it fires once.
		r.pass("db")
		r.fail("fresh")
		r.wait(time.Second)
		r.expect("oncall firing check:db=firing", "oncall resolved check:db=resolved", "oncall firing check:fresh=firing")
		if v := r.view("check:fresh"); len(v.InhibitedBy) != 0 {
			t.Fatalf("still inhibited: %+v", v)
		}
	})
}

func TestMaintenanceEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		end := start.Add(10 * time.Minute)
		in := func(name string, at time.Time) bool {
			return (name == "links" || name == "page") && at.Before(end)
		}
		r := newRig(t, cfgWith(catchAll), []check.Spec{spec("links", check.Warn, ""), spec("page", check.Warn, "")},
			Options{InMaintenance: in})
		r.fail("links", "page")
		r.fail("links", "page")
		r.wait(time.Minute)
		if v := r.view("check:links"); v.Status != "firing" || !v.Maintenance {
			t.Fatalf("in the window: %+v, want firing in maintenance", v)
		}
		r.pass("page") // recovers inside the window: never a page
		r.wait(9 * time.Minute)
		r.expect("oncall firing check:links=firing") // still failing at the end: fires once
		r.wait(time.Hour)
		r.expect("oncall firing check:links=firing")
	})
}

// TestMaintenanceFromHub: without Options.InMaintenance the engine takes
// the window from the hub's Change.Maintenance; a result after the window
// fires a still-failing check at once.
func TestMaintenanceFromHub(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, cfgWith(catchAll), []check.Spec{spec("db", check.Warn, "")}, Options{})
		sp := r.specs["db"]
		res := check.Result{Check: "db", Kind: "db", Status: check.Fail, Severity: check.Warn, Message: "down"}
		for range 3 {
			r.e.Observe(res, hub.Change{Spec: sp, Maintenance: true})
		}
		r.wait(time.Hour)
		r.expect()
		if v := r.view("check:db"); !v.Maintenance || v.Status != "firing" {
			t.Fatalf("in maintenance: %+v", v)
		}
		r.e.Observe(res, hub.Change{Spec: sp})
		r.wait(time.Second)
		r.expect("oncall firing check:db=firing")
	})
}

// TestInhibitedWhileWaiting: a child whose firing waits in its group when
// the parent fires is not told after all.
func TestInhibitedWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := cfgWith(Route{Receivers: []string{"oncall"}, GroupWait: 30 * time.Second})
		r := newRig(t, cfg, []check.Spec{spec("db", check.Critical, ""), spec("fresh", check.Warn, "", "db")}, Options{})
		r.fail("fresh", "fresh")
		r.wait(5 * time.Second)
		r.fail("db", "db")
		r.wait(time.Minute)
		r.expect("oncall firing check:db=firing")
		r.pass("db")
		r.wait(time.Minute)
		r.expect("oncall firing check:db=firing", "oncall resolved check:db=resolved", "oncall firing check:fresh=firing")
	})
}

func TestSilence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, cfgWith(catchAll), []check.Spec{spec("targeting_a", check.Warn, ""),
			spec("targeting_b", check.Warn, ""), spec("db", check.Warn, "")}, Options{})
		ctx := context.Background()
		if _, err := r.e.AddSilence(ctx, store.Silence{Matchers: map[string]string{"check": "targeting_["}, EndsAt: time.Now().Add(time.Hour)}, "ops"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("malformed glob: %v", err)
		}
		if _, err := r.e.AddSilence(ctx, store.Silence{Matchers: map[string]string{"check": "x"}, EndsAt: time.Now().Add(-time.Second)}, "ops"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("ended silence: %v", err)
		}
		s, err := r.e.AddSilence(ctx, store.Silence{Matchers: map[string]string{"check": "targeting_*"},
			EndsAt: time.Now().Add(time.Hour), Comment: "deploy"}, "ops")
		if err != nil {
			t.Fatal(err)
		}
		if got := r.e.Silences(); len(got) != 1 || got[0].ID != s.ID || got[0].CreatedBy != "ops" {
			t.Fatalf("silences %+v", got)
		}
		r.fail("targeting_a", "targeting_b", "db")
		r.fail("targeting_a", "targeting_b", "db")
		r.wait(time.Second)
		r.expect("oncall firing check:db=firing")
		if v := r.view("check:targeting_a"); !v.Silenced || v.Status != "firing" {
			t.Fatalf("silenced alert shows %+v", v)
		}
		r.pass("targeting_b") // recovers under the silence: silent
		r.wait(time.Minute)
		if err := r.e.ExpireSilence(ctx, s.ID, "ops"); err != nil {
			t.Fatal(err)
		}
		if err := r.e.ExpireSilence(ctx, s.ID, "ops"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expiring twice: %v", err)
		}
		r.wait(time.Second)
		r.expect("oncall firing check:db=firing", "oncall firing check:targeting_a=firing")
		want := []string{"silence.created " + s.ID + " by ops", "silence.expired " + s.ID + " by ops"}
		var got []string
		for _, a := range r.st.actions() {
			if strings.HasPrefix(a, "silence.") {
				got = append(got, a)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("audit %q, want %q", got, want)
		}
	})
}

func TestSilenceEndsByItself(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, cfgWith(catchAll), []check.Spec{spec("db", check.Warn, "")}, Options{})
		if _, err := r.e.AddSilence(context.Background(), store.Silence{Matchers: map[string]string{"severity": "WARN"},
			EndsAt: time.Now().Add(10 * time.Minute)}, "ops"); err != nil {
			t.Fatal(err)
		}
		r.fail("db")
		r.fail("db")
		r.wait(9 * time.Minute)
		r.expect()
		r.wait(time.Minute)
		r.expect("oncall firing check:db=firing")
		if len(r.e.Silences()) != 0 {
			t.Fatal("an ended silence is still listed")
		}
	})
}

func TestFlappingThroughEngine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := flappingRig(t)
		r.expect("oncall firing check:db=firing", "oncall resolved check:db=resolved",
			"oncall firing check:db=firing", "oncall resolved check:db=resolved",
			"oncall firing/flapping check:db=firing")
		if v := r.view("check:db"); !v.Flapping {
			t.Fatalf("not shown flapping: %+v", v)
		}
		r.wait(30 * time.Minute) // stable, resolved: the resolution
		r.expect("oncall firing check:db=firing", "oncall resolved check:db=resolved",
			"oncall firing check:db=firing", "oncall resolved check:db=resolved",
			"oncall firing/flapping check:db=firing", "oncall resolved check:db=resolved")
	})
}

func TestSLOBurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := cfgWith(Route{Match: Match{Severity: check.Critical}, Receivers: []string{"pager"}},
			Route{Match: Match{Kind: KindSLOBurn}, Receivers: []string{"tickets"}})
		r := newRig(t, cfg, []check.Spec{spec("api", check.Warn, "API")}, Options{})
		alerts := sla.BurnAlertsFor(30 * 24 * time.Hour)
		page := sla.Signal{Check: "api", Alert: alerts[0], LongBurn: 20, ShortBurn: 30, Firing: true}
		ticket := sla.Signal{Check: "api", Alert: alerts[2], LongBurn: 4, ShortBurn: 5, Firing: true}
		quiet := sla.Signal{Check: "api", Alert: alerts[1], LongBurn: 2, ShortBurn: 2}
		r.e.SLOSignals([]sla.Signal{page, ticket, quiet})
		r.wait(time.Second)
		r.expect("pager firing slo:api:1h/5m=firing", "tickets firing slo:api:1d/2h=firing")
		ns := r.st.sent(t)
		a := ns[0].Alerts[0]
		if a.Kind != KindSLOBurn || a.Severity != check.Critical || a.Labels["component"] != "API" ||
			!strings.Contains(a.Summary, "20.0x over 1h") {
			t.Fatalf("page alert %+v", a)
		}
		if ns[1].Alerts[0].Severity != check.Warn {
			t.Fatalf("ticket severity %s, want WARN", ns[1].Alerts[0].Severity)
		}
		r.e.SLOSignals([]sla.Signal{page, ticket}) // still firing: nothing new
		r.wait(time.Second)
		stopped := page
		stopped.Firing = false
		r.e.SLOSignals([]sla.Signal{stopped, ticket, quiet}) // the page condition stops
		r.wait(time.Second)
		r.expect("pager firing slo:api:1h/5m=firing", "tickets firing slo:api:1d/2h=firing",
			"pager resolved slo:api:1h/5m=resolved")
		// The evaluation fails (no signal of the SLO): the ticket keeps
		// firing through a short store outage, and resolves after the grace.
		r.e.SLOSignals(nil)
		r.wait(10 * time.Minute)
		r.e.SLOSignals(nil)
		r.wait(time.Second)
		if v := r.view("slo:api:1d/2h"); v.Status != "firing" {
			t.Fatalf("ticket after 10m without signals: %+v", v)
		}
		r.wait(5 * time.Minute)
		r.e.SLOSignals(nil)
		r.wait(time.Second)
		r.expect("pager firing slo:api:1h/5m=firing", "tickets firing slo:api:1d/2h=firing",
			"pager resolved slo:api:1h/5m=resolved", "tickets resolved slo:api:1d/2h=resolved")
	})
}

func TestEscalation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := cfgWith(Route{Match: Match{Kind: KindEscalation, Handle: "acme"}, Receivers: []string{"acme_owner", "oncall"}})
		r := newRig(t, cfg, nil, Options{})
		ctx := context.Background()
		_, err := r.e.Escalate(ctx, store.Escalation{Handle: "acme", Severity: "URGENT", Summary: "x"}, "ops")
		var ie *InvalidError
		if !errors.As(err, &ie) || ie.Field != "severity" || ie.Code != "invalid_severity" {
			t.Fatalf("unknown severity: %v", err)
		}
		if _, err := r.e.Escalate(ctx, store.Escalation{Severity: "LOW", Summary: "x"}, "ops"); !errors.As(err, &ie) || ie.Field != "handle" {
			t.Fatalf("no handle: %v", err)
		}
		esc, err := r.e.Escalate(ctx, store.Escalation{Handle: "acme", Severity: "high", Summary: "Links broken", Details: "All of them"}, "ops")
		if err != nil {
			t.Fatal(err)
		}
		if esc.ID == "" || esc.Status != EscalationOpen || esc.CreatedBy != "ops" || esc.Severity != "HIGH" || esc.CreatedAt.IsZero() {
			t.Fatalf("escalation %+v", esc)
		}
		r.wait(time.Second)
		id := "escalation:" + esc.ID
		r.expect("acme_owner firing "+id+"=firing", "oncall firing "+id+"=firing")
		a := r.st.sent(t)[0].Alerts[0]
		if a.Kind != KindEscalation || a.Severity != check.Critical || a.Labels["handle"] != "acme" ||
			a.Summary != "Links broken" || a.Details != "All of them" {
			t.Fatalf("escalation alert %+v", a)
		}
		if got := r.e.OpenEscalations(); len(got) != 1 || got[0].ID != esc.ID {
			t.Fatalf("open escalations %+v", got)
		}
		if _, err := r.e.ResolveEscalation(ctx, "nope", "ops"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown id: %v", err)
		}
		res, err := r.e.ResolveEscalation(ctx, esc.ID, "lead")
		if err != nil || res.Status != EscalationResolved || res.ResolvedBy != "lead" {
			t.Fatalf("resolve: %+v %v", res, err)
		}
		again, err := r.e.ResolveEscalation(ctx, esc.ID, "other")
		if err != nil || again.ResolvedBy != "lead" || !again.ResolvedAt.Equal(res.ResolvedAt) {
			t.Fatalf("resolving twice: %+v %v, want the first resolution unchanged", again, err)
		}
		r.wait(time.Second)
		r.expect("acme_owner firing "+id+"=firing", "oncall firing "+id+"=firing",
			"acme_owner resolved "+id+"=resolved", "oncall resolved "+id+"=resolved")
		want := []string{"escalation.created " + esc.ID + " by ops", "alert.firing " + id + " by system",
			"escalation.resolved " + esc.ID + " by lead", "alert.resolved " + id + " by system"}
		if got := r.st.actions(); !slices.Equal(got, want) {
			t.Fatalf("audit\n got %q\nwant %q", got, want)
		}
	})
}

// TestStoreDown: while the store refuses commits, nothing is lost; the
// notifications are written when it is back.
func TestStoreDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, cfgWith(catchAll), []check.Spec{spec("db", check.Warn, "")}, Options{})
		r.st.setDown(true)
		r.fail("db")
		r.fail("db")
		r.wait(time.Minute)
		r.pass("db")
		r.wait(time.Minute)
		r.st.setDown(false)
		r.expect()
		r.wait(time.Second)
		r.expect("oncall firing check:db=firing", "oncall resolved check:db=resolved")
		if got := r.st.actions(); len(got) != 2 {
			t.Fatalf("audit after the outage: %q", got)
		}
	})
}

func TestCollector(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, cfgWith(catchAll), []check.Spec{spec("db", check.Critical, ""), spec("web", check.Warn, "")}, Options{})
		r.fail("db")
		r.fail("db")
		if _, err := r.e.Escalate(context.Background(), store.Escalation{Handle: "acme", Severity: "MEDIUM", Summary: "s"}, "ops"); err != nil {
			t.Fatal(err)
		}
		r.e.SLOSignals([]sla.Signal{{Check: "db", Alert: sla.BurnAlerts[0], Firing: true}})
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(r.e.Collector())
		// monitor_alerts_firing is written by the check series of the
		// metrics package, from the engine, as the daemon wires them.
		specs := []check.Spec{r.specs["db"], r.specs["web"]}
		m := metrics.New(snapshot.New(specs, time.Now))
		m.SetChecks(specs)
		m.SetFiring(r.e)
		g := prometheus.Gatherers{reg, m}
		problems, err := testutil.GatherAndLint(g)
		if err != nil || len(problems) > 0 {
			t.Fatalf("lint: %v %+v", err, problems)
		}
		want := `
# HELP monitor_alerts_firing Alerts firing, by check and severity: the check's own alert and its SLO burn-rate alerts (escalations are counted in monitor_escalations_open).
# TYPE monitor_alerts_firing gauge
monitor_alerts_firing{check="db",severity="CRITICAL"} 2
monitor_alerts_firing{check="db",severity="INFO"} 0
monitor_alerts_firing{check="db",severity="WARN"} 0
monitor_alerts_firing{check="web",severity="CRITICAL"} 0
monitor_alerts_firing{check="web",severity="INFO"} 0
monitor_alerts_firing{check="web",severity="WARN"} 0
# HELP monitor_escalations_open Operator escalations open, by their severity (LOW, MEDIUM, HIGH).
# TYPE monitor_escalations_open gauge
monitor_escalations_open{severity="HIGH"} 0
monitor_escalations_open{severity="LOW"} 0
monitor_escalations_open{severity="MEDIUM"} 1
`
		if err := testutil.GatherAndCompare(g, strings.NewReader(want), "monitor_alerts_firing", "monitor_escalations_open"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestViewOfRow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, cfgWith(catchAll), []check.Spec{spec("db", check.Critical, "Core")}, Options{})
		r.fail("db", "db")
		r.wait(time.Second)
		rows, err := r.st.LoadAlerts(context.Background())
		if err != nil || len(rows) != 1 {
			t.Fatalf("rows %v %v", rows, err)
		}
		v, ok, err := ViewOfRow(rows[0], time.Now())
		if err != nil || !ok || v.ID != "check:db" || v.Status != "firing" || v.Severity != "CRITICAL" || v.Labels["component"] != "Core" {
			t.Fatalf("view %+v %v %v", v, ok, err)
		}
	})
}

func TestRepeatThroughGroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := cfgWith(Route{Receivers: []string{"oncall"}, GroupBy: []string{LabelKind}, GroupWait: 30 * time.Second,
			GroupInterval: 5 * time.Minute})
		cfg.RepeatInterval = time.Hour
		r := newRig(t, cfg, []check.Spec{spec("a", check.Warn, ""), spec("b", check.Warn, "")}, Options{})
		r.fail("a", "a", "b", "b")
		r.wait(time.Minute)
		r.expect("oncall firing check:a=firing check:b=firing")
		r.wait(59 * time.Minute)
		r.expect("oncall firing check:a=firing check:b=firing",
			"oncall firing/repeat check:a=firing check:b=firing")
		r.pass("a")
		r.wait(5 * time.Minute) // group_interval after the repeat
		r.expect("oncall firing check:a=firing check:b=firing",
			"oncall firing/repeat check:a=firing check:b=firing",
			"oncall firing check:a=resolved check:b=firing")
	})
}

func TestBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, cfgWith(catchAll), nil, Options{})
		ctx := context.Background()
		end := time.Now().Add(time.Hour)
		// Filled by hand up to one below the bounds: the bound, not the
		// time to open 10,000 escalations, is under test.
		r.e.mu.Lock()
		for i := range MaxOpenEscalations - 1 {
			r.e.escalations[fmt.Sprint(i)] = store.Escalation{ID: fmt.Sprint(i), Severity: "LOW"}
		}
		for i := range MaxSilences - 1 {
			r.e.silences[fmt.Sprint(i)] = store.Silence{ID: fmt.Sprint(i), Matchers: map[string]string{"check": "none"}, EndsAt: end}
		}
		r.e.mu.Unlock()
		if _, err := r.e.Escalate(ctx, store.Escalation{Handle: "h", Severity: "LOW", Summary: "last"}, "ops"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.e.Escalate(ctx, store.Escalation{Handle: "h", Severity: "LOW", Summary: "one more"}, "ops"); !errors.Is(err, ErrLimit) {
			t.Fatalf("escalation past the bound: %v", err)
		}
		if _, err := r.e.AddSilence(ctx, store.Silence{Matchers: map[string]string{"check": "x"}, EndsAt: end}, "ops"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.e.AddSilence(ctx, store.Silence{Matchers: map[string]string{"check": "y"}, EndsAt: end}, "ops"); !errors.Is(err, ErrLimit) {
			t.Fatalf("silence past the bound: %v", err)
		}
		many := map[string]string{}
		for i := range MaxMatchers + 1 {
			many[fmt.Sprint("l", i)] = "*"
		}
		if _, err := r.e.AddSilence(ctx, store.Silence{Matchers: many, EndsAt: end}, "ops"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("too many matchers: %v", err)
		}
	})
}

// TestReload: a reload of the alerting section keeps told alerts told (no
// second page) and the thresholds and routes apply from then on.
func TestReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, cfgWith(catchAll), []check.Spec{spec("db", check.Critical, ""), spec("web", check.Warn, "")}, Options{})
		r.fail("db", "db")
		r.wait(time.Second)
		r.expect("oncall firing check:db=firing")
		cfg := cfgWith(Route{Receivers: []string{"oncall"}, GroupBy: []string{LabelKind}, GroupWait: 10 * time.Second})
		cfg.FailureThreshold = 3
		r.e.SetConfig(cfg)
		r.wait(time.Minute)
		r.expect("oncall firing check:db=firing")
		r.fail("web", "web")
		r.wait(time.Minute)
		r.expect("oncall firing check:db=firing")
		r.fail("web")
		r.wait(time.Minute)
		r.expect("oncall firing check:db=firing", "oncall firing check:db=firing check:web=firing")
	})
}

// TestResolvedAuditDuration: the audit trail says how long an alert fired
// in whole seconds ("1m30s"), not to the nanosecond; a sub-second one in
// milliseconds.
func TestResolvedAuditDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cfgWith(catchAll)
		c.FailureThreshold = 1
		r := newRig(t, c, []check.Spec{spec("db", check.Critical, ""), spec("web", check.Critical, "")}, Options{})
		r.fail("db")
		time.Sleep(90*time.Second + 1234567*time.Nanosecond)
		r.pass("db")
		r.fail("web")
		time.Sleep(250*time.Millisecond + 42*time.Nanosecond)
		r.pass("web")
		r.wait(time.Second)
		got := map[string]any{}
		r.st.mu.Lock()
		for _, ev := range r.st.audit {
			if ev.Action == ActionAlertResolved {
				got[ev.Target] = ev.Details["duration"]
			}
		}
		r.st.mu.Unlock()
		if got["check:db"] != "1m30s" || got["check:web"] != "250ms" {
			t.Fatalf("resolved durations %v, want check:db 1m30s and check:web 250ms", got)
		}
	})
}

// TestSeverityChangedAudit: a firing alert going WARN → CRITICAL → WARN
// writes one alert.severity_changed per change, dated when the result came
// and saying both severities; a severity that changes while the alert is
// pending, stays the same, or changes after it resolved writes none; and
// the GET /v2/alerts view follows the change.
func TestSeverityChangedAudit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, cfgWith(catchAll), []check.Spec{spec("db", check.Warn, "API")}, Options{})
		start := time.Now()
		r.result("db", check.Fail, check.Critical) // pending
		r.result("db", check.Fail, check.Warn)     // fires WARN
		r.wait(time.Minute)
		r.result("db", check.Fail, check.Warn) // no change
		worse := time.Now()
		r.result("db", check.Fail, check.Critical)
		r.result("db", check.Fail, check.Critical) // no change
		r.wait(time.Minute)
		if v := r.view("check:db"); v.Status != "firing" || v.Severity != string(check.Critical) {
			t.Fatalf("after WARN→CRITICAL the alert is %+v, want firing CRITICAL", v)
		}
		better := time.Now()
		r.result("db", check.Fail, check.Warn)
		r.wait(time.Minute)
		r.pass("db")                               // resolved
		r.result("db", check.Fail, check.Critical) // pending again: no event
		r.wait(time.Minute)

		type change struct {
			at        time.Duration
			sev, prev any
		}
		var got []change
		var actions []string
		r.st.mu.Lock()
		for _, ev := range r.st.audit {
			actions = append(actions, ev.Action)
			if ev.Action == ActionAlertSeverityChanged {
				if ev.Target != "check:db" || ev.Actor != string(ActorSystem) {
					t.Errorf("event %+v, want target check:db by system", ev)
				}
				got = append(got, change{ev.At.Sub(start), ev.Details["severity"], ev.Details["previous"]})
			}
		}
		r.st.mu.Unlock()
		want := []change{{worse.Sub(start), "CRITICAL", "WARN"}, {better.Sub(start), "WARN", "CRITICAL"}}
		if !slices.Equal(got, want) {
			t.Fatalf("severity changes %+v, want %+v", got, want)
		}
		wantActions := []string{ActionAlertFiring, ActionAlertSeverityChanged, ActionAlertSeverityChanged, ActionAlertResolved}
		if !slices.Equal(actions, wantActions) {
			t.Fatalf("audit trail %q, want %q", actions, wantActions)
		}
	})
}

// TestSeverityChangedAfterRestart: a restart restores a firing alert at
// the severity it had, so the first results after it write no
// alert.severity_changed; a real change after it writes one.
func TestSeverityChangedAfterRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		specs := []check.Spec{spec("db", check.Warn, "API")}
		r := newRig(t, cfgWith(catchAll), specs, Options{})
		st := r.st
		r.fail("db", "db")
		r.result("db", check.Fail, check.Critical)
		r.wait(time.Second)
		r.stop()

		r2 := newRig(t, cfgWith(catchAll), specs, Options{Store: st})
		r2.result("db", check.Fail, check.Critical)
		r2.result("db", check.Fail, check.Critical)
		r2.wait(time.Second)
		r2.result("db", check.Fail, check.Warn)
		r2.wait(time.Second)
		want := []string{"alert.firing check:db by system", "alert.severity_changed check:db by system",
			"alert.severity_changed check:db by system"}
		if got := st.actions(); !slices.Equal(got, want) {
			t.Fatalf("audit trail %q, want %q", got, want)
		}
	})
}
