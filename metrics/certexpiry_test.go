package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/monitor-dev/monitor/check"
)

// A result that saw a TLS certificate exports its expiry, whatever its
// kind and status; one that saw none exports nothing.
func TestCertExpiryExported(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)
	specs := []check.Spec{
		{Name: "api", Kind: "http", Interval: 30 * time.Second, Timeout: 5 * time.Second},
		{Name: "smtp_cert", Kind: "tls", Interval: time.Hour, Timeout: 5 * time.Second},
		{Name: "plain", Kind: "http", Interval: 30 * time.Second, Timeout: 5 * time.Second},
	}
	snap, m := newTestMetrics(now, specs)
	for _, r := range []check.Result{
		{Check: "api", Kind: "http", Status: check.Pass, Severity: check.Info, CheckedAt: now,
			CertNotAfter: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Check: "smtp_cert", Kind: "tls", Status: check.Fail, Severity: check.Critical, CheckedAt: now,
			CertNotAfter: now.Add(3 * 24 * time.Hour)},
		{Check: "plain", Kind: "http", Status: check.Pass, Severity: check.Info, CheckedAt: now},
	} {
		m.Observe(snap.Record(r))
	}
	lint(t, m)
	want := `
# HELP monitor_tls_cert_expiry_timestamp_seconds Unix time the server's leaf certificate expires, as an http or tls check last saw it.
# TYPE monitor_tls_cert_expiry_timestamp_seconds gauge
monitor_tls_cert_expiry_timestamp_seconds{check="api"} 1.7987616e+09
monitor_tls_cert_expiry_timestamp_seconds{check="smtp_cert"} 1.7955162e+09
`
	if err := testutil.GatherAndCompare(m, strings.NewReader(want), "monitor_tls_cert_expiry_timestamp_seconds"); err != nil {
		t.Error(err)
	}
}
