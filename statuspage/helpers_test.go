package statuspage

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/alerting"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/testenv"
	_ "github.com/monitor-dev/monitor/probes" // the kinds' behaviours: charts
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/store"
)

func TestMain(m *testing.M) {
	code := testenv.Run(m)
	closeBenchData()
	os.Exit(code)
}

// now is the fixtures' clock: 2026-11-21T10:30:00Z.
var now = time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)

func clock() time.Time { return now }

// Secret-looking text the fixtures' checks fail with: none of it may
// appear in any public file.
var secrets = []string{
	"postgres://app:hunter2@db-internal-3.corp.example:5432/app",
	"hunter2",
	"db-internal-3.corp.example",
	"https://api.internal.example/v1/events?token=tok_9f8e7d6c5b4a",
	"tok_9f8e7d6c5b4a",
	"api.internal.example",
	"dial tcp 10.0.0.7:5432: connect: connection refused",
	"10.0.0.7",
	"connection refused",
	"redirects_http_probe", // check names are private too
	"analytics_freshness_lag",
	"billing_db_ping",
	"private_queue_depth",
	"acme-secret-customer", // a private escalation's handle and summary
	"Internal: acme",
	"newest row is 17m12s old",
}

var specs = []check.Spec{
	{Name: "redirects_db", Kind: "db", Interval: time.Minute, Timeout: 5 * time.Second, Severity: check.Critical, Component: "Redirects"},
	{Name: "redirects_http_probe", Kind: "http", Interval: time.Minute, Timeout: 5 * time.Second, Severity: check.Critical, Component: "Redirects"},
	{Name: "analytics_freshness_lag", Kind: "freshness", Interval: time.Minute, Timeout: 5 * time.Second, Severity: check.Warn, Component: "Redirect analytics"},
	{Name: "billing_db_ping", Kind: "db", Interval: time.Minute, Timeout: 5 * time.Second, Severity: check.Critical, Component: "Billing <API>"},
	{Name: "private_queue_depth", Kind: "db", Interval: time.Minute, Timeout: 5 * time.Second, Severity: check.Critical},
}

var settings = Settings{Title: "Acme status", LogoURL: "https://acme.example/logo.svg", HomeURL: "https://acme.example",
	Components: []ComponentOrder{{Name: "Redirects", Group: "Core"}, {Name: "Redirect analytics", Group: "Analytics"}}}

func results() []check.Result {
	at := now.Add(-20 * time.Second)
	return []check.Result{
		{Check: "redirects_db", Kind: "db", Status: check.Pass, Severity: check.Info, Message: "ok", CheckedAt: at},
		{Check: "redirects_http_probe", Kind: "http", Status: check.Fail, Severity: check.Critical, CheckedAt: at,
			Message: "GET https://api.internal.example/v1/events?token=tok_9f8e7d6c5b4a: dial tcp 10.0.0.7:5432: connect: connection refused"},
		{Check: "analytics_freshness_lag", Kind: "freshness", Status: check.Fail, Severity: check.Warn, CheckedAt: at,
			Message: "newest row is 17m12s old (postgres://app:hunter2@db-internal-3.corp.example:5432/app)"},
		{Check: "billing_db_ping", Kind: "db", Status: check.Fail, Severity: check.Critical, CheckedAt: at,
			Message: "postgres://app:hunter2@db-internal-3.corp.example:5432/app: connection refused"},
		{Check: "private_queue_depth", Kind: "db", Status: check.Fail, Severity: check.Critical, CheckedAt: at,
			Message: "db-internal-3.corp.example: hunter2"},
	}
}

