package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/monitor-dev/monitor/alerting"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/scheduler/cronspec"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/snapshot"
	"github.com/monitor-dev/monitor/statuspage"
	"github.com/monitor-dev/monitor/store"
)

// statuspageSettings is the page's branding and component order from the
// config's `statuspage:` section.
func statuspageSettings(cfg *config.Config) statuspage.Settings {
	sp := cfg.StatusPage
	order := make([]statuspage.ComponentOrder, 0, len(sp.Components))
	for _, c := range sp.Components {
		order = append(order, statuspage.ComponentOrder{Name: c.Name, Group: c.Group})
	}
	return statuspage.Settings{Title: sp.Title, LogoURL: sp.LogoURL, HomeURL: sp.HomeURL,
		URL: cfg.Server.PublicURL, Components: order}
}

// statuspageIncidents are the incidents written by hand (`incidents:` and
// incidents_dir), with the ids and the rendered Markdown of the config.
func statuspageIncidents(cfg *config.Config) []statuspage.ManualIncident {
	out := make([]statuspage.ManualIncident, 0, len(cfg.Incidents))
	for _, in := range cfg.Incidents {
		m := statuspage.ManualIncident{ID: in.ID, Title: in.Title, Components: in.Components, Impact: string(in.Impact)}
		for _, u := range in.Updates {
			m.Updates = append(m.Updates, statuspage.ManualUpdate{At: u.At, Status: string(u.Status), Body: u.Body, HTML: u.HTML})
		}
		out = append(out, m)
	}
	return out
}

// statuspageMaintenance turns the config's maintenance windows into the
// page's, with no public title: the config's reason is for operators.
func statuspageMaintenance(cfg *config.Config, now time.Time) []statuspage.Maintenance {
	out := make([]statuspage.Maintenance, 0, len(cfg.Maintenance))
	for _, m := range cfg.Maintenance {
		w := sla.Maintenance{Checks: m.Checks, Components: m.Components, Start: m.Start, End: m.End, Duration: m.Duration}
		if m.Cron != "" {
			sched, err := cronspec.Parse(m.Cron, time.UTC, now)
			if err != nil {
				continue // validated by config with the same parser
			}
			w.Cron = sched
		}
		out = append(out, statuspage.Maintenance{Window: w})
	}
	return out
}

// maxEscalations bounds the escalations read for the page.
const maxEscalations = 1000

// statuspageInputs reads what the page is built from out of the store:
// the latest results (made effective as the daemon does: stale ones are
// UNKNOWN), the alerts and the public escalations, and the history.
func statuspageInputs(ctx context.Context, cfg *config.Config, st store.Store, now func() time.Time) (statuspage.Inputs, error) {
	in := statuspage.Inputs{Settings: statuspageSettings(cfg), Specs: cfg.Checks, History: st,
		Incidents: statuspageIncidents(cfg), Maintenance: statuspageMaintenance(cfg, now()), Now: now}
	latest, err := st.Latest(ctx)
	if err != nil {
		return in, err
	}
	snap := snapshot.New(cfg.Checks, now)
	snap.Restore(latest)
	in.Results = snap.View().Checks
	rows, err := st.LoadAlerts(ctx)
	if err != nil {
		return in, err
	}
	for _, row := range rows {
		if v, ok, err := alerting.ViewOfRow(row, now()); err == nil && ok {
			in.Alerts = append(in.Alerts, v)
		}
	}
	// The history of the automatic incidents: the newest firings,
	// severity changes and resolutions.
	evs, err := alertEvents(ctx, st, now())
	if err != nil {
		return in, err
	}
	in.AlertEvents = evs
	escs, err := st.Escalations(ctx, "", maxEscalations)
	if err != nil {
		return in, err
	}
	for _, e := range escs {
		if e.Public {
			in.Escalations = append(in.Escalations, e)
		}
	}
	return in, nil
}

func cmdStatuspage(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if code, done := groupUsage("statuspage", args, stdout, stderr); done {
		return code
	}
	var c commonFlags
	fs := newFlagSet("statuspage build", stderr, &c)
	out := fs.String("out", "", "the `DIR` to write the site to; replaced as a whole, atomically")
	if code, ok := c.parse(fs, "statuspage build", args[1:], stdout, stderr); !ok {
		return code
	}
	if *out == "" {
		fmt.Fprintln(stderr, "monitor statuspage build: --out DIR is required\nRun 'monitor statuspage build --help' for usage.")
		return exitConfig
	}
	// A folder the build would refuse to replace is a mistake in the
	// command line: say so before reading the config and the store.
	if err := statuspage.CheckOut(*out, nil); err != nil {
		return outFailed(stderr, err)
	}
	l, ok := c.load("statuspage build", stderr)
	if !ok {
		return exitConfig
	}
	st, err := openStore(ctx, l.cfg, l.logger)
	if err != nil {
		fmt.Fprintf(stderr, "monitor statuspage build: %v\n", err)
		return exitFail
	}
	defer st.Close()
	now := func() time.Time { return time.Now().UTC() }
	in, err := statuspageInputs(ctx, l.cfg, st, now)
	if err != nil {
		fmt.Fprintf(stderr, "monitor statuspage build: %s\n", l.red.Redact(err.Error()))
		return exitFail
	}
	p, err := statuspage.Build(ctx, in)
	if err != nil {
		fmt.Fprintf(stderr, "monitor statuspage build: %v\n", err)
		return exitFail
	}
	if p.HistoryErr != nil {
		l.logger.Warn("history unavailable: the page shows the current state without uptime bars", "err", p.HistoryErr)
	}
	files, err := p.Files()
	if err != nil {
		fmt.Fprintf(stderr, "monitor statuspage build: %v\n", err)
		return exitFail
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(*out)), 0o755); err != nil {
		fmt.Fprintf(stderr, "monitor statuspage build: %v\n", err)
		return exitFail
	}
	if err := statuspage.WriteDir(*out, files); err != nil {
		return outFailed(stderr, err)
	}
	size := 0
	for _, b := range files {
		size += len(b)
	}
	fmt.Fprintf(stdout, "%s: %s, %s, %d bytes: %s\n", *out, count(len(p.Components), "component"), count(len(files), "file"), size, p.Status.Description)
	return exitOK
}

// outFailed reports a failure to write --out: a folder the build will not
// replace is a usage error (exit 2), any other failure a write error
// (exit 1).
func outFailed(stderr io.Writer, err error) int {
	var oe *statuspage.OutError
	if errors.As(err, &oe) {
		fmt.Fprintf(stderr, "monitor statuspage build: will not replace --out %s: %s\n", oe.Dir, oe.Reason)
		return exitConfig
	}
	fmt.Fprintf(stderr, "monitor statuspage build: %v\n", err)
	return exitFail
}
