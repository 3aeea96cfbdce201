package probes

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// Link check defaults.
const (
	DefaultLinkTimeout     = 4 * time.Second
	DefaultLinkConcurrency = 32
	DefaultLinkPerHost     = 4
	// MaxRedirects is how many redirects a link may take.
	MaxRedirects = 10
	// linkBodyCap is how much of a GET body is read before the connection is
	// dropped: enough to see the server answer, never the whole thing.
	linkBodyCap = 16 << 10
	// A host whose links time out this many times in a row gets one link at
	// a time, and at hostSkipAfter the rest of its links are not requested.
	hostSlowAfter = 2
	hostSkipAfter = 3
)

// UserAgent is what link checks say they are.
var UserAgent = "monitor-linkcheck/1.0 (+https://github.com/monitor-dev/monitor)"

// LinkTarget is one link to check; Handle and Slug come from SQL sources.
type LinkTarget struct {
	URL, Handle, Slug string
}

// LinkOptions tune one batch of link checks.
type LinkOptions struct {
	Timeout     time.Duration // per link, the whole exchange; default 4s
	Concurrency int           // links at once; default 32
	PerHost     int           // links at once per host; default 4
	Method      string        // HEAD (default, GET fallback) or GET
	ValidCodes  []int         // final codes that PASS; default 2xx and 3xx
	// OneShot is for batches that will not come again soon (monitor links,
	// the on-demand API): the connection of a host's last link is closed
	// instead of idling in the pool. Scheduled checks leave it off, so that
	// the next run reuses the connection.
	OneShot bool
	// AllowHint says how to lift the SSRF guard where these links come
	// from (--allow-private, allow_private, server.links_allow_private); it
	// ends the message of a link the guard blocked. Default: all three.
	AllowHint string
}

// DefaultAllowHint names every way to let links reach private addresses.
const DefaultAllowHint = "to allow it: allow_private: true on the check, --allow-private on monitor links, " +
	"or server.links_allow_private: true for the link API"

// LinkClients holds what link checks keep between runs: one transport per
// guard setting (connections are reused, not re-dialled each run) and the
// hosts known to mishandle HEAD. Safe for concurrent use.
type LinkClients struct {
	guard Guard // the guard of guarded checks (AllowPrivate false)

	mu      sync.Mutex
	clients map[bool]*http.Client
	noHEAD  sync.Map      // host key → struct{}: answer HEAD badly, use GET
	noHEADn atomic.Int64  // entries in noHEAD: while 0, no host key is needed
	conns   chan struct{} // nil, or one slot per open outbound connection
}

// NewLinkClients returns link clients whose guarded checks use g.
func NewLinkClients(g Guard) *LinkClients {
	g.AllowPrivate = false
	return &LinkClients{guard: g, clients: map[bool]*http.Client{}}
}

// WithConnLimit returns link clients with lc's guard whose transports
// never have more than n outbound connections open at once, all together.
// Their connections are not kept alive (an idle one would hold a slot that
// another host's link waits for): each exchange asks the server to close
// it. A dial waits for a slot within the link's deadline.
func (lc *LinkClients) WithConnLimit(n int) *LinkClients {
	return &LinkClients{guard: lc.guard, clients: map[bool]*http.Client{}, conns: make(chan struct{}, max(n, 1))}
}

// limitDial wraps t's dialer with lc's connection slots.
func (lc *LinkClients) limitDial(t *http.Transport) {
	dial := t.DialContext
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		select {
		case lc.conns <- struct{}{}:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		c, err := dial(ctx, network, addr)
		if err != nil {
			<-lc.conns
			return nil, err
		}
		return &slotConn{Conn: c, release: func() { <-lc.conns }}, nil
	}
}

// OpenConns is how many outbound connections hold a slot now (0 without a
// limit).
func (lc *LinkClients) OpenConns() int { return len(lc.conns) }

