// Command monitor is a health and SLA monitoring daemon.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/metrics"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Usage: monitor <command> [flags]

Commands:
  run        run the daemon: scheduler and HTTP server (SIGTERM drains, SIGHUP reloads)
  check      run every (or --only the named) check once and print the results
  validate   check the config; print file:line:col: message per problem
  links      check links ad hoc: URL... or - for one per line on stdin
  sla report availability, error budget and outages per SLO (--window 30d or --month 2026-10)
  rules      print Prometheus recording and alerting rules for the configured SLOs
  version    print the version

Run 'monitor <command> -h' for a command's flags.
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

// Main runs one command and returns its exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	metrics.Version = version
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
	case "sla":
		return cmdSLA(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "monitor %s (%s)\n", version, runtime.Version())
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "monitor: unknown command %q\n\n%s", cmd, usage)
		return exitConfig
	}
}

// commonFlags are the flags every config-reading command takes.
type commonFlags struct {
	config    string
	logLevel  string
	logFormat string
}

func newBareFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("monitor "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func newFlagSet(name string, stderr io.Writer, c *commonFlags) *flag.FlagSet {
	fs := newBareFlagSet(name, stderr)
	fs.StringVar(&c.config, "config", "", "config file (default config.yaml, then $MONITOR_CONFIG)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	return fs
}

// configPath resolves --config: the flag, else config.yaml in the working
// directory, else $MONITOR_CONFIG.
func configPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if _, err := os.Stat("config.yaml"); err == nil {
		return "config.yaml"
	}
	if env := os.Getenv("MONITOR_CONFIG"); env != "" {
		return env
	}
	return "config.yaml"
}

// loaded is what a config-reading command starts from.
type loaded struct {
	path   string
	cfg    *config.Config
	logger *slog.Logger
	red    *check.Redactor
}

// load resolves --config, loads and validates it (printing every problem)
// and builds the redacting logger; false means exit with exitConfig.
func (c *commonFlags) load(cmd string, stderr io.Writer) (loaded, bool) {
	l := loaded{path: configPath(c.config)}
	var ok bool
	if l.cfg, ok = loadConfig(l.path, stderr); !ok {
		return l, false
	}
	l.red = check.NewRedactor(l.cfg.Secrets...)
	var err error
	if l.logger, err = newLogger(stderr, c.logLevel, c.logFormat, l.red); err != nil {
		fmt.Fprintf(stderr, "monitor %s: %v\n", cmd, err)
		return l, false
	}
	return l, true
}

// loadConfig loads and validates the config, printing every problem.
func loadConfig(path string, stderr io.Writer) (*config.Config, bool) {
	cfg, err := config.Load(path)
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
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "monitor validate: unexpected argument %q\n", fs.Arg(0))
		return exitConfig
	}
	path := configPath(c.config)
	cfg, ok := loadConfig(path, stderr)
	if !ok {
		return exitConfig
	}
	fmt.Fprintf(stdout, "%s: ok (%d checks, %d databases)\n", path, len(cfg.Checks), len(cfg.Databases))
	return exitOK
}

// newLogger builds the process logger; every string it writes passes
// through the redactor so that no secret reaches a log line.
func newLogger(w io.Writer, level, format string, red *check.Redactor) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad --log-level %q", level)
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
	return nil, errors.New("bad --log-format (want text or json)")
}
