package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/hub"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/store"
)

// Bounds of the engine's state.
const (
	// MaxAlerts bounds the alerts tracked: checks, SLO burn conditions and
	// escalations together. Results of more checks are not alerted on
	// (logged).
	MaxAlerts = 50_000
	// MaxOpenEscalations bounds the escalations open at once.
	MaxOpenEscalations = 10_000
	// MaxNotificationAlerts bounds the alerts listed in one notification;
	// the others are counted in its truncatedAlerts.
	MaxNotificationAlerts = 1000
	// MaxSilences bounds the active and pending silences.
	MaxSilences = 1000
	// MaxMatchers bounds the matchers of one silence.
	MaxMatchers = 20
	// SLOAbsentGrace is how long a firing burn-rate alert whose condition
	// is no longer given to SLOSignals stays firing.
	SLOAbsentGrace = 15 * time.Minute
	// ResolvedRetention is how long a resolved alert stays in GET
	// /v2/alerts (and in the store).
	ResolvedRetention = time.Hour
	// maxBacklog bounds the deliveries and audit events waiting for the
	// store when it is down; beyond it the oldest are dropped (logged).
	maxBacklog = 20_000
	// tick is how often Run re-evaluates timers (group waits, repeats,
	// silences and maintenance windows ending) and writes to the store.
	tick = time.Second
	// minGap spaces the steps that wakes ask for.
	minGap = 100 * time.Millisecond
)

// Audit actions the engine writes.
const (
	ActionAlertFiring   = "alert.firing"
	ActionAlertResolved = "alert.resolved"
	// ActionAlertSeverityChanged: a firing alert's severity changed
	// (details: severity, previous). Written once per change, never while
	// the alert is pending or resolved.
	ActionAlertSeverityChanged       = "alert.severity_changed"
	ActionEscalationCreated          = "escalation.created"
	ActionEscalationResolved         = "escalation.resolved"
	ActionSilenceCreated             = "silence.created"
	ActionSilenceExpired             = "silence.expired"
	ActorSystem                Actor = "system"
	ActorConfig                Actor = "config" // a reload
)

// Engine turns check results, SLO burn-rate conditions and operator
// escalations into alerts, routes and groups them, and writes the
// notifications that became due to the store's outbox together with the
// alerts' state (one transaction), for the dispatcher to deliver.
//
// Observe and SLOSignals change memory only (under a mutex held for
// microseconds) and never touch the store; Run writes. If the store is
// down, the state and the notifications stay queued in memory (bounded)
// and are written on a later tick: nothing is lost but what a crash takes
// before the store comes back.
type Engine struct {
	st   store.AlertStore
	opts Options
	now  func() time.Time
	log  *slog.Logger
	kick chan struct{}

	mu          sync.Mutex
	routeIDs    []string // of cfg.Routes: see routeIDs
	cfg         Config
	specs       map[string]check.Spec
	specsSet    bool
	alerts      map[string]*alert
	groups      map[string]*group
	silences    map[string]store.Silence
	escalations map[string]store.Escalation // the open ones
	dirty       map[string]struct{}
	deleted     map[string]struct{}
	deliveries  []store.Delivery // due, not yet committed
	audit       []store.AuditEvent
	failing     bool // the last commit failed (logged once)
	// restored: Restore succeeded. Before, results and SLO signals are
	// ignored and nothing is written, so that a daemon started while its
	// store is unreachable can neither page again for an alert it already
	// told nor overwrite the stored state; Run retries Restore.
	restored bool
	capped   bool // "too many alerts" was logged
	// silVersion changes whenever a silence is added, expired, starts or
	// ends (silActive: the active ones at the last tick).
	silVersion int
	silActive  map[string]bool
	ver        versionState // Version (version.go)
	// passed are the checks without an alert whose last counted outcome
	// was a pass (an idle alert is not kept: see Observe).
	passed map[string]struct{}
	// passive: SetActive(false). Nothing of the engine's own is written;
	// external holds the events given to Audit meanwhile, written alone.
	passive  bool
	external []store.AuditEvent
	// refreshed is when step last read the silences and escalations back
	// (Options.Refresh); step's alone.
	refreshed time.Time
}

