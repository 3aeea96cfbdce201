package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/internal/testenv"
)

// The README's check examples (its yaml blocks that are check entries)
// are valid configuration, as written, together.
func TestReadmeCheckExamples(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var checks []string
	in, cur := false, ""
	for line := range strings.Lines(string(b)) {
		switch {
		case strings.HasPrefix(line, "```"):
			if in && strings.HasPrefix(cur, "  - name:") {
				checks = append(checks, cur)
			}
			in, cur = strings.TrimSpace(line) == "```yaml", ""
		case in:
			cur += line
		}
	}
	for _, want := range []string{"kind: db", "kind: freshness", "kind: link", "kind: http", "kind: tls", "kind: tcp", "headroom:"} {
		if !strings.Contains(strings.Join(checks, ""), want) {
			t.Errorf("no README example with %s", want)
		}
	}
	// The files and variables the examples name.
	dir := t.TempDir()
	ca := testenv.NewCA(t)
	pem, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "certs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "certs", "internal-ca.pem"), pem, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BILLING_API_KEY", "example-key")
	// app is PostgreSQL, as headroom needs (the reference's own app
	// database may be anything).
	text := "databases:\n  app: { dsn: \"postgres://monitor@127.0.0.1:5432/app\" }\nchecks:\n" + strings.Join(checks, "")
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path); err != nil {
		t.Errorf("the README's check examples do not load:\n%v\n%s", err, text)
	}
}
