// Command statuspage is the floor run.sh compares the daemon's GET / with:
// a bare net/http server, with the daemon's http.Server settings, that
// answers with the same bytes the daemon served (saved by run.sh) and does
// nothing else: no request id, no routing, no header canonicalisation
// beyond net/http's own. What the daemon does below this figure is what its
// own code costs; what this one does below wrk's target is what the
// machine (its load, its loopback and syscalls) allows at that moment.
//
//	go run ./bench/statuspage -body index.html -gzip index.html.gz -etag '"abc"' -listen 127.0.0.1:18091
//
// It answers 304 when If-None-Match equals -etag, the gzip bytes when
// Accept-Encoding contains "gzip", else the body; always with
// Content-Length. It serves until SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	bodyFile := flag.String("body", "", "the page's bytes, as the daemon serves them without compression")
	gzFile := flag.String("gzip", "", "the page's gzip bytes, as the daemon serves them with Accept-Encoding: gzip")
	etag := flag.String("etag", "", "the page's ETag, quoted")
	listen := flag.String("listen", "127.0.0.1:18091", "address to serve on")
	flag.Parse()
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		fail(err)
	}
	gz, err := os.ReadFile(*gzFile)
	if err != nil {
		fail(err)
	}
	bodyLen, gzLen := strconv.Itoa(len(body)), strconv.Itoa(len(gz))

	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == *etag {
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
