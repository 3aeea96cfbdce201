package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/monitor-dev/monitor/internal/testenv"
)

// The backup, restore and copy commands of docs/operations.md and of
// `monitor store copy --help` name the store where deploy/monitor.service
// and the Dockerfile put it: an operator who pastes them backs up the real
// store, not a new empty file at a path nothing writes.
func TestOperationsDocsNameTheDeployedStore(t *testing.T) {
	read := func(parts ...string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(append([]string{"..", ".."}, parts...)...))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	unit := regexp.MustCompile(`(?m)^Environment=MONITOR_STORAGE_DSN=sqlite://(\S+)$`).FindStringSubmatch(read("deploy", "monitor.service"))
	if unit == nil {
		t.Fatal("deploy/monitor.service sets no MONITOR_STORAGE_DSN=sqlite://...")
	}
	want := unit[1]
	if docker := read("Dockerfile"); !strings.Contains(docker, "MONITOR_STORAGE_DSN=sqlite://"+want) {
		t.Errorf("the Dockerfile's store is not the unit's %s", want)
	}
	code, stdout, _ := runMain(t, "store", "copy", "--help")
	if code != 0 {
		t.Fatalf("store copy --help = %d", code)
	}
	paths := regexp.MustCompile(`/var/lib/monitor/[\w./-]*\.db\b`)
	for name, text := range map[string]string{
		"docs/operations.md":        read("docs", "operations.md"),
		"monitor store copy --help": stdout,
	} {
		found := paths.FindAllString(text, -1)
		if len(found) == 0 {
			t.Errorf("%s names no store under /var/lib/monitor", name)
		}
		for _, p := range found {
			if p != want {
				t.Errorf("%s names the store %s; deploy/monitor.service keeps it in %s", name, p, want)
			}
		}
	}
}

// A mistyped path in the backup and restore blocks of docs/operations.md
// is an error, never an "ok": the backups do not copy a new, empty
// database made at the wrong path, and the restore does not check (and
// then put in place) an empty file instead of the backup.
func TestOperationsBlocksRefuseAMissingFile(t *testing.T) {
	sqlite3 := testenv.Tool(t, "sqlite3", "sqlite3")
	dir := t.TempDir()
	missing := filepath.Join(dir, "monitr.db")
	try := func(what, block string) {
		t.Helper()
		out, err := exec.Command("bash", "-e", "-c", block).CombinedOutput()
		if err == nil || strings.Contains(string(out), "ok") {
			t.Errorf("the %s block on a missing file = %v, %q; want an error and no ok", what, err, out)
		}
		if _, err := os.Stat(missing); err == nil {
			t.Errorf("the %s block created %s", what, missing)
		}
	}
	for i, kind := range []string{"VACUUM INTO", ".backup"} {
		try(kind, replaceAll(t, docBlock(t, "operations.md", "sh", kind),
			"STORE=/var/lib/monitor/monitor.db", "STORE="+missing,
			"BACKUP=/var/backups/monitor/monitor-", fmt.Sprintf("BACKUP=%s/%d-monitor-", dir, i)))
	}
	store := filepath.Join(dir, "monitor.db")
	if out, err := exec.Command(sqlite3, store, "CREATE TABLE results(x); INSERT INTO results VALUES (1);").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	try("restore", replaceAll(t, docBlock(t, "operations.md", "sh", `cp "$BACKUP" "$STORE"`),
		"STORE=/var/lib/monitor/monitor.db", "STORE="+store,
		"BACKUP=/var/backups/monitor/monitor-20261130T031500Z.db", "BACKUP="+missing))
	if n := sqliteCount(t, sqlite3, store, "SELECT count(*) FROM results"); n != 1 {
		t.Errorf("a restore from a missing backup left the store with %d results, want its 1", n)
	}
}