// slotConn gives its connection slot back when closed.
type slotConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// Checker returns a checker for one batch of links.
func (lc *LinkClients) Checker(allowPrivate bool, o LinkOptions) *LinkChecker {
	if o.Timeout <= 0 {
		o.Timeout = DefaultLinkTimeout
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultLinkConcurrency
	}
	if o.PerHost <= 0 {
		o.PerHost = DefaultLinkPerHost
	}
	if o.Method == "" {
		o.Method = http.MethodHead
	}
	if o.AllowHint == "" {
		o.AllowHint = DefaultAllowHint
	}
	g := lc.guard
	g.AllowPrivate = allowPrivate
	lc.mu.Lock()
	c, ok := lc.clients[allowPrivate]
	if !ok {
		t := LinkTransport(g, o.PerHost)
		if lc.conns != nil {
			t.DisableKeepAlives = true
			lc.limitDial(t)
		}
		c = &http.Client{
			Transport: locationCheck{t},
			// Redirects are followed by hand, to record each hop.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		lc.clients[allowPrivate] = c
	}
	lc.mu.Unlock()
	return &LinkChecker{client: c, guard: g, opts: o, lc: lc,
		noAnswer: fmt.Errorf("no answer within %s", o.Timeout),
		header:   http.Header{"User-Agent": {UserAgent}, "Accept": {"*/*"}}}
}

// CloseIdle drops idle connections.
func (lc *LinkClients) CloseIdle() {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	for _, c := range lc.clients {
		c.CloseIdleConnections()
	}
}

// LinkChecker checks a batch of links.
type LinkChecker struct {
	client *http.Client
	guard  Guard
	opts   LinkOptions
	lc     *LinkClients

	noAnswer error // the cause of a link's deadline: no answer within Timeout
	// header is the header of every request: User-Agent (UserAgent when
	// the checker was made) and Accept. It is shared, never written: the
	// client and the transport only read a request's header (the client
	// copies it before adding to it).
	header http.Header
}

// hostState is one host's queue of links and how it is doing.
type hostState struct {
	queue    []int32
	active   int
	limit    int
	timeouts int // in a row
	inReady  bool
}

// Check checks every target and calls each once per target, from the
// worker goroutines (each must be safe for concurrent use). At most
// Concurrency links are in flight, and at most PerHost per host: links are
// handed out round-robin over hosts, so one slow host cannot starve the
// rest. A host that keeps timing out is slowed to one link at a time, then
// skipped. Check returns when every target has a result.
//
// The workers take their next link themselves, under one lock, rather than
// through a dispatching goroutine: a link costs no hand-off and no wake-up
// of a third goroutine.
func (c *LinkChecker) Check(ctx context.Context, targets []LinkTarget, each func(i int, r check.LinkResult)) {
	if len(targets) == 0 {
		return
	}
	hosts := map[string]*hostState{}
	var ready []*hostState
	for i, t := range targets {
		key := t.URL
		if u, err := url.Parse(t.URL); err == nil && u.Host != "" {
			key = hostKey(u)
		}
		h := hosts[key]
		if h == nil {
			h = &hostState{limit: c.opts.PerHost}
			hosts[key] = h
			ready = append(ready, h)
			h.inReady = true
		}
		h.queue = append(h.queue, int32(i))
	}

	var (
		mu       sync.Mutex
		idle     = sync.NewCond(&mu) // a worker waits here for a host to get ready
		waiting  int                 // workers waiting on idle
		inflight int
	)
	// push makes h ready again; mu is held.
	push := func(h *hostState) {
		ready = append(ready, h)
		h.inReady = true
		if waiting > 0 {
			idle.Signal()
		}
	}
	skip := func(q []int32, why string) {
		for _, i := range q {
			t := targets[i]
			each(int(i), check.LinkResult{URL: t.URL, Handle: t.Handle, Slug: t.Slug, Status: check.Fail,
				Method: c.opts.Method, Error: check.LinkErrTimeout, ErrorMessage: why})
		}
	}
	work := func() {
		mu.Lock()
		defer mu.Unlock()
		for {
			if len(ready) == 0 {
				if inflight == 0 {
					// Every host is done: no link left and none that could
					// make a host ready again.
					idle.Broadcast()
					return
				}
				waiting++
				idle.Wait()
				waiting--
				continue
			}
			h := ready[0]
			ready[0] = nil
			ready = ready[1:]
			h.inReady = false
			if ctx.Err() != nil {
				q := h.queue
				h.queue = nil
				mu.Unlock()
				skip(q, "not checked: "+context.Cause(ctx).Error())
				mu.Lock()
				continue
			}
			i := h.queue[0]
			h.queue = h.queue[1:]
			h.active++
			inflight++
			last := len(h.queue) == 0
			if !last && h.active < h.limit {
				push(h)
			}
			mu.Unlock()

			r := c.one(ctx, targets[i], last && c.opts.OneShot)
			each(int(i), r)

			var skipped []int32
			var why string
			mu.Lock()
			inflight--
			h.active--
			if r.Error == check.LinkErrTimeout {
				h.timeouts++
				if h.timeouts >= hostSlowAfter {
					h.limit = 1
				}
				if h.timeouts >= hostSkipAfter && len(h.queue) > 0 {
					skipped, h.queue = h.queue, nil
					why = fmt.Sprintf("not checked: the host timed out %d times in a row", h.timeouts)
				}
			} else {
				h.timeouts = 0
			}
			if len(h.queue) > 0 && h.active < h.limit && !h.inReady {
				push(h)
			}
			if skipped != nil {
				mu.Unlock()
				skip(skipped, why)
				mu.Lock()
			}
		}
	}
	var wg sync.WaitGroup
	for range min(c.opts.Concurrency, len(targets)) {
		wg.Go(work)
	}
	wg.Wait()
}

// hopResult is where following one method's redirects ended.
type hopResult struct {
	code     int
	finalURL string
	hops     []check.Hop
	kind     check.Reason // "" on an answer
	msg      string
	protocol bool // the server broke the protocol (a reason to retry HEAD as GET)
	liftable bool // blocked at dial time by the guard: name how to lift it
}

// One checks a single link: HEAD first (unless the host is known to
// mishandle it or the method is GET), GET when HEAD answers 405 or 501,
// breaks the protocol or does not answer within half the budget (the host
// then gets GET from the start), and GET for this link when HEAD answers
// another 5xx.
func (c *LinkChecker) One(ctx context.Context, t LinkTarget) check.LinkResult {
	return c.one(ctx, t, c.opts.OneShot)
}

// one is One; closeConn closes the connection after the exchange.
func (c *LinkChecker) one(ctx context.Context, t LinkTarget, closeConn bool) (r check.LinkResult) {
	start := time.Now()
	r = check.LinkResult{URL: t.URL, Handle: t.Handle, Slug: t.Slug, Method: c.opts.Method}
	// r is the named result, so that the deferred assignment reaches the caller.
	defer func() { r.DurationMs = check.Millis(time.Since(start)) }()

	u, err := url.Parse(strings.TrimSpace(t.URL))
	if err != nil {
		// The inner error names the bad part only (an escape, a port), never
		// the whole URL and its password.
		why := err
		if ue, ok := err.(*url.Error); ok {
			why = ue.Err
		}
		r.Status, r.Error, r.ErrorMessage = check.Fail, check.LinkErrInvalidURL, "URL does not parse: "+why.Error()
		return r
	}
	if !u.IsAbs() {
		r.Status, r.Error, r.ErrorMessage = check.Fail, check.LinkErrInvalidURL, "not an absolute URL"
		return r
	}
	if err := c.guard.checkURL(u); err != nil {
		r.Status, r.Error, r.ErrorMessage = check.Fail, kindOfGuardErr(err), c.guardMsg(err)
		return r
	}
	// The link's whole exchange ends at deadline. HEAD gets half of it, in
	// a context of its own; the context of GET, with the whole budget, is
	// made only when GET is asked (most links answer HEAD).
	deadline := time.Now().Add(c.opts.Timeout)
	expired := func() bool { return ctx.Err() != nil || !time.Now().Before(deadline) }

	method := c.opts.Method
	var key string // the host key, once needed
	if method == http.MethodHead && c.lc.noHEADn.Load() > 0 {
		key = hostKey(u)
		if _, bad := c.lc.noHEAD.Load(key); bad {
			method = http.MethodGet
		}
	}
	var res hopResult
	if method == http.MethodHead {
		hctx, hcancel := context.WithTimeout(ctx, c.opts.Timeout/2)
		res = c.follow(hctx, http.MethodHead, u, closeConn)
		hcancel()
		headTimedOut := res.kind == check.LinkErrTimeout && !expired()
		switch {
		case res.code == http.StatusMethodNotAllowed || res.code == http.StatusNotImplemented ||
			res.protocol || headTimedOut:
			if key == "" {
				key = hostKey(u)
			}
			if _, known := c.lc.noHEAD.LoadOrStore(key, struct{}{}); !known {
				c.lc.noHEADn.Add(1)
			}
			method = http.MethodGet
		case res.code >= 500 && !expired():
			// A server error on HEAD is often a handler that only knows
			// GET: ask this link again with GET (the host keeps HEAD).
			method = http.MethodGet
		}
	}
	if method == http.MethodGet {
		gctx, gcancel := context.WithDeadlineCause(ctx, deadline, c.noAnswer)
		res = c.follow(gctx, http.MethodGet, u, closeConn)
		gcancel()
	}
	r.Method, r.StatusCode, r.FinalURL, r.Redirects = method, res.code, res.finalURL, res.hops
	if res.liftable {
		res.msg += "; " + c.opts.AllowHint
	}
	switch {
	case res.kind != "":
		r.Status, r.Error, r.ErrorMessage = check.Fail, res.kind, res.msg
	case !c.valid(res.code):
		r.Status, r.Error = check.Fail, check.LinkErrHTTPStatus
		r.ErrorMessage = fmt.Sprintf("HTTP %d %s", res.code, http.StatusText(res.code))
	default:
		r.Status = check.Pass
	}
	return r
}

func (c *LinkChecker) valid(code int) bool {
	if len(c.opts.ValidCodes) == 0 {
		return code >= 200 && code < 400
	}
	for _, v := range c.opts.ValidCodes {
		if v == code {
			return true
		}
	}
	return false
}

// follow asks u with method and follows up to MaxRedirects redirects.
func (c *LinkChecker) follow(ctx context.Context, method string, u *url.URL, closeConn bool) hopResult {
	var res hopResult
	var seen map[string]bool // the URLs asked, from the first redirect on
	cur, curS := u, u.String()
	for {
		res.finalURL = curS
		if err := c.guard.checkURL(cur); err != nil {
			res.kind, res.msg = kindOfGuardErr(err), c.guardMsg(err)
			return res
		}
		req, err := http.NewRequestWithContext(ctx, method, curS, nil)
		if err != nil {
			res.kind, res.msg = check.LinkErrInvalidURL, "invalid URL"
			return res
		}
		req.Header = c.header
		req.Close = closeConn
		resp, err := c.do(req)
		if err != nil {
			res.kind, res.msg, res.protocol = classifyLinkErr(ctx, err)
			var blocked *blockedError
			res.liftable = errors.As(err, &blocked)
			return res
		}
		res.code = resp.StatusCode
		if method == http.MethodGet {
			_, err = io.CopyN(io.Discard, resp.Body, linkBodyCap)
		}
		resp.Body.Close()
		if err != nil && err != io.EOF && ctx.Err() != nil {
			res.kind, res.msg, res.protocol = classifyLinkErr(ctx, err)
			return res
		}
		loc := resp.Header.Get("Location")
		if res.code < 300 || res.code >= 400 || res.code == http.StatusNotModified || loc == "" {
			return res
		}
		res.hops = append(res.hops, check.Hop{URL: curS, StatusCode: res.code})
		next, err := cur.Parse(loc)
		if err != nil {
			res.kind, res.msg = check.LinkErrInvalidURL, "invalid redirect Location"
			return res
		}
		next.Fragment = ""
		nextS := next.String()
		if seen == nil {
			seen = map[string]bool{u.String(): true}
		}
		if seen[nextS] {
			res.kind, res.msg = check.LinkErrRedirects, "redirect loop"
			res.finalURL = nextS
			return res
		}
		if len(res.hops) > MaxRedirects {
			res.kind, res.msg = check.LinkErrRedirects, fmt.Sprintf("more than %d redirects", MaxRedirects)
			return res
		}
		seen[nextS] = true
		cur, curS = next, nextS
	}
}

// do sends req as c.client.Do does, redirects left to the caller (the
// client's CheckRedirect stops at the first answer anyway), without the
// client's copy of every request's header for the redirects it would
// follow: the URL's user and password go as basic auth, and a TLS record
// that starts with "HTTP/" is http.ErrSchemeMismatch, and errors come
// wrapped in a *url.Error.
func (c *LinkChecker) do(req *http.Request) (*http.Response, error) {
	if u := req.URL.User; u != nil && req.Header.Get("Authorization") == "" {
		password, _ := u.Password()
		req.Header = req.Header.Clone() // c.header is shared
		req.SetBasicAuth(u.Username(), password)
	}
	resp, err := c.client.Transport.RoundTrip(req)
	if err != nil {
		if tlsErr, ok := err.(tls.RecordHeaderError); ok && string(tlsErr.RecordHeader[:]) == "HTTP/" {
			err = http.ErrSchemeMismatch
		}
		op := req.Method[:1] + strings.ToLower(req.Method[1:])
		return nil, &url.Error{Op: op, URL: req.URL.Redacted(), Err: err}
	}
	return resp, nil
}

// guardMsg is the message of a URL the guard refused before dialling, with
// the way to lift it when allow_private would let it through.
func (c *LinkChecker) guardMsg(err error) string {
	if errors.Is(err, errPortBlocked) {
		return err.Error() + "; " + c.opts.AllowHint
	}
	return err.Error()
}

func kindOfGuardErr(err error) check.Reason {
	if errors.Is(err, errBlocked) {
		return check.LinkErrBlocked
	}
	return check.LinkErrInvalidURL
}

// classifyLinkErr names the kind of a failed exchange, with a short message
// that never repeats the URL (it may hold credentials).
func classifyLinkErr(ctx context.Context, err error) (kind check.Reason, msg string, protocol bool) {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var netErr net.Error
	var blocked *blockedError
	var sysErr *os.SyscallError
	var locErr *locationError
	switch {
	case errors.As(err, &locErr):
		return check.LinkErrInvalidURL, "invalid redirect Location", false
	case errors.As(err, &blocked):
		return check.LinkErrBlocked, blocked.Error(), false
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return check.LinkErrDNS, "no such host " + dnsErr.Name, false
		}
		if dnsErr.IsTimeout && ctx.Err() != nil {
			return check.LinkErrTimeout, "DNS lookup: " + context.Cause(ctx).Error(), false
		}
		return check.LinkErrDNS, "DNS lookup failed: " + dnsErr.Err, false
	case ctx.Err() != nil:
		return check.LinkErrTimeout, context.Cause(ctx).Error(), false
	case isTLSErr(err):
		return check.LinkErrTLS, shortErr(err), false
	case errors.As(err, &netErr) && netErr.Timeout():
		return check.LinkErrTimeout, shortErr(err), false
	case errors.As(err, &opErr) && opErr.Op == "dial":
		if errors.As(opErr.Err, &sysErr) {
			return check.LinkErrConnect, shortErr(sysErr.Err), false
		}
		return check.LinkErrConnect, shortErr(opErr.Err), false
	}
	return check.LinkErrConnect, shortErr(err), true
}

