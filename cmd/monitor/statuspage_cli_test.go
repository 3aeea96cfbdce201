package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/store"
)

// TestStatuspageBuild writes a day of history, with checks failing with
// secret-looking messages, then builds the static page with `monitor
// statuspage build` twice (the second replaces the first) and greps every
// file written for the secrets.
func TestStatuspageBuild(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "monitor.db")
	cfgPath := filepath.Join(dir, "config.yaml")
	t.Setenv("SP_APP_PASSWORD", "hunter2")
	writeFile(t, cfgPath, fmt.Sprintf(`storage:
  dsn: "sqlite://%s"
databases:
  app: { dsn: "postgres://app:${SP_APP_PASSWORD}@db-internal-3.corp.example:5432/app" }
checks:
  - name: redirects_db_ping
    kind: db
    database: app
    severity: CRITICAL
    component: Redirects
  - name: private_queue_depth
    kind: db
    database: app
    severity: CRITICAL
statuspage:
  title: Acme status
  components:
    - { name: Redirects, group: Core }
incidents:
  - title: Delayed redirects
    components: [Redirects]
    updates:
      - { at: 2026-11-21T10:00:00Z, status: investigating, body: "Some **redirects** lag. <script>alert(1)</script>" }
`, dbPath))
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	var recs []store.Record
	for at := now.Add(-24 * time.Hour); at.Before(now); at = at.Add(10 * time.Minute) {
		for _, name := range []string{"redirects_db_ping", "private_queue_depth"} {
			r := check.Result{Check: name, Kind: "db", Status: check.Pass, Severity: check.Info, Message: "ok", CheckedAt: at}
			if at.After(now.Add(-30 * time.Minute)) {
				r.Status, r.Severity = check.Fail, check.Critical
				r.Message = "postgres://app:hunter2@db-internal-3.corp.example:5432/app: dial tcp 10.0.0.7:5432: connect: connection refused"
			}
			recs = append(recs, sla.Stored(r, check.Spec{Kind: "db"}, nil))
		}
	}
	// the latest result, fresh: FAIL CRITICAL
	for _, name := range []string{"redirects_db_ping", "private_queue_depth"} {
		recs = append(recs, sla.Stored(check.Result{Check: name, Kind: "db", Status: check.Fail, Severity: check.Critical,
			Message: "GET https://api.internal.example/v1?token=tok_9f8e7d6c5b4a failed", CheckedAt: now.Add(-5 * time.Second)}, check.Spec{Kind: "db"}, nil))
	}
	if err := st.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(dir, "www", "status")
	for range 2 {
		code, stdout, stderr := runMain(t, "statuspage", "build", "--config", cfgPath, "--out", out)
		if code != 0 {
			t.Fatalf("statuspage build = %d: %s", code, stderr)
		}
		if !strings.Contains(stdout, "1 component") || !strings.Contains(stdout, "Major outage") {
			t.Errorf("stdout %q", stdout)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("left beside the output: %v", entries)
	}
	var all strings.Builder
	n := 0
	err = filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		n++
		all.Write(b)
		all.WriteString("\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	text := all.String()
	for _, s := range []string{"hunter2", "db-internal-3", "10.0.0.7", "connection refused", "tok_9f8e7d6c5b4a", "api.internal.example",
		"redirects_db_ping", "private_queue_depth", "postgres://"} {
		if strings.Contains(text, s) {
			t.Errorf("a public file contains %q", s)
		}
	}
	for _, f := range []string{"index.html", "api/v2/summary.json", "api/v2/status.json", "api/v2/components.json", "api/v2/incidents.json",
		"api/v2/scheduled-maintenances.json", "badge/redirects.svg", "feed.atom", "feed.rss"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(text, `"major_outage"`) || !strings.Contains(text, "Redirects") {
		t.Errorf("the page does not show Redirects in a major outage")
	}
	// The config's statuspage: and incidents: reach the page.
	for _, want := range []string{`"name": "Acme status"`, `"name": "Core"`, "Delayed redirects", "<strong>redirects</strong>"} {
		if !strings.Contains(text, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(text, "<script>") {
		t.Error("an incident's raw HTML reached the page unescaped")
	}
	if n < 9 {
		t.Errorf("%d files", n)
	}
}

func TestStatuspageUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"statuspage"}, 2, "Usage: monitor statuspage build"},
		{[]string{"statuspage", "publish"}, 2, `unknown subcommand "publish"`},
		{[]string{"statuspage", "--help"}, 0, "Usage: monitor statuspage build"},
		{[]string{"statuspage", "build", "--help"}, 0, "Exit codes: 0 written"},
		{[]string{"statuspage", "build", "--config", "testdata/valid.yaml"}, 2, "--out DIR is required"},
		{[]string{"statuspage", "build", "--config", "testdata/invalid-two.yaml", "--out", "x"}, 2, "invalid-two.yaml:"},
	} {
		code, stdout, stderr := runMain(t, tc.args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("monitor %s = %d, %q %q; want %d and %q", strings.Join(tc.args, " "), code, stdout, stderr, tc.code, tc.want)
		}
	}
}

