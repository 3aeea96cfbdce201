package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
