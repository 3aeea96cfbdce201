package server

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The status page is served from memory: 503 until the first build, then
// each file with its type, an ETag that answers 304, gzip when asked, and
// the envelope's 404 for a file it does not have; public, no token.
func TestStatusPageServed(t *testing.T) {
	f := newFixture(t, "secret-token")
	get := func(path string, hdr map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
		req.Header.Set("Accept-Encoding", "identity")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	if resp, body := get("/", nil); resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("before the first build: %d %s", resp.StatusCode, body)
	}
	html := "<!doctype html><title>Acme status</title>" + strings.Repeat("<p>All systems operational</p>", 200) // over the 4 KB buffers: no automatic Content-Length
	f.s.SetStatusPage(NewSite(map[string][]byte{
		"index.html":           []byte(html),
		"api/v2/summary.json":  []byte(`{"page":{"name":"Acme status"}}`),
		"badge/redirects.svg":  []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`),
		"feed.atom":            []byte(`<feed/>`),
		"assets/style.css":     []byte(`body{color:#000}`),
		"assets/status.js":     []byte(`"use strict";`),
		"history.html":         []byte(html),
		"history/2026-10.html": []byte(html),
	}))
	resp, body := get("/", nil)
	if resp.StatusCode != 200 || string(body) != html || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET / = %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	// The size is known up front (no chunked encoding), also to a HEAD.
	if resp.ContentLength != int64(len(html)) || len(resp.TransferEncoding) != 0 {
		t.Errorf("GET /: Content-Length %d, Transfer-Encoding %v; want %d and none", resp.ContentLength, resp.TransferEncoding, len(html))
	}
	if req, _ := http.NewRequest(http.MethodHead, f.srv.URL+"/", nil); req != nil {
		req.Header.Set("Accept-Encoding", "identity")
		hresp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		hresp.Body.Close()
		if hresp.StatusCode != 200 || hresp.ContentLength != int64(len(html)) {
			t.Errorf("HEAD / = %d, Content-Length %d; want 200, %d", hresp.StatusCode, hresp.ContentLength, len(html))
		}
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") == "" {
		t.Fatalf("no ETag or Cache-Control: %v", resp.Header)
	}
	if resp, _ := get("/", map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the ETag: %d, want 304", resp.StatusCode)
	}
	resp, body = get("/", map[string]string{"Accept-Encoding": "gzip, br"})
	if resp.Header.Get("Content-Encoding") != "gzip" || len(body) >= len(html) {
		t.Fatalf("gzip asked: %v, %d bytes", resp.Header, len(body))
	}
	if resp.ContentLength != int64(len(body)) {
		t.Errorf("gzip: Content-Length %d, want the gzip size %d", resp.ContentLength, len(body))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := io.ReadAll(zr); string(plain) != html {
		t.Error("the gzip body is not the page")
	}
	// every file the page links to, by relative link from / or from a
	// page one folder down
	for path, ctype := range map[string]string{"/api/v2/summary.json": "application/json",
		"/badge/redirects.svg": "image/svg+xml", "/feed.atom": "application/atom+xml",
		"/index.html": "text/html; charset=utf-8", "/history.html": "text/html; charset=utf-8",
		"/history/2026-10.html": "text/html; charset=utf-8", "/assets/style.css": "text/css; charset=utf-8",
		"/assets/status.js": "text/javascript; charset=utf-8"} {
		if resp, _ := get(path, nil); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ctype {
			t.Errorf("GET %s = %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	// the page runs its own script only, and loads nothing but a logo from
	// elsewhere
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	resp, body = get("/badge/nope.svg", nil)
	if resp.StatusCode != 404 || !strings.Contains(string(body), `"error":"not_found"`) {
		t.Errorf("missing badge: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get("/v2/nothing", nil); resp.StatusCode != 404 {
		t.Errorf("an unknown API path: %d, want the 404 it had", resp.StatusCode)
	}
}
