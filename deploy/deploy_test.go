// Package deploy_test checks the files in deploy/ the way an operator uses
// them: the systemd unit through systemd-analyze and against the monitor's
// own flags and config loading, the Prometheus files through promtool.
package deploy_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// unitEntry is one Key=Value line of a unit file.
type unitEntry struct{ section, key, value string }

// readUnit parses a systemd unit file: sections, Key=Value lines, comments.
// A key may repeat (Environment=), so entries keep their order.
func readUnit(t *testing.T, path string) []unitEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []unitEntry
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s:%d: not Key=Value: %q", path, n, line)
			}
			out = append(out, unitEntry{section, strings.TrimSpace(k), strings.TrimSpace(v)})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// values returns every value of section.key, in file order.
func values(u []unitEntry, section, key string) []string {
	var out []string
	for _, e := range u {
		if e.section == section && e.key == key {
			out = append(out, e.value)
		}
	}
	return out
}

// buildMonitor builds cmd/monitor into a temporary directory.
func buildMonitor(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "monitor")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/monitor-dev/monitor/cmd/monitor")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestServiceUnitHardened: the unit runs the daemon as a dynamic user with
// the hardening an operator expects, reloads with SIGHUP and restarts on
// failure. A dropped option fails here.
func TestServiceUnitHardened(t *testing.T) {
	u := readUnit(t, "monitor.service")
	want := map[string]string{
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"Restart":                 "on-failure",
		"DynamicUser":             "yes",
		"StateDirectory":          "monitor",
		"ConfigurationDirectory":  "monitor",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectKernelLogs":       "yes",
		"ProtectControlGroups":    "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"RestrictNamespaces":      "yes",
		"LockPersonality":         "yes",
		"MemoryDenyWriteExecute":  "yes",
		"SystemCallFilter":        "@system-service",
		"CapabilityBoundingSet":   "",
		"AmbientCapabilities":     "",
	}
	for key, v := range want {
		got := values(u, "Service", key)
		if len(got) != 1 || got[0] != v {
			t.Errorf("[Service] %s = %q, want exactly %q", key, got, v)
		}
	}
	if got := values(u, "Install", "WantedBy"); !slices.Equal(got, []string{"multi-user.target"}) {
		t.Errorf("[Install] WantedBy = %q, want multi-user.target (systemctl enable needs it)", got)
	}
}

// TestServiceUnitExecStart: ExecStart names the install path and passes
// only flags `monitor run --help` documents, with the config where
// ConfigurationDirectory puts it.
func TestServiceUnitExecStart(t *testing.T) {
	u := readUnit(t, "monitor.service")
	exec1 := values(u, "Service", "ExecStart")
	if len(exec1) != 1 {
		t.Fatalf("ExecStart = %q, want one", exec1)
	}
	args := strings.Fields(exec1[0])
	if len(args) < 4 || args[0] != "/usr/local/bin/monitor" || args[1] != "run" {
		t.Fatalf("ExecStart = %q, want /usr/local/bin/monitor run ...", exec1[0])
	}
	if i := slices.Index(args, "--config"); i < 0 || i+1 >= len(args) || args[i+1] != "/etc/monitor/config.yaml" {
		t.Errorf("ExecStart = %q, want --config /etc/monitor/config.yaml", exec1[0])
	}

	bin := buildMonitor(t)
	help, err := exec.Command(bin, "run", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("monitor run --help: %v\n%s", err, help)
	}
	for _, a := range args[2:] {
		if strings.HasPrefix(a, "--") && !strings.Contains(string(help), "  "+a+" ") {
			t.Errorf("ExecStart flag %s is not in `monitor run --help`:\n%s", a, help)
		}
	}
}

// TestServiceUnitDataInStateDirectory: with the unit's environment, the
// shipped config installed as /etc/monitor/config.yaml keeps every SQLite
// file in /var/lib/monitor (the StateDirectory, the one place the service
// may write), none beside the config under read-only /etc.
func TestServiceUnitDataInStateDirectory(t *testing.T) {
	u := readUnit(t, "monitor.service")
	if got := values(u, "Service", "WorkingDirectory"); !slices.Equal(got, []string{"/var/lib/monitor"}) {
		t.Errorf("WorkingDirectory = %q, want /var/lib/monitor", got)
	}
	for _, env := range values(u, "Service", "Environment") {
		k, v, ok := strings.Cut(env, "=")
		if !ok {
			t.Fatalf("Environment=%s: want NAME=value", env)
		}
		t.Setenv(k, v)
	}
	etc := t.TempDir() // stands for /etc/monitor
	b, err := os.ReadFile(filepath.Join("..", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(etc, "config.yaml")
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.DSN != "sqlite:///var/lib/monitor/monitor.db" {
		t.Errorf("storage dsn = %q, want sqlite:///var/lib/monitor/monitor.db", cfg.Storage.DSN)
	}
	for name, db := range cfg.Databases {
		if strings.HasPrefix(db.DSN, "sqlite://") && !strings.HasPrefix(db.DSN, "sqlite:///var/lib/monitor/") {
			t.Errorf("database %s dsn = %q, want a file in /var/lib/monitor", name, db.DSN)
		}
	}
}

// TestServiceUnitVerifies runs systemd-analyze verify on the unit, with
// ExecStart pointing at a freshly built binary (verify refuses a missing
// executable, and /usr/local/bin/monitor is not installed here).
func TestServiceUnitVerifies(t *testing.T) {
	sa := testenv.Tool(t, "systemd-analyze", "systemd")
	bin := buildMonitor(t)
	b, err := os.ReadFile("monitor.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "monitor.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/monitor", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", unit).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestPrometheusFiles: promtool accepts the example config (with the rule
// file it loads) and the alert rules, and the rules' unit tests pass: the
// CRITICAL-failing, stale-freshness, certificate, connections, monitor-down
// and dead-letter alerts fire on the inputs that should fire them and stay
// quiet on the others.
func TestPrometheusFiles(t *testing.T) {
	promtool := testenv.Tool(t, "promtool", "prometheus")
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"},
		{"check", "rules", "alerts.yml"},
		{"test", "rules", "alerts_test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "prometheus"
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// Every metric the rules read is one the monitor exports (README's
	// list): a renamed metric would leave its alert silent forever.
	rules, err := os.ReadFile(filepath.Join("prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`monitor_[a-z_]+`).FindAllString(string(rules), -1) {
		if !strings.Contains(string(readme), "`"+name) {
			t.Errorf("alerts.yml reads %s, which README's metrics list does not name", name)
		}
	}
	b, err := os.ReadFile(filepath.Join("prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"job_name: monitor", `"127.0.0.1:8080"`, "metrics_path: /metrics", "- alerts.yml"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("prometheus.yml lacks %q", want)
		}
	}
}

// TestAlertRunbooks: every alert of alerts.yml links (annotation
// runbook_url) to its own section of docs/runbooks.md, and promtool's unit
// tests expect that annotation (so a dropped one fails there too).
func TestAlertRunbooks(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	alerts := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			u, ok := r.Annotations["runbook_url"]
			if !ok {
				t.Errorf("alert %s has no runbook_url annotation", r.Alert)
				continue
			}
			if anchor := testenv.RunbookURL(t, "", u); anchor != strings.ToLower(r.Alert) {
				t.Errorf("alert %s links to #%s, want its own section #%s", r.Alert, anchor, strings.ToLower(r.Alert))
			}
		}
	}
	if alerts == 0 {
		t.Fatal("no alert in alerts.yml")
	}
}
