package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/testenv"
	"github.com/monitor-dev/monitor/server"
	"github.com/monitor-dev/monitor/snapshot"
)

// --web.config.file: TLS and bcrypt basic auth on the listener, in the
// exporter-toolkit format, through the daemon's own serveHTTP.
func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	tc := testenv.SelfSigned(t)
	certFile, keyFile, pool := tc.CertFile, tc.KeyFile, tc.Pool
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(dir, "web.yml")
	writeFile(t, webCfg, fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  ops: %s\n",
		certFile, keyFile, hash))

	snap := snapshot.New([]check.Spec{{Name: "conn", Kind: "db", Interval: time.Minute, Timeout: time.Second}}, time.Now)
	srv := server.New(server.Options{Snapshot: snap, Gatherer: prometheus.NewRegistry()})
	srv.SetTokens([]string{"api-token-1234"}, nil)
	srv.TrustListenerAuth(webConfigUser(webCfg))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpSrv := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelWarn)}
	done := make(chan error, 1)
	go func() { done <- serveHTTP(ln, httpSrv, webCfg, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		_ = httpSrv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	addr := ln.Addr().String()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(t *testing.T, c *http.Client, url string, set func(r *http.Request)) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if set != nil {
			set(req)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	basic := func(user, pass string) func(r *http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(user, pass) }
	}

	t.Run("https with the password", func(t *testing.T) {
		if code, body := get(t, client, "https://"+addr+"/healthz", basic("ops", "s3cret-pass")); code != 200 || body != "ok\n" {
			t.Fatalf("%d %q", code, body)
		}
		// The listener's basic auth stands in for the bearer token.
		if code, body := get(t, client, "https://"+addr+"/v2/links", basic("ops", "s3cret-pass")); code != 200 {
			t.Fatalf("private endpoint with basic auth: %d %s", code, body)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		for _, set := range []func(*http.Request){basic("ops", "wrong"), basic("nobody", "s3cret-pass"), nil,
			func(r *http.Request) { r.Header.Set("Authorization", "Bearer api-token-1234") }} {
			if code, body := get(t, client, "https://"+addr+"/v2/system/health", set); code != 401 || strings.Contains(body, "conn") {
				t.Fatalf("%d %q, want 401", code, body)
			}
		}
	})
	t.Run("plain http refused", func(t *testing.T) {
		code, body := get(t, &http.Client{Timeout: 5 * time.Second}, "http://"+addr+"/healthz", basic("ops", "s3cret-pass"))
		if code != http.StatusBadRequest || strings.Contains(body, "ok") {
			t.Fatalf("plain HTTP: %d %q, want 400", code, body)
		}
	})
	t.Run("user removed from the file", func(t *testing.T) {
		// The toolkit lets everyone through without users; the token is then
		// needed again, the old basic-auth user no longer counts.
		writeFile(t, webCfg, fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\n", certFile, keyFile))
		if code, _ := get(t, client, "https://"+addr+"/v2/links", basic("ops", "anything")); code != 401 {
			t.Fatalf("basic auth after removing the user: %d, want 401", code)
		}
		if code, _ := get(t, client, "https://"+addr+"/v2/links", func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer api-token-1234")
		}); code != 200 {
			t.Fatalf("bearer token: %d", code)
		}
	})
}

// A broken web config stops `monitor run` before it starts, exit 2.
func TestWebConfigInvalid(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "web.yml")
	writeFile(t, bad, "tls_server_config:\n  cert_file: /nonexistent/cert.pem\n  key_file: /nonexistent/key.pem\n")
	code, _, stderr := runMain(t, "run", "--config", checkConfig(t, checkAppDB), "--web.config.file", bad)
	if code != exitConfig || !strings.Contains(stderr, "--web.config.file") {
		t.Fatalf("exit %d, stderr %q; want 2 naming --web.config.file", code, stderr)
	}
	code, _, stderr = runMain(t, "run", "--config", checkConfig(t, checkAppDB), "--web.config.file", filepath.Join(dir, "missing.yml"))
	if code != exitConfig {
		t.Fatalf("missing file: exit %d, stderr %q", code, stderr)
	}
	// validate refuses what run refuses: the same web config check.
	for _, w := range []string{bad, filepath.Join(dir, "missing.yml")} {
		code, _, stderr = runMain(t, "validate", "--config", checkConfig(t, checkAppDB), "--web.config.file", w)
		if code != exitConfig || !strings.Contains(stderr, "--web.config.file") {
			t.Errorf("validate --web.config.file %s: exit %d, stderr %q; want 2 naming it", w, code, stderr)
		}
	}
}

// `monitor run --web.config.file` end to end: the daemon answers https with
// basic auth only, and the basic-auth user reaches private endpoints.
func TestE2EWebConfig(t *testing.T) {
	dir := t.TempDir()
	tc := testenv.SelfSigned(t)
	certFile, keyFile, pool := tc.CertFile, tc.KeyFile, tc.Pool
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(dir, "web.yml")
	writeFile(t, webCfg, fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  ops: %s\n",
		certFile, keyFile, hash))
	addr := freeAddr(t)
	cfg := filepath.Join(dir, "config.yaml")
	writeFile(t, cfg, fmt.Sprintf(`server:
  listen: %s
  tokens: ["api-token-1234"]
storage:
  dsn: sqlite://%s
checks:
  - name: up
    kind: link
    allow_private: true
    urls: ["https://%s/healthz"]
`, addr, filepath.Join(dir, "monitor.db"), addr))
	cmd := exec.Command(monitorBinary(t), "run", "--config", cfg, "--web.config.file", webCfg)
	cmd.Env = daemonEnv()
	var stderr testenv.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("monitor exited with %v; stderr:\n%s", err, stderr.String())
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("no exit after SIGTERM")
		}
	})
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	do := func(c *http.Client, url string, set func(r *http.Request)) (int, error) {
		req, _ := http.NewRequest("GET", url, nil)
		if set != nil {
			set(req)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	auth := func(r *http.Request) { r.SetBasicAuth("ops", "s3cret-pass") }
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, err := do(client, "https://"+addr+"/readyz", auth); err == nil && code == 200 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("monitor exited early (%v):\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no https 200 from /readyz; stderr:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if want := "web_config=" + webCfg; !strings.Contains(stderr.String(), want) {
		t.Errorf("the start line does not say %q (that the listener is not plain HTTP):\n%s", want, stderr.String())
	}
	for _, tc := range []struct {
		c    *http.Client
		url  string
		set  func(r *http.Request)
		want int
	}{
		{client, "https://" + addr + "/v2/links", auth, 200},
		{client, "https://" + addr + "/v2/system/health", func(r *http.Request) { r.SetBasicAuth("ops", "wrong") }, 401},
		{client, "https://" + addr + "/v2/system/health", nil, 401},
		{&http.Client{Timeout: 5 * time.Second}, "http://" + addr + "/v2/system/health", auth, 400},
	} {
		if code, err := do(tc.c, tc.url, tc.set); err != nil || code != tc.want {
			t.Errorf("GET %s: %d %v, want %d", tc.url, code, err, tc.want)
		}
	}
}
