package statuspage

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLeak builds the fixture's site — checks failing with a DSN with a
// password, a URL with a token, an internal hostname and an error string,
// a private check, a private escalation — writes it, and greps every file
// written: none of the secret-looking text appears; the component names,
// states and uptime do.
func TestLeak(t *testing.T) {
	st := openStore(t)
	fillHistory(t, st)
	p := build(t, inputs(st))
	files, err := p.Files()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "site")
	if err := WriteDir(out, files); err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	n := 0
	err = filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		text := string(b)
		for _, s := range secrets {
			for _, form := range []string{s, strings.ReplaceAll(s, "&", "&amp;"), strings.ReplaceAll(s, "<", `\u003c`)} {
				if strings.Contains(strings.ToLower(text), strings.ToLower(form)) {
					t.Errorf("%s contains %q", strings.TrimPrefix(path, out), s)
				}
			}
		}
		all.WriteString(text)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(files) {
		t.Errorf("%d files on disk, %d built", n, len(files))
	}
	for _, want := range []string{"Redirects", "Redirect analytics", "partial_outage", "degraded_performance", "99.30%"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("no file says %q", want)
		}
	}
}
