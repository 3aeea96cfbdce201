package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/probes"
	"github.com/monitor-dev/monitor/scheduler"
	"github.com/monitor-dev/monitor/snapshot"
)

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c commonFlags
	fs := newFlagSet("check", stderr, &c)
	only := fs.String("only", "", "comma-separated names of the checks to run (default: all)")
	format := fs.String("format", "table", "output: table or json")
	if code, ok := c.parse(fs, "check", args, stdout, stderr); !ok {
		return code
	}
	if *format != "table" && *format != "json" {
		fmt.Fprintf(stderr, "monitor check: bad --format %q (want table or json)\n", *format)
		return exitConfig
	}
	l, ok := c.load("check", stderr)
	if !ok {
		return exitConfig
	}
	path, cfg, logger, red := l.path, l.cfg, l.logger, l.red

	specs := cfg.Checks
	if *only != "" {
		byName := map[string]check.Spec{}
		for _, sp := range cfg.Checks {
			byName[sp.Name] = sp
		}
		specs = nil
		picked := map[string]bool{}
		for _, name := range strings.Split(*only, ",") {
			name = strings.TrimSpace(name)
			if picked[name] {
				continue
			}
			picked[name] = true
			sp, ok := byName[name]
			if !ok {
				fmt.Fprintf(stderr, "monitor check: no check named %q in %s%s\n", name, path, config.DidYouMean(name, slices.Sorted(maps.Keys(byName))))
				return exitConfig
			}
			specs = append(specs, sp)
		}
	}

	env, err := newEnv(cfg, probes.NewBeatStore(), probes.NewLinkClients(probes.Guard{}), logger)
	if err != nil {
		fmt.Fprintf(stderr, "monitor check: %s\n", red.Redact(err.Error()))
		return exitConfig
	}
	defer env.Pool.Close()
	if err := startDemo(ctx, cfg, env, logger, false); err != nil {
		logger.Warn("demo seed failed", "err", err)
	}

	// Parents run too, so that depends_on reads the same as in the daemon.
	snap := snapshot.New(withParents(cfg.Checks, specs), time.Now)
	var wg sync.WaitGroup
	for _, sp := range snap.Specs() {
		wg.Go(func() {
			if r, ok := scheduler.Run(ctx, sp, env); ok {
				snap.Record(r)
			}
		})
	}
	wg.Wait()

	view := snap.View()
	results := make([]check.Result, 0, len(specs))
	for _, r := range view.Checks {
		for _, sp := range specs {
			if sp.Name == r.Check {
				results = append(results, r)
			}
		}
	}
	st, sev := check.Worst(results)
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			Status      check.Status   `json:"status"`
			Severity    check.Severity `json:"severity"`
			GeneratedAt string         `json:"generatedAt"`
			Checks      []check.Result `json:"checks"`
		}{st, sev, view.GeneratedAt.UTC().Format(time.RFC3339), results})
	} else {
		printTable(stdout, results, st, sev)
	}
	if st == check.Fail {
		return exitFail
	}
	return exitOK
}

// withParents returns the selected specs plus every check they depend on,
// transitively.
func withParents(all, selected []check.Spec) []check.Spec {
	byName := map[string]check.Spec{}
	for _, sp := range all {
		byName[sp.Name] = sp
	}
	seen := map[string]bool{}
	var out []check.Spec
	var add func(sp check.Spec)
	add = func(sp check.Spec) {
		if seen[sp.Name] {
			return
		}
		seen[sp.Name] = true
		out = append(out, sp)
		for _, p := range sp.DependsOn {
			if psp, ok := byName[p]; ok {
				add(psp)
			}
		}
	}
	for _, sp := range selected {
		add(sp)
	}
	return out
}

func printTable(w io.Writer, results []check.Result, st check.Status, sev check.Severity) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tKIND\tSTATUS\tSEVERITY\tTIME\tMESSAGE")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Check, r.Kind, r.Status, r.Severity,
			r.Duration.Round(time.Millisecond), oneLine(r.Message))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\noverall: %s %s (%s)\n", st, sev, count(len(results), "check"))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
