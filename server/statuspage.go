package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// Site is the public status page as the daemon serves it: every file built
// once per change, with its gzip copy and ETag, so that a flood of visitors
// costs no build and no database query, and the page answers while the
// store is down.
type Site struct {
	files map[string]siteFile
}

type siteFile struct {
	body, gz     []byte
	etag, gzEtag string // the gzip copy is another representation: its own tag
	ctype        string
}

// NewSite prepares files (paths relative to the site's root, like
// "api/v2/summary.json") for serving.
func NewSite(files map[string][]byte) *Site {
	s := &Site{files: make(map[string]siteFile, len(files))}
	for name, body := range files {
		sum := sha256.Sum256(body)
		f := siteFile{body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: contentType(name)}
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(body)
		if zw.Close() == nil && b.Len() < len(body) {
			f.gz = b.Bytes()
			f.gzEtag = strings.TrimSuffix(f.etag, `"`) + `-gzip"`
		}
		s.files[name] = f
	}
	return s
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".json":
		return "application/json"
	case ".svg":
		return "image/svg+xml"
	case ".atom":
		return "application/atom+xml"
	case ".rss":
		return "application/rss+xml"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	}
	return "application/octet-stream"
}

// SetStatusPage replaces the status page served at / (and /index.html),
// /history.html, /history/…, /incidents/…, /assets/…, /api/v2/…, /badge/…
// and the feeds.
func (s *Server) SetStatusPage(site *Site) { s.site.Store(site) }

func (s *Server) routeStatusPage() {
	for _, p := range []string{"GET /{$}", "GET /index.html", "GET /history.html", "GET /history/", "GET /assets/",
		"GET /api/v2/", "GET /badge/", "GET /incidents/", "GET /feed.atom", "GET /feed.rss"} {
		s.mux.HandleFunc(p, s.statusPage)
	}
}

// statusPageCache says how long browsers and CDNs may keep a page file
// without asking again; the daemon looks at the public state every 10 s.
const statusPageCache = "public, max-age=10"

// statusPageCSP lets the page load its own style sheet and script, fetch
// itself (the refresh), and show a logo from anywhere; nothing else, and
// no inline script.
const statusPageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https: http:; connect-src 'self'; base-uri 'none'; form-action 'none'"

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	site := s.site.Load()
	if site == nil {
		w.Header().Set("Retry-After", "5")
		writeError(w, r, CodeUnavailable, "The status page is being built", nil)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	if name == "" {
		name = "index.html"
	}
	f, ok := site.files[name]
	if !ok {
		if strings.Contains(r.Header.Get("Accept"), "text/html") && strings.Count(name, "/") <= maxNotFoundDepth {
			notFoundPage(w, r, name)
			return
		}
		writeError(w, r, CodeNotFound, "No such page: "+clip(r.URL.Path), nil)
		return
	}
	// The gzip copy and the plain file differ byte for byte, so they carry
	// different strong ETags (RFC 9110 8.8.3, as Apache does): a cache or a
	// CDN that revalidates one never gets the other's bytes confirmed.
	body, etag, gz := f.body, f.etag, f.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding"))
	if gz {
		body, etag = f.gz, f.gzEtag
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", etag)
	h.Set("Cache-Control", statusPageCache)
	h.Set("Vary", "Accept-Encoding")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", statusPageCSP)
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if gz {
		h.Set("Content-Encoding", "gzip")
	}
	// The length up front: the body goes out without chunk framing, in one
	// write syscall fewer for a page larger than the connection's 4 KB
	// buffer, and a HEAD or a download tells its size.
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// maxNotFoundDepth bounds the folders of a path answered with the HTML
// "not found" page, whose links climb back one "../" per folder: deeper
// than any page of the site, a path is no stale link but a probe, and gets
// the JSON error.
const maxNotFoundDepth = 8

// notFoundPage answers a browser that follows a stale link (an incident
// no longer on the page, an old feed entry, a mistyped address) with a
// page that leads back to the current status, rather than the API's JSON
// error. Its links are relative, as the site's are, so that they work
// behind a proxy that serves the page under a sub path; nothing of the
// request is echoed.
func notFoundPage(w http.ResponseWriter, r *http.Request, name string) {
	root := strings.Repeat("../", strings.Count(name, "/"))
	body := `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Page not found</title>
<link rel="stylesheet" href="` + root + `assets/style.css">
</head>
<body>
<main id="main" class="history-page">
<h1>Page not found</h1>
<p>There is no such page on this status page (an incident may have left the history).</p>
<p><a href="` + root + `index.html">See the current status</a> · <a href="` + root + `history.html">Incident history</a></p>
</main>
</body>
</html>
`
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", statusPageCSP)
	w.WriteHeader(http.StatusNotFound)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

// etagMatch reports whether an If-None-Match header names etag (or *).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header takes gzip: named
// (or x-gzip), else through "*", in either case without q=0.
func acceptsGzip(header string) bool {
	star := false
	for part := range strings.SplitSeq(header, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		enc = strings.TrimSpace(enc)
		switch {
		case strings.EqualFold(enc, "gzip"), strings.EqualFold(enc, "x-gzip"):
			return !qZero(params)
		case enc == "*":
			star = !qZero(params)
		}
	}
	return star
}

// qZero reports whether an Accept-Encoding entry's parameters say q=0.
func qZero(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q == 0
		}
	}
	return false
}