// TestStatuspageOutRefused: --out naming a folder with other files (a
// typo for the home folder or the repository), the root or a file is a
// usage error, said before anything is read, and the folder keeps its
// files.
func TestStatuspageOutRefused(t *testing.T) {
	dir := t.TempDir()
	notes := filepath.Join(dir, "notes.txt")
	writeFile(t, notes, "mine")
	file := filepath.Join(t.TempDir(), "page.html")
	writeFile(t, file, "mine")
	for _, tc := range []struct{ out, want string }{
		{dir, `holds "notes.txt", which is not part of a status page`},
		{"/", "file system's root"},
		{file, "exists and is not a directory"},
	} {
		code, stdout, stderr := runMain(t, "statuspage", "build", "--config", "testdata/valid.yaml", "--out", tc.out)
		if code != 2 || !strings.Contains(stderr, "will not replace --out "+tc.out+": ") || !strings.Contains(stderr, tc.want) {
			t.Errorf("--out %s = %d, %q %q; want 2 and %q", tc.out, code, stdout, stderr, tc.want)
		}
	}
	if b, err := os.ReadFile(notes); err != nil || string(b) != "mine" {
		t.Errorf("notes.txt = %q, %v after the refused build", b, err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "mine" {
		t.Errorf("page.html = %q, %v after the refused build", b, err)
	}
}

// A statuspage.out that every rebuild would refuse to replace is refused
// by validate and by run's start alike (exit 2), before anything is
// written; the folder's own files stay.
func TestStatuspageOutConfigRefused(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "www")
	writeFile(t, filepath.Join(out, "notes.txt"), "mine")
	cfgPath := filepath.Join(dir, "config.yaml")
	writeFile(t, cfgPath, "server:\n  listen: 127.0.0.1:0\nstorage:\n  dsn: sqlite://data/monitor.db\nstatuspage:\n  out: www\nchecks:\n"+
		"  - { name: beat, kind: freshness, source: { heartbeat: true }, max_age: 1h, component: API }\n")
	for _, cmd := range []string{"validate", "run"} {
		code, stdout, stderr := runMain(t, cmd, "--config", cfgPath)
		if code != 2 || !strings.Contains(stdout+stderr, `statuspage.out: status page: will not replace`) ||
			!strings.Contains(stdout+stderr, `notes.txt`) {
			t.Errorf("%s = %d, %q %q; want 2 naming notes.txt", cmd, code, stdout, stderr)
		}
	}
	if b, err := os.ReadFile(filepath.Join(out, "notes.txt")); err != nil || string(b) != "mine" {
		t.Errorf("notes.txt = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("run created data/ before refusing")
	}
}