// tooMany logs, once, that an alert is not tracked for the MaxAlerts bound.
func (e *Engine) tooMany(id string) {
	if !e.capped {
		e.capped = true
		e.log.Error("Alerts not tracked: too many alerts", "alert", id, "max", MaxAlerts)
	}
}

// New returns an engine for cfg. Call Restore before Run and before the
// first result is observed; until Restore succeeds (Run retries it every
// second), the engine ignores results and SLO signals.
func New(cfg Config, opts Options) *Engine {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{
		st: opts.Store, opts: opts, now: opts.Now, log: opts.Logger,
		kick:     make(chan struct{}, 1),
		cfg:      cfg,
		routeIDs: routeIDs(cfg.Routes),
		specs:    map[string]check.Spec{},
		alerts:   map[string]*alert{}, groups: map[string]*group{},
		silences: map[string]store.Silence{}, escalations: map[string]store.Escalation{},
		silVersion: 1, silActive: map[string]bool{},
		dirty: map[string]struct{}{}, deleted: map[string]struct{}{},
		passed:  map[string]struct{}{},
		passive: opts.Passive,
	}
}

// Alert ID prefixes.
const (
	prefixCheck      = "check:"
	prefixSLO        = "slo:"
	prefixEscalation = "escalation:"
)

// fingerprint is the part of an alert's state that the store must see
// change (counters and flap timestamps alone do not make a row dirty).
type fingerprint struct {
	firing, told, flapping, flapTold, gone bool
	severity, toldSeverity                 check.Severity
	lastNotified, endsAt                   time.Time
	outStatus, outNotice                   string
	outAt                                  time.Time
	hasOutbox                              bool
	flushed                                int
}

func fp(a *alert) fingerprint {
	f := fingerprint{firing: a.Firing, told: a.Told, flapping: a.Flapping, flapTold: a.FlapTold, gone: a.Gone,
		severity: a.Severity, toldSeverity: a.ToldSeverity, lastNotified: a.LastNotified, endsAt: a.EndsAt}
	if a.Outbox != nil {
		f.hasOutbox, f.flushed = true, len(a.Outbox.Flushed)
		f.outStatus, f.outNotice, f.outAt = a.Outbox.Status, a.Outbox.Notice, a.Outbox.At
	}
	return f
}

// Observe takes one effective check result (hub.Subscriber). It never
// blocks on anything but the engine's own short-held mutex.
func (e *Engine) Observe(r check.Result, ch hub.Change) {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.restored {
		return
	}
	sp := ch.Spec
	if sp.Name == "" {
		sp = e.specs[r.Check]
	} else {
		e.specs[sp.Name] = sp // depends_on for inhibition, even before SetSpecs
	}
	id := prefixCheck + r.Check
	a := e.alerts[id]
	if a == nil {
		// A check that passes (or gives an UNKNOWN that does not count)
		// with no alert has nothing to remember but that it passed: no
		// alert is kept for it (at 10,000 checks that was 1.3 KiB each).
		mode := UnknownKeep
		if r.Status != check.Pass && r.Status != check.Fail {
			mode = e.unknownModeOf(r.Check, sp)
		}
		switch outcome(r, mode) {
		case outPass:
			e.passed[r.Check] = struct{}{}
			return
		case outKeep:
			return
		}
		if len(e.alerts) >= MaxAlerts {
			e.tooMany(prefixCheck + r.Check)
			return
		}
		sev := sp.FailSeverity()
		a = &alert{ID: id, Check: r.Check, Severity: sev}
		if _, ok := e.passed[r.Check]; ok {
			a.Last = outPass // its last counted outcome: the fail is a change (flapping)
			delete(e.passed, r.Check)
		}
		e.alerts[id] = a
	}
	before := fp(a)
	a.Kind, a.Gone = string(r.Kind), false
	if a.Kind == "" {
		a.Kind = string(sp.Kind)
	}
	if l := checkLabels(a, sp); !maps.Equal(l, a.Labels) {
		a.Labels, a.silSeen = l, 0
	}
	out := outcome(r, e.unknownMode(a))
	if out != outKeep || a.Result == nil {
		res := r
		res.Links = nil // a link check's thousand links stay out of alerts
		a.Result, a.Summary = &res, r.Message
	}
	prev, wasFiring := a.Severity, a.Firing
	tr := a.observe(out, r.Severity, e.cfg, now)
	if a.Labels[LabelSeverity] != string(a.Severity) {
		a.Labels[LabelSeverity], a.silSeen = string(a.Severity), 0
	}
	a.Maintenance = ch.Maintenance || e.inMaintenance(a.Check, now)
	e.noteTransition(a, tr, now)
	if wasFiring {
		e.noteSeverity(a, prev, now)
	}
	e.update(a, now, before)
	if a.idle(now) {
		e.forget(a)
		if a.Last == outPass {
			e.passed[a.Check] = struct{}{}
		}
	}
}

