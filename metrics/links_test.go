package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/probes"
)

func linkResult(url string, st check.Status, code int) check.LinkResult {
	r := check.LinkResult{URL: url, Status: st, StatusCode: code, Method: "HEAD"}
	if st == check.Fail {
		r.Error = check.LinkErrHTTPStatus
		if code == 0 {
			r.Error = check.LinkErrTimeout
		}
	}
	return r
}

func TestLinkResults(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)
	specs := []check.Spec{
		{Name: "dest_links", Kind: "link", Interval: time.Hour, Timeout: 4 * time.Second},
		{Name: "docs_links", Kind: "link", Interval: time.Hour, Timeout: 4 * time.Second, Config: probes.LinkConfig{PerLinkMetrics: true}},
		{Name: "later_links", Kind: "link", Interval: time.Hour, Timeout: 4 * time.Second, Config: probes.LinkConfig{PerLinkMetrics: true}},
		{Name: "conn", Kind: "db", Interval: time.Minute, Timeout: 5 * time.Second},
	}
	snap, m := newTestMetrics(now, specs)

	snap.Record(check.Result{Check: "dest_links", Kind: "link", Status: check.Fail, Severity: check.Warn,
		CheckedAt: now.Add(-time.Minute), Links: []check.LinkResult{
			linkResult("https://example.com/a", check.Pass, 200),
			linkResult("https://example.com/b", check.Pass, 301),
			linkResult("https://example.com/c", check.Fail, 404),
			linkResult("https://example.com/d", check.Fail, 0),
			linkResult("https://example.com/e", check.Pass, 200),
		}})
	snap.Record(check.Result{Check: "docs_links", Kind: "link", Status: check.Fail, Severity: check.Warn,
		CheckedAt: now.Add(-time.Minute), Links: []check.LinkResult{
			linkResult("https://docs.example.com/ok", check.Pass, 200),
			linkResult("https://docs.example.com/gone", check.Fail, 410),
			// The same URL from two rows of a SQL source: one series.
			linkResult("https://docs.example.com/ok", check.Pass, 200),
			linkResult("https://user:hunter22@docs.example.com/private?token=hunter22tok&lang=en#top", check.Fail, 0),
		}})
	snap.Record(check.Result{Check: "conn", Kind: "db", Status: check.Pass, Severity: check.Info, CheckedAt: now})

	lint(t, m)

	// later_links has not run: no link series yet. conn is not a link check.
	want := `
# HELP monitor_link_results Links of a link check by the status of their last check.
# TYPE monitor_link_results gauge
monitor_link_results{check="dest_links",status="FAIL"} 2
monitor_link_results{check="dest_links",status="PASS"} 3
monitor_link_results{check="dest_links",status="UNKNOWN"} 0
monitor_link_results{check="docs_links",status="FAIL"} 2
monitor_link_results{check="docs_links",status="PASS"} 2
monitor_link_results{check="docs_links",status="UNKNOWN"} 0
# HELP monitor_link_up 1 if the link passed its last check (checks with per_link_metrics only).
# TYPE monitor_link_up gauge
monitor_link_up{check="docs_links",url="https://docs.example.com/gone"} 0
monitor_link_up{check="docs_links",url="https://docs.example.com/ok"} 1
monitor_link_up{check="docs_links",url="https://user:***@docs.example.com/private?lang=***&token=***"} 0
# HELP monitor_link_status_code Final HTTP status code of the link, 0 when none (checks with per_link_metrics only).
# TYPE monitor_link_status_code gauge
monitor_link_status_code{check="docs_links",url="https://docs.example.com/gone"} 410
monitor_link_status_code{check="docs_links",url="https://docs.example.com/ok"} 200
monitor_link_status_code{check="docs_links",url="https://user:***@docs.example.com/private?lang=***&token=***"} 0
`
	if err := testutil.GatherAndCompare(m, strings.NewReader(want),
		"monitor_link_results", "monitor_link_up", "monitor_link_status_code"); err != nil {
		t.Error(err)
	}

	// No per-link series for a check without per_link_metrics, and no
	// password anywhere.
	mfs, err := m.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if lp.GetName() == "check" && lp.GetValue() == "dest_links" &&
					(mf.GetName() == "monitor_link_up" || mf.GetName() == "monitor_link_status_code") {
					t.Errorf("%s has a series for dest_links, which did not opt in", mf.GetName())
				}
				if strings.Contains(lp.GetValue(), "hunter22") {
					t.Errorf("%s leaks a password: %s", mf.GetName(), lp.GetValue())
				}
			}
		}
	}

	// A new run replaces the counts (gauges, not counters).
	snap.Record(check.Result{Check: "dest_links", Kind: "link", Status: check.Pass, Severity: check.Info,
		CheckedAt: now, Links: []check.LinkResult{linkResult("https://example.com/a", check.Pass, 200)}})
	want = `
# HELP monitor_link_results Links of a link check by the status of their last check.
# TYPE monitor_link_results gauge
monitor_link_results{check="dest_links",status="FAIL"} 0
monitor_link_results{check="dest_links",status="PASS"} 1
monitor_link_results{check="dest_links",status="UNKNOWN"} 0
monitor_link_results{check="docs_links",status="FAIL"} 2
monitor_link_results{check="docs_links",status="PASS"} 2
monitor_link_results{check="docs_links",status="UNKNOWN"} 0
`
	if err := testutil.GatherAndCompare(m, strings.NewReader(want), "monitor_link_results"); err != nil {
		t.Error(err)
	}
}

// TestLinkSeriesSameRedactedURL: two URLs that differ only in their
// password redact to the same label value, which must still give one series.
func TestLinkSeriesSameRedactedURL(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)
	specs := []check.Spec{{Name: "l", Kind: "link", Interval: time.Hour, Config: probes.LinkConfig{PerLinkMetrics: true}}}
	snap, m := newTestMetrics(now, specs)
	snap.Record(check.Result{Check: "l", Kind: "link", Status: check.Pass, CheckedAt: now, Links: []check.LinkResult{
		linkResult("https://u:first-pass@example.com/", check.Pass, 200),
		linkResult("https://u:second-pass@example.com/", check.Fail, 401),
	}})
	if _, err := m.Gather(); err != nil {
		t.Fatalf("/metrics breaks: %v", err)
	}
}
