package config

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLoadResolvesSQLitePaths: relative sqlite:// paths in a config file
// name files beside it, whatever the working directory; absolute paths,
// :memory: and other engines are left alone.
func TestLoadResolvesSQLitePaths(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc", "monitor")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.yaml")
	text := `storage:
  dsn: sqlite://data/monitor.db
databases:
  app: { dsn: "sqlite://sub/app.db?_pragma=busy_timeout(100)" }
  abs: { dsn: "sqlite:///var/lib/monitor/abs.db" }
  mem: { dsn: "sqlite://:memory:" }
  pg: { dsn: "postgres://u@127.0.0.1:5432/db" }
checks:
  - { name: x, kind: db, database: pg }
`
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "sqlite://" + filepath.Join(dir, "data", "monitor.db"); cfg.Storage.DSN != want {
		t.Errorf("storage.dsn = %q, want %q", cfg.Storage.DSN, want)
	}
	for name, want := range map[string]string{
		"app": "sqlite://" + filepath.Join(dir, "sub", "app.db") + "?_pragma=busy_timeout(100)",
		"abs": "sqlite:///var/lib/monitor/abs.db",
		"mem": "sqlite://:memory:",
		"pg":  "postgres://u@127.0.0.1:5432/db",
	} {
		if got := cfg.Databases[name].DSN; got != want {
			t.Errorf("databases.%s.dsn = %q, want %q", name, got, want)
		}
	}

	// A config in the working directory keeps its paths as written: the
	// shipped config.yaml at the repository root still uses ./data.
	t.Chdir(dir)
	cfg, err = Load("config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.DSN != "sqlite://data/monitor.db" {
		t.Errorf("from the config's directory: storage.dsn = %q, want it as written", cfg.Storage.DSN)
	}
}

func TestResolveSQLite(t *testing.T) {
	for dsn, want := range map[string]string{
		"sqlite://file:a.db?mode=ro":          "sqlite://file:/etc/m/a.db?mode=ro",
		"SQLITE://a.db":                       "SQLITE:///etc/m/a.db",
		"sqlite://file::memory:?cache=shared": "sqlite://file::memory:?cache=shared",
		"sqlite://":                           "sqlite://",
		"redis://127.0.0.1:6379/0":            "redis://127.0.0.1:6379/0",
	} {
		if got := resolveSQLite(dsn, "/etc/m"); got != want {
			t.Errorf("resolveSQLite(%q) = %q, want %q", dsn, got, want)
		}
	}
}
