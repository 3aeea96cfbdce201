package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/monitor-dev/monitor/store"
)

// `monitor store copy` has its help, refuses bad usage with exit 2 and
// names no DSN in its errors.
func TestStoreCopyUsage(t *testing.T) {
	for _, h := range []string{"-h", "--help"} {
		code, stdout, stderr := runMain(t, "store", "copy", h)
		for _, want := range []string{"Usage: monitor store copy --from DSN --to DSN", "--from DSN", "--to DSN",
			"(default info)", "Example:\n  monitor store copy", "Exit codes: 0"} {
			if code != 0 || stderr != "" || !strings.Contains(stdout, want) {
				t.Errorf("monitor store copy %s = %d, stderr %q; want 0 and %q in:\n%s", h, code, stderr, want, stdout)
			}
		}
	}
	dir := t.TempDir()
	st, err := store.Open(context.Background(), "sqlite://"+dir+"/a.db", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	if code, stdout, _ := runMain(t, "store", "--help"); code != 0 || !strings.Contains(stdout, "monitor store copy") {
		t.Errorf("monitor store --help = %d %q", code, stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"store"}, "Usage: monitor store copy"},
		{[]string{"store", "move"}, `unknown subcommand "move"`},
		{[]string{"store", "copy", "--from", "sqlite://a.db"}, "--from and --to are required"},
		{[]string{"store", "copy", "--from", "sqlite://a.db", "--to", "sqlite://a.db"}, "the same store"},
		{[]string{"store", "copy", "--from", "sqlite://" + dir + "/a.db", "--to", "sqlite://" + dir + "/./a.db"}, "the same store"},
		{[]string{"store", "copy", "--form", "x"}, "flag provided but not defined: --form"},
		{[]string{"store", "copy", "--from", "sqlite://a.db", "--to", "sqlite://b.db", "--log-level", "loud"}, "log"},
	} {
		code, _, stderr := runMain(t, tc.args...)
		if code != exitConfig || !strings.Contains(stderr, tc.want) {
			t.Errorf("monitor %v = %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
	// A store that cannot be opened: exit 1, the password not shown.
	code, _, stderr := runMain(t, "store", "copy", "--from", "postgres://monitor:hunter2-secret@127.0.0.1:1/x?connect_timeout=2",
		"--to", "sqlite://"+t.TempDir()+"/b.db")
	if code != exitFail || strings.Contains(stderr, "hunter2-secret") || !strings.Contains(stderr, "open source") {
		t.Errorf("an unreachable source = %d, stderr %q; want 1, \"open source\", no password", code, stderr)
	}
	// A typo in --from: refused, nothing created at either path, no table printed.
	code, stdout, stderr := runMain(t, "store", "copy", "--from", "sqlite://"+dir+"/typo/monitr.db", "--to", "sqlite://"+dir+"/b.db")
	if code != exitFail || stdout != "" || !strings.Contains(stderr, "no monitor store there") {
		t.Errorf("a --from that is no store = %d, stdout %q, stderr %q; want 1, nothing, \"no monitor store there\"", code, stdout, stderr)
	}
	for _, p := range []string{dir + "/typo", dir + "/b.db"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("a refused copy created %s", p)
		}
	}
}
