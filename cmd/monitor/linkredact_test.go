package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// A configured link check's URLs carry a password and tokens: neither
// monitor check's output (table, JSON) nor its debug log shows them.
func TestCheckLinkHidesURLSecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/gone?sig=SIGNED-by-server", http.StatusFound)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, cfg, fmt.Sprintf(`checks:
  - name: site_links
    kind: link
    allow_private: true
    urls:
      - "http://user:hunter2-pw@%[1]s/missing?token=sekrit-tok#frag-secret"
      - "http://%[1]s/moved?auth=sekrit-tok"
`, host))
	for _, format := range []string{"json", "table"} {
		code, stdout, stderr := runMain(t, "check", "--config", cfg, "--format", format, "--log-level", "debug")
		if code != 1 || !strings.Contains(stdout, "site_links") {
			t.Fatalf("check (%s) = %d, want 1 with a result:\n%s\n%s", format, code, stdout, stderr)
		}
		for _, s := range []string{"hunter2-pw", "sekrit-tok", "frag-secret", "SIGNED-by-server"} {
			if strings.Contains(stdout+stderr, s) {
				t.Errorf("%q appears in check's output (%s):\n%s\n%s", s, format, stdout, stderr)
			}
		}
	}
}
