package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/config"
)

// TestMaintenanceWiring: the rule the hub, the store and alerting get from
// the config covers names, globs and components, one-off and recurring
// windows, at fixed times.
func TestMaintenanceWiring(t *testing.T) {
	cfg, err := config.Parse("m.yml", []byte(`
checks:
  - { name: api, kind: link, urls: ["https://example.com/"] }
  - { name: targeting_profile, kind: link, urls: ["https://example.com/"] }
  - { name: redirects, kind: link, urls: ["https://example.com/"], component: Core }
  - { name: other, kind: link, urls: ["https://example.com/"] }
maintenance:
  - { checks: [api], start: 2026-12-01T02:00:00Z, end: 2026-12-01T03:00:00Z }
  - { checks: ["targeting_*"], cron: "0 3 * * SUN", duration: 30m }
  - { components: [Core], cron: "0 4 * * *", duration: 1h, reason: nightly vacuum }
`), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	in := maintenance(cfg)
	sunday := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		check string
		at    time.Time
		want  bool
	}{
		{"api", time.Date(2026, 12, 1, 2, 30, 0, 0, time.UTC), true},
		{"api", time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC), false},
		{"targeting_profile", sunday.Add(10 * time.Minute), true},
		{"targeting_profile", sunday.Add(30 * time.Minute), false},
		{"targeting_profile", sunday.Add(24 * time.Hour), false},
		{"redirects", sunday.Add(time.Hour + 59*time.Minute), true}, // 04:59, any day
		{"redirects", sunday.Add(2 * time.Hour), false},
		{"other", sunday.Add(10 * time.Minute), false},
		{"other", time.Date(2026, 12, 1, 2, 30, 0, 0, time.UTC), false},
	} {
		if got := in(tc.check, tc.at); got != tc.want {
			t.Errorf("%s at %s: in maintenance = %v, want %v", tc.check, tc.at.Format(time.RFC3339), got, tc.want)
		}
	}
}

// TestValidateTokensKeepsSecrets: validate refuses what run would (bad
// token names, a token used twice, a maintenance glob matching nothing),
// with positions, and prints no token, even a literal one.
func TestValidateTokensKeepsSecrets(t *testing.T) {
	t.Setenv("OPS_TOKEN", "env-token-7f3a9c")
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(`server:
  tokens:
    - literal-token-5b2e8d
    - { name: Ops, token: "${OPS_TOKEN}" }
    - { name: ci, token: literal-token-5b2e8d }
checks:
  - { name: api, kind: link, urls: ["https://example.com/"] }
maintenance:
  - { checks: ["api_*"], cron: "0 3 * * SUN", duration: 30m }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runMain(t, "validate", "--config", path)
	if code != exitConfig {
		t.Fatalf("validate = %d, want %d; stdout %q stderr %q", code, exitConfig, stdout, stderr)
	}
	for _, want := range []string{
		path + `:4:15: invalid name "Ops" in server.tokens #2`,
		path + `:5:26: the token of server.tokens #3 is the same as that of server.tokens #1`,
		path + `:9:16: pattern "api_*" in maintenance #1 matches no check`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, secret := range []string{"literal-token-5b2e8d", "env-token-7f3a9c"} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("validate output holds the token %q:\n%s%s", secret, stdout, stderr)
		}
	}
}
