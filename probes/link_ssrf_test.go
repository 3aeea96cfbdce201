package probes

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/monitor-dev/monitor/check"
)

// TestGuardDial asks the dial-time guard about addresses without dialling
// them (the sandbox this runs in may well answer on 10.0.0.1).
func TestGuardDial(t *testing.T) {
	t.Parallel()
	cases := []struct {
		network, addr string
		blocked       bool
	}{
		{"tcp4", "127.0.0.1:80", true},
		{"tcp4", "127.1.2.3:443", true},
		{"tcp6", "[::1]:80", true},
		{"tcp4", "10.1.2.3:80", true},
		{"tcp4", "172.16.0.1:443", true},
		{"tcp4", "192.168.1.1:80", true},
		{"tcp4", "169.254.169.254:80", true},
		{"tcp6", "[fe80::1]:80", true},
		{"tcp6", "[fc00::1]:80", true},
		{"tcp6", "[fd00:ec2::254]:80", true},
		{"tcp4", "100.64.0.1:80", true},
		{"tcp4", "0.0.0.0:80", true},
		{"tcp6", "[::]:80", true},
		{"tcp6", "[::ffff:127.0.0.1]:80", true},
		{"tcp6", "[::ffff:10.0.0.1]:80", true},
		{"tcp6", "[64:ff9b::7f00:1]:80", true},
		{"tcp4", "224.0.0.1:80", true},
		{"tcp4", "93.184.215.14:22", true}, // public, but not a web port
		{"udp4", "93.184.215.14:443", true},
		{"tcp4", "93.184.215.14:80", false},
		{"tcp4", "93.184.215.14:443", false},
		{"tcp4", "93.184.215.14:8080", false},
		{"tcp4", "93.184.215.14:8443", false},
		{"tcp6", "[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443", false},
	}
	ctl := Guard{}.control()
	for _, tc := range cases {
		err := ctl(tc.network, tc.addr, nil)
		if blocked := err != nil; blocked != tc.blocked {
			t.Errorf("%s %s: err %v, want blocked=%v", tc.network, tc.addr, err, tc.blocked)
		}
		if err != nil && !errors.Is(err, errBlocked) {
			t.Errorf("%s: %v is not errBlocked", tc.addr, err)
		}
	}
	if (Guard{AllowPrivate: true}).control() != nil {
		t.Error("allow_private still guards dials")
	}
	g := Guard{Ports: []uint16{9999}, AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}
	ctl = g.control()
	for addr, blocked := range map[string]bool{
		"127.0.0.2:9999": false, "127.0.0.1:9999": true, "127.0.0.2:80": true, "93.184.215.14:9999": false,
	} {
		if err := ctl("tcp4", addr, nil); (err != nil) != blocked {
			t.Errorf("allowing 127.0.0.2/32 on 9999: %s: %v", addr, err)
		}
	}
}

func TestGuardCheckURL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url     string
		g       Guard
		wantErr bool
		blocked bool
	}{
		{"https://example.com/a", Guard{}, false, false},
		{"http://example.com:8080/", Guard{}, false, false},
		{"http://example.com:22/", Guard{}, true, true},
		{"http://example.com:99999/", Guard{}, true, true},
		{"http://example.com:22/", Guard{AllowPrivate: true}, false, false},
		{"http://example.com:22/", Guard{Ports: []uint16{22}}, false, false},
		{"http://example.com:80/", Guard{Ports: []uint16{22}}, true, true},
		{"file:///etc/passwd", Guard{AllowPrivate: true}, true, true},
		{"gopher://example.com/", Guard{}, true, true},
		{"http:///path", Guard{}, true, false},
	}
	for _, tc := range cases {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		err = tc.g.checkURL(u)
		if (err != nil) != tc.wantErr || (err != nil && errors.Is(err, errBlocked) != tc.blocked) {
			t.Errorf("%s with %+v: %v", tc.url, tc.g, err)
		}
	}
}

func TestHostKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://Example.COM/a":        "example.com:80",
		"https://example.com/":        "example.com:443",
		"https://example.com:8443/":   "example.com:8443",
		"http://[::1]:8080/":          "[::1]:8080",
		"http://user:pw@example.com/": "example.com:80",
	} {
		u, _ := url.Parse(in)
		if got := hostKey(u); got != want {
			t.Errorf("hostKey(%s) = %s, want %s", in, got, want)
		}
	}
}

func portOf(t *testing.T, addr string) uint16 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	return uint16(n)
}

