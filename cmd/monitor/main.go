// Command monitor is a health and SLA monitoring daemon.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/metrics"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Usage: monitor <command> [flags]

Commands:
  run               run the daemon: scheduler and HTTP server (SIGTERM drains, SIGHUP or POST /-/reload reloads)
  check             run every (or --only the named) check once and print the results
  validate          check the config; print file:line:col: message per problem
  links             check links ad hoc: URL... or - for one per line on stdin
  sla report        availability, error budget and outages per SLO (--window 30d or --month 2026-10)
  statuspage build  write the static status page to --out DIR (HTML, JSON, badges, feeds)
  rules             print Prometheus recording and alerting rules for the configured SLOs
  alert test        send a sample notification to one receiver (--receiver NAME)
  alerts            list the firing alerts of a running daemon
  store copy        copy the history store into an empty one (--from DSN --to DSN)
  healthcheck       GET a running daemon's /readyz; exit 0 on 2xx (container HEALTHCHECK)
  version           print the version

Every command takes --log-level (debug, info, warn, error) and --log-format
(text, json); the config-reading ones take --config FILE or the file as
their argument. Run 'monitor <command> --help' for a command's flags and an
example.

Exit codes: 0 ok, 1 a check or link FAILs (or the daemon failed to start),
2 usage or config error.
`

// Exit codes of the contract.
const (
	exitOK     = 0
	exitFail   = 1
	exitConfig = 2
)

func main() {
	os.Exit(Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// setVersion sets metrics.Version once per process: the tests call Main
// from parallel goroutines, and the value never changes.
var setVersion sync.Once

// Main runs one command and returns its exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	setVersion.Do(func() {
		bi, _ := debug.ReadBuildInfo()
		metrics.Version = buildVersion(version, bi)
	})
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitConfig
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(ctx, rest, stdout, stderr)
	case "check":
		return cmdCheck(ctx, rest, stdout, stderr)
	case "validate":
		return cmdValidate(rest, stdout, stderr)
	case "links":
		return cmdLinks(ctx, rest, stdin, stdout, stderr)
	case "rules":
		return cmdRules(rest, stdout, stderr)
	case "alert":
		return cmdAlert(ctx, rest, stdout, stderr)
	case "alerts":
		return cmdAlerts(ctx, rest, stdout, stderr)
	case "sla":
		return cmdSLA(ctx, rest, stdout, stderr)
	case "statuspage":
		return cmdStatuspage(ctx, rest, stdout, stderr)
	case "store":
		return cmdStore(ctx, rest, stdout, stderr)
	case "healthcheck":
		return cmdHealthcheck(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		return cmdVersion(rest, stdout, stderr)
	case "help", "-h", "--help", "-help":
		if len(rest) > 0 && rest[0] != "help" {
			// monitor help check = monitor check --help
			return Main(ctx, append(slices.Clone(rest), "--help"), stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		if strings.HasPrefix(cmd, "-") {
			fmt.Fprintf(stderr, "monitor: unknown flag %q (a command's flags go after it: monitor check --config FILE)\n\n%s", cmd, usage)
			return exitConfig
		}
		fmt.Fprintf(stderr, "monitor: unknown command %q%s\n\n%s", cmd, config.DidYouMean(cmd, commandNames), usage)
		return exitConfig
	}
}

// commandNames are the commands Main knows, for a typo's suggestion.
var commandNames = []string{"run", "check", "validate", "links", "rules", "alert", "alerts",
	"sla", "statuspage", "store", "healthcheck", "version", "help"}

// commonFlags are the flags every config-reading command takes.
type commonFlags struct {
	config string
	logFlags
}

// newFlagSet is the flag set of a config-reading command: --config and the
// log flags. (stderr is unused: parse reports problems.)
func newFlagSet(name string, _ io.Writer, c *commonFlags) *flag.FlagSet {
	fs := newCommand(name)
	fs.StringVar(&c.config, "config", "", "the config `FILE` (default config.yaml in the working directory, then $MONITOR_CONFIG); it may also be given as the argument")
	c.register(fs)
	return fs
}

// parse reads the flags and the optional config argument, and checks the
// log flags; ok false means return code.
func (c *commonFlags) parse(fs *flag.FlagSet, name string, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	rest, code, ok := parse(fs, name, args, stdout, stderr)
	if !ok {
		return code, false
	}
	if !c.configArg(name, rest, stderr) || !c.check(name, stderr) {
		return exitConfig, false
	}
	return exitOK, true
}

// configPath resolves --config: the flag, else config.yaml in the working
// directory, else $MONITOR_CONFIG. explicit tells whether the file was
// named (by the flag, the argument or the variable).
func configPath(flagValue string) (path string, explicit bool) {
	if flagValue != "" {
		return flagValue, true
	}
	if _, err := os.Stat("config.yaml"); err == nil {
		return "config.yaml", false
	}
	if env := os.Getenv("MONITOR_CONFIG"); env != "" {
		return env, true
	}
	return "config.yaml", false
}

// loaded is what a config-reading command starts from.
type loaded struct {
	path   string
	cfg    *config.Config
	logger *slog.Logger
	red    *check.Redactor
	// logRed is what the logger redacts with: red, plus the secrets of
	// every config a reload loads (see liveRedactor).
	logRed *liveRedactor
}

// load resolves --config, loads and validates it (printing every problem)
// and builds the redacting logger; false means exit with exitConfig.
func (c *commonFlags) load(cmd string, stderr io.Writer) (loaded, bool) {
	path, explicit := configPath(c.config)
	l := loaded{path: path}
	var ok bool
	if l.cfg, ok = loadConfig(cmd, l.path, explicit, stderr); !ok {
		return l, false
	}
	l.red = check.NewRedactor(l.cfg.Secrets...)
	l.logRed = newLiveRedactor(l.cfg.Secrets...)
	var err error
	if l.logger, err = newLogger(stderr, c.logLevel, c.logFormat, l.logRed); err != nil {
		fmt.Fprintf(stderr, "monitor %s: %v\n", cmd, err)
		return l, false
	}
	return l, true
}

// loadConfig loads and validates the config, printing every problem.
func loadConfig(cmd, path string, explicit bool, stderr io.Writer) (*config.Config, bool) {
	cfg, err := config.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "monitor %s: %s\n", cmd, noConfigHint(path, explicit))
		return nil, false
	}
	if err != nil {
		printProblems(stderr, path, err)
		return nil, false
	}
	return cfg, true
}

func printProblems(w io.Writer, path string, err error) {
	probs := config.Problems(err)
	if len(probs) == 0 {
		fmt.Fprintf(w, "%s: %v\n", path, err)
		return
	}
	for _, p := range probs {
		fmt.Fprintln(w, p.Error())
	}
}

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	var c commonFlags
	fs := newFlagSet("validate", stderr, &c)
	webConfig := fs.String("web.config.file", "", "also check this exporter-toolkit web config, as monitor run would")
	if code, ok := c.parse(fs, "validate", args, stdout, stderr); !ok {
		return code
	}
	path, explicit := configPath(c.config)
	cfg, ok := loadConfig("validate", path, explicit, stderr)
	// The web config is checked with the same call as run's, even when the
	// config has problems, so that every problem is reported at once.
	if err := web.Validate(*webConfig); err != nil {
		fmt.Fprintf(stderr, "monitor validate: --web.config.file %s: %v\n", *webConfig, err)
		ok = false
	}
	if !ok {
		return exitConfig
	}
	// run builds every receiver's sender at start: what it would refuse,
	// validate refuses too (the same constructors).
	if _, err := senders(cfg, slog.New(slog.DiscardHandler)); err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", path, check.NewRedactor(cfg.Secrets...).Redact(err.Error()))
		return exitConfig
	}
	if err := checkStatusPageOut(cfg); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return exitConfig
	}
	fmt.Fprintf(stdout, "%s: ok (%s, %s)\n", path, count(len(cfg.Checks), "check"), count(len(cfg.Databases), "database"))
	if note := alertingNotice(cfg); note != "" {
		fmt.Fprintf(stderr, "%s: note: %s\n", path, note)
	}
	return exitOK
}

// count writes n and the noun, in the plural unless n is 1: "1 check",
// "3 checks".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// newLogger builds the process logger; every string it writes passes
// through the redactor so that no secret reaches a log line.
func newLogger(w io.Writer, level, format string, red redacter) (*slog.Logger, error) {
	if red == nil {
		red = (*check.Redactor)(nil)
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad --log-level %q (want debug, info, warn or error)", level)
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		switch a.Value.Kind() {
		case slog.KindString:
			a.Value = slog.StringValue(red.Redact(a.Value.String()))
		case slog.KindAny:
			if err, ok := a.Value.Any().(error); ok {
				a.Value = slog.StringValue(red.Redact(err.Error()))
			}
		}
		return a
	}}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("bad --log-format %q (want text or json)", format)
}

// redacter removes secrets from text.
type redacter interface{ Redact(string) string }

// liveRedactor is the process logger's redactor. A reload can bring new
// secrets (a new DSN password, a webhook URL) that its log lines may quote
// before or after the swap, so Add takes more while the logger runs. It
// never forgets one: a secret a reload removed may still be in flight.
type liveRedactor struct {
	mu      sync.Mutex
	secrets []string
	cur     atomic.Pointer[check.Redactor]
}

func newLiveRedactor(secrets ...string) *liveRedactor {
	l := &liveRedactor{}
	l.Add(secrets...)
	return l
}

// Add registers secrets not seen before.
func (l *liveRedactor) Add(secrets ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	grew := l.cur.Load() == nil
	for _, s := range secrets {
		if !slices.Contains(l.secrets, s) {
			l.secrets = append(l.secrets, s)
			grew = true
		}
	}
	if grew {
		l.cur.Store(check.NewRedactor(l.secrets...))
	}
}

// Redact hides every secret added so far.
func (l *liveRedactor) Redact(s string) string { return l.cur.Load().Redact(s) }

// alertingNotice names the receivers no route sends to: they get nothing
// but `monitor alert test`, which a setting that parses must not hide.
func alertingNotice(cfg *config.Config) string {
	used := map[string]bool{}
	for _, r := range cfg.Alerting.Routes {
		for _, n := range r.Receivers {
			used[n] = true
		}
	}
	var idle []string
	for _, r := range cfg.Alerting.Receivers {
		if !used[r.Name] {
			idle = append(idle, strconv.Quote(r.Name))
		}
	}
	switch len(idle) {
	case 0:
		return ""
	case 1:
		return "receiver " + idle[0] + " is in no route: only monitor alert test reaches it"
	}
	return "receivers " + strings.Join(idle, ", ") + " are in no route: only monitor alert test reaches them"
}
