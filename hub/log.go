package hub

import (
	"context"
	"log/slog"

	"github.com/monitor-dev/monitor/check"
)

// StatusLog is the subscriber that logs "check status changed" when a check
// gets a new status: at INFO for PASS, WARN otherwise. Only the results of
// the checks this process ran are logged: with replicas, another's result
// (Change.Remote) is logged by the replica that ran it, not N times.
func StatusLog(l *slog.Logger) Subscriber { return statusLog{l} }

type statusLog struct{ l *slog.Logger }

func (s statusLog) Observe(r check.Result, ch Change) {
	if ch.Remote || !ch.StatusChanged(r) {
		return
	}
	lvl := slog.LevelInfo
	if r.Status != check.Pass {
		lvl = slog.LevelWarn
	}
	s.l.Log(context.Background(), lvl, "check status changed", "check", r.Check,
		"status", r.Status, "severity", r.Severity, "message", r.Message)
}
