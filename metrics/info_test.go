package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/probes"
)

// TestDashboardSeries: the series the Grafana dashboards join on: every
// check's kind and component, a freshness check's thresholds (drawn as
// lines against its age) and a link check's failures by kind.
func TestDashboardSeries(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)
	specs := []check.Spec{
		{Name: "conn", Kind: "db", Interval: time.Minute, Timeout: 5 * time.Second, Component: "Usage metering"},
		{Name: "events", Kind: "freshness", Interval: time.Minute, Timeout: 5 * time.Second, Component: "Analytics",
			Config: probes.FreshnessConfig{MaxAge: 15 * time.Minute, CriticalAge: time.Hour}},
		{Name: "rollup", Kind: "freshness", Interval: time.Minute, Timeout: 5 * time.Second,
			Config: probes.FreshnessConfig{MaxAge: 90 * time.Second}},
		{Name: "site_links", Kind: "link", Interval: time.Hour, Timeout: 4 * time.Second},
	}
	snap, m := newTestMetrics(now, specs)

	fail := func(url string, reason check.Reason, code int) check.LinkResult {
		return check.LinkResult{URL: url, Status: check.Fail, StatusCode: code, Error: reason}
	}
	snap.Record(check.Result{Check: "site_links", Kind: "link", Status: check.Fail, Severity: check.Warn,
		CheckedAt: now, Links: []check.LinkResult{
			{URL: "https://example.com/ok", Status: check.Pass, StatusCode: 200},
			fail("https://example.com/gone", check.LinkErrHTTPStatus, 404),
			fail("https://example.com/down", check.LinkErrHTTPStatus, 503),
			fail("https://nowhere.example/", check.LinkErrDNS, 0),
			fail("https://slow.example/?token=hunter2", check.LinkErrTimeout, 0),
			fail("https://odd.example/", "something_new", 0), // outside the set: counted as error
		}})

	lint(t, m)

	// Thresholds and info exist before any run; link failures once a run
	// brought links. rollup has no critical_age: no series for it.
	want := `
# HELP monitor_check_info Always 1: a configured check's kind and status page component (empty for a private check).
# TYPE monitor_check_info gauge
monitor_check_info{check="conn",component="Usage metering",kind="db"} 1
monitor_check_info{check="events",component="Analytics",kind="freshness"} 1
monitor_check_info{check="rollup",component="",kind="freshness"} 1
monitor_check_info{check="site_links",component="",kind="link"} 1
# HELP monitor_freshness_max_age_seconds A freshness check's max_age: data older than this fails the check.
# TYPE monitor_freshness_max_age_seconds gauge
monitor_freshness_max_age_seconds{check="events"} 900
monitor_freshness_max_age_seconds{check="rollup"} 90
# HELP monitor_freshness_critical_age_seconds A freshness check's critical_age, when set: data older than this fails the check as CRITICAL and is outside its SLA.
# TYPE monitor_freshness_critical_age_seconds gauge
monitor_freshness_critical_age_seconds{check="events"} 3600
# HELP monitor_link_failures Failing links of a link check by the kind of failure of their last check (the links API's error).
# TYPE monitor_link_failures gauge
monitor_link_failures{check="site_links",reason="blocked"} 0
monitor_link_failures{check="site_links",reason="connect"} 0
monitor_link_failures{check="site_links",reason="dns"} 1
monitor_link_failures{check="site_links",reason="error"} 1
monitor_link_failures{check="site_links",reason="http_status"} 2
monitor_link_failures{check="site_links",reason="invalid_url"} 0
monitor_link_failures{check="site_links",reason="timeout"} 1
monitor_link_failures{check="site_links",reason="tls"} 0
monitor_link_failures{check="site_links",reason="too_many_redirects"} 0
`
	if err := testutil.GatherAndCompare(m, strings.NewReader(want), "monitor_check_info",
		"monitor_freshness_max_age_seconds", "monitor_freshness_critical_age_seconds", "monitor_link_failures"); err != nil {
		t.Error(err)
	}

	// A reload that removes a check removes its series.
	snap.SetSpecs(specs[:1])
	want = `
# HELP monitor_check_info Always 1: a configured check's kind and status page component (empty for a private check).
# TYPE monitor_check_info gauge
monitor_check_info{check="conn",component="Usage metering",kind="db"} 1
`
	if err := testutil.GatherAndCompare(m, strings.NewReader(want), "monitor_check_info",
		"monitor_freshness_max_age_seconds", "monitor_link_failures"); err != nil {
		t.Error(err)
	}
}
