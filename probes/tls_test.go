package probes

import (
	"context"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// tlsKindSpec is a tls check of address with decodeTLS's defaults.
func tlsKindSpec(address string, c TLSConfig) check.Spec {
	c.Address = address
	if c.ServerName == "" {
		c.ServerName = "127.0.0.1"
	}
	if c.CertExpiry == (Expiry{}) {
		c.CertExpiry = Expiry{Warn: DefaultCertWarn, Critical: DefaultCertCritical}
	}
	return check.Spec{Name: "cert", Kind: KindTLS, Interval: time.Minute, Timeout: 5 * time.Second,
		Severity: check.Warn, Config: c}
}

func runTLS(t *testing.T, spec check.Spec) check.Result {
	t.Helper()
	return ProbeTLS(context.Background(), spec, &Env{})
}