// idle reports whether a check's alert holds nothing worth keeping: not
// firing, told, queued, pending, flapping or recently resolved, and no
// outcome change within the flapping window. Its check passes (or has
// only given UNKNOWNs that do not count).
func (a *alert) idle(now time.Time) bool {
	return !a.keep(now) && !a.Gone && a.Fails == 0 && len(a.Changes) == 0 && a.Last != outFail &&
		strings.HasPrefix(a.ID, prefixCheck)
}

// forget drops a from memory (and its row from the store, if any).
// Callers hold e.mu.
func (e *Engine) forget(a *alert) {
	if a.stored {
		e.deleted[a.ID] = struct{}{}
	}
	e.forgetView(a)
	e.unplace(a)
	delete(e.alerts, a.ID)
	delete(e.dirty, a.ID)
}

// unknownModeOf is unknownMode for a check that has no alert: the routes
// see the labels its alert would have.
func (e *Engine) unknownModeOf(name string, sp check.Spec) string {
	if len(e.cfg.Routes) == 0 {
		return UnknownKeep
	}
	a := &alert{ID: prefixCheck + name, Check: name, Kind: string(sp.Kind), Severity: sp.FailSeverity()}
	a.Labels = checkLabels(a, sp)
	return e.unknownMode(a)
}

// checkLabels are the labels of a check's alert.
func checkLabels(a *alert, sp check.Spec) map[string]string {
	l := map[string]string{LabelCheck: a.Check, LabelKind: a.Kind, LabelSeverity: string(a.Severity)}
	if sp.Component != "" {
		l[LabelComponent] = sp.Component
	}
	return l
}

// unknownMode is the Route.Unknown of the first route that takes a.
func (e *Engine) unknownMode(a *alert) string {
	for _, i := range route(e.cfg.Routes, a.Labels, routingSeverity(a)) {
		return e.cfg.Routes[i].Unknown
	}
	return UnknownKeep
}

// routingSeverity is the severity routes match on: the highest of the
// alert's firing episode while it is firing or being told.
func routingSeverity(a *alert) check.Severity {
	if (a.Firing || a.Told || a.Outbox != nil) && a.Peak.Rank() > a.Severity.Rank() {
		return a.Peak
	}
	return a.Severity
}

func (e *Engine) inMaintenance(name string, at time.Time) bool {
	return name != "" && e.opts.InMaintenance != nil && e.opts.InMaintenance(name, at)
}

// noteTransition writes the audit event of a firing or a resolution.
func (e *Engine) noteTransition(a *alert, tr transition, now time.Time) {
	switch tr {
	case fired:
		e.addAudit(store.AuditEvent{At: now, Actor: ActorSystem, Action: ActionAlertFiring, Target: a.ID,
			Details: map[string]any{"severity": string(a.Severity), "summary": a.Summary}})
	case resolved:
		e.addAudit(store.AuditEvent{At: now, Actor: ActorSystem, Action: ActionAlertResolved, Target: a.ID,
			Details: map[string]any{"severity": string(a.Severity), "duration": auditDuration(a.EndsAt.Sub(a.StartsAt))}})
	}
}

