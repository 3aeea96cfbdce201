package main

// Command-line tests, in process through Main. They are not parallel: Main
// sets package-level state (metrics.Version) on every call.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// runMain runs Main with args and returns its exit code and output.
func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code = Main(ctx, args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestValidateOK(t *testing.T) {
	code, stdout, stderr := runMain(t, "validate", "--config", "testdata/valid.yaml")
	if code != 0 || stderr != "" {
		t.Fatalf("validate valid.yaml = %d, stderr %q, want 0 and nothing", code, stderr)
	}
	if want := "testdata/valid.yaml: ok"; !strings.HasPrefix(stdout, want) {
		t.Errorf("stdout = %q, want it to start with %q", stdout, want)
	}
}

func TestValidateShippedConfig(t *testing.T) {
	for _, k := range []string{"MONITOR_LISTEN", "MONITOR_PUBLIC_URL", "MONITOR_API_TOKEN", "MONITOR_STORAGE_DSN", "APP_DATABASE_URL"} {
		t.Setenv(k, "")
	}
	path := filepath.Join("..", "..", "config.yaml")
	code, stdout, stderr := runMain(t, "validate", "--config", path)
	if code != 0 || !strings.Contains(stdout, ": ok") {
		t.Fatalf("validate the shipped config = %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestValidateConfigLookup: --config, else config.yaml in the working
// directory, else $MONITOR_CONFIG.
func TestValidateConfigLookup(t *testing.T) {
	valid, err := filepath.Abs("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	invalid, err := filepath.Abs("testdata/invalid-two.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)

	t.Setenv("MONITOR_CONFIG", valid)
	if code, stdout, stderr := runMain(t, "validate"); code != 0 || !strings.HasPrefix(stdout, valid+": ok") {
		t.Errorf("no config.yaml here, $MONITOR_CONFIG valid: %d %q %q, want it used", code, stdout, stderr)
	}
	copyFile(t, invalid, filepath.Join(dir, "config.yaml"))
	if code, _, stderr := runMain(t, "validate"); code != 2 || !strings.HasPrefix(stderr, "config.yaml:8:5: ") {
		t.Errorf("config.yaml here: %d %q, want ./config.yaml to win over $MONITOR_CONFIG", code, stderr)
	}
	if code, stdout, _ := runMain(t, "validate", "--config", valid); code != 0 || !strings.HasPrefix(stdout, valid+": ok") {
		t.Errorf("--config: %d %q, want the flag to win", code, stdout)
	}
	// One file named twice (the argument and --config) is one file.
	copyFile(t, valid, filepath.Join(dir, "config.yaml"))
	for _, args := range [][]string{
		{"validate", "config.yaml", "--config", "./config.yaml"},
		{"validate", "--config", filepath.Join(dir, "config.yaml"), "config.yaml"},
	} {
		if code, _, stderr := runMain(t, args...); code != 0 {
			t.Errorf("monitor %s = %d %q, want the same file accepted", strings.Join(args, " "), code, stderr)
		}
	}
}

func TestValidateProblems(t *testing.T) {
	code, stdout, stderr := runMain(t, "validate", "--config", "testdata/invalid-two.yaml")
	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	want := "testdata/invalid-two.yaml:8:5: unknown key \"intervl\" in check \"app_db\" (did you mean \"interval\"?)\n" +
		"testdata/invalid-two.yaml:9:11: invalid check name \"Events-Freshness\" (want lowercase letters, digits and _)\n"
	if stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
	}
	shape := regexp.MustCompile(`^[^:]+:\d+:\d+: \S.*$`)
	for l := range strings.Lines(stderr) {
		if !shape.MatchString(strings.TrimSuffix(l, "\n")) {
			t.Errorf("line %q is not FILE:LINE:COL: message", l)
		}
	}
}

func TestValidateHidesSecrets(t *testing.T) {
	code, stdout, stderr := runMain(t, "validate", "--config", "testdata/invalid-secret.yaml")
	if code != 2 || strings.Count(stderr, "\n") != 2 {
		t.Errorf("validate invalid-secret.yaml = %d with\n%s\nwant 2 and two problems", code, stderr)
	}
	if strings.Contains(stdout+stderr, "hunter2-secret") {
		t.Errorf("the password appears in validate's output:\n%s%s", stdout, stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in stderr
	}{
		{nil, "Usage: monitor"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"chek"}, `unknown command "chek" (did you mean "check"?)`},
		{[]string{"valdiate"}, `unknown command "valdiate" (did you mean "validate"?)`},
		{[]string{"validate", "--no-such-flag"}, "flag provided but not defined"},
		{[]string{"validate", "--config", "testdata/valid.yaml", "extra"}, `two config files, --config testdata/valid.yaml and extra (want one)`},
		{[]string{"validate", "testdata/valid.yaml", "extra"}, `unexpected argument "extra" (want one config file at most)`},
		{[]string{"validate", "--no-such-flag"}, "Usage: monitor validate [flags] [CONFIG]"},
		{[]string{"validate", "--config", "testdata/does-not-exist.yaml"}, "does-not-exist.yaml"},
		{[]string{"check", "--config", "testdata/valid.yaml", "--format", "xml"}, `bad --format "xml"`},
		{[]string{"check", "--config", "testdata/invalid-two.yaml"}, "testdata/invalid-two.yaml:8:5: "},
		{[]string{"check", "--config", "testdata/valid.yaml", "--log-level", "loud"}, `bad --log-level "loud" (want debug, info, warn or error)`},
		{[]string{"check", "--config", "testdata/valid.yaml", "--log-format", "xml"}, `bad --log-format "xml" (want text or json)`},
		{[]string{"links", "--concurrency", "0", "http://127.0.0.1:9/"}, "bad --concurrency 0 (want 1 or more)"},
		{[]string{"links", "--per-host", "-1", "http://127.0.0.1:9/"}, "bad --per-host -1 (want 1 or more)"},
		{[]string{"links", "--timeout", "0s", "http://127.0.0.1:9/"}, "bad --timeout 0s (want a positive duration like 4s)"},
		{[]string{"rules", "--config", "testdata/valid.yaml"}, "testdata/valid.yaml has no slos (add one, like:  slos: [{check: NAME, objective: 99.9}])"},
		{[]string{"sla", "report", "--config", "../../config.yaml", "--month", "2026-13"}, `bad --month "2026-13" (want YYYY-MM, like 2026-10)`},
	} {
		code, _, stderr := runMain(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("monitor %s = %d, stderr %q; want 2 and %q", strings.Join(tc.args, " "), code, stderr, tc.want)
		}
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runMain(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "monitor ") || !strings.Contains(stdout, runtime.Version()) {
		t.Errorf("version = %d %q, want 0 and \"monitor <version> (<go version>)\"", code, stdout)
	}
}

// checkConfig writes a config whose checks read the SQLite file app.db in a
// fresh directory, seeded with tables fresh (1m old) and stale (20m old).
func checkConfig(t *testing.T, checks string) string {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "app.db")
	seedSQLite(t, db, map[string]time.Duration{"fresh": time.Minute, "stale": 20 * time.Minute})
	path := filepath.Join(dir, "config.yaml")
	writeFile(t, path, fmt.Sprintf(`databases:
  app: { dsn: "sqlite://%s" }
defaults: { interval: 30s, timeout: 5s }
checks:
%s`, db, checks))
	return path
}

const (
	checkAppDB = `  - name: app_db
    kind: db
    database: app
    query: SELECT count(*) FROM fresh
`
	checkStale = `  - name: stale_freshness
    kind: freshness
    source: { database: app, query: "SELECT max(at) FROM stale" }
    max_age: 15m
    critical_age: 60m
`
	checkChild = `  - name: child
    kind: freshness
    source: { database: app, query: "SELECT max(at) FROM fresh" }
    max_age: 15m
    depends_on: [stale_freshness]
`
)

// decodeCheck parses `check --format json` output.
func decodeCheck(t *testing.T, stdout string) healthBody {
	t.Helper()
	var h healthBody
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		t.Fatalf("check --format json printed invalid JSON: %v\n%s", err, stdout)
	}
	if _, err := time.Parse(time.RFC3339, h.GeneratedAt); err != nil {
		t.Errorf("generatedAt %q: %v", h.GeneratedAt, err)
	}
	return h
}

func TestCheckPass(t *testing.T) {
	cfg := checkConfig(t, checkAppDB)
	code, stdout, stderr := runMain(t, "check", "--config", cfg, "--format", "json")
	if code != 0 {
		t.Fatalf("check = %d, want 0; stdout %s stderr %s", code, stdout, stderr)
	}
	h := decodeCheck(t, stdout)
	if h.Status != "PASS" || h.Severity != "INFO" || len(h.Checks) != 1 {
		t.Fatalf("check output = %v, want one PASS/INFO check", h)
	}
	c := wantCheck(t, h, "app_db", "PASS", "INFO")
	if c.Kind != "db" || c.Message != "ok" || c.ObservedUnit != "s" || c.ObservedValue == nil || c.DurationMs == nil {
		t.Errorf("app_db = %+v", c)
	}
	if _, err := time.Parse(time.RFC3339, c.CheckedAt); err != nil {
		t.Errorf("checkedAt %q: %v", c.CheckedAt, err)
	}
}

func TestCheckFail(t *testing.T) {
	cfg := checkConfig(t, checkStale+checkAppDB)
	code, stdout, stderr := runMain(t, "check", "--config", cfg, "--format", "json")
	if code != 1 {
		t.Fatalf("check = %d, want 1 (a FAIL); stdout %s stderr %s", code, stdout, stderr)
	}
	h := decodeCheck(t, stdout)
	if h.Status != "FAIL" || h.Severity != "WARN" {
		t.Errorf("overall = %s/%s, want FAIL/WARN", h.Status, h.Severity)
	}
	if got := h.names(); !slices.Equal(got, []string{"app_db", "stale_freshness"}) {
		t.Errorf("checks = %v, want both, sorted", got)
	}
	wantCheck(t, h, "app_db", "PASS", "INFO")
	c := wantCheck(t, h, "stale_freshness", "FAIL", "WARN")
	if !strings.HasPrefix(c.Message, "newest row is 20m") {
		t.Errorf("stale_freshness message = %q", c.Message)
	}

	// The table says the same and exits the same.
	code, stdout, _ = runMain(t, "check", "--config", cfg)
	if code != 1 || !strings.Contains(stdout, "overall: FAIL WARN (2 checks)") ||
		!regexp.MustCompile(`(?m)^stale_freshness\s+freshness\s+FAIL\s+WARN\s`).MatchString(stdout) {
		t.Errorf("check (table) = %d:\n%s", code, stdout)
	}

	// --only picks; the passing one alone exits 0.
	code, stdout, _ = runMain(t, "check", "--config", cfg, "--only", "app_db", "--format", "json")
	if h := decodeCheck(t, stdout); code != 0 || !slices.Equal(h.names(), []string{"app_db"}) {
		t.Errorf("check --only app_db = %d, checks %v; want 0 and app_db alone", code, h.names())
	}
}

func TestCheckOnlyUnknownName(t *testing.T) {
	cfg := checkConfig(t, checkAppDB)
	code, stdout, stderr := runMain(t, "check", "--config", cfg, "--only", "app_db,nope")
	if code != 2 || !strings.Contains(stderr, `no check named "nope"`) || stdout != "" {
		t.Errorf("check --only app_db,nope = %d, stdout %q, stderr %q; want 2 and the unknown name", code, stdout, stderr)
	}
	code, _, stderr = runMain(t, "check", "--config", cfg, "--only", "app_bd")
	if want := `no check named "app_bd" in ` + cfg + ` (did you mean "app_db"?)`; code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("check --only app_bd = %d, stderr %q; want 2 and %q", code, stderr, want)
	}
}

// TestCheckOnlyChildOfFailingParent: the parent runs (so depends_on reads as
// in the daemon) but is not printed; the child is UNKNOWN "parent X
// failing"; the exit code follows the printed checks: none FAILs, so 0.
func TestCheckOnlyChildOfFailingParent(t *testing.T) {
	cfg := checkConfig(t, checkStale+checkChild)

	code, stdout, stderr := runMain(t, "check", "--config", cfg, "--only", "child", "--format", "json")
	h := decodeCheck(t, stdout)
	if got := h.names(); !slices.Equal(got, []string{"child"}) {
		t.Errorf("--only child printed %v, want only child", got)
	}
	c := wantCheck(t, h, "child", "UNKNOWN", "WARN")
	if c.Message != "parent stale_freshness failing" {
		t.Errorf("child message = %q, want \"parent stale_freshness failing\"", c.Message)
	}
	if h.Status != "UNKNOWN" || h.Severity != "WARN" {
		t.Errorf("overall = %s/%s, want UNKNOWN/WARN", h.Status, h.Severity)
	}
	if code != 0 {
		t.Errorf("--only child = %d, want 0: no printed check FAILs (stderr %s)", code, stderr)
	}

	code, stdout, _ = runMain(t, "check", "--config", cfg, "--only", "child,stale_freshness", "--format", "json")
	h = decodeCheck(t, stdout)
	if got := h.names(); code != 1 || !slices.Equal(got, []string{"child", "stale_freshness"}) {
		t.Errorf("--only child,stale_freshness = %d, checks %v; want 1 and both", code, got)
	}
	wantCheck(t, h, "stale_freshness", "FAIL", "WARN")
	wantCheck(t, h, "child", "UNKNOWN", "WARN")
}

// TestCheckShippedConfig: `monitor check` in a directory holding the shipped
// config seeds the demo database and reports the demo's one failure.
func TestCheckShippedConfig(t *testing.T) {
	for _, k := range []string{"MONITOR_LISTEN", "MONITOR_PUBLIC_URL", "MONITOR_API_TOKEN", "MONITOR_STORAGE_DSN", "APP_DATABASE_URL", "MONITOR_CONFIG"} {
		t.Setenv(k, "")
	}
	src, err := filepath.Abs(filepath.Join("..", "..", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	copyFile(t, src, filepath.Join(dir, "config.yaml"))
	code, stdout, stderr := runMain(t, "check", "--format", "json")
	if code != 1 {
		t.Errorf("check on the shipped config = %d, want 1 (the demo's rollup fails); stderr %s", code, stderr)
	}
	h := decodeCheck(t, stdout)
	if got := h.names(); !slices.Equal(got, []string{"demo_pipeline_heartbeat", "redirect_analytics_freshness", "targeting_profile_freshness",
		"targeting_rollup_freshness", "usage_meters_connectivity"}) {
		t.Errorf("checks = %v", got)
	}
	wantCheck(t, h, "usage_meters_connectivity", "PASS", "INFO")
	wantCheck(t, h, "redirect_analytics_freshness", "PASS", "INFO")
	wantCheck(t, h, "targeting_profile_freshness", "PASS", "INFO")
	wantCheck(t, h, "targeting_rollup_freshness", "FAIL", "WARN")
	wantCheck(t, h, "demo_pipeline_heartbeat", "PASS", "INFO") // the demo's seed pushed it
}

// TestCheckHidesSecrets: a failing MySQL connection with a password in its
// DSN, at debug level: the password is in neither output.
func TestCheckHidesSecrets(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	writeFile(t, cfg, fmt.Sprintf(`databases:
  billing: { dsn: "mysql://monitor:hunter2-secret@127.0.0.1:%d/billing" }
checks:
  - name: billing_db
    kind: db
    database: billing
    timeout: 2s
  - name: billing_freshness
    kind: freshness
    source: { database: billing, query: "SELECT max(created_at) FROM invoices" }
    timeout: 2s
    max_age: 15m
`, closedPort(t)))
	for _, format := range []string{"json", "table"} {
		code, stdout, stderr := runMain(t, "check", "--config", cfg, "--format", format, "--log-level", "debug")
		if code != 1 {
			t.Errorf("check (%s) = %d, want 1 (the database is down)", format, code)
		}
		if !strings.Contains(stdout, "billing_db") {
			t.Errorf("check (%s) printed no result:\n%s", format, stdout)
		}
		if strings.Contains(stdout+stderr, "hunter2-secret") {
			t.Errorf("the password appears in check's output (%s):\n%s\n%s", format, stdout, stderr)
		}
	}
}

// TestCheckOnlyRepeatedName: naming a check twice runs and prints it once.
func TestCheckOnlyRepeatedName(t *testing.T) {
	cfg := checkConfig(t, checkAppDB)
	code, stdout, _ := runMain(t, "check", "--config", cfg, "--only", "app_db,app_db", "--format", "json")
	if h := decodeCheck(t, stdout); code != 0 || !slices.Equal(h.names(), []string{"app_db"}) {
		t.Errorf("check --only app_db,app_db = %d, checks %v; want 0 and app_db once", code, h.names())
	}
}

// A $MONITOR_CONFIG naming a file that is gone is named as the source of
// the path, so the operator knows where it came from.
func TestMissingConfigFromEnv(t *testing.T) {
	t.Chdir(t.TempDir())
	missing := filepath.Join(t.TempDir(), "monitor.yaml")
	t.Setenv("MONITOR_CONFIG", missing)
	code, _, stderr := runMain(t, "validate")
	if want := "config file " + missing + " (from $MONITOR_CONFIG) does not exist"; code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("validate with $MONITOR_CONFIG=%s = %d, %q; want 2 and %q", missing, code, stderr, want)
	}
	code, _, stderr = runMain(t, "validate", "--config", "other.yaml")
	if want := "config file other.yaml does not exist"; code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("validate --config other.yaml = %d, %q; want 2 and %q", code, stderr, want)
	}
}
