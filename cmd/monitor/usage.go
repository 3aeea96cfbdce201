package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// help is what `monitor CMD --help` prints besides the flags.
type help struct {
	usage   string // the synopsis, after "Usage: "
	short   string // of a subcommand ("sla report"): its line in `monitor sla`
	what    string // one paragraph
	example string // one or more command lines
	exits   string // the exit codes
}

var helps = map[string]help{
	"run": {
		usage:   "monitor run [flags] [CONFIG]",
		what:    "Run the daemon: the scheduler and the HTTP server. SIGTERM or SIGINT drain (running checks get up to 15 s). SIGHUP, or POST /-/reload with a bearer token (server.tokens), reloads the config all or nothing, one reload at a time: an invalid new config is logged with every problem at file:line:col (POST /-/reload answers them: 400 invalid_request, details.problems) and the old one keeps running; monitor_config_last_reload_successful says which. The cluster section (replicas on a shared PostgreSQL store) takes effect on restart only; a replica that stops cleanly hands its checks over at once.",
		example: "monitor run --config /etc/monitor/config.yaml\nkill -HUP $(pidof monitor)   # or: curl -XPOST -H \"Authorization: Bearer $MONITOR_API_TOKEN\" localhost:8080/-/reload",
		exits:   "0 stopped cleanly, 1 failed to start, 2 usage or config error",
	},
	"check": {
		usage:   "monitor check [flags] [CONFIG]",
		what:    "Run every check (or the --only named ones, with the checks they depend on) once and print the results.",
		example: "monitor check --config config.yaml --only usage_meters_connectivity --format json",
		exits:   "0 no check FAILs, 1 a check FAILs, 2 usage or config error",
	},
	"validate": {
		usage:   "monitor validate [flags] [CONFIG]",
		what:    "Check the config and print file:line:col: message for every problem at once; with --web.config.file, also the web config monitor run would load.",
		example: "monitor validate --config config.yaml",
		exits:   "0 valid, 2 invalid (or usage error)",
	},
	"links": {
		usage:   "monitor links [flags] URL... | -",
		what:    "Check links ad hoc: the URLs given, or one per line on stdin with -. The SSRF guard applies unless --allow-private.",
		example: "monitor links https://example.com/ https://example.org/missing\nmonitor links --concurrency 256 - < urls.txt",
		exits:   "0 every link passes, 1 a link fails, 2 usage error",
	},
	"sla report": {
		usage:   "monitor sla report [flags] [CONFIG]",
		short:   "availability, error budget and outages per SLO",
		what:    "Print, per SLO, availability, objective, met, budget used, incidents and the longest outage, from the history store (works while the daemon runs).",
		example: "monitor sla report --config config.yaml --month 2026-10 --format csv",
		exits:   "0 ok, 1 store error, 2 usage or config error",
	},
	"statuspage build": {
		usage:   "monitor statuspage build --out DIR [flags] [CONFIG]",
		short:   "write the static status page (HTML, Statuspage-compatible JSON, SVG badges, feeds)",
		what:    "Write the static status page from the config and the history store (works while the daemon runs): index.html, api/v2/*.json in Atlassian Statuspage's shapes, badge/{component}.svg, feed.atom and feed.rss. DIR is replaced as a whole: the files are written beside it, then swapped in; a DIR that holds anything but a status page is refused (exit 2). Only components (checks' component), their states and uptime, and incidents are public.",
		example: "monitor statuspage build --config config.yaml --out /var/www/status",
		exits:   "0 written, 1 store or write error, 2 usage or config error",
	},
	"rules": {
		usage:   "monitor rules [flags] [CONFIG]",
		what:    "Print Prometheus recording and multi-window burn-rate alerting rules for the configured SLOs.",
		example: "monitor rules --config config.yaml | promtool check rules /dev/stdin",
		exits:   "0 ok, 2 no SLOs, usage or config error",
	},
	"alert test": {
		usage:   "monitor alert test --receiver NAME [flags] [CONFIG]",
		short:   "send a sample notification to one receiver and print its answer",
		what:    "Send a sample notification (one firing alert of a made-up check, marked as a test) to one receiver of the config, once, and print its answer.",
		example: "monitor alert test --config config.yaml --receiver oncall",
		exits:   "0 sent, 1 the receiver refused or could not be reached, 2 usage or config error",
	},
	"alerts": {
		usage:   "monitor alerts [flags] [CONFIG]",
		what:    "List the firing alerts of a running daemon (GET /v2/alerts), with what silences, maintenance or a failing parent hold back; --all adds pending and resolved ones.",
		example: "MONITOR_API_TOKEN=... monitor alerts --config config.yaml\nmonitor alerts --url http://127.0.0.1:8080 --format json",
		exits:   "0 ok, 1 the daemon could not be asked, 2 usage or config error",
	},
	"store copy": {
		usage:   "monitor store copy --from DSN --to DSN [flags]",
		short:   "copy every table of a history store into an empty one",
		what:    "Copy every table of a history store (results, rollups, outages, heartbeats, alert state, outbox, silences, escalations, audit trail) into an empty one, SQLite to PostgreSQL or back, in primary-key order and batches of 2,000 rows. Stop the daemon first: both stores are locked, and a target holding any row is refused before anything is written.",
		example: "monitor store copy --from sqlite:///var/lib/monitor/monitor.db --to 'postgres://monitor@db:5432/monitor?search_path=monitor'",
		exits:   "0 copied, 1 store error (refused or failed), 2 usage error",
	},
	"healthcheck": {
		usage:   "monitor healthcheck [flags]",
		what:    "GET a running daemon's /readyz once and print one line: exit 0 on a 2xx answer, 1 on anything else or no answer. The URL comes from --url, else server.listen of the config named with --config (0.0.0.0 and :: mean the loopback address), else $MONITOR_LISTEN, else 127.0.0.1:8080; the config.yaml of the working directory is not read. No proxy, no redirects; the output shows scheme, host and path only. For the HEALTHCHECK of an image with no shell or curl.",
		example: "monitor healthcheck\nmonitor healthcheck --url http://127.0.0.1:9090/readyz --timeout 2s",
		exits:   "0 healthy (2xx), 1 unhealthy or no answer, 2 usage or config error",
	},
	"version": {
		usage:   "monitor version [flags]",
		what:    "Print the version, the VCS revision and commit time the binary was built from, and the Go version.",
		example: "monitor version",
		exits:   "0",
	},
}