// noteSeverity writes the audit event of a firing alert's severity
// change from prev: the status page dates its incident updates by it
// ("the problem has worsened"). Nothing while the alert is pending or
// resolved: its firing and resolution events carry the severity.
func (e *Engine) noteSeverity(a *alert, prev check.Severity, now time.Time) {
	if !a.Firing || a.Severity == prev {
		return
	}
	e.addAudit(store.AuditEvent{At: now, Actor: ActorSystem, Action: ActionAlertSeverityChanged, Target: a.ID,
		Details: map[string]any{"severity": string(a.Severity), "previous": string(prev)}})
}

// auditDuration writes how long an alert fired for the audit trail: in
// whole seconds, or milliseconds under a second.
func auditDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// Audit queues an event of the audit trail (a config reload) for the next
// write to the store, with the engine's own: kept while the store is down.
func (e *Engine) Audit(ev store.AuditEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ev.At.IsZero() {
		ev.At = e.now()
	}
	if e.passive {
		if len(e.external) < maxBacklog {
			e.external = append(e.external, ev)
		}
	} else {
		e.addAudit(ev)
	}
	e.wake()
}

func (e *Engine) addAudit(ev store.AuditEvent) {
	if len(e.audit) >= maxBacklog {
		e.log.Error("Audit events dropped: the store is unavailable for too long", "dropped", 1)
		e.audit = e.audit[1:]
	}
	e.audit = append(e.audit, ev)
}

// update re-evaluates a after a change or at a tick: its mutes, what
// receivers must be told, its groups; marks it dirty when its stored state
// changed. Callers hold e.mu.
func (e *Engine) update(a *alert, now time.Time, before fingerprint) {
	e.mute(a, now)
	d := a.decide(e.cfg.Flapping, e.cfg.RepeatInterval, now)
	a.enqueue(d, now)
	e.place(a, now)
	if a.Outbox != nil {
		if len(a.groups) == 0 {
			a.Outbox = nil // no route takes it: nobody to tell
		} else {
			for _, k := range a.groups {
				if !slices.Contains(a.Outbox.Flushed, k) {
					e.schedule(e.groups[k], now)
				}
			}
		}
	}
	if fp(a) != before {
		e.dirty[a.ID] = struct{}{}
		delete(e.deleted, a.ID)
	}
	e.noteView(a, now)
}

// mute recomputes what silences and inhibits a (maintenance is set by the
// callers, from the result or the clock).
func (e *Engine) mute(a *alert, now time.Time) {
	if a.silSeen != e.silVersion {
		// Only when the silences or the alert's labels changed: a tick
		// does not match every alert against every silence.
		a.Silenced, a.silSeen = false, e.silVersion
		for _, s := range e.silences {
			if !now.Before(s.StartsAt) && now.Before(s.EndsAt) && silenceMatches(s.Matchers, a.Labels) {
				a.Silenced = true
				break
			}
		}
	}
	a.InhibitedBy = a.InhibitedBy[:0]
	if !strings.HasPrefix(a.ID, prefixCheck) {
		return
	}
	for _, p := range e.specs[a.Check].DependsOn {
		if pa := e.alerts[prefixCheck+p]; pa != nil && pa.Firing {
			a.InhibitedBy = append(a.InhibitedBy, pa.ID)
		}
	}
}

// silenceMatches reports whether every matcher fits the labels (a missing
// label is ""; values are globs).
func silenceMatches(m map[string]string, labels map[string]string) bool {
	if len(m) == 0 {
		return false
	}
	for k, v := range m {
		if !globMatch(v, labels[k]) {
			return false
		}
	}
	return true
}

// SetSpecs applies the checks after a reload (hub.Reloader): the alerts of
// removed checks resolve (told receivers hear it) and are forgotten later.
func (e *Engine) SetSpecs(specs []check.Spec) {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.specs = make(map[string]check.Spec, len(specs))
	for _, sp := range specs {
		e.specs[sp.Name] = sp
	}
	e.specsSet = true
	for name := range e.passed {
		if _, ok := e.specs[name]; !ok {
			delete(e.passed, name)
		}
	}
	e.dropRemovedChecks(now)
}

