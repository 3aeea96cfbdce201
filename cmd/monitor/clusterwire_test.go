package main

import (
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/probes"
)

// A reload may bring checks whose runs outlast the running lease: runs
// are bound to their lease, not fitted in it.
func TestFitsLease(t *testing.T) {
	cfg := &config.Config{Checks: []check.Spec{
		{Name: "quick", Kind: "db", Interval: time.Minute, Timeout: time.Second},
		{Name: "slow", Kind: "db", Interval: time.Minute, Timeout: 10 * time.Second},
	}}
	for _, running := range []config.Cluster{{}, {Enabled: true, LeaseTTL: 15 * time.Second}, {Enabled: true, LeaseTTL: 3 * time.Second}} {
		if err := fitsLease(cfg, running); err != nil {
			t.Errorf("running %+v, runs up to 10s: %v", running, err)
		}
	}
}

// A reload may not bring a link check with quorum > 1 to a daemon running
// without a cluster or without a location (a reload cannot start or place
// one); with both it may.
func TestFitsLeaseQuorum(t *testing.T) {
	cfg := &config.Config{Checks: []check.Spec{
		{Name: "links", Kind: probes.KindLink, Interval: 5 * time.Second, Timeout: time.Second,
			Config: probes.LinkConfig{URLs: []string{"https://example.com/"}, Quorum: 2}},
	}}
	err := fitsLease(cfg, config.Cluster{})
	if err == nil || !strings.Contains(err.Error(), `check "links" has quorum > 1, which needs cluster mode`) {
		t.Errorf("quorum 2 without a running cluster: %v", err)
	}
	// A running cluster without a location: a reload cannot give it one
	// (cluster takes effect on restart), so the check would stay UNKNOWN.
	err = fitsLease(cfg, config.Cluster{Enabled: true, LeaseTTL: 15 * time.Second})
	if err == nil || !strings.Contains(err.Error(), `check "links" has quorum > 1, which needs cluster.location`) {
		t.Errorf("quorum 2 with a running cluster without a location: %v", err)
	}
	if err := fitsLease(cfg, config.Cluster{Enabled: true, Location: "eu", LeaseTTL: 15 * time.Second}); err != nil {
		t.Errorf("quorum 2 with a running cluster in a location: %v", err)
	}
}
