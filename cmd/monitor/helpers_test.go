package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, to prepare tables at controlled ages
)

// Helpers shared by the CLI and end-to-end tests.

// sqliteLayout is how the tests store timestamps: UTC text, as the demo does.
const sqliteLayout = "2006-01-02 15:04:05.000"

// seedSQLite creates (or replaces) tables in the SQLite file at path, each
// table with a column `at` whose newest row is the given age old (and one
// older row, so that max() has something to choose from).
func seedSQLite(t *testing.T, path string, ages map[string]time.Duration) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("open sqlite %s: %v", path, err)
	}
	defer db.Close()
	now := time.Now().UTC()
	for table, age := range ages {
		stmts := []string{
			fmt.Sprintf(`DROP TABLE IF EXISTS %s`, table),
			fmt.Sprintf(`CREATE TABLE %s (id INTEGER PRIMARY KEY, at TEXT NOT NULL)`, table),
		}
		for _, s := range stmts {
			if _, err := db.Exec(s); err != nil {
				t.Fatalf("sqlite %s: %s: %v", path, s, err)
			}
		}
		for _, at := range []time.Time{now.Add(-age - time.Hour), now.Add(-age)} {
			if _, err := db.Exec(fmt.Sprintf(`INSERT INTO %s (at) VALUES (?)`, table), at.Format(sqliteLayout)); err != nil {
				t.Fatalf("sqlite %s: insert into %s: %v", path, table, err)
			}
		}
	}
}

// writeFile writes content to path, failing the test on error.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyFile copies src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, string(b))
}

// healthBody is the contract's GET /v2/system/health body (also what
// `monitor check --format json` prints).
type healthBody struct {
	Status      string        `json:"status"`
	Severity    string        `json:"severity"`
	GeneratedAt string        `json:"generatedAt"`
	Checks      []healthCheck `json:"checks"`
}

type healthCheck struct {
	Name          string   `json:"name"`
	Kind          string   `json:"kind"`
	Status        string   `json:"status"`
	Severity      string   `json:"severity"`
	Message       string   `json:"message"`
	ObservedValue *float64 `json:"observedValue"`
	ObservedUnit  string   `json:"observedUnit"`
	CheckedAt     string   `json:"checkedAt"`
	DurationMs    *float64 `json:"durationMs"`
}

// find returns the named check; ok is false when it is absent.
func (h healthBody) find(name string) (healthCheck, bool) {
	for _, c := range h.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return healthCheck{}, false
}

func (h healthBody) names() []string {
	var out []string
	for _, c := range h.Checks {
		out = append(out, c.Name)
	}
	return out
}

func (h healthBody) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s:", h.Status, h.Severity)
	for _, c := range h.Checks {
		fmt.Fprintf(&b, " [%s %s/%s %q at %s]", c.Name, c.Status, c.Severity, c.Message, c.CheckedAt)
	}
	return b.String()
}

// wantCheck asserts the status and severity of one check and returns it.
func wantCheck(t *testing.T, h healthBody, name, status, severity string) healthCheck {
	t.Helper()
	c, ok := h.find(name)
	if !ok {
		t.Fatalf("check %s missing from %v", name, h)
	}
	if c.Status != status || c.Severity != severity {
		t.Errorf("check %s = %s/%s (%q), want %s/%s", name, c.Status, c.Severity, c.Message, status, severity)
	}
	return c
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	addr := freeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	var p int
	fmt.Sscanf(port, "%d", &p)
	return p
}

// staleMarker writes dir/last-run with a modification time two hours ago:
// a freshness check with `source: {file: ...}` and max_age 1h FAILs on it
// until touch(marker) makes it fresh.
func staleMarker(t *testing.T, dir string) string {
	t.Helper()
	marker := filepath.Join(dir, "last-run")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(marker, old, old); err != nil {
		t.Fatal(err)
	}
	return marker
}

// touch sets path's modification time to now.
func touch(t *testing.T, path string) {
	t.Helper()
	now := time.Now()
	if err := os.Chtimes(path, now, now); err != nil {
		t.Fatal(err)
	}
}

// pipelineCheck is a freshness check on a marker file (see staleMarker),
// CRITICAL, of the public component Pipeline, run every second.
const pipelineCheck = `  - name: pipeline_freshness
    kind: freshness
    source: { file: %s }
    max_age: 1h
    interval: 1s
    timeout: 500ms
    severity: CRITICAL
    component: Pipeline
`