// newCommand is the flag set of a command. Its own output is off: parse
// prints errors and --help itself (see parse).
func newCommand(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("monitor "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse reads the flags of command name, with arguments and flags in any
// order ("check config.yaml --only x"); everything after "--" is an
// argument. ok is false when the command must return code: 0 after
// --help or -h (the help went to stdout), 2 after a bad flag (the
// problem and the usage went to stderr).
func parse(fs *flag.FlagSet, name string, args []string, stdout, stderr io.Writer) (rest []string, code int, ok bool) {
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout, name, fs)
			return nil, exitOK, false
		}
		if err != nil {
			fmt.Fprintf(stderr, "monitor %s: %s\n\nUsage: %s\n", name, dashes(err.Error()), helps[name].usage)
			printFlags(stderr, fs)
			fmt.Fprintf(stderr, "\nRun 'monitor %s --help' for an example and the exit codes.\n", name)
			return nil, exitConfig, false
		}
		left := fs.Args()
		if used := len(args) - len(left); used > 0 && args[used-1] == "--" {
			return append(rest, left...), exitOK, true
		}
		if len(left) == 0 {
			return rest, exitOK, true
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

// dashes writes the flag package's "-name" as the README does: "--name".
func dashes(msg string) string {
	for _, p := range []string{"flag provided but not defined: -", "flag needs an argument: -", "bad flag syntax: -"} {
		if strings.HasPrefix(msg, p) && !strings.HasPrefix(msg, p+"-") {
			return p + "-" + msg[len(p):]
		}
	}
	if i := strings.Index(msg, " for flag -"); i >= 0 {
		return msg[:i] + " for flag --" + msg[i+len(" for flag -"):]
	}
	return msg
}

// printHelp writes a command's usage, flags (as --name, with defaults),
// example and exit codes.
func printHelp(w io.Writer, name string, fs *flag.FlagSet) {
	h := helps[name]
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", h.usage, h.what)
	printFlags(w, fs)
	fmt.Fprintln(w, "\nExample:")
	for l := range strings.Lines(h.example) {
		fmt.Fprintf(w, "  %s", strings.TrimSuffix(l, "\n")+"\n")
	}
	fmt.Fprintf(w, "\nExit codes: %s\n", h.exits)
}

// printFlags writes "Flags:" and every flag of fs as --name, with its
// default unless it is the zero value.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if typ != "" {
			line += " " + typ
		}
		fmt.Fprintf(w, "%s\n        %s", line, usage)
		switch f.DefValue {
		case "", "0", "false":
		default:
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// subcommands are the subcommands of group in helps ("report" of "sla"),
// sorted.
func subcommands(group string) []string {
	var subs []string
	for name := range helps {
		if sub, ok := strings.CutPrefix(name, group+" "); ok {
			subs = append(subs, sub)
		}
	}
	slices.Sort(subs)
	return subs
}

// groupUsage handles `monitor GROUP ARGS` when ARGS do not start with one
// of the group's subcommands: --help, -h or help print the group's usage
// to stdout (exit 0); nothing, or anything else, prints it to stderr
// (exit 2). done is false when args[0] is a subcommand, for the caller to
// run.
func groupUsage(group string, args []string, stdout, stderr io.Writer) (code int, done bool) {
	if len(args) > 0 {
		if _, ok := helps[group+" "+args[0]]; ok {
			return exitOK, false
		}
	}
	w, code := stderr, exitConfig
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		w, code = stdout, exitOK
	} else if len(args) > 0 {
		fmt.Fprintf(stderr, "monitor %s: unknown subcommand %q\n", group, args[0])
	}
	subs := subcommands(group)
	width := 0
	for _, sub := range subs {
		width = max(width, len(sub))
	}
	for i, sub := range subs {
		lead := "Usage: "
		if i > 0 {
			lead = strings.Repeat(" ", len(lead))
		}
		fmt.Fprintf(w, "%s%s\n", lead, helps[group+" "+sub].usage)
	}
	fmt.Fprintln(w, "\nSubcommands:")
	for _, sub := range subs {
		fmt.Fprintf(w, "  %-*s  %s\n", width, sub, helps[group+" "+sub].short)
	}
	fmt.Fprintf(w, "\nRun 'monitor %s SUBCOMMAND --help' for its flags and an example.\n", group)
	return code, true
}

// logFlags are --log-level and --log-format, which every command takes.
type logFlags struct {
	logLevel  string
	logFormat string
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&l.logFormat, "log-format", "text", "log format: text or json")
}

