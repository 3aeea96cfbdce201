package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/internal/runbook"
	"github.com/monitor-dev/monitor/sla"
)

// objectives turns the config's slos into sla objectives.
func objectives(cfg *config.Config) []sla.Objective {
	out := make([]sla.Objective, 0, len(cfg.SLOs))
	for _, s := range cfg.SLOs {
		out = append(out, sla.Objective{Check: s.Check, Target: s.Objective / 100, Window: s.Window, SLI: sla.SLI(s.SLI)})
	}
	return out
}

// loadObjectives loads the config and its SLOs; false means exit with
// exitConfig (the problem is printed).
func (c *commonFlags) loadObjectives(cmd string, stderr io.Writer) (loaded, []sla.Objective, bool) {
	l, ok := c.load(cmd, stderr)
	if !ok {
		return l, nil, false
	}
	objs := objectives(l.cfg)
	if len(objs) == 0 {
		fmt.Fprintf(stderr, "monitor %s: %s has no slos (add one, like:  slos: [{check: NAME, objective: 99.9}])\n", cmd, l.path)
		return l, nil, false
	}
	return l, objs, true
}

func cmdRules(args []string, stdout, stderr io.Writer) int {
	var c commonFlags
	fs := newFlagSet("rules", stderr, &c)
	if code, ok := c.parse(fs, "rules", args, stdout, stderr); !ok {
		return code
	}
	l, objs, ok := c.loadObjectives("rules", stderr)
	if !ok {
		return exitConfig
	}
	b, err := sla.Rules(objs, ruleRunbooks(l.cfg))
	if err != nil {
		fmt.Fprintf(stderr, "monitor rules: %v\n", err)
		return exitFail
	}
	_, _ = stdout.Write(b)
	return exitOK
}

func cmdSLA(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if code, done := groupUsage("sla", args, stdout, stderr); done {
		return code
	}
	var c commonFlags
	fs := newFlagSet("sla report", stderr, &c)
	window := fs.String("window", "", "the `DURATION` ending now, like 30d or 12h (default: each SLO's own window)")
	month := fs.String("month", "", "a calendar month `YYYY-MM`, like 2026-10 (UTC)")
	format := fs.String("format", "table", "output: table, json or csv")
	if code, ok := c.parse(fs, "sla report", args[1:], stdout, stderr); !ok {
		return code
	}
	if *window != "" && *month != "" {
		fmt.Fprintln(stderr, "monitor sla report: --window and --month exclude each other")
		return exitConfig
	}
	if *format != "table" && *format != "json" && *format != "csv" {
		fmt.Fprintf(stderr, "monitor sla report: bad --format %q (want table, json or csv)\n", *format)
		return exitConfig
	}
	l, objs, ok := c.loadObjectives("sla report", stderr)
	if !ok {
		return exitConfig
	}
	cfg := l.cfg
	now := time.Now().UTC().Truncate(time.Second) // from/to in whole seconds, in JSON as in CSV and the table
	var from, to time.Time
	switch {
	case *month != "":
		var err error
		if from, to, err = sla.MonthRange(*month); err != nil {
			fmt.Fprintf(stderr, "monitor sla report: bad --month %q (want YYYY-MM, like 2026-10)\n", *month)
			return exitConfig
		}
	case *window != "":
		d, err := config.ParseDuration(*window)
		if err != nil || d <= 0 {
			fmt.Fprintf(stderr, "monitor sla report: bad --window %q (want a duration like 30d or 12h)\n", *window)
			return exitConfig
		}
		from, to = now.Add(-d), now
	}
	st, err := openStore(ctx, cfg, l.logger)
	if err != nil {
		fmt.Fprintf(stderr, "monitor sla report: %v\n", err)
		return exitFail
	}
	defer st.Close()

	var rows []sla.Row
	for _, o := range objs {
		f, t := from, to
		if f.IsZero() {
			f, t = now.Add(-o.Window), now
		}
		r, err := sla.Report(ctx, st, []sla.Objective{o}, f, t)
		if err != nil {
			fmt.Fprintf(stderr, "monitor sla report: %v\n", err)
			return exitFail
		}
		rows = append(rows, r...)
	}
	if err := sla.WriteReport(stdout, *format, rows); err != nil {
		fmt.Fprintf(stderr, "monitor sla report: %v\n", err)
		return exitFail
	}
	return exitOK
}

// ruleRunbooks gives the runbook_url annotation of a check's burn-rate
// alerts: the check's own runbook_url, else the MonitorSLOErrorBudgetBurn
// section of alerting.runbook_url.
func ruleRunbooks(cfg *config.Config) func(check string) string {
	own := map[string]string{}
	for _, c := range cfg.Checks {
		own[c.Name] = c.RunbookURL
	}
	return func(check string) string {
		if u := own[check]; u != "" {
			return u
		}
		return runbook.URL(cfg.Alerting.RunbookURL, runbook.RuleSLOBurn)
	}
}
