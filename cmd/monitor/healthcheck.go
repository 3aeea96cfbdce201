package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// defaultHealthListen is where `monitor healthcheck` looks when neither
// --url, --config nor $MONITOR_LISTEN says otherwise: the shipped config's
// own default.
const defaultHealthListen = "127.0.0.1:8080"

// maxHealthTimeout bounds --timeout: a container runtime kills a health
// check that runs longer than its own timeout (Docker's default is 30 s),
// and a probe that waits longer than that says nothing more.
const maxHealthTimeout = 30 * time.Second

// cmdHealthcheck is `monitor healthcheck`: one GET of the daemon's /readyz,
// exit 0 on a 2xx answer and 1 otherwise, so that a container image without
// a shell or curl can check itself (Dockerfile HEALTHCHECK).
func cmdHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c commonFlags
	fs := newFlagSet("healthcheck", stderr, &c)
	rawURL := fs.String("url", "", "the `URL` to GET (default http://HOST:PORT/readyz from server.listen of --config when it is given, else from $MONITOR_LISTEN, else "+defaultHealthListen+")")
	// Unlike the other commands, no config file is read unless named.
	fs.Lookup("config").Usage = "read server.listen from this config `FILE` (only when named: the working directory's config.yaml and $MONITOR_CONFIG are not read)"
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this `DURATION` (at most 30s)")
	if code, ok := c.parse(fs, "healthcheck", args, stdout, stderr); !ok {
		return code
	}
	if *timeout <= 0 || *timeout > maxHealthTimeout {
		fmt.Fprintf(stderr, "monitor healthcheck: bad --timeout %s (want more than 0 and at most %s)\n", *timeout, maxHealthTimeout)
		return exitConfig
	}
	target := *rawURL
	if target == "" {
		// Only a config that was named is read: the default config.yaml of
		// the working directory may be anything, and in the container the
		// listen address comes from $MONITOR_LISTEN anyway.
		listen := os.Getenv("MONITOR_LISTEN")
		if c.config != "" {
			cfg, ok := loadConfig("healthcheck", c.config, true, stderr)
			if !ok {
				return exitConfig
			}
			listen = cfg.Server.Listen
		}
		if listen == "" {
			listen = defaultHealthListen
		}
		target = "http://" + dialable(listen) + "/readyz"
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The value is not echoed: it may hold a password.
		fmt.Fprintln(stderr, "monitor healthcheck: bad --url (want http://HOST:PORT/PATH or https://...)")
		return exitConfig
	}
	code, line, err := getHealth(ctx, u, *timeout)
	switch {
	case err != nil:
		fmt.Fprintf(stdout, "unhealthy: %s: %v\n", shown(u), err)
		return exitFail
	case code < 200 || code > 299:
		fmt.Fprintf(stdout, "unhealthy: %s answered %d %s\n", shown(u), code, line)
		return exitFail
	}
	fmt.Fprintf(stdout, "healthy: %s answered %d %s\n", shown(u), code, line)
	return exitOK
}

// getHealth makes the one GET: no proxy from the environment (the daemon is
// local; an HTTP_PROXY meant for probes must not answer for it), no
// redirects (a 3xx is not healthy), and the first line of a text answer
// (/readyz says "ready", "not ready" or what is degraded), at most 120
// bytes.
func getHealth(ctx context.Context, u *url.URL, timeout time.Duration) (code int, line string, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		// The *url.Error repeats the URL, which may carry credentials:
		// only its cause is shown.
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("no answer within %s", timeout)
		}
		return 0, "", err
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 120))
		line, _, _ = strings.Cut(string(b), "\n")
	}
	if line == "" {
		line = http.StatusText(resp.StatusCode)
	}
	return resp.StatusCode, strings.TrimSpace(line), nil
}

// dialable turns a listen address into one a client can reach: an
// unspecified host (":8080", "0.0.0.0:8080", "[::]:8080") means this
// machine, so the loopback address of the same family.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// shown is the URL as printed: scheme, host and path only, so that a
// password in the user part or a token in the query never reaches the
// output (or `docker inspect`, which keeps the health check's output).
func shown(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.Path
}