// check refuses a bad level or format before the command does anything.
func (l *logFlags) check(cmd string, stderr io.Writer) bool {
	if _, err := newLogger(io.Discard, l.logLevel, l.logFormat, nil); err != nil {
		fmt.Fprintf(stderr, "monitor %s: %v\n", cmd, err)
		return false
	}
	return true
}

// configArg takes the config path from the arguments: `monitor check
// path/to/config.yaml` means `--config path/to/config.yaml` (as promtool
// and most tools read a lone file argument). Two different paths, or more
// than one argument, are refused.
func (c *commonFlags) configArg(cmd string, args []string, stderr io.Writer) bool {
	switch {
	case len(args) == 0:
		return true
	case len(args) > 1:
		fmt.Fprintf(stderr, "monitor %s: unexpected argument %q (want one config file at most)\n", cmd, args[1])
		return false
	case c.config != "" && !sameFile(c.config, args[0]):
		fmt.Fprintf(stderr, "monitor %s: two config files, --config %s and %s (want one)\n", cmd, c.config, args[0])
		return false
	}
	c.config = args[0]
	return true
}

// sameFile reports whether two paths name one file: the same path written
// twice (config.yaml, ./config.yaml) or one file reached both ways.
func sameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// noConfigHint explains a config file that is not there, and how to name
// one.
func noConfigHint(path string, explicit bool) string {
	if explicit {
		if _, err := os.Stat("config.yaml"); err != nil && path == os.Getenv("MONITOR_CONFIG") {
			// Named by the variable, perhaps set long ago: say so.
			return fmt.Sprintf("config file %s (from $MONITOR_CONFIG) does not exist", path)
		}
		return fmt.Sprintf("config file %s does not exist", path)
	}
	wd, _ := os.Getwd()
	return fmt.Sprintf("no config.yaml in %s and $MONITOR_CONFIG is not set (name the file with --config path/to/config.yaml)", wd)
}
