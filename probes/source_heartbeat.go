package probes

import (
	"context"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// HeartbeatSource is the last push to POST /v2/heartbeats/{check}.
type HeartbeatSource struct {
	// On (heartbeat: true) makes the check pushed: each POST
	// /v2/heartbeats/{check} (bearer token) records "fresh now"; none yet is
	// UNKNOWN.
	On bool `yaml:"heartbeat"`
}

var heartbeatSourceType = sourceType{
	Zero: HeartbeatSource{},
	Keys: []string{"heartbeat"},
	Want: "heartbeat: true",
	Used: func(src check.Fields) bool { return src.Bool("heartbeat") },
	Decode: func(check.Fields) Source {
		return HeartbeatSource{On: true}
	},
}

// Subject implements Source.
func (HeartbeatSource) Subject() string { return "last heartbeat" }

// Newest implements Source.
func (HeartbeatSource) Newest(_ context.Context, spec check.Spec, env *Env, _ time.Duration) (time.Time, check.Reason, string) {
	if env == nil || env.Heartbeats == nil {
		return time.Time{}, check.ReasonError, "heartbeats are not available"
	}
	at, ok := env.Heartbeats.LastBeat(spec.Name)
	if !ok {
		return time.Time{}, check.ReasonNoData, "no heartbeat received yet"
	}
	return at, "", ""
}
