package statuspage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteDir: a build replaces the whole folder (a file of the previous
// build is gone); a failed one leaves the previous folder as it was and
// nothing beside it.
func TestWriteDir(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "status")
	if err := WriteDir(out, map[string][]byte{"index.html": []byte("one"), "badge/old.svg": []byte("<svg/>")}); err != nil {
		t.Fatal(err)
	}
	if err := WriteDir(out, map[string][]byte{"index.html": []byte("two"), "api/v2/status.json": []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "index.html")); string(b) != "two" {
		t.Errorf("index.html = %q", b)
	}
	if _, err := os.Stat(filepath.Join(out, "badge/old.svg")); !os.IsNotExist(err) {
		t.Errorf("a file of the previous build is left: %v", err)
	}
	if err := WriteDir(out, map[string][]byte{"index.html": []byte("three"), "../escape": []byte("x")}); err == nil {
		t.Error("a name outside the folder was written")
	}
	if b, _ := os.ReadFile(filepath.Join(out, "index.html")); string(b) != "two" {
		t.Errorf("after a failed build index.html = %q, want the previous build's", b)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 1 {
		t.Errorf("left beside the folder: %v", entries)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("folder mode %v, %v", fi.Mode(), err)
	}
}

// TestWriteDirRefuses: a folder that holds anything a build does not
// write (a mistyped --out: a home folder, a repository) is left as it was,
// and so are the file system's root and a file; an empty folder and one
// an older build wrote (with pages the new build no longer has) are
// replaced.
func TestWriteDirRefuses(t *testing.T) {
	site := map[string][]byte{"index.html": []byte("new"), "api/v2/status.json": []byte("{}")}
	parent := t.TempDir()
	precious := filepath.Join(parent, "home")
	writeTestFile(t, filepath.Join(precious, "thesis.txt"), "years of work")
	writeTestFile(t, filepath.Join(precious, "index.html"), "an old page")
	err := WriteDir(precious, site)
	var oe *OutError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), `"thesis.txt"`) {
		t.Errorf("WriteDir over a folder with other files = %v, want an OutError naming thesis.txt", err)
	}
	if b, _ := os.ReadFile(filepath.Join(precious, "thesis.txt")); string(b) != "years of work" {
		t.Errorf("thesis.txt = %q after a refused build", b)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 1 {
		t.Errorf("left beside the folder: %v", entries)
	}

	file := filepath.Join(parent, "file")
	writeTestFile(t, file, "x")
	for _, dir := range []string{"/", file, filepath.Join(file, "sub")} {
		if err := WriteDir(dir, site); !errors.As(err, &oe) {
			t.Errorf("WriteDir(%q) = %v, want an OutError", dir, err)
		}
	}

	empty := filepath.Join(parent, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(parent, "old")
	writeTestFile(t, filepath.Join(old, "history/2026-10.html"), "an archive page")
	writeTestFile(t, filepath.Join(old, "incidents/gone.html"), "an incident")
	writeTestFile(t, filepath.Join(old, "feed.atom"), "<feed/>")
	for _, dir := range []string{empty, old} {
		if err := WriteDir(dir, site); err != nil {
			t.Errorf("WriteDir(%q) = %v", dir, err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "index.html")); string(b) != "new" {
			t.Errorf("%s/index.html = %q", dir, b)
		}
	}
}

func writeTestFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
