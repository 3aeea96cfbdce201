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
	body, gz []byte
	etag     string
	ctype    string
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
		writeError(w, r, CodeNotFound, "No such page: "+clip(r.URL.Path), nil)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", statusPageCache)
	h.Set("Vary", "Accept-Encoding")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", statusPageCSP)
	if etagMatch(r.Header.Get("If-None-Match"), f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if f.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = f.gz
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

// acceptsGzip reports whether an Accept-Encoding header takes gzip
// (without q=0).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") || strings.TrimSpace(enc) == "*" {
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
