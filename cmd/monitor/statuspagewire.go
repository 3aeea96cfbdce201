package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/monitor-dev/monitor/alerting"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/server"
	"github.com/monitor-dev/monitor/statuspage"
	"github.com/monitor-dev/monitor/store"
)

// Rebuilds of the page: what it is made of is looked at every
// statuspageEvery, whatever the number of checks. A look first compares
// cheap change counters (lookKey: the config, the snapshot's state
// version, the alerting engine's version, the minute while maintenance
// windows exist) with the last look's and stops there when none moved:
// an idle look copies nothing. Otherwise it copies the results and alerts
// to hash the public ones, the page is built only when that changed, and
// served and written to statuspage.out when what a visitor sees changed,
// or at the latest every statuspageRefresh (the bars and "last updated"
// move on). A failed rebuild is retried at the next look and logged once
// per statuspageQuiet while it keeps failing the same way.
const (
	statuspageEvery   = time.Second
	statuspageRefresh = 5 * time.Minute
	statuspageQuiet   = time.Minute
)

// currentConfig is the config running now.
func (d *daemon) currentConfig() *config.Config { return d.live.Load() }

// runStatusPage keeps the status page served at / and written to
// statuspage.out up to date while the daemon runs. It
// builds from memory (the effective results, the engine's alerts and open
// escalations) and reads the store only for history and past incidents:
// a store that is down gives a page of the current state.
func (d *daemon) runStatusPage(ctx context.Context) {
	cache := statuspage.NewCache()
	var last pageState
	var written, warned time.Time
	var lastErr string
	// looked is the lookKey of the last look that left nothing to retry;
	// zero (no config) makes the next look a full one.
	var looked lookKey
	t := time.NewTimer(statuspageEvery)
	defer t.Stop()
	for {
		t.Reset(statuspageEvery)
		cfg := d.currentConfig()
		force := time.Since(written) >= statuspageRefresh
		// Read before the results and alerts: a change made after is
		// seen at the next look.
		key := d.lookKey(cfg, time.Now().UTC())
		if key != looked || force {
			looked = lookKey{}
			fp, err := d.refreshStatusPage(ctx, cfg, cache, last, force)
			switch {
			case err != nil && ctx.Err() == nil:
				if msg := err.Error(); msg != lastErr || time.Since(warned) >= statuspageQuiet {
					d.logger.Warn("status page not rebuilt", "err", err)
					lastErr, warned = msg, time.Now()
				}
			case err == nil && (fp.public != last.public || force):
				if lastErr != "" {
					d.logger.Info("status page rebuilt again")
					lastErr = ""
				}
				last, written = fp, time.Now()
			case err == nil:
				last = fp
				lastErr = ""
			}
			if err == nil && fp.input != "" {
				// Nothing to retry (a failed rebuild or write, an audit
				// trail behind the page retry at every look): skip the
				// next looks until the key moves.
				looked = key
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// lookKey is what tells, without copying anything, that the page's
// inputs may have changed since a look: when two looks have the same key,
// inputState would be the same too.
type lookKey struct {
	cfg    *config.Config
	state  uint64 // the snapshot's StateVersion: the checks' effective states
	alerts uint64 // the alerting engine's Version: alerts and escalations
	minute int64  // while maintenance windows exist (one may begin or end)
}

// lookKey is the page's lookKey at now with cfg in force.
func (d *daemon) lookKey(cfg *config.Config, now time.Time) lookKey {
	k := lookKey{cfg: cfg, state: d.snap.StateVersion(), alerts: d.alerts.Version()}
	if len(cfg.Maintenance) > 0 {
		k.minute = now.Unix() / 60
	}
	return k
}

// refreshStatusPage builds the page and, when its public state differs
// from last (or force), serves the new files at / and writes them to
// statuspage.out when set; it returns the state's fingerprint.
func (d *daemon) refreshStatusPage(ctx context.Context, cfg *config.Config, cache *statuspage.Cache, last pageState, force bool) (pageState, error) {
	now := func() time.Time { return time.Now().UTC() }
	in := d.statusPageInputs(cfg, cache, now)
	// Nothing the page is made of changed: no build, no store query.
	input := inputState(cfg, in, now())
	if input == last.input && !force {
		return last, nil
	}
	behind := false
	if d.lazy.Up() {
		in.AlertEvents = recentAlertEvents(ctx, d.store, now())
		behind = auditBehind(cfg, in.Alerts, in.AlertEvents)
	}
	p, err := statuspage.Build(ctx, in)
	if err != nil {
		return last, err
	}
	fp := pageState{input: input, public: publicState(p)}
	if behind {
		// The page lacks an update the audit trail is about to date:
		// look again at the next tick even if nothing else changes.
		fp.input = ""
	}
	if fp.public == last.public && !force {
		return fp, nil
	}
	files, err := p.Files()
	if err != nil {
		return last, err
	}
	d.srv.SetStatusPage(server.NewSite(files))
	out := cfg.StatusPage.Out
	if out == "" || !d.leads() {
		return fp, nil // in cluster mode, the leader writes statuspage.out
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(out)), 0o755); err != nil {
		return last, err
	}
	if err := statuspage.WriteDir(out, files); err != nil {
		return last, err
	}
	return fp, nil
}

// statusPageInputs copies what the page is built from out of memory: the
// effective results, the alerts and the public open escalations (what a
// look costs when lookKey moved).
func (d *daemon) statusPageInputs(cfg *config.Config, cache *statuspage.Cache, now func() time.Time) statuspage.Inputs {
	in := statuspage.Inputs{Settings: statuspageSettings(cfg), Specs: cfg.Checks, History: d.store,
		Results: d.snap.View().Checks, Alerts: d.alerts.Alerts(), Incidents: statuspageIncidents(cfg),
		Maintenance: statuspageMaintenance(cfg, now()), Cache: cache, Now: now}
	for _, e := range d.alerts.OpenEscalations() {
		if e.Public {
			in.Escalations = append(in.Escalations, e)
		}
	}
	return in
}

// recentAlertEvents are the firings, severity changes and resolutions of
// the page's days, for the automatic incidents the engine has forgotten
// and the times of severity changes; none when the store cannot say.
func recentAlertEvents(ctx context.Context, st store.Store, now time.Time) []store.AuditEvent {
	evs, err := alertEvents(ctx, st, now)
	if err != nil {
		return nil
	}
	return evs
}

// alertEvents reads the audit events the automatic incidents are made of
// over the page's days: the newest 100 of each action (the audit trail
// answers at most 100 at once).
func alertEvents(ctx context.Context, st store.Store, now time.Time) ([]store.AuditEvent, error) {
	since := now.Add(-statuspage.Days * 24 * time.Hour)
	var out []store.AuditEvent
	for _, action := range []string{alerting.ActionAlertFiring, alerting.ActionAlertSeverityChanged, alerting.ActionAlertResolved} {
		evs, err := st.AuditEvents(ctx, store.AuditQuery{Limit: 100, Since: since, Action: action})
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	return out, nil
}

// auditBehind reports whether a firing alert of a public component has a
// severity its audit events do not show yet: the engine writes
// alert.severity_changed on its next step (within a second), and the
// incident's update is dated by it.
func auditBehind(cfg *config.Config, alerts []alerting.View, events []store.AuditEvent) bool {
	public := make(map[string]bool, len(cfg.Checks))
	for _, sp := range cfg.Checks {
		public[sp.Name] = sp.Component != ""
	}
	type known struct {
		at  time.Time
		sev string
	}
	latest := map[string]known{}
	for _, e := range events {
		if e.Action != alerting.ActionAlertFiring && e.Action != alerting.ActionAlertSeverityChanged {
			continue
		}
		if k, ok := latest[e.Target]; !ok || e.At.After(k.at) {
			sev, _ := e.Details["severity"].(string)
			latest[e.Target] = known{e.At, sev}
		}
	}
	for _, a := range alerts {
		if a.Status != "firing" || a.Kind == alerting.KindSLOBurn || a.Kind == alerting.KindEscalation || !public[a.Check] {
			continue
		}
		// Events of an earlier firing say nothing of this one.
		if k, ok := latest[a.ID]; ok && !k.at.Before(a.StartsAt.Add(-time.Second)) && k.sev != a.Severity {
			return true
		}
	}
	return false
}

// pageState is what the last look at the page saw: its inputs and what
// a visitor sees of it.
type pageState struct{ input, public string }

// inputState sums up what a page is built from, cheaply, without the
// store: the config in force, the public checks' states, the alerts, the
// public escalations, and the minute while maintenance windows exist
// (one may begin or end).
func inputState(cfg *config.Config, in statuspage.Inputs, now time.Time) string {
	b := fnv.New128a()
	fmt.Fprintf(b, "%p\n", cfg)
	public := make(map[string]bool, len(cfg.Checks))
	for _, sp := range cfg.Checks {
		public[sp.Name] = sp.Component != ""
	}
	for _, r := range in.Results {
		if public[r.Check] {
			fmt.Fprintf(b, "r %s %s %s\n", r.Check, r.Status, r.Severity)
		}
	}
	for _, a := range in.Alerts {
		fmt.Fprintf(b, "a %s %s %s %t %t\n", a.ID, a.Status, a.Severity, a.Silenced, a.Maintenance)
	}
	for _, e := range in.Escalations {
		fmt.Fprintf(b, "e %s %s\n", e.ID, e.Status)
	}
	if len(cfg.Maintenance) > 0 {
		fmt.Fprintf(b, "m %d\n", now.Unix()/60)
	}
	return string(b.Sum(nil))
}

// publicState is what a visitor of the page would see change: the overall
// state, each component's state, and each incident's status, impact and
// updates.
func publicState(p *statuspage.Page) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s\n", p.Status.Indicator, p.Title)
	for _, c := range p.Components {
		fmt.Fprintf(&b, "c %s %s\n", c.ID, c.State)
	}
	for _, list := range [][]*statuspage.Incident{p.Active, p.Recent, p.Maintenances} {
		for _, i := range list {
			// An update (a severity change) changes neither status nor
			// impact: its count and the newest one's id do.
			newest := ""
			if len(i.Updates) > 0 {
				newest = i.Updates[0].ID
			}
			fmt.Fprintf(&b, "i %s %s %s %d %s\n", i.ID, i.Status, i.Impact, len(i.Updates), newest)
		}
	}
	return b.String()
}

// checkStatusPageOut refuses a statuspage.out that every rebuild would
// refuse to replace (the root, a file, a folder with other files in it:
// statuspage.CheckOut). validate, run's start and a reload ask the same
// question, so that a config validate accepts never leaves the daemon
// logging a refused write at every rebuild.
func checkStatusPageOut(cfg *config.Config) error {
	if cfg.StatusPage.Out == "" {
		return nil
	}
	if err := statuspage.CheckOut(cfg.StatusPage.Out, nil); err != nil {
		return fmt.Errorf("statuspage.out: %w", err)
	}
	return nil
}
