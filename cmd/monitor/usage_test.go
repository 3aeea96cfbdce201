package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// commands are every command's arguments before its flags: the helps
// map's names ("sla report" is sla, report), sorted.
var commands = func() [][]string {
	var out [][]string
	for _, name := range slices.Sorted(maps.Keys(helps)) {
		out = append(out, strings.Fields(name))
	}
	return out
}()

// mainCommands returns the command words Main's switch dispatches on
// (main.go, read as Go source), without help and the --version aliases:
// what a user can type after "monitor".
func mainCommands(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "Main" {
			return true
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			cc, ok := n.(*ast.CaseClause)
			if !ok {
				return true
			}
			var words []string
			for _, e := range cc.List {
				if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					w, _ := strconv.Unquote(lit.Value)
					words = append(words, w)
				}
			}
			if slices.Contains(words, "help") {
				return false
			}
			for _, w := range words {
				if !strings.HasPrefix(w, "-") {
					cmds = append(cmds, w)
				}
			}
			return false
		})
		return false
	})
	if len(cmds) < 5 {
		t.Fatalf("found only %v in Main's switch", cmds)
	}
	return cmds
}

// flagsBlock is the "Flags:" section of a help text.
func flagsBlock(help string) string {
	_, after, ok := strings.Cut(help, "\nFlags:\n")
	if !ok {
		return ""
	}
	block, _, _ := strings.Cut(after, "\n\n")
	return block
}

