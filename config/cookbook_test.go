package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monitor-dev/monitor/config"
)

// fencedBlocks returns the fenced blocks of a Markdown file tagged lang,
// with their first line number, indentation removed (a block inside a list
// item is indented).
func fencedBlocks(t *testing.T, path, lang string) (blocks []string, lines []int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cur []string
	in, indent, start := false, "", 0
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case !in && trimmed == "```"+lang:
			in, indent, start, cur = true, line[:len(line)-len(trimmed)], i+2, nil
		case in && trimmed == "```":
			in = false
			blocks, lines = append(blocks, strings.Join(cur, "\n")+"\n"), append(lines, start)
		case in:
			cur = append(cur, strings.TrimPrefix(line, indent))
		}
	}
	return blocks, lines
}

// Every recipe of docs/cookbook.md is a valid configuration, as written.
func TestCookbookRecipesLoad(t *testing.T) {
	blocks, lines := fencedBlocks(t, filepath.Join("..", "docs", "cookbook.md"), "yaml")
	if len(blocks) < 5 {
		t.Fatalf("docs/cookbook.md has %d yaml blocks, want the recipes (at least 5)", len(blocks))
	}
	// The variables the recipes name.
	t.Setenv("APP_DATABASE_URL", "postgres://monitor:s3cret@127.0.0.1:5432/platform")
	t.Setenv("WAREHOUSE_DATABASE_URL", "postgres://monitor:s3cret@127.0.0.1:5432/warehouse")
	t.Setenv("MONITOR_CRON_TOKEN", "cron-token-0123456789")
	kinds := map[string]bool{}
	for i, text := range blocks {
		path := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path)
		if err != nil {
			t.Errorf("the yaml block at docs/cookbook.md:%d does not load:\n%v", lines[i], err)
			continue
		}
		for _, c := range cfg.Checks {
			kinds[string(c.Kind)] = true
			if c.TakesHeartbeats() {
				kinds["heartbeat"] = true
			}
		}
	}
	for _, want := range []string{"freshness", "link", "heartbeat", "db"} {
		if !kinds[want] {
			t.Errorf("no cookbook recipe with a %s check", want)
		}
	}
}
