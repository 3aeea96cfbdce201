package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// TestPprofOptIn: Go's profiles are served only when $MONITOR_PPROF_LISTEN
// names a loopback address, on that listener.
func TestPprofOptIn(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	t.Setenv(pprofEnv, "")
	stop, err := startPprof(logger)
	if err != nil {
		t.Fatalf("unset: %v", err)
	}
	stop()

	for _, addr := range []string{"0.0.0.0:6060", ":6060", "192.0.2.1:6060", "example.com:6060", "127.0.0.1"} {
		t.Setenv(pprofEnv, addr)
		if _, err := startPprof(logger); err == nil || !strings.Contains(err.Error(), pprofEnv) {
			t.Errorf("%s = %q: err %v, want a refusal naming the variable", pprofEnv, addr, err)
		}
	}

	addr := freeAddr(t)
	t.Setenv(pprofEnv, addr)
	stop, err = startPprof(logger)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "heap profile") {
		t.Fatalf("GET /debug/pprof/heap: %s\n%.200s", resp.Status, body)
	}
}
