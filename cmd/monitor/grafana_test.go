package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	grafanadash "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"go.yaml.in/yaml/v3"
)

// grafanaDir is the repository's grafana/ folder: the files users import.
var grafanaDir = filepath.Join("..", "..", "grafana")

// dashboardFiles are the committed dashboards and their uids.
var dashboardFiles = map[string]string{"overview.json": "monitor-overview", "check.json": "monitor-check"}

type dashDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type dashTarget struct {
	RefID      string          `json:"refId"`
	Expr       string          `json:"expr"`
	Datasource *dashDatasource `json:"datasource"`
}

type dashPanel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource *dashDatasource `json:"datasource"`
	GridPos    *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []dashTarget `json:"targets"`
	Panels  []dashPanel  `json:"panels"` // a collapsed row's
}

type dashboard struct {
	UID           string      `json:"uid"`
	Title         string      `json:"title"`
	SchemaVersion int         `json:"schemaVersion"`
	Panels        []dashPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      any             `json:"query"`
			Definition string          `json:"definition"`
			Datasource *dashDatasource `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

// queryPanels are the panels that query (rows left out, a collapsed row's
// panels included).
func (d dashboard) queryPanels() []dashPanel {
	var out []dashPanel
	for _, p := range d.Panels {
		if p.Type == "row" {
			out = append(out, p.Panels...)
			continue
		}
		out = append(out, p)
	}
	return out
}

func readDashboard(t *testing.T, name string) dashboard {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(grafanaDir, name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	var d dashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", name, err)
	}
	return d
}

// panelKinds are the panel types the dashboards may use: current Grafana
// panels (no deprecated graph or singlestat).
var panelKinds = map[string]bool{"timeseries": true, "stat": true, "state-timeline": true, "table": true,
	"bargauge": true, "gauge": true, "row": true}

// TestGrafanaDashboardSchema: both dashboards are valid JSON in the current
// schema: uid, title, schemaVersion, a datasource variable every panel and
// target uses, targets with a refId and an expr, unique panel ids, a
// gridPos on the 24-column grid with no overlaps.
func TestGrafanaDashboardSchema(t *testing.T) {
	for name, uid := range dashboardFiles {
		t.Run(name, func(t *testing.T) {
			d := readDashboard(t, name)
			if d.UID != uid || d.Title == "" || d.SchemaVersion < 39 {
				t.Errorf("uid %q title %q schemaVersion %d; want uid %q, a title, schemaVersion ≥ 39", d.UID, d.Title, d.SchemaVersion, uid)
			}
			vars := map[string]bool{}
			for _, v := range d.Templating.List {
				vars[v.Name] = true
				switch v.Name {
				case "datasource":
					if v.Type != "datasource" || v.Query != "prometheus" {
						t.Errorf("variable datasource is %s %v, want a datasource variable of type prometheus", v.Type, v.Query)
					}
				case "check":
					if v.Type != "query" || v.Definition != "label_values(monitor_check_status, check)" ||
						v.Datasource == nil || v.Datasource.UID != "${datasource}" {
						t.Errorf("variable check = %+v, want label_values(monitor_check_status, check) on ${datasource}", v)
					}
				}
			}
			if !vars["datasource"] {
				t.Errorf("no datasource variable")
			}
			if name == "check.json" && !vars["check"] {
				t.Errorf("the drill-down has no check variable")
			}

			ids := map[int]string{}
			type cell struct{ x, y int }
			used := map[cell]string{}
			for _, p := range d.Panels {
				for _, q := range append([]dashPanel{p}, p.Panels...) {
					if prev, dup := ids[q.ID]; dup || q.ID <= 0 {
						t.Errorf("panel %q: id %d (also %q)", q.Title, q.ID, prev)
					}
					ids[q.ID] = q.Title
					if !panelKinds[q.Type] {
						t.Errorf("panel %q: type %q", q.Title, q.Type)
					}
					g := q.GridPos
					if g == nil || g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 || g.Y < 0 {
						t.Errorf("panel %q: gridPos %+v", q.Title, g)
						continue
					}
					for x := g.X; x < g.X+g.W; x++ {
						for y := g.Y; y < g.Y+g.H; y++ {
							if other, ok := used[cell{x, y}]; ok {
								t.Errorf("panel %q overlaps %q at %d,%d", q.Title, other, x, y)
							}
							used[cell{x, y}] = q.Title
						}
					}
				}
			}
			panels := d.queryPanels()
			if len(panels) < 8 {
				t.Errorf("%d panels", len(panels))
			}
			for _, p := range panels {
				if p.Title == "" {
					t.Errorf("panel %d has no title", p.ID)
				}
				if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
					t.Errorf("panel %q: datasource %+v, want the ${datasource} variable", p.Title, p.Datasource)
				}
				if len(p.Targets) == 0 {
					t.Errorf("panel %q has no targets", p.Title)
				}
				refs := map[string]bool{}
				for _, tg := range p.Targets {
					if tg.RefID == "" || refs[tg.RefID] || strings.TrimSpace(tg.Expr) == "" {
						t.Errorf("panel %q: target %+v: want a unique refId and an expr", p.Title, tg)
					}
					refs[tg.RefID] = true
					if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
						t.Errorf("panel %q target %s: datasource %+v, want ${datasource}", p.Title, tg.RefID, tg.Datasource)
					}
					for _, v := range grafanaVar.FindAllStringSubmatch(tg.Expr, -1) {
						if name := strings.Trim(v[1], "{}"); !vars[name] && !strings.HasPrefix(name, "__") {
							t.Errorf("panel %q target %s uses $%s, which is not a variable", p.Title, tg.RefID, name)
						}
					}
				}
			}
		})
	}
}

// TestGrafanaDashboardStrictSchema decodes both dashboards with the types
// Grafana publishes for its dashboard schema and panel plugins (the
// foundation SDK, generated from Grafana's own schemas), strictly: an
// unknown key, a wrong type or a missing required field in the dashboard,
// a panel, its options or field config, or a Prometheus query fails.
func TestGrafanaDashboardStrictSchema(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	for name := range dashboardFiles {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(grafanaDir, name))
			if err != nil {
				t.Fatal(err)
			}
			// The SDK marks the classic schema deprecated in favour of
			// dashboardv2 (Grafana 12's opt-in resource format); the
			// classic JSON is what import and file provisioning read.
			//lint:ignore SA1019 the committed dashboards are classic JSON on purpose
			var d grafanadash.Dashboard
			err = d.UnmarshalJSONStrict(b)
			var be cog.BuildErrors
			if errors.As(err, &be) && len(be) == 0 {
				err = nil // the SDK returns an empty list as a non-nil error
			}
			if err != nil {
				t.Fatalf("%s against Grafana's dashboard schema:\n%v", name, err)
			}
			if err := d.Validate(); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		})
	}
}

// TestGrafanaProvisioning: the provisioning files parse; the dashboard
// provider reads a folder, the README copies the dashboards into that
// same folder and provisions the example Prometheus data source.
func TestGrafanaProvisioning(t *testing.T) {
	var dash struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Type, Folder string
			Options            struct{ Path string }
		}
	}
	readYAML(t, filepath.Join(grafanaDir, "provisioning", "dashboards", "monitor.yaml"), &dash)
	if dash.APIVersion != 1 || len(dash.Providers) != 1 {
		t.Fatalf("dashboards provisioning: %+v, want apiVersion 1 and one provider", dash)
	}
	pr := dash.Providers[0]
	if pr.Type != "file" || pr.Folder == "" || !filepath.IsAbs(pr.Options.Path) {
		t.Errorf("provider %+v: want type file, a folder, an absolute options.path", pr)
	}
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct{ Name, Type, URL string }
	}
	readYAML(t, filepath.Join(grafanaDir, "provisioning", "datasources", "prometheus.yaml"), &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL == "" {
		t.Errorf("datasources provisioning: %+v, want one prometheus data source with a url", ds)
	}

	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"-t " + pr.Options.Path + "/ grafana/*.json",
		"grafana/provisioning/dashboards/monitor.yaml /etc/grafana/provisioning/dashboards/",
		"grafana/provisioning/datasources/prometheus.yaml /etc/grafana/provisioning/datasources/",
	} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("the README's Grafana section does not copy %q", want)
		}
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// grafanaVar matches a dashboard variable in an expression: $name or ${name}.
var grafanaVar = regexp.MustCompile(`\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)`)

// substitute replaces the variables of expr as Grafana would: $check by
// check and the interval variables by concrete durations (Grafana's
// $__rate_interval is at least four scrape intervals).
func substitute(expr, check string) (string, error) {
	values := map[string]string{"check": check, "__rate_interval": "5m", "__interval": "15s", "__range": "5m"}
	var bad []string
	out := grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
		name := strings.Trim(strings.TrimPrefix(m, "$"), "{}")
		v, ok := values[name]
		if !ok {
			bad = append(bad, m)
			return m
		}
		return v
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("unknown variables %v", bad)
	}
	return out, nil
}
