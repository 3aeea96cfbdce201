package alerting

import (
	"slices"
	"time"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
)

// This file is the state machine of one alert, pure: no store, no routes,
// no clock of its own. The engine feeds it observations (observe), tells it
// what mutes it (silence, maintenance, inhibition), and asks it on every
// change and every tick what receivers must be told (decide).
//
// Two states are kept apart:
//   - the condition: is the alert firing (failure_threshold consecutive
//     failures reached) or not (success_threshold consecutive successes);
//   - what receivers were told (Told, ToldSeverity, LastNotified).
//
// decide reconciles the second with the first unless the alert is muted or
// flapping. So an alert that starts failing inside a maintenance window or
// a silence is never told; if it still fails when the mute ends, it fires
// once then; if it recovered before, nothing is sent (receivers never heard
// of it). A flapping alert sends one "flapping" notice, then nothing until
// no change happened for a whole flapping window; then its state is told
// as usual (firing once, or the resolution of a told firing). The resolution of an alert whose firing was told is always sent,
// muted or not: it pages nobody, and it closes the receiver's incident
// (PagerDuty, Alertmanager) instead of leaving it open until the mute ends.

// alert is the state of one alert. Its JSON is the store's AlertRow.Data.
type alert struct {
	ID       string            `json:"id"`
	Check    string            `json:"check,omitempty"`
	Kind     string            `json:"kind"`
	Labels   map[string]string `json:"labels"`
	Severity check.Severity    `json:"severity"`
	Summary  string            `json:"summary,omitempty"`
	Details  string            `json:"details,omitempty"`
	Result   *check.Result     `json:"result,omitempty"`

	// The condition.
	Firing   bool      `json:"firing"`
	StartsAt time.Time `json:"startsAt,omitzero"` // firing since (or of the last episode)
	EndsAt   time.Time `json:"endsAt,omitzero"`   // resolved at; zero while firing or never resolved
	// Peak is the highest severity since the alert started firing; routes
	// match on it, so that an alert that paged a CRITICAL route keeps
	// going there (its de-escalation and resolution included).
	Peak check.Severity `json:"peak,omitempty"`
	// PendingSince is the first of the consecutive failures counted.
	PendingSince time.Time `json:"pendingSince,omitzero"`
	Fails        int       `json:"fails,omitempty"`  // consecutive failures counted
	Passes       int       `json:"passes,omitempty"` // consecutive successes counted
	// Last is the last counted outcome (fail or pass), for flap counting.
	Last     string      `json:"last,omitempty"`
	Changes  []time.Time `json:"changes,omitempty"` // outcome changes within the flapping window
	Flapping bool        `json:"flapping,omitempty"`
	FlapTold bool        `json:"flapTold,omitempty"` // the "flapping" notice was queued

	// What receivers were told.
	Told         bool           `json:"told,omitempty"` // its firing was notified (and not yet its resolution)
	ToldSeverity check.Severity `json:"toldSeverity,omitempty"`
	LastNotified time.Time      `json:"lastNotified,omitzero"`
	// Outbox is a notice decided but not yet in a notification of every
	// group the alert belongs to (groups wait group_wait/group_interval).
	Outbox *queued `json:"outbox,omitempty"`

	// What mutes it, recomputed by the engine (not persisted).
	Silenced    bool     `json:"-"`
	Maintenance bool     `json:"-"`
	InhibitedBy []string `json:"-"`

	// SeenAt is when SLOSignals last gave the burn-rate condition firing.
	SeenAt time.Time `json:"seenAt,omitzero"`

	// Gone: the alert's check, SLO or escalation no longer exists; it is
	// resolved and forgotten after the retention of resolved alerts.
	Gone bool `json:"gone,omitempty"`

	// Where it goes, recomputed by the engine (not persisted): the keys of
	// its groups, the receivers of its routes, and whether the store holds
	// a row of it.
	groups    []string
	receivers []string
	stored    bool
	// silSeen is the engine's silence version Silenced was computed at; 0
	// (labels changed) means compute again.
	silSeen int
	seen    viewKey // its view when the engine's Version last noted it
}