// TestLinkSSRFMatrix: every way to a private address is blocked for a
// guarded check, and reachable for an allow_private one. A server on
// 127.0.0.2 (let through by AllowPrefixes) stands in for a public host.
func TestLinkSSRFMatrix(t *testing.T) {
	t.Parallel()
	var loopHits atomic.Int32
	loop := linkServerOn(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) { loopHits.Add(1) })
	lp := portOf(t, loop.Listener.Addr().String())
	loopPort := strconv.Itoa(int(lp))

	v6Port := loopPort
	ports := []uint16{lp, 80}
	if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Logf("no IPv6 loopback (%v): [::1] is only checked blocked", err)
	} else {
		_ = ln.Close()
		v6 := linkServerOn(t, "[::1]:0", func(w http.ResponseWriter, r *http.Request) { loopHits.Add(1) })
		p := portOf(t, v6.Listener.Addr().String())
		v6Port = strconv.Itoa(int(p))
		ports = append(ports, p)
	}
	public := linkServerOn(t, "127.0.0.2:0", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/to-loopback" {
			http.Redirect(w, r, "http://127.0.0.1:"+loopPort+"/", http.StatusFound)
		}
	})
	ports = append(ports, portOf(t, public.Listener.Addr().String()))
	clients := NewLinkClients(Guard{Ports: ports, AllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})

	cases := []struct {
		name, url string
		reachable bool // with allow_private: there is a server behind it
	}{
		{"127.0.0.1", "http://127.0.0.1:" + loopPort + "/", true},
		{"[::1]", "http://[::1]:" + v6Port + "/", v6Port != loopPort},
		{"10.x", "http://10.20.30.40:" + loopPort + "/", false},
		{"metadata", "http://169.254.169.254/latest/meta-data/", false},
		{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]:" + loopPort + "/", true},
		{"0.0.0.0", "http://0.0.0.0:" + loopPort + "/", false},
		{"hostname resolving to loopback", "http://localhost:" + loopPort + "/", true},
		{"public URL redirecting to loopback", public.URL + "/to-loopback", true},
		{"port off the list", "http://127.0.0.2:22/", false},
	}
	// First from an allow_private check: it leaves idle keep-alive
	// connections to loopback behind, which the guarded check sharing these
	// clients must not reuse. Only links with a server behind them are
	// asked: 10.x and 169.254.169.254 might answer for real.
	var reach, names []string
	for _, tc := range cases {
		if tc.reachable {
			reach = append(reach, tc.url)
			names = append(names, tc.name)
		}
	}
	for i, r := range checkURLs(t, clients.Checker(true, LinkOptions{}), reach...) {
		if r.Status != check.Pass {
			t.Errorf("allow_private %s: %s/%s %q, want PASS", names[i], r.Status, r.Error, r.ErrorMessage)
		}
	}
	before := loopHits.Load()
	if int(before) < len(reach) {
		t.Errorf("loopback saw %d requests, want at least %d", before, len(reach))
	}

	urls := make([]string, len(cases))
	for i, tc := range cases {
		urls[i] = tc.url
	}
	guarded := checkURLs(t, clients.Checker(false, LinkOptions{}), append(urls, public.URL+"/ok")...)
	for i, tc := range cases {
		r := guarded[i]
		if r.Status != check.Fail || r.Error != check.LinkErrBlocked {
			t.Errorf("%s: %s/%s %q, want FAIL/blocked", tc.name, r.Status, r.Error, r.ErrorMessage)
		}
		// The message says how to lift the guard.
		if !strings.Contains(r.ErrorMessage, "allow_private: true") || !strings.Contains(r.ErrorMessage, "--allow-private") {
			t.Errorf("%s: message %q does not name allow_private / --allow-private", tc.name, r.ErrorMessage)
		}
	}
	hinted := checkURLs(t, clients.Checker(false, LinkOptions{AllowHint: "run with --allow-private to allow it"}), cases[0].url)
	if !strings.HasSuffix(hinted[0].ErrorMessage, "; run with --allow-private to allow it") {
		t.Errorf("blocked message %q lacks the caller's hint", hinted[0].ErrorMessage)
	}
	if r := guarded[len(cases)]; r.Status != check.Pass {
		t.Fatalf("the stand-in public host is blocked too: %+v", r)
	}
	redirect := guarded[7]
	if redirect.FinalURL != "http://127.0.0.1:"+loopPort+"/" || len(redirect.Redirects) != 1 || redirect.StatusCode != 302 {
		t.Errorf("redirect to loopback: %+v", redirect)
	}
	if n := loopHits.Load() - before; n != 0 {
		t.Fatalf("%d guarded requests reached loopback", n)
	}
}