// TestHelpEveryCommand walks every command of the helps map, and every
// command Main knows, so that a command without help fails it:
//   - `monitor CMD --help`, `-h` and `monitor help CMD` print its usage,
//     what it does, its flags as --name with their defaults, an example
//     (whose --flags are its own) and the exit codes to stdout, exit 0;
//   - an unknown flag prints the problem, the usage and the same flags to
//     stderr, exit 2;
//   - a group (sla, statuspage, alert) without its subcommand prints its
//     usage to stderr, exit 2 (to stdout, exit 0, with --help);
//   - `monitor`, an unknown command or flag print the usage to stderr and
//     exit 2; `monitor --help`, `-h` and `help` to stdout, exit 0; the
//     usage names every command.
func TestHelpEveryCommand(t *testing.T) {
	singleDash := regexp.MustCompile(`(?m)^\s+-[a-z]`)
	flagLine := regexp.MustCompile(`(?m)^  --([a-z.-]+)`)
	groups := map[string]bool{}
	for name, h := range helps {
		args := strings.Fields(name)
		if len(args) > 1 {
			groups[args[0]] = true
			if h.short == "" {
				t.Errorf("helps[%q] has no short line for monitor %s", name, args[0])
			}
		}
		if !strings.HasPrefix(h.usage, "monitor "+name) || h.what == "" || h.exits == "" || !strings.Contains(h.example, "monitor "+name) {
			t.Errorf("helps[%q] = %+v: want a usage starting with the command, what it does, an example of it and exit codes", name, h)
		}
		_, help, _ := runMain(t, append(slices.Clone(args), "--help")...)
		for _, how := range [][]string{append(slices.Clone(args), "--help"), append(slices.Clone(args), "-h"), append([]string{"help"}, args...)} {
			code, stdout, stderr := runMain(t, how...)
			if code != 0 || stderr != "" || stdout != help {
				t.Errorf("monitor %s = %d, stderr %q, stdout:\n%s\nwant 0, nothing on stderr and the help of monitor %s --help", strings.Join(how, " "), code, stderr, stdout, name)
			}
		}
		for _, want := range []string{"Usage: " + h.usage + "\n\n" + h.what + "\n", "\nFlags:\n", "  --log-level string\n", "(default info)",
			"  --log-format string\n", "(default text)", "\nExample:\n  ", "\nExit codes: " + h.exits + "\n"} {
			if !strings.Contains(help, want) {
				t.Errorf("monitor %s --help does not print %q:\n%s", name, want, help)
			}
		}
		if singleDash.MatchString(help) {
			t.Errorf("monitor %s --help prints a flag with a single dash:\n%s", name, help)
		}
		if name != "links" && name != "version" && name != "store copy" && !strings.Contains(help, "  --config FILE\n") {
			t.Errorf("monitor %s --help does not list --config:\n%s", name, help)
		}
		// The example uses the command's own flags.
		flags := map[string]bool{}
		for _, m := range flagLine.FindAllStringSubmatch(flagsBlock(help), -1) {
			flags[m[1]] = true
		}
		for line := range strings.Lines(h.example) {
			_, cmdLine, ok := strings.Cut(line, "monitor "+name)
			if !ok {
				continue
			}
			if i := strings.IndexAny(cmdLine, "|#<;"); i >= 0 {
				cmdLine = cmdLine[:i]
			}
			for _, w := range strings.Fields(cmdLine) {
				if f, ok := strings.CutPrefix(w, "--"); ok {
					if f, _, _ = strings.Cut(f, "="); !flags[f] {
						t.Errorf("the example of monitor %s uses --%s, which is not one of its flags:\n%s", name, f, help)
					}
				}
			}
		}

		code, stdout, stderr := runMain(t, append(slices.Clone(args), "--no-such-flag")...)
		if code != 2 || stdout != "" ||
			!strings.HasPrefix(stderr, "monitor "+name+": flag provided but not defined: --no-such-flag\n") ||
			!strings.Contains(stderr, "Usage: "+h.usage+"\n") || flagsBlock(stderr) != flagsBlock(help) {
			t.Errorf("monitor %s --no-such-flag = %d, stdout %q, stderr:\n%s\nwant 2, the problem, the usage and the flags on stderr", name, code, stdout, stderr)
		}
	}

	for group := range groups {
		code, stdout, usage := runMain(t, group)
		if code != 2 || stdout != "" || !strings.HasPrefix(usage, "Usage: monitor "+group+" ") {
			t.Errorf("monitor %s = %d, stdout %q, stderr:\n%s\nwant 2 and its usage on stderr", group, code, stdout, usage)
		}
		for name, h := range helps {
			if sub, ok := strings.CutPrefix(name, group+" "); ok &&
				(!strings.Contains(usage, h.usage+"\n") || !strings.Contains(usage, "  "+sub+"  "+h.short+"\n")) {
				t.Errorf("monitor %s does not show %q and %q:\n%s", group, h.usage, sub+"  "+h.short, usage)
			}
		}
		for _, how := range [][]string{{group, "--help"}, {group, "-h"}, {"help", group}} {
			if code, stdout, stderr := runMain(t, how...); code != 0 || stderr != "" || stdout != usage {
				t.Errorf("monitor %s = %d, stderr %q, stdout:\n%s\nwant 0 and the usage of monitor %s", strings.Join(how, " "), code, stderr, stdout, group)
			}
		}
		if code, stdout, stderr := runMain(t, group, "nope"); code != 2 || stdout != "" ||
			!strings.HasPrefix(stderr, "monitor "+group+": unknown subcommand \"nope\"\n"+usage) {
			t.Errorf("monitor %s nope = %d, %q, stderr:\n%s\nwant 2 and the usage", group, code, stdout, stderr)
		}
	}

	// The top level.
	for _, how := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		if code, stdout, stderr := runMain(t, how...); code != 0 || stderr != "" || stdout != usage {
			t.Errorf("monitor %s = %d, stderr %q, stdout:\n%s\nwant 0 and the usage", how[0], code, stderr, stdout)
		}
	}
	for _, how := range [][]string{nil, {"nope"}, {"--nope"}, {"help", "nope"}} {
		if code, stdout, stderr := runMain(t, how...); code != 2 || stdout != "" || !strings.HasSuffix(stderr, usage) {
			t.Errorf("monitor %s = %d, stdout %q, stderr:\n%s\nwant 2 and the usage on stderr", strings.Join(how, " "), code, stdout, stderr)
		}
	}
	for name := range helps {
		if !strings.Contains(usage, "\n  "+name+" ") {
			t.Errorf("monitor --help does not list %s:\n%s", name, usage)
		}
	}
	for _, cmd := range mainCommands(t) {
		if _, ok := helps[cmd]; !ok && !groups[cmd] {
			t.Errorf("Main runs monitor %s, which has no entry in helps (usage.go)", cmd)
		}
	}
	for name := range helps {
		if !slices.Contains(mainCommands(t), strings.Fields(name)[0]) {
			t.Errorf("helps has %q, which Main does not run", name)
		}
	}
}

