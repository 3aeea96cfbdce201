package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

// commands are every command's arguments before its flags.
var commands = [][]string{{"run"}, {"check"}, {"validate"}, {"links"}, {"sla", "report"}, {"rules"}, {"healthcheck"}, {"version"}}

// TestHelpEveryCommand: -h and --help print the command's usage, its
// flags as --name with their defaults, an example and the exit codes to
// stdout, and exit 0.
func TestHelpEveryCommand(t *testing.T) {
	singleDash := regexp.MustCompile(`(?m)^\s+-[a-z]`)
	for _, cmd := range commands {
		for _, h := range []string{"-h", "--help"} {
			args := append(append([]string{}, cmd...), h)
			code, stdout, stderr := runMain(t, args...)
			name := strings.Join(cmd, " ")
			if code != 0 || stderr != "" {
				t.Errorf("monitor %s %s = %d, stderr %q; want 0 and nothing", name, h, code, stderr)
				continue
			}
			for _, want := range []string{"Usage: monitor " + name, "--log-level string", "(default info)",
				"--log-format string", "Example:\n  monitor " + name, "Exit codes: 0"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("monitor %s %s does not print %q:\n%s", name, h, want, stdout)
				}
			}
			if singleDash.MatchString(stdout) {
				t.Errorf("monitor %s %s prints a flag with a single dash:\n%s", name, h, stdout)
			}
			if name != "links" && name != "version" && !strings.Contains(stdout, "--config FILE") {
				t.Errorf("monitor %s %s does not list --config:\n%s", name, h, stdout)
			}
		}
	}
	// The top level and `help CMD` too.
	if code, stdout, _ := runMain(t, "--help"); code != 0 || !strings.Contains(stdout, "Exit codes:") {
		t.Errorf("monitor --help = %d %q", code, stdout)
	}
	if code, stdout, _ := runMain(t, "help", "check"); code != 0 || !strings.Contains(stdout, "Usage: monitor check") {
		t.Errorf("monitor help check = %d %q", code, stdout)
	}
	if code, stdout, _ := runMain(t, "sla", "--help"); code != 0 || !strings.Contains(stdout, "Usage: monitor sla report") {
		t.Errorf("monitor sla --help = %d %q", code, stdout)
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
