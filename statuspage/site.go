package statuspage

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"slices"
)

// placeholder is a minimal index.html listing the components and their
// states: the real page is built on the same model later.
var placeholder = template.Must(template.New("index").Funcs(template.FuncMap{
	"words": StateWords, "uptime": FormatUptime,
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="alternate" type="application/atom+xml" href="{{.Root}}feed.atom" title="Incidents">
</head>
<body>
<header>{{if .LogoURL}}<img src="{{.LogoURL}}" alt="" height="32"> {{end}}<h1>{{.Title}}</h1>{{if .HomeURL}}<p><a href="{{.HomeURL}}">{{.Title}} home</a></p>{{end}}<p role="status">{{.Status.Description}}</p></header>
<main>
{{- if .Active}}
<section aria-labelledby="active"><h2 id="active">Active incidents</h2><ul>
{{- range .Active}}
<li><a href="{{$.Root}}{{.Path}}">{{.Name}}</a> ({{.Status}})</li>
{{- end}}
</ul></section>
{{- end}}
<section aria-labelledby="components"><h2 id="components">Components</h2>
{{- range .Groups}}
{{- if .Name}}<h3>{{.Name}}</h3>{{end}}
<ul>
{{- range .Components}}
<li><img src="{{$.Root}}badge/{{.Slug}}.svg" alt=""> {{.Name}}: {{words .State}} (30 days: {{uptime .Uptime30}}, 90 days: {{uptime .Uptime90}})</li>
{{- end}}
</ul>
{{- end}}
</section>
{{- if .Maintenances}}
<section aria-labelledby="maintenance"><h2 id="maintenance">Scheduled maintenance</h2><ul>
{{- range .Maintenances}}
<li><a href="{{$.Root}}{{.Path}}">{{.Name}}</a> ({{.Status}})</li>
{{- end}}
</ul></section>
{{- end}}
{{- if .Recent}}
<section aria-labelledby="history"><h2 id="history">Past incidents</h2><ul>
{{- range .Recent}}
<li><a href="{{$.Root}}{{.Path}}">{{.Name}}</a> ({{.Status}})</li>
{{- end}}
</ul></section>
{{- end}}
</main>
<footer><p>Last updated <time datetime="{{.Updated}}">{{.Updated}}</time> · <a href="{{.Root}}api/v2/summary.json">JSON</a> · <a href="{{.Root}}feed.atom">Atom</a> · <a href="{{.Root}}feed.rss">RSS</a></p></footer>
</body>
</html>
`))

// incidentPage is a minimal page of one incident.
var incidentPage = template.Must(template.New("incident").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Inc.Name}} – {{.Title}}</title>
</head>
<body>
<header><p><a href="{{.Root}}index.html">{{.Title}}</a></p><h1>{{.Inc.Name}}</h1></header>
<main>
{{- range .Inc.Updates}}
<article><h2>{{.Status}}</h2><p><time datetime="{{.CreatedAt.Format "2006-01-02T15:04:05Z07:00"}}">{{.CreatedAt.Format "2006-01-02 15:04 MST"}}</time></p><div>{{.HTML}}</div></article>
{{- end}}
</main>
</body>
</html>
`))

type pageView struct {
	*Page
	Root    string
	Updated string
}

// Files renders every file of the static site, by path relative to its
// root: index.html (a placeholder), incidents/{id}.html, the API
// documents, badge/{slug}.svg, feed.atom and feed.rss. Links are relative,
// so that the folder works from any path.
func (p *Page) Files() (map[string][]byte, error) {
	files, err := p.API()
	if err != nil {
		return nil, err
	}
	for _, c := range p.Components {
		files["badge/"+c.Slug+".svg"] = c.Badge()
	}
	if files["feed.atom"], err = p.Atom(); err != nil {
		return nil, err
	}
	if files["feed.rss"], err = p.RSS(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := placeholder.Execute(&b, pageView{Page: p, Root: "", Updated: rfc(p.UpdatedAt)}); err != nil {
		return nil, err
	}
	files["index.html"] = b.Bytes()
	for _, inc := range append(p.allIncidents(), p.Maintenances...) {
		var b bytes.Buffer
		if err := incidentPage.Execute(&b, struct {
			Title, Root string
			Inc         *Incident
		}{p.Title, "../", inc}); err != nil {
			return nil, err
		}
		files[inc.Path] = b.Bytes()
	}
	return files, nil
}

// WriteDir writes files into dir atomically: into a new folder beside
// it, then swapped in by renaming, so that a reader sees the old folder or
// the new one, never a half-written one. (The swap is two renames: for an
// instant between them dir does not exist.) The parent of dir must
// exist.
func WriteDir(dir string, files map[string][]byte) (err error) {
	dir = filepath.Clean(dir)
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	tmp, err := os.MkdirTemp(parent, "."+base+".new-")
	if err != nil {
		return fmt.Errorf("status page: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("status page: %w", err)
	}
	for name, data := range files {
		if !filepath.IsLocal(name) {
			return fmt.Errorf("status page: bad file name %q", name)
		}
		path := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("status page: %w", err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return fmt.Errorf("status page: %w", err)
		}
	}
	old := ""
	if fi, err := os.Lstat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("status page: %s exists and is not a directory", dir)
		}
		if old, err = os.MkdirTemp(parent, "."+base+".old-"); err != nil {
			return fmt.Errorf("status page: %w", err)
		}
		if err := os.Remove(old); err != nil {
			return fmt.Errorf("status page: %w", err)
		}
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("status page: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("status page: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			_ = os.Rename(old, dir)
		}
		return fmt.Errorf("status page: %w", err)
	}
	if old != "" {
		_ = os.RemoveAll(old)
	}
	return nil
}

// Names lists the paths of files, sorted (for tests and logs).
func Names(files map[string][]byte) []string {
	out := make([]string, 0, len(files))
	for n := range files {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