// isTLSErr reports whether err is a failed TLS handshake or certificate.
func isTLSErr(err error) bool {
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	var alertErr tls.AlertError
	return errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr) ||
		errors.As(err, &invalidCert) || errors.As(err, &recordErr) || errors.As(err, &alertErr)
}

func shortErr(err error) string {
	s := err.Error()
	if strings.Contains(s, "tls: ") || strings.Contains(s, "x509: ") {
		if i := strings.Index(s, "tls: "); i >= 0 {
			s = s[i:]
		} else if i := strings.Index(s, "x509: "); i >= 0 {
			s = s[i:]
		}
	}
	return check.Truncate(check.RedactText(s))
}

// locationError is a redirect whose Location does not parse. net/http
// parses Location before CheckRedirect sees the hop and says so only in
// text; locationCheck finds it first and says so with this type.
type locationError struct{ err error }

func (e *locationError) Error() string { return "invalid redirect Location: " + e.err.Error() }
func (e *locationError) Unwrap() error { return e.err }

// locationCheck refuses, as a *locationError, a redirect answer whose
// Location the client would fail to parse.
type locationCheck struct{ http.RoundTripper }

func (l locationCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.RoundTripper.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		if loc := resp.Header.Get("Location"); loc != "" {
			if _, err := req.URL.Parse(loc); err != nil {
				resp.Body.Close()
				return nil, &locationError{err: err}
			}
		}
	}
	return resp, nil
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport.
func (l locationCheck) CloseIdleConnections() {
	if c, ok := l.RoundTripper.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
