package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/monitor-dev/monitor/server"
)

// BenchmarkStatusPage calls the daemon's handler (server.Server.ServeHTTP,
// as `monitor run` serves it) for GET / directly, without sockets, to show
// what the daemon's own code costs per request next to net/http's and the
// kernel's share that run.sh measures:
//
//	go test -run '^$' -bench . -benchmem ./bench/statuspage/
//
// The page is 6 KB of HTML (the size of today's page for 50 components); the
// ResponseWriter only counts bytes.
func BenchmarkStatusPage(b *testing.B) {
	html := "<!doctype html><title>Bench status</title>" + strings.Repeat("<li>Component 01: operational (30 days: –, 90 days: –)</li>\n", 100)
	srv := server.New(server.Options{})
	srv.SetStatusPage(server.NewSite(map[string][]byte{"index.html": []byte(html)}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	w := &discardWriter{h: http.Header{}}
	srv.ServeHTTP(w, req)
	etag := w.h.Get("ETag")
	for _, v := range []struct{ name, header, value string }{
		{"plain", "", ""},
		{"gzip", "Accept-Encoding", "gzip, deflate, br"},
		{"304", "If-None-Match", etag},
	} {
		b.Run(v.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if v.header != "" {
				req.Header.Set(v.header, v.value)
			}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.code, w.n = 0, 0
				srv.ServeHTTP(w, req)
			}
			if w.code != http.StatusOK && w.code != http.StatusNotModified {
				b.Fatalf("GET / %s: %d", v.name, w.code)
			}
			b.ReportMetric(float64(w.n), "body-bytes")
		})
	}
}

// discardWriter is a ResponseWriter that keeps the status and counts bytes.
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}
func (d *discardWriter) Write(p []byte) (int, error) {
	if d.code == 0 {
		d.code = http.StatusOK
	}
	d.n += len(p)
	return len(p), nil
}
