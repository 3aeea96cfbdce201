// Package probes holds one file per kind of check behind one small function
// type, and the registry from kind to function. A probe makes one
// observation: it never sleeps, retries or schedules itself.
package probes

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// ProbeFn makes one observation of spec. It must honour ctx's deadline and
// fill Status, Severity, Message and, where it has one, the observed value.
// The scheduler fills Check, Kind, CheckedAt and Duration.
type ProbeFn func(ctx context.Context, spec check.Spec, env *Env) check.Result

// Probers maps a check kind to its probe.
var Probers = map[check.Kind]ProbeFn{
	check.KindDB:        ProbeDB,
	check.KindFreshness: ProbeFreshness,
	check.KindLink:      ProbeLink,
}

// Heartbeats answers when a heartbeat check was last pushed.
type Heartbeats interface {
	LastBeat(check string) (time.Time, bool)
}

// Env is what probes share: pooled connections, the clock, an HTTP client.
type Env struct {
	Pool       *Pool
	Heartbeats Heartbeats
	HTTP       *http.Client
	Links      *LinkClients // shared by link checks; nil: a process-wide default
	Now        func() time.Time
	Logger     *slog.Logger
}

func (e *Env) now() time.Time {
	if e == nil || e.Now == nil {
		return time.Now()
	}
	return e.Now()
}
