package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The Go benchmarks call server.Server.ServeHTTP directly (no sockets) with
// an httptest.ResponseRecorder per request:
//
//	go test -run '^$' -bench . -benchmem ./bench/health/
//
// BenchmarkHealth100/1000: the cached path (the snapshot renders a body once
// and serves it until a result changes or a second passes), as with a static
// snapshot. BenchmarkHealthUncached1000/10000: one result is recorded before
// every request, so every request renders the body from scratch, as when a
// running scheduler records results between requests. The recorder's own
// copy of the body counts in B/op; "discard" sub-benchmarks write to a
// ResponseWriter that drops the body, to show the handler's own allocations.
// "gzip" asks with Accept-Encoding: gzip, "304" revalidates with the current
// ETag, "status=FAIL" filters (answered from the rendered body).
// (Since the render cache serves a body for at least 100 ms, "Uncached"
// renders at most ten times a second; BenchmarkRender10000 in snapshot/
// times one rendering.)

func BenchmarkHealth100(b *testing.B)   { benchHealth(b, 100, false) }
func BenchmarkHealth1000(b *testing.B)  { benchHealth(b, 1000, false) }
func BenchmarkHealth10000(b *testing.B) { benchHealth(b, 10000, false) }

func BenchmarkHealthUncached1000(b *testing.B)  { benchHealth(b, 1000, true) }
func BenchmarkHealthUncached10000(b *testing.B) { benchHealth(b, 10000, true) }

func benchHealth(b *testing.B, n int, uncached bool) {
	f := newFixture(n, false, time.Now())
	for _, v := range []struct {
		name, accept string
		discard      bool
		query, enc   string
		revalidate   bool // If-None-Match: the current ETag (a 304)
	}{
		{name: "json"},
		{name: "health+json", accept: "application/health+json"},
		{name: "json/discard", discard: true},
		{name: "health+json/discard", accept: "application/health+json", discard: true},
		{name: "json/gzip", enc: "gzip"},
		{name: "json/gzip/discard", enc: "gzip", discard: true},
		{name: "json/gzip/304", enc: "gzip", discard: true, revalidate: true},
		{name: "json/status=FAIL/gzip", query: "?status=FAIL", enc: "gzip"},
	} {
		if v.revalidate && uncached {
			continue // every request changes the body: no 304
		}
		b.Run(v.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/v2/system/health"+v.query, nil)
			if v.accept != "" {
				req.Header.Set("Accept", v.accept)
			}
			if v.enc != "" {
				req.Header.Set("Accept-Encoding", v.enc)
			}
			if v.revalidate {
				rec := httptest.NewRecorder()
				f.srv.ServeHTTP(rec, req)
				req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
			}
			dw := &discardWriter{h: http.Header{}}
			serve := func() (int, int) {
				if v.discard {
					clear(dw.h)
					dw.code, dw.n = 0, 0
					f.srv.ServeHTTP(dw, req)
					return dw.code, dw.n
				}
				rec := httptest.NewRecorder()
				f.srv.ServeHTTP(rec, req)
				return rec.Code, rec.Body.Len()
			}
			code, size := serve()
			if v.revalidate {
				if code != http.StatusNotModified {
					b.Fatalf("revalidation: %d", code)
				}
			} else if code != http.StatusOK || size == 0 {
				b.Fatalf("GET /v2/system/health: %d, %d bytes", code, size)
			}
			b.ReportAllocs()
			next := 0
			for b.Loop() {
				if uncached {
					r := f.results[next]
					r.CheckedAt = time.Now()
					f.snap.Record(r)
					next = (next + 1) % len(f.results)
				}
				serve()
			}
			b.ReportMetric(float64(size), "body-bytes")
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

// BenchmarkGzipLevels compresses the 10,000-check health bodies at each
// gzip level, reporting the compressed size and the ratio: the measurement
// behind snapshot's gzipLevel (time per body vs size).
//
//	go test -run '^$' -bench GzipLevels -count 3 ./bench/health/
func BenchmarkGzipLevels(b *testing.B) {
	f := newFixture(10000, false, time.Now())
	for _, ietf := range []bool{false, true} {
		body := f.snap.Health(ietf).Body
		name := "json"
		if ietf {
			name = "health+json"
		}
		for _, level := range []int{gzip.HuffmanOnly, gzip.BestSpeed, 2, 4, gzip.DefaultCompression, gzip.BestCompression} {
			b.Run(fmt.Sprintf("%s/level%d", name, level), func(b *testing.B) {
				var buf bytes.Buffer
				zw, _ := gzip.NewWriterLevel(&buf, level)
				b.SetBytes(int64(len(body)))
				for b.Loop() {
					buf.Reset()
					zw.Reset(&buf)
					_, _ = zw.Write(body)
					_ = zw.Close()
				}
				b.ReportMetric(float64(buf.Len()), "gz-bytes")
				b.ReportMetric(float64(len(body))/float64(buf.Len()), "ratio")
			})
		}
	}
}
