// Command statuspage serves one status page file at / for wrk:
//
//	go run ./bench/statuspage -body index.html [-handler floor|daemon] [-listen 127.0.0.1:18091]
//
// With -handler floor (the default) it is the floor run.sh compares the
// daemon's GET / with: a bare net/http handler that answers with the same
// bytes the daemon serves and does nothing else (no request id, no routing,
// no headers but Content-Length and Content-Encoding). What the daemon does
// below this figure is what its own code costs; what this one does below the
// target is what the machine (its load, loopback, syscalls) allows at that
// moment. With -handler daemon it serves the file through the daemon's own
// handler (server.Server with SetStatusPage, as `monitor run` does), for
// pages the running daemon cannot make, such as one with 90 days of history
// (STATUSPAGE_BENCH_SITE in statuspage/bench_test.go writes one).
//
// Both answer 304 when If-None-Match is the page's ETag and send the gzip
// copy when Accept-Encoding asks for gzip; ETag and gzip bytes are the ones
// server.NewSite makes (the daemon's). It serves until SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/monitor-dev/monitor/server"
)

func main() {
	bodyFile := flag.String("body", "", "the page (index.html), uncompressed")
	handler := flag.String("handler", "floor", "floor (bare net/http) or daemon (server.Server)")
	listen := flag.String("listen", "127.0.0.1:18091", "address to serve on")
	flag.Parse()
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		fail(err)
	}
	daemon := server.New(server.Options{})
	daemon.SetStatusPage(server.NewSite(map[string][]byte{"index.html": body}))
	// The daemon's ETag and gzip bytes, for the floor to answer with.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	daemon.ServeHTTP(rec, req)
	etag := rec.Header().Get("ETag")
	gz, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusOK || etag == "" {
		fail(fmt.Errorf("the daemon's handler answered %d", rec.Code))
	}
	if rec.Header().Get("Content-Encoding") != "gzip" {
		gz = body // too small to gain from gzip: the daemon sends it as is
	}
	fmt.Fprintf(os.Stderr, "bench/statuspage: %s handler, page %d bytes, gzip %d bytes, ETag %s\n", *handler, len(body), len(gz), etag)
	bodyLen, gzLen := strconv.Itoa(len(body)), strconv.Itoa(len(gz))

	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		b, n := body, bodyLen
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header()["Content-Encoding"] = []string{"gzip"}
			b, n = gz, gzLen
		}
		w.Header()["Content-Length"] = []string{n}
		_, _ = w.Write(b)
	})
	switch *handler {
	case "floor":
	case "daemon":
		h = daemon
	default:
		fmt.Fprintln(os.Stderr, "bench/statuspage: -handler is floor or daemon")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fail(err)
	}
	// The daemon's http.Server settings (cmd/monitor/run.go).
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/statuspage:", err)
	os.Exit(1)
}
