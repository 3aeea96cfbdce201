package testenv

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// update is go test's -update flag of every package that compares golden
// files (the standard library's go/printer pattern).
var update = flag.Bool("update", false, "update the golden files in testdata")

// Golden compares got with testdata/name, or rewrites the file with
// -update; review the diff before committing it.
func Golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./PKG -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./PKG -update rewrites it; review the diff):\ngot:\n%s\nwant:\n%s",
			path, got, want)
	}
}