// TestLogFlagsEveryCommand: every command takes --log-level and
// --log-format, and refuses a bad level or format with exit 2 before
// doing anything.
func TestLogFlagsEveryCommand(t *testing.T) {
	for _, cmd := range commands {
		name := strings.Join(cmd, " ")
		for _, bad := range [][]string{{"--log-level", "loud"}, {"--log-format", "xml"}} {
			args := append(append(append([]string{}, cmd...), bad...), "--config", "testdata/valid.yaml")
			if name == "links" || name == "version" {
				args = append(append(append([]string{}, cmd...), bad...), "https://example.com/")
				if name == "version" {
					args = args[:len(args)-1]
				}
			}
			if name == "store copy" { // takes two DSNs, no config
				args = append(append(append([]string{}, cmd...), bad...), "--from", "sqlite://from.db", "--to", "sqlite://to.db")
			}
			code, _, stderr := runMain(t, args...)
			if code != 2 || !strings.Contains(stderr, "bad "+bad[0]) {
				t.Errorf("monitor %s = %d, stderr %q; want 2 and %q", strings.Join(args, " "), code, stderr, "bad "+bad[0])
			}
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	for _, args := range [][]string{
		{"version", "--log-level", "debug", "--log-format", "json"},
		{"links", "--log-level", "debug", "--log-format", "json", "--allow-private", srv.URL},
		{"validate", "--log-level", "warn", "--log-format", "json", "--config", "testdata/valid.yaml"},
	} {
		if code, stdout, stderr := runMain(t, args...); code != 0 {
			t.Errorf("monitor %s = %d, %q %q; want 0", strings.Join(args, " "), code, stdout, stderr)
		}
	}
}

// TestConfigArgument: the config may be named by its path as the
// argument, in any position among the flags; two paths are refused.
func TestConfigArgument(t *testing.T) {
	if code, stdout, stderr := runMain(t, "validate", "testdata/valid.yaml"); code != 0 || !strings.HasPrefix(stdout, "testdata/valid.yaml: ok") {
		t.Errorf("validate testdata/valid.yaml = %d %q %q, want that file validated", code, stdout, stderr)
	}
	if code, _, stderr := runMain(t, "check", "testdata/invalid-two.yaml", "--format", "json"); code != 2 || !strings.HasPrefix(stderr, "testdata/invalid-two.yaml:8:5: ") {
		t.Errorf("check testdata/invalid-two.yaml --format json = %d %q, want that file read", code, stderr)
	}
	if code, _, _ := runMain(t, "validate", "--config", "testdata/valid.yaml", "testdata/valid.yaml"); code != 0 {
		t.Errorf("the same file twice = %d, want 0", code)
	}
	if code, _, stderr := runMain(t, "rules", "testdata/valid.yaml", "testdata/invalid-two.yaml"); code != 2 || !strings.Contains(stderr, "unexpected argument") {
		t.Errorf("rules with two files = %d %q, want 2", code, stderr)
	}
}

// TestMissingConfigSuggestsFlag: with no config.yaml here and no
// $MONITOR_CONFIG, the message says how to name the file.
func TestMissingConfigSuggestsFlag(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("MONITOR_CONFIG", "")
	for _, cmd := range [][]string{{"validate"}, {"check"}, {"run"}, {"rules"}, {"sla", "report"}} {
		code, _, stderr := runMain(t, cmd...)
		if code != 2 || !strings.Contains(stderr, "no config.yaml in ") || !strings.Contains(stderr, "--config path/to/config.yaml") {
			t.Errorf("monitor %s = %d %q, want 2 and a hint to use --config", strings.Join(cmd, " "), code, stderr)
		}
	}
	code, _, stderr := runMain(t, "check", "--config", filepath.Join("conf", "missing.yaml"))
	if code != 2 || !strings.Contains(stderr, "config file conf/missing.yaml does not exist") {
		t.Errorf("check --config conf/missing.yaml = %d %q", code, stderr)
	}
}

// TestCountsSingular: "1 check", not "1 checks".
func TestCountsSingular(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "one.yaml")
	writeFile(t, path, "databases:\n  app: { dsn: \"sqlite://app.db\" }\nchecks:\n  - { name: one, kind: db, database: app }\n")
	code, stdout, _ := runMain(t, "validate", path)
	if code != 0 || !strings.HasSuffix(stdout, ": ok (1 check, 1 database)\n") {
		t.Errorf("validate = %d %q, want \"ok (1 check, 1 database)\"", code, stdout)
	}
	if got := count(0, "check") + ", " + count(2, "link"); got != "0 checks, 2 links" {
		t.Errorf("count = %q", got)
	}
}

// TestVersionText: the -ldflags version, the VCS revision (marked when the
// tree had changes), the commit time and the build date.
func TestVersionText(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-11-29T18:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	got := versionText("v1.4.0", "2026-11-29T19:00:00Z", bi)
	for _, want := range []string{"monitor v1.4.0 (go", "revision:    0123456789abcdef0123456789abcdef01234567 (with uncommitted changes)",
		"commit time: 2026-11-29T18:00:00Z", "build date:  2026-11-29T19:00:00Z"} {
		if !strings.Contains(got, want) {
			t.Errorf("versionText =\n%s\nwant %q", got, want)
		}
	}
	// go install ...@v1.5.0 stamps the module version.
	if got := versionText("dev", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.5.0"}}); !strings.HasPrefix(got, "monitor v1.5.0 ") {
		t.Errorf("versionText(dev, module v1.5.0) = %q", got)
	}
}

// TestAlertingNotice: an alerting section parses and validates, but nothing
// sends yet; validate says so instead of letting it look as if it acted.
func TestAlertingNotice(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "al.yaml")
	base := "checks:\n  - { name: a, kind: freshness, source: { heartbeat: true }, max_age: 1m }\n"
	writeFile(t, path, base+`alerting:
  receivers:
    - { name: oncall, type: webhook, url: "https://hooks.example.com/x" }
    - { name: spare, type: webhook, url: "https://hooks.example.com/y" }
  routes:
    - { match: { severity: CRITICAL }, receivers: [oncall] }
`)
	code, _, stderr := runMain(t, "validate", path)
	if code != 0 || !strings.Contains(stderr, `note: receiver "spare" is in no route: only monitor alert test reaches it`) {
		t.Errorf("validate = %d, stderr %q; want exit 0 and the note", code, stderr)
	}
	writeFile(t, path, base)
	if code, _, stderr := runMain(t, "validate", path); code != 0 || stderr != "" {
		t.Errorf("validate without alerting = %d, stderr %q", code, stderr)
	}
}

// TestBuildInfoVersion: monitor_build_info carries the same version as
// `monitor version`, also when only `go install ...@vX` stamped it (it
// said "dev" there before).
func TestBuildInfoVersion(t *testing.T) {
	installed := &debug.BuildInfo{Main: debug.Module{Version: "v1.5.0"}}
	for _, tc := range []struct {
		v    string
		bi   *debug.BuildInfo
		want string
	}{
		{"v1.4.0", installed, "v1.4.0"}, // -ldflags wins
		{"dev", installed, "v1.5.0"},
		{"dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		{"dev", nil, "dev"},
	} {
		if got := buildVersion(tc.v, tc.bi); got != tc.want {
			t.Errorf("buildVersion(%q, %v) = %q, want %q", tc.v, tc.bi != nil, got, tc.want)
		}
		if got := versionText(tc.v, "", tc.bi); !strings.HasPrefix(got, "monitor "+tc.want+" ") {
			t.Errorf("versionText(%q) = %q, want the same version %q", tc.v, got, tc.want)
		}
	}
}