// dropRemovedChecks resolves the alerts of checks no longer configured.
func (e *Engine) dropRemovedChecks(now time.Time) {
	if !e.specsSet {
		return
	}
	for _, a := range e.alerts {
		if !strings.HasPrefix(a.ID, prefixCheck) && !strings.HasPrefix(a.ID, prefixSLO) {
			continue
		}
		if _, ok := e.specs[a.Check]; ok {
			continue
		}
		before := fp(a)
		if a.Firing {
			a.resolve(now)
			a.Summary = "check removed from the configuration"
			e.noteTransition(a, resolved, now)
		}
		a.Gone = true
		e.update(a, now, before)
	}
}

// SetConfig applies a reload's alerting section: routes, groups and
// thresholds. Groups are rebuilt; their alerts already told wait
// group_interval for their next notification.
func (e *Engine) SetConfig(cfg Config) {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cfg = cfg
	e.routeIDs = routeIDs(cfg.Routes)
	e.rebuildGroups(now)
	e.bump()
	e.wake()
}

// rebuildGroups places every alert again (after a reload or a restore).
func (e *Engine) rebuildGroups(now time.Time) {
	e.groups = map[string]*group{}
	for _, a := range e.alerts {
		a.groups = nil
		e.place(a, now)
	}
	for _, g := range e.groups {
		for id := range g.members {
			if a := e.alerts[id]; a.Told {
				g.flushed, g.last = true, now
			}
		}
	}
	for _, a := range e.alerts {
		if a.Outbox == nil {
			continue
		}
		for _, k := range a.groups {
			if !slices.Contains(a.Outbox.Flushed, k) {
				e.schedule(e.groups[k], now)
			}
		}
	}
}

// SLOSignals takes the evaluator's burn-rate conditions after each
// evaluation: all of them, firing or not (the Signals of every
// sla.Evaluator.Statuses()). Every condition that fires is an alert of
// kind slo_burn (page: CRITICAL, ticket: WARN), firing at once, with
// labels check, kind, severity, component, long_window and short_window;
// one given as not firing resolves at once. One that is absent (its SLO
// removed, or its evaluation failing: the store down) resolves only after
// SLOAbsentGrace, so that an outage of the history store does not resolve
// and re-page every burn alert. (Given only the firing conditions, as
// sla.Evaluator.Signals returns them, resolutions come that much later.)
func (e *Engine) SLOSignals(sigs []sla.Signal) {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.restored {
		return
	}
	seen := map[string]bool{}
	for _, s := range sigs {
		id := SLOAlertID(s)
		if _, dup := seen[id]; !dup || s.Firing {
			seen[id] = s.Firing
		}
		if !s.Firing {
			continue
		}
		a := e.alerts[id]
		if a == nil {
			if len(e.alerts) >= MaxAlerts {
				e.tooMany(id)
				continue
			}
			a = &alert{ID: id, Check: s.Check, Kind: KindSLOBurn}
			e.alerts[id] = a
		}
		before := fp(a)
		sev := sloSeverity(s.Alert.Severity)
		prev := a.Severity
		a.Severity, a.Gone, a.SeenAt = sev, false, now
		a.Summary = fmt.Sprintf("error budget burn rate %.1fx over %s and %.1fx over %s (threshold %gx, %s)",
			s.LongBurn, sla.FormatWindow(s.Alert.Long), s.ShortBurn, sla.FormatWindow(s.Alert.Short),
			s.Alert.Factor, s.Alert.Severity)
		a.silSeen = 0
		a.Labels = map[string]string{LabelCheck: s.Check, LabelKind: KindSLOBurn, LabelSeverity: string(sev),
			"long_window": sla.FormatWindow(s.Alert.Long), "short_window": sla.FormatWindow(s.Alert.Short)}
		if c := e.specs[s.Check].Component; c != "" {
			a.Labels[LabelComponent] = c
		}
		if !a.Firing {
			a.fire(sev, now)
			e.noteTransition(a, fired, now)
		} else {
			// A reload changed the condition's severity (page, ticket).
			e.noteSeverity(a, prev, now)
		}
		a.Maintenance = e.inMaintenance(a.Check, now)
		e.update(a, now, before)
	}
	for id, a := range e.alerts {
		if a.Kind != KindSLOBurn || !a.Firing || seen[id] {
			continue
		}
		if _, given := seen[id]; !given && now.Sub(a.SeenAt) < SLOAbsentGrace {
			continue
		}
		before := fp(a)
		a.resolve(now)
		e.noteTransition(a, resolved, now)
		e.update(a, now, before)
	}
}

