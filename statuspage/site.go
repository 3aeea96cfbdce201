package statuspage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Files renders every file of the static site, by path relative to its
// root: index.html, history.html and history/{month}.html (the incident
// archive), incidents/{id}.html, the API documents, badge/{slug}.svg,
// feed.atom, feed.rss and the style sheet and script under assets/. Links
// are relative, so that the folder works from any path.
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
	for path, name := range assets {
		if files[path], err = web.ReadFile(name); err != nil {
			return nil, err
		}
	}
	if files["index.html"], err = render("index.html", view{Page: p, PageTitle: p.Title, Front: true}); err != nil {
		return nil, err
	}
	for _, inc := range append(p.allIncidents(), p.Maintenances...) {
		if files[inc.Path], err = render("incident.html", view{Page: p, Root: "../", Inc: inc,
			PageTitle: inc.Name + " – " + p.Title}); err != nil {
			return nil, err
		}
	}
	// history.html lists every incident by month, newest first, each
	// month linking to its own page.
	months := p.months()
	if files["history.html"], err = render("history.html", view{Page: p, Heading: "Incident history", Months: months,
		Index: true, PageTitle: "Incident history – " + p.Title}); err != nil {
		return nil, err
	}
	for _, m := range months {
		if files["history/"+m.Month+".html"], err = render("history.html", view{Page: p, Root: "../",
			Heading: monthName(m.Month), Months: []Month{m}, PageTitle: monthName(m.Month) + " – " + p.Title}); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// months are all incidents by the month they started, newest first.
func (p *Page) months() []Month {
	all := p.allIncidents()
	slices.SortStableFunc(all, func(a, b *Incident) int { return b.StartedAt.Compare(a.StartedAt) })
	var out []Month
	for _, inc := range all {
		m := inc.StartedAt.UTC().Format("2006-01")
		if n := len(out); n == 0 || out[n-1].Month != m {
			out = append(out, Month{Month: m})
		}
		out[len(out)-1].Incidents = append(out[len(out)-1].Incidents, inc)
	}
	return out
}

// OutError is a folder a build will not replace: the file system's root,
// something that is not a folder, or a folder that holds files no build
// writes. The command line answers it as a usage error.
type OutError struct {
	Dir    string // as given
	Reason string
}

func (e *OutError) Error() string {
	return "status page: will not replace " + e.Dir + ": " + e.Reason
}

// siteNames are the names a build writes at the top of its folder, the
// ones of older builds included (a month's archive or an incident page
// may be gone from the next build).
var siteNames = []string{"index.html", "history.html", "feed.atom", "feed.rss", "api", "assets", "badge", "history", "incidents"}

// CheckOut tells whether dir may be replaced as a whole by a build that
// writes files. It refuses the file system's root and a folder that
// holds anything but what a build writes: a mistyped --out (the home
// folder, a repository, a web root with other sites) must not lose its
// files to the swap. A missing or empty folder, and one a previous build
// wrote, are fine.
func CheckOut(dir string, files map[string][]byte) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("status page: %w", err)
	}
	if filepath.Dir(abs) == abs {
		return &OutError{dir, "it is the file system's root; give a folder of its own, like public/status"}
	}
	fi, err := os.Lstat(abs)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if errors.Is(err, syscall.ENOTDIR) {
		return &OutError{dir, "a part of its path is a file, not a directory"}
	}
	if err != nil {
		return fmt.Errorf("status page: %w", err)
	}
	if !fi.IsDir() {
		return &OutError{dir, "it exists and is not a directory"}
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return fmt.Errorf("status page: %w", err)
	}
	for _, e := range entries {
		if slices.Contains(siteNames, e.Name()) || hasTop(files, e.Name()) {
			continue
		}
		return &OutError{dir, "it holds " + strconv.Quote(e.Name()) + ", which is not part of a status page, and a build replaces the folder as a whole; give a new or empty folder, or one a previous build wrote"}
	}
	return nil
}

// hasTop tells whether some file of files lies at or under name.
func hasTop(files map[string][]byte, name string) bool {
	for f := range files {
		if f == name || strings.HasPrefix(f, name+"/") {
			return true
		}
	}
	return false
}

// WriteDir writes files into dir atomically: into a new folder beside
// it, then swapped in by renaming, so that a reader sees the old folder or
// the new one, never a half-written one. (The swap is two renames: for an
// instant between them dir does not exist.) The parent of dir must
// exist. It refuses a dir CheckOut refuses.
func WriteDir(dir string, files map[string][]byte) (err error) {
	if err := CheckOut(dir, files); err != nil {
		return err
	}
	// An absolute path, so that "." and ".." name a folder that can be
	// renamed.
	if dir, err = filepath.Abs(dir); err != nil {
		return fmt.Errorf("status page: %w", err)
	}
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
			return &OutError{dir, "it exists and is not a directory"}
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