// openStore opens a SQLite store in a temporary directory, its clock at now.
func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "monitor.db"), store.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// fillHistory writes three days of results every 5 minutes for the
// fixtures' checks: all PASS but a 30-minute outage of redirects_http_probe
// the day before and the failing results of today.
func fillHistory(t testing.TB, st store.Store) {
	t.Helper()
	sp := map[string]check.Spec{}
	for _, s := range specs {
		sp[s.Name] = s
	}
	var recs []store.Record
	outStart := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	for ts := now.Add(-72 * time.Hour).Truncate(time.Hour); ts.Before(now.Add(-time.Minute)); ts = ts.Add(5 * time.Minute) {
		for _, s := range specs {
			r := check.Result{Check: s.Name, Kind: s.Kind, Status: check.Pass, Severity: check.Info, Message: "ok", CheckedAt: ts}
			// a response time (db) or data age (freshness) for the charts
			v := 0.004 + float64(ts.Hour()%6)/1000
			if s.Kind == "freshness" {
				v = 60 + float64(ts.Hour()*20)
			}
			r.ObservedValue, r.ObservedUnit = check.Value(v), "s"
			if s.Name == "redirects_http_probe" && !ts.Before(outStart) && ts.Before(outStart.Add(30*time.Minute)) {
				r.Status, r.Severity, r.Message = check.Fail, check.Critical, "dial tcp 10.0.0.7:5432: connect: connection refused"
			}
			recs = append(recs, sla.Stored(r, s, nil))
		}
	}
	for _, r := range results() {
		r.CheckedAt = now.Add(-20 * time.Second)
		recs = append(recs, sla.Stored(r, sp[r.Check], nil))
	}
	if err := st.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

func inputs(h History) Inputs {
	endsAt := now.Add(-2 * time.Hour)
	return Inputs{
		Settings: settings,
		Specs:    specs,
		Results:  results(),
		History:  h,
		Alerts: []alerting.View{
			{ID: "check:redirects_http_probe", Check: "redirects_http_probe", Kind: "http", Status: "firing", Severity: "CRITICAL",
				Summary: "dial tcp 10.0.0.7:5432: connect: connection refused", StartsAt: now.Add(-10 * time.Minute),
				Labels: map[string]string{"component": "Redirects"}},
			{ID: "check:private_queue_depth", Check: "private_queue_depth", Kind: "db", Status: "firing", Severity: "CRITICAL",
				Summary: "db-internal-3.corp.example", StartsAt: now.Add(-time.Hour)},
			{ID: "check:analytics_freshness_lag", Check: "analytics_freshness_lag", Kind: "freshness", Status: "resolved", Severity: "WARN",
				StartsAt: now.Add(-3 * time.Hour), EndsAt: &endsAt},
		},
		AlertEvents: []store.AuditEvent{
			{At: now.Add(-10 * time.Minute), Action: alerting.ActionAlertFiring, Target: "check:redirects_http_probe",
				Details: map[string]any{"severity": "CRITICAL", "summary": "dial tcp 10.0.0.7:5432"}},
			{At: now.Add(-5 * 24 * time.Hour), Action: alerting.ActionAlertFiring, Target: "check:analytics_freshness_lag",
				Details: map[string]any{"severity": "WARN"}},
			{At: now.Add(-5*24*time.Hour + 40*time.Minute), Action: alerting.ActionAlertResolved, Target: "check:analytics_freshness_lag",
				Details: map[string]any{"severity": "WARN", "duration": "40m0s"}},
			{At: now.Add(-20 * 24 * time.Hour), Action: alerting.ActionAlertResolved, Target: "check:redirects_db",
				Details: map[string]any{"severity": "CRITICAL", "duration": "1h5m0s"}},
			{At: now.Add(-2 * 24 * time.Hour), Action: alerting.ActionAlertFiring, Target: "check:private_queue_depth",
				Details: map[string]any{"severity": "CRITICAL", "summary": "db-internal-3.corp.example"}},
		},
		Escalations: []store.Escalation{
			{ID: "esc_1", Handle: "acme", Severity: "LOW", Summary: "Slow dashboards for some customers", Details: "acme-secret-customer",
				Status: "open", Public: true, CreatedAt: now.Add(-30 * time.Minute)},
			{ID: "esc_2", Handle: "acme-secret-customer", Severity: "HIGH", Summary: "Internal: acme", Status: "open",
				CreatedAt: now.Add(-5 * time.Minute)},
		},
		Incidents: []ManualIncident{
			{Title: "Delayed analytics", Components: []string{"Redirect analytics"}, Updates: []ManualUpdate{
				{At: time.Date(2026, 11, 19, 10, 0, 0, 0, time.UTC), Status: Investigating, Body: "Dashboards lag by ~40 minutes."},
				{At: time.Date(2026, 11, 19, 10, 40, 0, 0, time.UTC), Status: Monitoring, Body: "A fix is out; we are watching it."},
				{At: time.Date(2026, 11, 19, 11, 10, 0, 0, time.UTC), Status: Resolved, Body: "Dashboards are **current** again. <script>alert(1)</script>"},
			}},
			{Title: "Redirects slow in October", Components: []string{"Redirects"}, Impact: IndicatorMajor, Updates: []ManualUpdate{
				{At: time.Date(2026, 10, 3, 8, 0, 0, 0, time.UTC), Status: Investigating, Body: "Redirects take several seconds."},
				{At: time.Date(2026, 10, 3, 9, 0, 0, 0, time.UTC), Status: Resolved, Body: "Resolved."},
			}},
		},
		Maintenance: []Maintenance{
			{Window: sla.Maintenance{Checks: []string{"billing_db_ping"}, Start: now.Add(-15 * time.Minute), End: now.Add(45 * time.Minute)}},
			{Window: sla.Maintenance{Components: []string{"Redirects"}, Start: now.Add(24 * time.Hour), End: now.Add(25 * time.Hour)}, Title: "Database upgrade"},
			{Window: sla.Maintenance{Checks: []string{"private_queue_depth"}, Start: now.Add(time.Hour), End: now.Add(2 * time.Hour)}},
		},
		Now: clock,
	}
}