// SLOAlertID is the alert ID of a burn-rate condition:
// "slo:<check>:<long>/<short>", e.g. slo:api:1h/5m.
func SLOAlertID(s sla.Signal) string {
	return prefixSLO + s.Check + ":" + sla.FormatWindow(s.Alert.Long) + "/" + sla.FormatWindow(s.Alert.Short)
}

// sloSeverity maps a burn-rate condition's severity: page is CRITICAL,
// ticket WARN.
func sloSeverity(s string) check.Severity {
	if s == "page" {
		return check.Critical
	}
	return check.Warn
}

// Alerts returns the firing, pending (counting to failure_threshold) and
// recently resolved alerts, sorted by ID.
func (e *Engine) Alerts() []View {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []View{}
	for _, a := range e.alerts {
		v, ok := a.view(now)
		if ok {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Alert statuses in GET /v2/alerts besides firing and resolved.
const StatusPending = "pending"

func (a *alert) view(now time.Time) (View, bool) {
	v := View{ID: a.ID, Check: a.Check, Kind: a.Kind, Severity: string(a.Severity), Summary: a.Summary,
		Labels: map[string]string{}, Silenced: a.Silenced, Maintenance: a.Maintenance, Flapping: a.Flapping,
		InhibitedBy: append([]string{}, a.InhibitedBy...), Receivers: append([]string{}, a.receivers...)}
	for k, val := range a.Labels {
		v.Labels[k] = val
	}
	switch {
	case a.Firing:
		v.Status, v.StartsAt = "firing", a.StartsAt
	case a.Fails > 0:
		v.Status, v.StartsAt = StatusPending, a.PendingSince
	case !a.EndsAt.IsZero() && now.Sub(a.EndsAt) < ResolvedRetention:
		end := a.EndsAt
		v.Status, v.StartsAt, v.EndsAt = "resolved", a.StartsAt, &end
	default:
		return v, false
	}
	return v, true
}

// wake makes Run evaluate now rather than at its next tick.
func (e *Engine) wake() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Run evaluates timers and writes to the store every second (and at once
// when woken) until ctx ends, then makes a last write.
func (e *Engine) Run(ctx context.Context) {
	t := time.NewTicker(tick)
	defer t.Stop()
	var last time.Time
	for {
		e.step(ctx)
		last = time.Now()
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			e.step(fctx)
			cancel()
			return
		case <-t.C:
		case <-e.kick:
			// A storm of wakes (each result of a route without
			// group_wait) makes steps at most every minGap.
			if d := minGap - time.Since(last); d > 0 {
				w := time.NewTimer(d)
				select {
				case <-ctx.Done():
				case <-w.C:
				}
				w.Stop()
			}
		}
	}
}

// step re-evaluates every alert at now, flushes the groups that are due,
// forgets what expired, and writes the changes in one commit.
func (e *Engine) step(ctx context.Context) {
	e.mu.Lock()
	restored := e.restored
	e.mu.Unlock()
	if !restored {
		if err := e.Restore(ctx); err != nil {
			if !e.failing {
				e.log.Warn("Alerting waits for the store to restore its state", "err", err)
			}
			e.failing = true
			return
		}
	}
	if e.refreshDue(e.now()) {
		if err := e.refresh(ctx); err != nil {
			e.log.Debug("Silences and escalations not read back; retrying", "err", err)
		}
	}
	now := e.now()
	e.mu.Lock()
	for id, s := range e.silences {
		active := !now.Before(s.StartsAt) && now.Before(s.EndsAt)
		if active != e.silActive[id] {
			e.silVersion++
			e.silActive[id] = active
		}
		if !now.Before(s.EndsAt) {
			delete(e.silences, id)
			delete(e.silActive, id)
		}
	}
	for _, a := range e.alerts {
		if !a.active() {
			continue // nothing to tell, nothing to show: no work per tick
		}
		before := fp(a)
		if e.opts.InMaintenance != nil && a.Check != "" {
			a.Maintenance = e.inMaintenance(a.Check, now)
		}
		e.update(a, now, before)
	}
	var due []*group
	for _, g := range e.groups {
		if !g.next.IsZero() && !now.Before(g.next) {
			due = append(due, g)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].key < due[j].key })
	for _, g := range due {
		e.flush(g, now)
	}
	e.expire(now)
	c, ids := e.takeCommit(now)
	if e.passive {
		ext := e.external
		e.external = nil
		e.mu.Unlock()
		e.writeExternal(ctx, ext)
		return
	}
	e.mu.Unlock()
	if len(c.Alerts) == 0 && len(c.Deleted) == 0 && len(c.Deliveries) == 0 && len(c.Audit) == 0 {
		return
	}
	_, err := e.st.CommitAlerts(ctx, c)
	e.mu.Lock()
	defer func() {
		e.mu.Unlock()
		if err == nil && len(c.Deliveries) > 0 && e.opts.Wake != nil {
			e.opts.Wake()
		}
	}()
	if err != nil {
		e.giveBack(c, ids)
		if !e.failing {
			lvl := slog.LevelError
			if errors.Is(err, store.ErrUnavailable) {
				lvl = slog.LevelWarn
			}
			e.log.Log(ctx, lvl, "Alert state not written; retrying every second", "err", err,
				"deliveries", len(e.deliveries))
		}
		e.failing = true
		return
	}
	if e.failing {
		e.log.Info("Alert state written again")
		e.failing = false
	}
	for _, id := range ids {
		if a := e.alerts[id]; a != nil {
			a.stored = true
		}
	}
	for _, id := range c.Deleted {
		if a := e.alerts[id]; a != nil {
			a.stored = false
		}
	}
}

// active reports whether a tick can change what a tells or shows.
func (a *alert) active() bool {
	return a.Firing || a.Told || a.Outbox != nil || a.Flapping || a.Fails > 0
}

// keep reports whether a's state is worth a row in the store.
func (a *alert) keep(now time.Time) bool {
	return a.Firing || a.Told || a.Outbox != nil || a.Flapping ||
		(!a.EndsAt.IsZero() && now.Sub(a.EndsAt) < ResolvedRetention)
}

// expire forgets resolved alerts past the retention: their rows go, and
// alerts of SLO conditions, escalations and removed checks go from memory.
func (e *Engine) expire(now time.Time) {
	for id, a := range e.alerts {
		if a.keep(now) {
			continue
		}
		e.noteView(a, now) // a resolved alert past the retention leaves Alerts
		if a.stored {
			e.deleted[id] = struct{}{}
		}
		if a.Gone || !strings.HasPrefix(id, prefixCheck) {
			e.forgetView(a)
			e.unplace(a)
			delete(e.alerts, id)
			delete(e.dirty, id)
		}
	}
}

// takeCommit moves what is to be written out of the engine: the rows of
// dirty alerts, the deletions, the deliveries and audit events. ids are
// the alerts written.
func (e *Engine) takeCommit(now time.Time) (store.AlertCommit, []string) {
	var c store.AlertCommit
	var ids []string
	for id := range e.dirty {
		a := e.alerts[id]
		if a == nil {
			continue
		}
		if !a.keep(now) {
			if a.stored {
				e.deleted[id] = struct{}{}
			}
			continue
		}
		data, err := json.Marshal(a)
		if err != nil { // cannot happen: plain data
			e.log.Error("Alert state not encoded", "alert", id, "err", err)
			continue
		}
		c.Alerts = append(c.Alerts, store.AlertRow{ID: id, Firing: a.Firing, Data: data, UpdatedAt: now})
		ids = append(ids, id)
	}
	for id := range e.deleted {
		c.Deleted = append(c.Deleted, id)
	}
	sort.Slice(c.Alerts, func(i, j int) bool { return c.Alerts[i].ID < c.Alerts[j].ID })
	sort.Strings(c.Deleted)
	c.Deliveries, c.Audit = e.deliveries, e.audit
	e.dirty, e.deleted = map[string]struct{}{}, map[string]struct{}{}
	e.deliveries, e.audit = nil, nil
	return c, ids
}

// giveBack puts a failed commit back: its alerts dirty again (their
// current state is written next time), its deliveries and audit events
// first in line. Callers hold e.mu.
func (e *Engine) giveBack(c store.AlertCommit, ids []string) {
	for _, id := range ids {
		if _, ok := e.alerts[id]; ok {
			e.dirty[id] = struct{}{}
		}
	}
	for _, id := range c.Deleted {
		if a := e.alerts[id]; a == nil || !a.keep(e.now()) {
			e.deleted[id] = struct{}{}
		}
	}
	e.deliveries = append(c.Deliveries, e.deliveries...)
	if n := len(e.deliveries) - maxBacklog; n > 0 {
		e.log.Error("Notifications dropped: the store is unavailable for too long", "dropped", n)
		e.deliveries = slices.Clone(e.deliveries[n:])
	}
	e.audit = append(c.Audit, e.audit...)
	if n := len(e.audit) - maxBacklog; n > 0 {
		e.log.Error("Audit events dropped: the store is unavailable for too long", "dropped", n)
		e.audit = slices.Clone(e.audit[n:])
	}
}

// Restore loads the alerts, the active silences and the open escalations
// from the store, so that an alert firing before a restart is still firing
// (told: no second firing page) and its resolution is still told. A
// notification that was due but not yet written is made due again. An
// error (the store unreachable) leaves the engine waiting: Run retries.
// Once it succeeded, Restore does nothing.
func (e *Engine) Restore(ctx context.Context) error {
	e.mu.Lock()
	done := e.restored
	e.mu.Unlock()
	if done {
		return nil
	}
	now := e.now()
	rows, err := e.st.LoadAlerts(ctx)
	if err != nil {
		return fmt.Errorf("load alerts: %w", err)
	}
	sils, escs, err := e.loadMutes(ctx, now)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.restored {
		return nil
	}
	e.restored = true
	for _, row := range rows {
		if _, ok := e.alerts[row.ID]; ok {
			continue // an escalation opened while the store was coming back
		}
		a := &alert{}
		if err := json.Unmarshal(row.Data, a); err != nil || a.ID != row.ID {
			e.log.Warn("Stored alert state unreadable; forgotten", "alert", row.ID, "err", err)
			e.deleted[row.ID] = struct{}{}
			continue
		}
		a.stored = true
		e.alerts[a.ID] = a
		e.noteView(a, now)
	}
	for _, s := range sils {
		if len(e.silences) < MaxSilences {
			e.silences[s.ID] = s
		}
	}
	e.silVersion++
	open := map[string]bool{}
	for _, esc := range escs {
		open[esc.ID] = true
		e.escalations[esc.ID] = esc
		if a := e.alerts[prefixEscalation+esc.ID]; a == nil || !a.Firing {
			// Saved, but its alert was not written before the stop.
			e.fireEscalation(esc, now)
		}
	}
	for id, a := range e.alerts {
		if strings.HasPrefix(id, prefixEscalation) && a.Firing && !open[strings.TrimPrefix(id, prefixEscalation)] {
			before := fp(a)
			a.resolve(now)
			a.Gone = true
			e.noteTransition(a, resolved, now)
			e.update(a, now, before)
		}
	}
	e.dropRemovedChecks(now)
	e.rebuildGroups(now)
	e.bump() // the open escalations
	return nil
}

// ViewOfRow reads one stored alert (store.AlertRow.Data) as GET
// /v2/alerts shows it at now, for readers of the store without an engine
// (`monitor alerts` when no daemon answers). Mutes are not stored: Silenced,
// Maintenance and InhibitedBy read false and empty. ok is false for an
// alert the engine would not show (resolved past the retention).
func ViewOfRow(row store.AlertRow, now time.Time) (v View, ok bool, err error) {
	a := &alert{}
	if err := json.Unmarshal(row.Data, a); err != nil {
		return View{}, false, fmt.Errorf("alert %s: %w", row.ID, err)
	}
	v, ok = a.view(now)
	return v, ok, nil
}
