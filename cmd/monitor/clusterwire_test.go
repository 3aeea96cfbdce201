package main

import (
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
)

// A reload may not bring a check whose run outlasts the running lease
// (cluster: changes wait for a restart); without a cluster, anything goes.
func TestFitsLease(t *testing.T) {
	cfg := &config.Config{Checks: []check.Spec{
		{Name: "quick", Kind: "db", Interval: time.Minute, Timeout: time.Second},
		{Name: "slow", Kind: "db", Interval: time.Minute, Timeout: 10 * time.Second},
	}}
	if err := fitsLease(cfg, config.Cluster{}); err != nil {
		t.Errorf("without a cluster: %v", err)
	}
	if err := fitsLease(cfg, config.Cluster{Enabled: true, LeaseTTL: 23 * time.Second}); err != nil {
		t.Errorf("lease 23s, runs up to 10s: %v", err)
	}
	err := fitsLease(cfg, config.Cluster{Enabled: true, LeaseTTL: 15 * time.Second})
	if err == nil || !strings.Contains(err.Error(), `check "slow"'s run may take 10s, too long for the running lease_ttl 15s (want ≥ 23s`) {
		t.Errorf("lease 15s, a run of 10s: %v", err)
	}
}
