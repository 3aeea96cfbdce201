package probes

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// TestOneShotClosesFinishedHosts: a one-shot batch (monitor links, the
// on-demand API) closes a host's connection after its last link instead of
// leaving it idle in the pool; a scheduled check keeps it for the next run.
func TestOneShotClosesFinishedHosts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		oneShot bool
		open    int // connections still open after the batch
	}{
		{"one-shot", true, 0},
		{"scheduled", false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			open := map[net.Conn]bool{}
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
				mu.Lock()
				defer mu.Unlock()
				switch st {
				case http.StateNew:
					open[c] = true
				case http.StateClosed, http.StateHijacked:
					delete(open, c)
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)

			lc := NewLinkClients(Guard{})
			t.Cleanup(lc.CloseIdle)
			checker := lc.Checker(true, LinkOptions{Concurrency: 1, PerHost: 1, OneShot: tc.oneShot})
			targets := []LinkTarget{{URL: srv.URL + "/a"}, {URL: srv.URL + "/b"}, {URL: srv.URL + "/c"}}
			checker.Check(context.Background(), targets, func(_ int, r check.LinkResult) {
				if r.Status != check.Pass {
					t.Errorf("%s: %s %s", r.URL, r.Status, r.ErrorMessage)
				}
			})
			deadline := time.Now().Add(2 * time.Second)
			for {
				mu.Lock()
				n := len(open)
				mu.Unlock()
				if n == tc.open {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d connections open after the batch, want %d", n, tc.open)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