// queued is a notice waiting for its groups to be flushed.
type queued struct {
	Status string    `json:"status"` // firing or resolved
	Notice string    `json:"notice"` // receiver.Notice*
	At     time.Time `json:"at"`
	// Flushed are the groups that already carried it.
	Flushed []string `json:"flushed,omitempty"`
}

// Outcomes of one observation, after Route.Unknown is applied.
const (
	outFail = "fail"
	outPass = "pass"
	outKeep = "" // neither: UNKNOWN under UnknownKeep
)

// outcome maps a result's status to what it counts as under the route's
// unknown mode. Some UNKNOWNs never count: because a parent fails (the
// parent is the problem and pages for it; CONTRACT §3: "parent FAIL → this
// is UNKNOWN, not paged"), "not yet run", and a run given up at shutdown
// or reload.
func outcome(r check.Result, unknown string) string {
	switch r.Status {
	case check.Fail:
		return outFail
	case check.Pass:
		return outPass
	}
	switch r.Reason {
	case check.ReasonParentFailing, check.ReasonNotRun, check.ReasonCanceled:
		return outKeep
	}
	switch unknown {
	case UnknownFire:
		return outFail
	case UnknownResolve:
		return outPass
	}
	return outKeep
}

// transition is what an observation did to the condition.
type transition int

const (
	noChange transition = iota
	fired
	resolved
)

// observe counts one outcome at now under cfg's thresholds and flapping
// settings, with the severity the outcome carries.
func (a *alert) observe(out string, sev check.Severity, cfg Config, now time.Time) transition {
	if out == outKeep {
		return noChange
	}
	a.noteChange(out, cfg.Flapping, now)
	switch out {
	case outFail:
		if a.Fails == 0 && !a.Firing {
			a.PendingSince = now
		}
		a.Fails++
		a.Passes = 0
		a.Severity = sev
		if a.Firing {
			if sev.Rank() > a.Peak.Rank() {
				a.Peak = sev
			}
			return noChange
		}
		if a.Fails >= max(cfg.FailureThreshold, 1) {
			a.fire(sev, now)
			return fired
		}
	case outPass:
		a.Passes++
		a.Fails = 0
		if a.Firing && a.Passes >= max(cfg.SuccessThreshold, 1) {
			a.resolve(now)
			return resolved
		}
	}
	return noChange
}

// fire starts a firing episode at now.
func (a *alert) fire(sev check.Severity, now time.Time) {
	a.Firing, a.Severity, a.Peak = true, sev, sev
	a.StartsAt, a.EndsAt = now, time.Time{}
}

// resolve ends the firing episode at now.
func (a *alert) resolve(now time.Time) {
	a.Firing, a.EndsAt = false, now
}

// noteChange records an outcome change for flap detection: more than
// f.Changes changes within f.Window make the alert flapping.
func (a *alert) noteChange(out string, f Flapping, now time.Time) {
	if f.Changes <= 0 || f.Window <= 0 {
		a.Last, a.Changes = out, nil
		return
	}
	if a.Last != "" && a.Last != out {
		a.Changes = append(a.Changes, now)
	}
	a.Last = out
	a.pruneChanges(f, now)
	if len(a.Changes) > f.Changes && !a.Flapping {
		a.Flapping, a.FlapTold = true, false
	}
}

// pruneChanges drops changes older than the window, and keeps at most
// Changes+1 of them (all that flap detection needs).
func (a *alert) pruneChanges(f Flapping, now time.Time) {
	i := 0
	for i < len(a.Changes) && now.Sub(a.Changes[i]) > f.Window {
		i++
	}
	if keep := f.Changes + 1; len(a.Changes)-i > keep {
		i = len(a.Changes) - keep
	}
	if i > 0 {
		a.Changes = slices.Clone(a.Changes[i:])
	}
}

