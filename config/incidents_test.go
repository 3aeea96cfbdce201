package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/incidents"
)

// TestIncidentsDecoded: inline incidents and the files of incidents_dir
// (by file name; README.md and hidden files left alone) come through with
// their ids, UTC times and rendered bodies; statuspage components not
// listed follow the listed ones by name; out and incidents_dir are the
// config file's neighbours.
func TestIncidentsDecoded(t *testing.T) {
	cfg, err := config.Load("testdata/incidents-ok.yml")
	if err != nil {
		t.Fatal(err)
	}
	wantPage := config.StatusPage{Title: "Status", Out: filepath.Join("testdata", "public"),
		Components: []config.PageComponent{{Name: "Redirect analytics"}, {Name: "Redirects"}}}
	if !reflect.DeepEqual(cfg.StatusPage, wantPage) {
		t.Errorf("statuspage = %+v, want %+v", cfg.StatusPage, wantPage)
	}
	if want := filepath.Join("testdata", "incidents"); cfg.IncidentsDir != want {
		t.Errorf("IncidentsDir = %q, want %q", cfg.IncidentsDir, want)
	}

	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	want := []config.Incident{{
		ID: "20261122-0800-slow-redirects", Title: "Slow redirects", Components: []string{"Redirects"}, Impact: incidents.Major,
		Updates: []config.IncidentUpdate{
			{ID: "20261122-0800-slow-redirects-1", At: at("2026-11-22T08:00:00Z"), Status: incidents.Investigating,
				Body: "Redirects take **2 s**.", HTML: "<p>Redirects take <strong>2 s</strong>.</p>\n"},
			{ID: "20261122-0800-slow-redirects-2", At: at("2026-11-22T08:30:00Z"), Status: incidents.Resolved,
				Body: "Back to normal.", HTML: "<p>Back to normal.</p>\n"},
		},
	}, {
		ID: "2026-11-20-database-failover", Title: "Database failover", Components: []string{"Redirects", "Redirect analytics"},
		Impact: incidents.Critical,
		Updates: []config.IncidentUpdate{
			{ID: "2026-11-20-database-failover-1", At: at("2026-11-20T14:02:00Z"), Status: incidents.Investigating,
				Body: "Redirects fail for some links. <script>alert(1)</script>\n",
				HTML: "<p>Redirects fail for some links. &lt;script&gt;alert(1)&lt;/script&gt;</p>\n"},
			{ID: "2026-11-20-database-failover-2", At: at("2026-11-20T14:20:00Z"), Status: incidents.Identified,
				Body: "## Cause\n\n- the primary database failed over\n- [details](https://acme.example/postmortem) and [not this](javascript:alert(1))\n",
				HTML: "<h5>Cause</h5>\n<ul>\n<li>the primary database failed over</li>\n" +
					`<li><a href="https://acme.example/postmortem" rel="nofollow noopener noreferrer">details</a> and not this</li>` + "\n</ul>\n"},
			// ${VAR} is not expanded in incident files: they are text.
			{ID: "2026-11-20-database-failover-3", At: at("2026-11-20T15:40:00Z"), Status: incidents.Resolved,
				Body: "Costs stay at $5; ${NOT_EXPANDED} is text.", HTML: "<p>Costs stay at $5; ${NOT_EXPANDED} is text.</p>\n"},
		},
	}, {
		ID: "analytics-lag", Title: "Analytics lag", Impact: incidents.Minor,
		Updates: []config.IncidentUpdate{{ID: "analytics-lag-1", At: at("2026-11-19T09:00:00Z"), Status: incidents.Monitoring,
			Body: "Catching up.", HTML: "<p>Catching up.</p>\n"}},
	}}
	if !reflect.DeepEqual(cfg.Incidents, want) {
		t.Errorf("incidents =\n%+v\nwant\n%+v", cfg.Incidents, want)
	}
}

