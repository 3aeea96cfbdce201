package statuspage

import (
	"os"
	"path/filepath"
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
