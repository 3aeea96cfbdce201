// Package probes holds one file per kind of check, each declaring its Kind
// (name, YAML keys, defaults, probe function, behaviour), and the registry
// of kinds (kinds, below). A probe makes one observation: it never sleeps,
// retries or schedules itself.
package probes

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// ProbeFn makes one observation of spec. It must honour ctx's deadline and
// fill Status, Severity, Message and, where it has one, the observed value.
// The scheduler fills Check, Kind, CheckedAt and Duration.
type ProbeFn func(ctx context.Context, spec check.Spec, env *Env) check.Result

// Kind is everything one kind of check brings. Each kind declares one in
// its own file; a new kind is that file plus one line in kinds.
type Kind struct {
	Name check.Kind
	// Keys are the YAML keys a check of this kind takes besides the ones
	// every check takes.
	Keys []string
	// DefaultTimeout replaces the timeout of `defaults:` for this kind when
	// set.
	DefaultTimeout time.Duration
	// Decode reads the kind's own keys into its configuration value
	// (check.Spec.Config), reporting every problem at its position.
	Decode func(f check.Fields) any
	Probe  ProbeFn
	// Behaviour is what the kind means outside its probe (timeout status,
	// componentType, within-SLA rule); registered with check.RegisterKind.
	Behaviour check.Behaviour
}

// kinds is the registry: one line per kind.
var kinds = []Kind{
	dbKind,
	freshnessKind,
	linkKind,
	httpKind,
	tlsKind,
	tcpKind,
}

var (
	kindsMu sync.RWMutex
	byName  = map[check.Kind]Kind{}
	order   []check.Kind // registration order
)

func init() {
	for _, k := range kinds {
		add(k)
	}
}

func add(k Kind) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := byName[k.Name]; !dup {
		order = append(order, k.Name)
	}
	byName[k.Name] = k
	check.RegisterKind(k.Name, k.Behaviour)
}

// Register adds a kind at run time (tests: a probe of their own) and
// returns the function that removes it again.
func Register(k Kind) (unregister func()) {
	add(k)
	return func() {
		kindsMu.Lock()
		defer kindsMu.Unlock()
		delete(byName, k.Name)
		order = slices.DeleteFunc(order, func(n check.Kind) bool { return n == k.Name })
		check.RegisterKind(k.Name, check.Behaviour{})
	}
}

// Kinds lists the registered kinds, in registry order (then those added
// with Register).
func Kinds() []Kind {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	out := make([]Kind, 0, len(order))
	for _, n := range order {
		out = append(out, byName[n])
	}
	return out
}

// Lookup returns the registered kind named k.
func Lookup(k check.Kind) (Kind, bool) {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	kind, ok := byName[k]
	return kind, ok
}

// Probe returns the probe of kind k.
func Probe(k check.Kind) (ProbeFn, bool) {
	kind, ok := Lookup(k)
	if !ok || kind.Probe == nil {
		return nil, false
	}
	return kind.Probe, true
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
	// Locations serve link checks with quorum > 1 (cluster mode); nil
	// without a cluster.
	Locations LinkLocations
	Now       func() time.Time
	Logger    *slog.Logger
}

func (e *Env) now() time.Time {
	if e == nil || e.Now == nil {
		return time.Now()
	}
	return e.Now()
}