// TestIncidentsDirProblems: each file's problems come at positions in that
// file, all at once, with those of the config file.
func TestIncidentsDirProblems(t *testing.T) {
	_, err := config.Load("testdata/invalid-incidents-dir.yml")
	var got []string
	for _, p := range config.Problems(err) {
		got = append(got, p.Error())
	}
	want := []string{
		`testdata/incidents-bad/a-syntax.yaml:3: invalid YAML: did not find expected ',' or '}'`,
		`testdata/incidents-bad/b-empty.yaml: empty incident file (want a mapping with title and updates)`,
		`testdata/incidents-bad/c-problems.yaml:2:14: unknown component "Redirectz" in incident (no check has it; did you mean "Redirects"?)`,
		`testdata/incidents-bad/c-problems.yaml:3:1: unknown key "severity" in incident`,
		`testdata/incidents-bad/c-problems.yaml:5:41: invalid status "fixing" in update #1 of incident (want investigating, identified, monitoring or resolved)`,
		`testdata/incidents-bad/d-two-docs.yaml:3:1: a second YAML document is not read (want one incident per file)`,
		`testdata/incidents-bad/e-dup.yaml:1:5: duplicate incident id "20261121-1000-delayed-analytics" in incident (first at testdata/invalid-incidents-dir.yml:4; set id: to tell them apart)`,
		`testdata/incidents-bad/f-list.yaml:1:1: incident must be a mapping`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// writeConfig writes a config file (and more files beside it) in a fresh
// directory and returns the config's path.
func writeConfig(t *testing.T, text string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const oneCheck = "checks:\n  - { name: r, kind: link, urls: [\"https://example.com/\"], component: Redirects }\n"

// TestIncidentsDirReadEachLoad: a file added to incidents_dir shows on the
// next load (a reload is a load).
func TestIncidentsDirReadEachLoad(t *testing.T) {
	path := writeConfig(t, oneCheck+"incidents_dir: incidents\n", map[string]string{"incidents/README.md": "notes"})
	cfg, err := config.Load(path)
	if err != nil || len(cfg.Incidents) != 0 {
		t.Fatalf("first load: %v, %+v", err, cfg)
	}
	inc := "title: Down\nupdates: [{ at: 2026-11-21T10:00:00Z, status: investigating, body: x }]\n"
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "incidents", "down.yaml"), []byte(inc), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err = config.Load(path)
	if err != nil || len(cfg.Incidents) != 1 || cfg.Incidents[0].ID != "down" {
		t.Fatalf("second load: %v, %+v", err, cfg.Incidents)
	}
}

// TestStatusPageBounds: the limits of the statuspage and incidents
// sections, each reported once at its place.
func TestStatusPageBounds(t *testing.T) {
	update := func(i int, body string) string {
		return fmt.Sprintf("      - { at: %s, status: investigating, body: %q }\n",
			time.Date(2026, 11, 21, 0, i, 0, 0, time.UTC).Format(time.RFC3339), body)
	}
	var many strings.Builder
	for i := range incidents.MaxUpdates + 1 {
		many.WriteString(update(i, "x"))
	}
	var comps strings.Builder
	for range config.MaxPageComponents + 1 {
		comps.WriteString("    - Redirects\n")
	}
	var incs strings.Builder
	for i := range incidents.MaxIncidents + 1 {
		fmt.Fprintf(&incs, "  - { title: t%d, updates: [{ at: 2026-11-21T10:00:00Z, status: resolved, body: x }] }\n", i)
	}
	files := map[string]string{"big/huge.yaml": strings.Repeat("#", incidents.MaxFileSize+1)}
	// 600 files of 9,000 characters: each fine, too much together.
	bulky := map[string]string{}
	for i := range 600 {
		bulky[fmt.Sprintf("bulk/%03d.yaml", i)] = "title: t\nupdates:\n  - at: 2026-11-21T10:00:00Z\n    status: resolved\n    body: " +
			strings.Repeat("b", 9000) + "\n"
	}
	for _, tc := range []struct {
		name, text string
		files      map[string]string
		want       string
	}{
		{"title", "statuspage: { title: " + strings.Repeat("t", 101) + " }\n", nil,
			"config.yaml:3:22: title is longer than 100 characters in statuspage"},
		{"empty title", "statuspage: { title: \" \" }\n", nil, "config.yaml:3:22: empty title in statuspage"},
		{"components", "statuspage:\n  components:\n" + comps.String(), nil,
			"config.yaml:5:5: more than 500 components in statuspage"},
		{"incident title", "incidents:\n  - title: " + strings.Repeat("t", 201) + "\n    updates:\n" + update(0, "x"), nil,
			"config.yaml:4:12: title is longer than 200 characters in incident \"" + strings.Repeat("t", 201) + "\""},
		{"body", "incidents:\n  - title: t\n    updates:\n" + update(0, strings.Repeat("b", 10_001)), nil,
			"config.yaml:6:66: body is longer than 10000 characters in update #1 of incident \"t\""},
		{"updates", "incidents:\n  - title: t\n    updates:\n" + many.String(), nil,
			"config.yaml:6:7: more than 100 updates in incident \"t\""},
		{"incidents", "incidents:\n" + incs.String(), nil, "config.yaml:4:3: more than 1000 incidents"},
		{"file size", "incidents_dir: big\n", files, "big/huge.yaml: incident file is larger than 2097152 bytes"},
		{"bodies together", "incidents_dir: bulk\n", bulky,
			"bulk/555.yaml:5:11: the bodies of all incidents together are longer than 5000000 characters (at update #1 of incident)"},
		{"missing dir", "incidents_dir: nowhere\n", nil, `config.yaml:3:16: incidents_dir "nowhere" does not exist`},
		{"empty out", "statuspage: { out: \"\" }\n", nil,
			"config.yaml:3:20: empty out in statuspage (want a directory, or no out: for no static copy)"},
		{"out holds the config", "statuspage: { out: .. }\n", nil,
			`config.yaml:3:20: out ".." in statuspage holds the config file (want a directory of its own: each rebuild replaces it)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, oneCheck+tc.text, tc.files)
			_, err := config.Load(path)
			var got []string
			for _, p := range config.Problems(err) {
				got = append(got, strings.TrimPrefix(p.Error(), filepath.Dir(path)+string(filepath.Separator)))
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("problems:\n%s\nwant\n%s", strings.Join(got, "\n"), tc.want)
			}
		})
	}
}

// TestPageURLSecretHidden: a logo or home URL with a password is refused
// without showing the password.
func TestPageURLSecretHidden(t *testing.T) {
	_, err := config.Parse("c.yml", []byte(oneCheck+"statuspage: { logo_url: \"https://u:pw-77x@acme.example/l.svg\", home_url: \"ftp://u:pw-88y@acme.example/\" }\n"), env(nil))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, secret := range []string{"pw-77x", "pw-88y"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error holds %q: %v", secret, err)
		}
	}
}

// TestStatusPageNotScalars: a list where one value belongs is reported
// once, not also as an empty or invalid value.
func TestStatusPageNotScalars(t *testing.T) {
	_, err := config.Parse("c.yml", []byte(oneCheck+"statuspage: { title: [a], logo_url: [b], out: [c] }\n"), env(nil))
	want := []string{
		"c.yml:3:22: title in statuspage must be a single value, not a list",
		"c.yml:3:37: logo_url in statuspage must be a single value, not a list",
		"c.yml:3:47: out in statuspage must be a single value, not a list",
	}
	var got []string
	for _, p := range config.Problems(err) {
		got = append(got, p.Error())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
