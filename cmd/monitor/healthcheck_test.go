package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestE2EHealthcheck: against a running daemon, `monitor healthcheck`
// exits 0 whichever way the address is given (--url, --config, or
// $MONITOR_LISTEN as in the container); once the daemon is stopped it
// exits 1 with one line that says so.
func TestE2EHealthcheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	var listen string
	p := startMonitor(t, dir, func(l string) (string, string) {
		listen = l
		return cfgPath, fmt.Sprintf(crashConfig, l, "interval: 1h")
	}, []string{"--config", cfgPath})
	bin := monitorBinary(t)
	healthcheck := func(env []string, args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"healthcheck"}, args...)...)
		cmd.Dir = t.TempDir() // no config.yaml here: it must not be needed
		cmd.Env = daemonEnv(env...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, string(out)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"--url", nil, []string{"--url", p.base + "/readyz"}},
		{"--config", nil, []string{"--config", cfgPath}},
		{"$MONITOR_LISTEN", []string{"MONITOR_LISTEN=" + listen}, nil},
	} {
		code, out := healthcheck(tc.env, tc.args...)
		want := "healthy: " + p.base + "/readyz answered 200 ready\n"
		if code != 0 || out != want {
			t.Errorf("healthcheck with %s = %d %q, want 0 %q", tc.name, code, out, want)
		}
	}
	p.stop()
	code, out := healthcheck([]string{"MONITOR_LISTEN=" + listen}, "--timeout", "2s")
	if code != 1 || !strings.HasPrefix(out, "unhealthy: "+p.base+"/readyz: ") || strings.Count(out, "\n") != 1 {
		t.Errorf("healthcheck of a stopped daemon = %d %q, want 1 and one line \"unhealthy: %s/readyz: ...\"", code, out, p.base)
	}
}

// TestHealthcheckAnswers: only a 2xx is healthy; a 503 (not ready), a
// redirect and a server that never answers within --timeout are not. The
// output never shows the URL's password or query.
func TestHealthcheckAnswers(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("ready, degraded: store unavailable\n"))
		case "/notready":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
		case "/moved":
			http.Redirect(w, r, "/readyz", http.StatusFound)
		case "/slow":
			<-block
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(block) })
	secretURL := strings.Replace(srv.URL, "http://", "http://admin:hunter2@", 1)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--url", secretURL + "/readyz?token=s3cr3t"}, 0, "healthy: " + srv.URL + "/readyz answered 200 ready, degraded: store unavailable\n"},
		{[]string{"--url", secretURL + "/notready?token=s3cr3t"}, 1, "unhealthy: " + srv.URL + "/notready answered 503 not ready\n"},
		{[]string{"--url", srv.URL + "/moved"}, 1, "unhealthy: " + srv.URL + "/moved answered 302 Found\n"},
		{[]string{"--url", srv.URL + "/slow", "--timeout", "200ms"}, 1, "unhealthy: " + srv.URL + "/slow: no answer within 200ms\n"},
	} {
		start := time.Now()
		code, stdout, stderr := runMain(t, append([]string{"healthcheck"}, tc.args...)...)
		if code != tc.code || stdout != tc.want || stderr != "" {
			t.Errorf("healthcheck %s = %d %q %q, want %d %q", strings.Join(tc.args, " "), code, stdout, stderr, tc.code, tc.want)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("healthcheck %s took %s, past its --timeout", strings.Join(tc.args, " "), took)
		}
		if strings.Contains(stdout+stderr, "hunter2") || strings.Contains(stdout+stderr, "s3cr3t") {
			t.Errorf("healthcheck %s shows a secret: %q %q", strings.Join(tc.args, " "), stdout, stderr)
		}
	}
	for _, args := range [][]string{
		{"--timeout", "0s"}, {"--timeout", "2m"},
		{"--url", "ftp://admin:hunter2@127.0.0.1/"}, {"--url", "127.0.0.1:8080"},
		{"--config", "testdata/missing.yaml"},
	} {
		code, stdout, stderr := runMain(t, append([]string{"healthcheck"}, args...)...)
		if code != 2 || stderr == "" || strings.Contains(stdout+stderr, "hunter2") {
			t.Errorf("healthcheck %s = %d %q %q, want 2 and a message without the password", strings.Join(args, " "), code, stdout, stderr)
		}
	}
}

// TestDialable: a listen address on every interface is reached on the
// loopback address of its family.
func TestDialable(t *testing.T) {
	for in, want := range map[string]string{
		":8080": "127.0.0.1:8080", "0.0.0.0:8080": "127.0.0.1:8080", "[::]:9090": "[::1]:9090",
		"127.0.0.2:80": "127.0.0.2:80", "localhost:8080": "localhost:8080",
	} {
		if got := dialable(in); got != want {
			t.Errorf("dialable(%q) = %q, want %q", in, got, want)
		}
	}
}
