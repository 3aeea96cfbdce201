package config_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/monitor-dev/monitor/config"
)

// TestReadmeCheckExamples: every check example of the README (a yaml block
// that starts with "  - name:") is valid as written, with app a PostgreSQL
// database and cache a Redis one, as the reference's databases: says.
func TestReadmeCheckExamples(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	var checks []string
	for _, m := range blocks {
		if strings.HasPrefix(m[1], "  - name:") {
			checks = append(checks, m[1])
		}
	}
	if len(checks) < 5 {
		t.Fatalf("found %d check examples in the README, want the db, headroom, freshness, link and tcp ones at least", len(checks))
	}
	text := `databases:
  app: { dsn: "postgres://monitor@127.0.0.1:5432/app" }
  cache: { dsn: "redis://127.0.0.1:6379/0" }
checks:
` + strings.Join(checks, "")
	cfg, err := config.Parse("README.md", []byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("the README's check examples do not validate:\n%v\n%s", err, text)
	}
	if len(cfg.Checks) != len(checks) {
		t.Errorf("%d checks from %d examples", len(cfg.Checks), len(checks))
	}
}
