package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/server"
	"github.com/monitor-dev/monitor/statuspage"
	"github.com/monitor-dev/monitor/store"
)

// Rebuilds of statuspage.out: the public state is looked at every
// statuspageEvery, and the folder rewritten when it changed, or at the
// latest every statuspageRefresh (the bars and "last updated" move on).
const (
	statuspageEvery   = 10 * time.Second
	statuspageRefresh = 5 * time.Minute
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
	var last string
	var written time.Time
	t := time.NewTicker(statuspageEvery)
	defer t.Stop()
	for {
		cfg := d.currentConfig()
		force := time.Since(written) >= statuspageRefresh
		fp, err := d.refreshStatusPage(ctx, cfg, cache, last, force)
		switch {
		case err != nil && ctx.Err() == nil:
			d.logger.Warn("status page not rebuilt", "err", err)
		case err == nil && (fp != last || force):
			last, written = fp, time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refreshStatusPage builds the page and, when its public state differs
// from last (or force), serves the new files at / and writes them to
// statuspage.out when set; it returns the state's fingerprint.
func (d *daemon) refreshStatusPage(ctx context.Context, cfg *config.Config, cache *statuspage.Cache, last string, force bool) (string, error) {
	now := func() time.Time { return time.Now().UTC() }
	in := statuspage.Inputs{Settings: statuspageSettings(cfg), Specs: cfg.Checks, History: d.store,
		Results: d.snap.View().Checks, Alerts: d.alerts.Alerts(), Incidents: statuspageIncidents(cfg),
		Maintenance: statuspageMaintenance(cfg, now()), Cache: cache, Now: now}
	for _, e := range d.alerts.OpenEscalations() {
		if e.Public {
			in.Escalations = append(in.Escalations, e)
		}
	}
	if d.lazy.Up() {
		in.AlertEvents = recentAlertEvents(ctx, d.store, now())
	}
	p, err := statuspage.Build(ctx, in)
	if err != nil {
		return last, err
	}
	fp := publicState(p)
	if fp == last && !force {
		return fp, nil
	}
	files, err := p.Files()
	if err != nil {
		return last, err
	}
	d.srv.SetStatusPage(server.NewSite(files))
	out := cfg.StatusPage.Out
	if out == "" {
		return fp, nil
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(out)), 0o755); err != nil {
		return last, err
	}
	if err := statuspage.WriteDir(out, files); err != nil {
		return last, err
	}
	return fp, nil
}

// recentAlertEvents are the firings and resolutions of the page's days,
// for the automatic incidents the engine has forgotten; none when the
// store cannot say.
func recentAlertEvents(ctx context.Context, st store.Store, now time.Time) []store.AuditEvent {
	since := now.Add(-statuspage.Days * 24 * time.Hour)
	var out []store.AuditEvent
	for _, action := range []string{"alert.firing", "alert.resolved"} {
		evs, err := st.AuditEvents(ctx, store.AuditQuery{Limit: 100, Since: since, Action: action})
		if err != nil {
			return nil
		}
		out = append(out, evs...)
	}
	return out
}

// publicState is what a visitor of the page would see change: the overall
// state, each component's state, and each incident's status.
func publicState(p *statuspage.Page) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s\n", p.Status.Indicator, p.Title)
	for _, c := range p.Components {
		fmt.Fprintf(&b, "c %s %s\n", c.ID, c.State)
	}
	for _, list := range [][]*statuspage.Incident{p.Active, p.Recent, p.Maintenances} {
		for _, i := range list {
			fmt.Fprintf(&b, "i %s %s %s\n", i.ID, i.Status, i.Impact)
		}
	}
	return b.String()
}
