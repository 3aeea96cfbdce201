package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monitor-dev/monitor/internal/runbook"
)

// RunbookAnchors returns the anchors of the module's docs/runbooks.md (the
// explicit ids and GitHub's heading slugs), found from the test's working
// directory up.
func RunbookAnchors(t testing.TB) map[string]bool {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = up
	}
	b, err := os.ReadFile(filepath.Join(dir, "docs", "runbooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	return runbook.Anchors(b)
}

// RunbookURL fails t unless u is base#anchor (runbook.DefaultBase when
// base is "") with anchor a section of docs/runbooks.md, and returns the
// anchor.
func RunbookURL(t testing.TB, base, u string) string {
	t.Helper()
	if base == "" {
		base = runbook.DefaultBase
	}
	anchor, ok := strings.CutPrefix(u, base+"#")
	if !ok {
		t.Errorf("runbook URL %q is not %s#ANCHOR", u, base)
		return ""
	}
	if !RunbookAnchors(t)[anchor] {
		t.Errorf("runbook URL %q: docs/runbooks.md has no anchor %q", u, anchor)
	}
	return anchor
}