// settle ends flapping once no change happened for a whole window.
func (a *alert) settle(f Flapping, now time.Time) {
	if !a.Flapping {
		return
	}
	if f.Changes <= 0 || f.Window <= 0 || len(a.Changes) == 0 || now.Sub(a.Changes[len(a.Changes)-1]) >= f.Window {
		a.Flapping, a.FlapTold = false, false
		a.pruneChanges(f, now)
	}
}

// muted reports whether the alert must not be notified now.
func (a *alert) muted() bool {
	return a.Silenced || a.Maintenance || len(a.InhibitedBy) > 0
}

// decision is what decide found receivers must be told; Notice "" with
// Status "" is nothing.
type decision struct {
	Status string
	Notice string
}

func (d decision) none() bool { return d.Status == "" }

// decide reconciles what receivers were told with the alert's state at
// now, and returns the notice that makes them agree (updating Told).
// repeat is repeat_interval (0: never repeat).
func (a *alert) decide(f Flapping, repeat time.Duration, now time.Time) decision {
	a.settle(f, now)
	if a.Flapping {
		// One notice, then quiet (resolutions included) until it settles.
		if a.FlapTold || a.muted() {
			return decision{}
		}
		// The notice carries the current state: receivers now know it.
		a.FlapTold, a.Told, a.ToldSeverity, a.LastNotified = true, a.Firing, a.Severity, now
		return decision{Status: a.status(), Notice: receiver.NoticeFlapping}
	}
	if !a.Firing && a.Told {
		// Resolutions go out even when muted: see above.
		a.Told, a.LastNotified = false, now
		return decision{Status: receiver.StatusResolved}
	}
	if a.muted() {
		return decision{}
	}
	if !a.Firing {
		return decision{}
	}
	switch {
	case !a.Told:
		a.Told, a.ToldSeverity, a.LastNotified = true, a.Severity, now
		return decision{Status: receiver.StatusFiring}
	case a.ToldSeverity != a.Severity:
		a.ToldSeverity, a.LastNotified = a.Severity, now
		return decision{Status: receiver.StatusFiring, Notice: receiver.NoticeSeverity}
	case repeat > 0 && now.Sub(a.LastNotified) >= repeat:
		a.LastNotified = now
		return decision{Status: receiver.StatusFiring, Notice: receiver.NoticeRepeat}
	}
	return decision{}
}

// status is the alert's condition in the receivers' words.
func (a *alert) status() string {
	if a.Firing {
		return receiver.StatusFiring
	}
	return receiver.StatusResolved
}

// noticeRank orders notices when several meet in one queue slot: a plain
// firing or resolved matters most, a repeat least.
func noticeRank(n string) int {
	switch n {
	case receiver.NoticeNone:
		return 3
	case receiver.NoticeSeverity:
		return 2
	case receiver.NoticeFlapping:
		return 1
	}
	return 0
}

// enqueue puts a decision in the alert's outbox. A firing that no group
// carried yet and is now resolved cancels out: receivers hear of neither
// (as Alertmanager sends no resolution of an alert it never notified).
// Otherwise the newer status wins, with the weightier notice of the two.
func (a *alert) enqueue(d decision, now time.Time) {
	if d.none() {
		return
	}
	if q := a.Outbox; q != nil {
		if q.Status == receiver.StatusFiring && q.Notice == receiver.NoticeNone &&
			len(q.Flushed) == 0 && d.Status == receiver.StatusResolved {
			a.Outbox = nil
			return
		}
		n := d.Notice
		if d.Status == q.Status && noticeRank(q.Notice) > noticeRank(n) {
			n = q.Notice
		}
		if d.Status != q.Status {
			n = receiver.NoticeNone
		}
		a.Outbox = &queued{Status: d.Status, Notice: n, At: q.At}
		return
	}
	a.Outbox = &queued{Status: d.Status, Notice: d.Notice, At: now}
}
