package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// bearerOnCommandLine is a curl -H whose value holds a token or a header
// made of one: the shell expands it into curl's arguments, which ps shows
// to every user of the machine.
var bearerOnCommandLine = regexp.MustCompile(`-H\s*["']?(\$\{?AUTH\b|[^"'\n]*Bearer\s+\$)`)

// TestDocsKeepTokensOffCommandLines: the commands of docs/ hand curl its
// token from a file or standard input (-K), never on its command line.
func TestDocsKeepTokensOffCommandLines(t *testing.T) {
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil || len(files) == 0 {
		t.Fatalf("docs: %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if bearerOnCommandLine.MatchString(line) && !strings.Contains(line, "Not `-H") {
				t.Errorf("%s:%d puts a token on curl's command line (ps shows it); use -K FILE or -K - :\n%s", filepath.Base(f), i+1, line)
			}
		}
	}
}
