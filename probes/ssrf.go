package probes

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// DefaultLinkPorts are the ports user-supplied links may use when the SSRF
// guard is on.
var DefaultLinkPorts = []uint16{80, 443, 8080, 8443}

// Guard says which destinations links may reach. The zero value blocks
// loopback, private (RFC 1918, fc00::/7), link-local (169.254.0.0/16,
// fe80::/10, so the cloud metadata address too), CGNAT, multicast,
// unspecified and IPv4-mapped forms of those, and ports outside
// DefaultLinkPorts. It is enforced at dial time, so DNS rebinding and
// redirects cannot get around it.
type Guard struct {
	// AllowPrivate turns the guard off (internal monitoring).
	AllowPrivate bool
	// Ports replaces DefaultLinkPorts.
	Ports []uint16
	// AnyPort lifts the port allow-list: a configured check (guard_checks)
	// names its port on purpose (smtp.example.com:465); only the address
	// is guarded.
	AnyPort bool
	// AllowPrefixes are exceptions to the deny list (tests use them to stand
	// a loopback server in for a public one).
	AllowPrefixes []netip.Prefix
}

// errBlocked marks a destination the guard refused.
var errBlocked = errors.New("destination not allowed")

// errPortBlocked marks a port off the allow-list (lifted by allow_private).
var errPortBlocked = fmt.Errorf("%w: port", errBlocked)

// control returns the net.Dialer Control function of the guard, or nil when
// the guard is off.
func (g Guard) control() func(network, address string, c syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ports := g.Ports
	if len(ports) == 0 {
		ports = DefaultLinkPorts
	}
	opts := []ssrf.Option{ssrf.WithPorts(ports...)}
	if g.AnyPort {
		opts = []ssrf.Option{ssrf.WithAnyPort()}
	}
	var v4, v6 []netip.Prefix
	for _, p := range g.AllowPrefixes {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	if len(v4) > 0 {
		opts = append(opts, ssrf.WithAllowedV4Prefixes(v4...))
	}
	if len(v6) > 0 {
		opts = append(opts, ssrf.WithAllowedV6Prefixes(v6...))
	}
	guardian := ssrf.New(opts...)
	return func(network, address string, c syscall.RawConn) error {
		if err := guardian.Safe(network, address, c); err != nil {
			why := "not allowed"
			switch {
			case errors.Is(err, ssrf.ErrProhibitedIP):
				why = "a loopback, private or reserved address"
			case errors.Is(err, ssrf.ErrProhibitedPort):
				why = "a port not on the allow-list"
			}
			return &blockedError{addr: address, why: why}
		}
		return nil
	}
}

// blockedError is a dial the guard refused.
type blockedError struct{ addr, why string }

func (e *blockedError) Error() string { return "destination " + e.addr + " is " + e.why }
func (e *blockedError) Unwrap() error { return errBlocked }

// checkURL refuses what the guard can tell before dialling: schemes other
// than http(s), URLs without a host, and (guard on) ports off the list.
func (g Guard) checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: scheme %q (want http or https)", errBlocked, u.Scheme)
	}
	if u.Hostname() == "" {
		return errors.New("URL has no host")
	}
	if g.AllowPrivate || g.AnyPort {
		return nil
	}
	port := u.Port()
	if port == "" {
		return nil
	}
	n, err := strconv.ParseUint(port, 10, 16)
	ports := g.Ports
	if len(ports) == 0 {
		ports = DefaultLinkPorts
	}
	for _, p := range ports {
		if err == nil && uint16(n) == p {
			return nil
		}
	}
	return fmt.Errorf("%w %s", errPortBlocked, port)
}

// maxResponseHeaderBytes bounds the headers of an answer (net/http's
// default is 10 MiB): a server cannot make a check hold more.
const maxResponseHeaderBytes = 64 << 10

// LinkTransport is the transport of link checks: connections kept alive and
// reused across runs, no proxy (a proxy would dial for us, around the guard),
// the guard at dial time.
func LinkTransport(g Guard, perHost int) *http.Transport {
	if perHost < 1 {
		perHost = 4
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: g.control()}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           4096,
		MaxIdleConnsPerHost:    max(perHost, 8),
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
	}
}

// hostKey is the politeness key of a URL: host and port, lower case.
func hostKey(u *url.URL) string {
	h := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return net.JoinHostPort(h, port)
}
