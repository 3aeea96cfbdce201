package probes

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// KindHTTP is the kind http: one HTTP request and assertions on its answer.
const KindHTTP check.Kind = "http"

// HTTP check bounds.
const (
	// DefaultMaxBody is how much of a body an http check reads by default.
	DefaultMaxBody = 1 << 20
	// MaxMaxBody bounds max_body: the body is held in memory.
	MaxMaxBody = 16 << 20
	// maxShown bounds an observed value quoted in a message.
	maxShown = 60
)

// HTTPUserAgent is what http checks say they are (unless a header sets it).
var HTTPUserAgent = "monitor-http/1.0 (+https://github.com/monitor-dev/monitor)"

// httpKind is the kind http: a request, and assertions on the status,
// headers, body, JSON, latency and certificate of its answer.
var httpKind = Kind{
	Name: KindHTTP,
	Keys: []string{"url", "method", "headers", "body", "basic_auth", "bearer_token",
		"ca_file", "cert_file", "key_file", "follow_redirects", "max_body",
		"status", "body_contains", "body_regex", "json", "header", "latency", "cert_expiry"},
	Decode: decodeHTTP,
	Probe:  ProbeHTTP,
	Behaviour: check.Behaviour{TimeoutStatus: check.Fail, ComponentType: "component",
		Chart: "Response time"},
}

// HTTPConfig is the configuration of an http check (check.Spec.Config).
// It holds patterns and paths as written (compiled at each run), so that
// two loads of one file give equal specs.
//
// The yaml tags name the check's keys (docs/config.md is generated from
// them and from these comments).
type HTTPConfig struct {
	// URL is the request's URL: absolute http(s). A password or a query
	// string makes it a secret (hidden in every message). Required.
	URL string `yaml:"url"`
	// Method is the request's method.
	Method string `yaml:"method" ref:"GET | HEAD | POST | PUT | PATCH | DELETE | OPTIONS"`
	// Headers are request headers, in file order; their values are secrets
	// (but for a few harmless ones such as Accept), not sent on when a
	// redirect leaves the configured host and port.
	Headers []Header `yaml:"headers" ref:"mapping of header → value"`
	// Body is the request body, as written.
	Body string `yaml:"body"`
	// Username and Password are basic_auth: {username, password} (the
	// password a secret). At most one of basic_auth, bearer_token and an
	// Authorization header.
	Username string `yaml:"basic_auth.username"`
	// Password is basic_auth's password.
	Password check.Secret `yaml:"basic_auth.password"`
	// BearerToken is sent as Authorization: Bearer; a secret.
	BearerToken check.Secret `yaml:"bearer_token"`
	Files       TLSFiles     `yaml:",inline"`
	// FollowRedirects follows redirects (up to 10); false judges the
	// redirect itself (status: [301, 302]).
	FollowRedirects bool `yaml:"follow_redirects"`
	// MaxBody is how much of the body is read (the connection is dropped
	// there): a size like 1MiB, 512KiB, 1MB or 65536; 1 byte to 16MiB.
	MaxBody int64 `yaml:"max_body" ref:"size"`

	// The assertions; all must hold for PASS.

	// Status lists the accepted final status codes: codes (200) or
	// classes (2xx). Empty: any 2xx.
	Status []StatusRange `yaml:"status" ref:"list of codes or classes"`
	// BodyContains must occur in the body.
	BodyContains string `yaml:"body_contains"`
	// BodyRegex must match the body (Go regular expression syntax).
	BodyRegex string `yaml:"body_regex"`
	// JSON lists assertions on the JSON body, each {path, OPERATOR:
	// value} with one operator of equals, not_equals, lt, lte, gt, gte,
	// contains, exists; paths as in freshness sources ($.a.b, $.items[0],
	// $.items[*].ok; with a wildcard every value must hold).
	JSON []JSONAssertion `yaml:"json" ref:"list of {path, operator: value}"`
	// Header lists response headers and the value each must have: equal,
	// case ignored, parameters (; charset=...) aside.
	Header []HeaderAssertion `yaml:"header" ref:"mapping of header → value"`
	// Latency FAILs a slow answer: {warn, critical}, each optional.
	Latency Latency `yaml:"latency"`
	// CertExpiry judges the days left of an https answer's certificate;
	// zero: not judged.
	CertExpiry Expiry `yaml:"cert_expiry"`
}

// Header is one request header.
type Header struct {
	Name  string
	Value check.Secret
}

// StatusRange is an accepted status: From to To, both included (200 to
// 200 for `200`, 200 to 299 for `2xx`).
type StatusRange struct{ From, To int }

func (s StatusRange) String() string {
	if s.From == s.To {
		return strconv.Itoa(s.From)
	}
	return strconv.Itoa(s.From/100) + "xx"
}

// HeaderAssertion wants the response header Name to be Value: equal
// (case ignored), or equal up to parameters ("application/json" holds for
// "application/json; charset=utf-8").
type HeaderAssertion struct{ Name, Value string }

// Latency is latency: an answer slower than Warn FAILs WARN, slower than
// Critical FAILs CRITICAL (zero: not judged).
type Latency struct {
	// Warn: an answer slower than this FAILs WARN; > 0.
	Warn time.Duration `yaml:"warn"`
	// Critical: an answer slower than this FAILs CRITICAL; > 0.
	Critical time.Duration `yaml:"critical"`
}

// JSONAssertion is one entry of json: the values Path selects must all
// satisfy Op against Value (Value is the YAML scalar as written).
type JSONAssertion struct {
	Path  string
	Op    string // one of jsonOps
	Value string
}

// jsonOps are the operators of json assertions.
var jsonOps = []string{"equals", "not_equals", "lt", "lte", "gt", "gte", "contains", "exists"}

func decodeHTTP(f check.Fields) any {
	method := f.Str("method")
	c := HTTPConfig{
		URL:             f.Str("url"),
		Method:          strings.ToUpper(method),
		Body:            f.Str("body"),
		Files:           decodeTLSFiles(f),
		FollowRedirects: true,
		MaxBody:         DefaultMaxBody,
		BodyContains:    f.Str("body_contains"),
		BodyRegex:       f.Str("body_regex"),
		CertExpiry:      decodeExpiry(f, Expiry{}),
	}
	switch u, err := url.Parse(c.URL); {
	case !f.Has("url"):
		f.Errorf("", "missing url%s", f.In())
	case !ValidHTTPURL(c.URL):
		f.Errorf("url", "invalid url %q%s (want an absolute http(s) URL)", shownURL(c.URL), f.In())
	case err == nil && u.Port() != "" && !validPort(u.Port()):
		f.Errorf("url", "invalid url %q%s (port %s is not a number from 1 to 65535)", shownURL(c.URL), f.In(), u.Port())
	}
	if u, err := url.Parse(c.URL); err == nil && (u.User != nil || u.RawQuery != "") {
		// A token in the query or a password: kept out of every message.
		f.Secret(c.URL)
	}
	switch c.Method {
	case "":
		c.Method = http.MethodGet
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
	default:
		f.Errorf("method", "invalid method %q%s (want GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS)", method, f.In())
	}
	if f.Has("follow_redirects") {
		c.FollowRedirects = f.Bool("follow_redirects")
	}
	if f.Has("max_body") {
		n, err := parseSize(f.Raw("max_body"))
		switch {
		case err != nil:
			f.Errorf("max_body", "invalid max_body %q%s (want a size like 1MiB, 512KiB or 65536)", f.Raw("max_body"), f.In())
		case n < 1 || n > MaxMaxBody:
			f.Errorf("max_body", "max_body %s%s is out of range (want 1 byte to 16MiB)", f.Raw("max_body"), f.In())
		default:
			c.MaxBody = n
		}
	}

	// Request headers and credentials: secrets all.
	names, sub, ok := f.Pairs("headers")
	if ok {
		for _, name := range names {
			v := sub.Str(name)
			if !validHeaderName(name) {
				sub.Errorf(name, "invalid header name %q%s", name, sub.In())
				continue
			}
			if !publicHeaders[http.CanonicalHeaderKey(name)] {
				f.Secret(v)
			}
			c.Headers = append(c.Headers, Header{Name: name, Value: check.Secret(v)})
		}
	}
	if f.Has("basic_auth") {
		if ba, ok := f.Map("basic_auth", "basic_auth of "+f.Where(), "username", "password"); ok {
			c.Username, c.Password = ba.Str("username"), check.Secret(ba.Str("password"))
			f.Secret(c.Password.Reveal())
			if c.Username == "" {
				ba.Errorf("username", "missing username%s", ba.In())
			}
		}
	}
	if f.Has("bearer_token") {
		c.BearerToken = check.Secret(f.Str("bearer_token"))
		f.Secret(c.BearerToken.Reveal())
	}
	hasAuthHeader := slices.ContainsFunc(c.Headers, func(h Header) bool { return strings.EqualFold(h.Name, "Authorization") })
	if n := countTrue(f.Has("basic_auth"), f.Has("bearer_token"), hasAuthHeader); n > 1 {
		at := "basic_auth"
		if f.Has("bearer_token") {
			at = "bearer_token"
		}
		f.Errorf(at, "basic_auth, bearer_token and an Authorization header%s exclude each other (want one)", f.In())
	}

	// Assertions.
	for i, v := range f.List("status") {
		r, ok := parseStatus(v)
		if !ok {
			f.ErrorfItem("status", i, "invalid status %q%s (want a code like 200 or a range like 2xx)", v, f.In())
			continue
		}
		c.Status = append(c.Status, r)
	}
	if c.BodyRegex != "" {
		if _, err := regexp.Compile(c.BodyRegex); err != nil {
			f.Errorf("body_regex", "invalid body_regex%s: %s", f.In(), regexErr(err))
		}
	}
	if f.Has("body_contains") && c.BodyContains == "" {
		f.Errorf("body_contains", "empty body_contains%s", f.In())
	}
	for _, item := range f.Items("json", append([]string{"path"}, jsonOps...)...) {
		c.JSON = append(c.JSON, decodeJSONAssertion(item))
	}
	if c.Method == http.MethodHead {
		// A HEAD answer has no body: such an assertion would FAIL at
		// every run.
		for _, key := range []string{"body_contains", "body_regex", "json"} {
			if f.Has(key) {
				f.Errorf(key, "%s%s cannot hold with method HEAD (its answer has no body; want GET)", key, f.In())
			}
		}
	}
	names, sub, ok = f.Pairs("header")
	if ok {
		for _, name := range names {
			if !validHeaderName(name) {
				sub.Errorf(name, "invalid header name %q%s", name, sub.In())
				continue
			}
			c.Header = append(c.Header, HeaderAssertion{Name: name, Value: sub.Str(name)})
		}
	}
	if f.Has("latency") {
		if l, ok := f.Map("latency", "latency of "+f.Where(), "warn", "critical"); ok {
			warn, okW := positiveDuration(l, "warn")
			critical, okC := positiveDuration(l, "critical")
			c.Latency = Latency{Warn: warn, Critical: critical}
			switch {
			case !l.Has("warn") && !l.Has("critical"):
				f.Errorf("latency", "empty latency%s (want warn, critical or both, like {warn: 500ms, critical: 2s})", f.In())
			case !okW || !okC:
			case c.Latency.Warn > 0 && c.Latency.Critical > 0 && c.Latency.Critical < c.Latency.Warn:
				l.Errorf("critical", "critical %s < warn %s%s", shortDuration(c.Latency.Critical),
					shortDuration(c.Latency.Warn), l.In())
			}
		}
	}
	return c
}

// shownURL is a configured URL as a message may quote it: redacted, and,
// when it does not even parse, cut at its query or fragment, where a
// token may sit that the redactor cannot find in a broken URL.
func shownURL(raw string) string {
	if _, err := url.Parse(raw); err == nil {
		return check.RedactURL(raw)
	}
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i] + raw[i:i+1] + "***"
	}
	return check.RedactURL(raw)
}

// publicHeaders are request headers that never carry credentials: their
// values (application/json) are not handed to the log redactor, which
// would blank them in every message. They stay check.Secret all the same.
var publicHeaders = map[string]bool{"Accept": true, "Accept-Encoding": true, "Accept-Language": true,
	"Cache-Control": true, "Content-Type": true, "Host": true, "User-Agent": true}

func countTrue(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// decodeJSONAssertion reads {path: $.x, <operator>: value}.
func decodeJSONAssertion(item check.Fields) JSONAssertion {
	a := JSONAssertion{Path: item.Str("path")}
	switch {
	case !item.Has("path"):
		item.Errorf("", "missing path%s", item.In())
	case !strings.HasPrefix(a.Path, "$"):
		item.Errorf("path", "invalid path %q%s (want a JSONPath like $.status)", a.Path, item.In())
	default:
		if err := ValidateJSONPath(a.Path); err != nil {
			detail := err.Error()
			if i := strings.Index(detail, ": "); i >= 0 {
				detail = detail[i+2:]
			}
			item.Errorf("path", "invalid path %q%s (%s)", a.Path, item.In(), detail)
		}
	}
	var ops []string
	for _, op := range jsonOps {
		if item.Has(op) {
			ops = append(ops, op)
		}
	}
	switch len(ops) {
	case 0:
		item.Errorf("", "missing operator%s (want one of %s)", item.In(), strings.Join(jsonOps, ", "))
		return a
	case 1:
	default:
		item.Errorf(ops[1], "more than one operator%s (%s; want one per entry)", item.In(), andList(ops))
	}
	a.Op, a.Value = ops[0], item.Raw(ops[0])
	switch a.Op {
	case "lt", "lte", "gt", "gte":
		// NaN and infinities parse, but no JSON number compares with them
		// as meant: lt NaN would FAIL at every run.
		if v, err := strconv.ParseFloat(a.Value, 64); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			item.Errorf(a.Op, "invalid %s %q%s (want a number)", a.Op, a.Value, item.In())
		}
	case "exists":
		a.Value = strconv.FormatBool(item.Bool("exists"))
	}
	return a
}

// parseStatus reads 200 or 2xx.
func parseStatus(s string) (StatusRange, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) == 3 && s[1:] == "xx" && s[0] >= '1' && s[0] <= '5' {
		base := int(s[0]-'0') * 100
		return StatusRange{base, base + 99}, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 599 {
		return StatusRange{}, false
	}
	return StatusRange{n, n}, true
}

// parseSize reads a byte count: 65536, 512KiB, 1MiB (KB and MB are 1000
// and 1000²).
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, err
	}
	mult := map[string]int64{"": 1, "B": 1, "KB": 1000, "KiB": 1 << 10, "MB": 1000 * 1000, "MiB": 1 << 20}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("unknown unit %q", unit)
	}
	if n > math.MaxInt64/mult {
		return 0, errors.New("too large")
	}
	return n * mult, nil
}

// sizeText writes a byte count the way max_body is written.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) {
			return false
		}
	}
	return true
}

// regexErr is a regexp error without Go's "error parsing regexp: " prefix.
func regexErr(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// httpAnswer is what one exchange saw.
type httpAnswer struct {
	resp     *http.Response
	body     []byte
	cut      bool // the body was longer than max_body
	elapsed  time.Duration
	location string // where a redirect not followed pointed
}

// ProbeHTTP sends the check's request and checks every assertion on the
// answer; all must hold for PASS. The message names each assertion that
// does not hold with the value seen, the first one first ("$.status is
// \"degraded\", want \"ok\""), never a header value, credential or URL
// query. Assertion failures FAIL with the check's severity; latency and
// cert_expiry with the severity of the threshold crossed; a certificate
// that does not verify FAILs CRITICAL. The observed value is the response
// time in seconds (request sent to body read); Result.CertNotAfter is the
// server's leaf certificate's expiry on https.
//
// Each run opens its own connection (as blackbox_exporter does): the
// response time includes connecting, and certificate files are read anew.
func ProbeHTTP(ctx context.Context, spec check.Spec, env *Env) check.Result {
	ctx, cancel, timeout := withDeadline(ctx, spec)
	defer cancel()
	c, _ := spec.Config.(HTTPConfig)
	a, r, done := c.exchange(ctx, spec, env, timeout)
	if done {
		return r
	}
	var findings []finding
	findings = append(findings, c.assertStatus(a)...)
	hide := c.hider()
	findings = append(findings, c.assertHeaders(a, hide)...)
	findings = append(findings, c.assertBody(a, hide)...)
	findings = append(findings, c.assertLatency(a.elapsed)...)
	now := env.now()
	var notAfter time.Time
	if a.resp.TLS != nil && len(a.resp.TLS.PeerCertificates) > 0 {
		notAfter = a.resp.TLS.PeerCertificates[0].NotAfter
		if f := judgeExpiry(notAfter, now, c.CertExpiry); f != nil && c.CertExpiry != (Expiry{}) {
			findings = append(findings, *f)
		}
	}
	pass := fmt.Sprintf("%s in %s", statusText(a.resp), shortDuration(a.elapsed))
	if !notAfter.IsZero() && c.CertExpiry != (Expiry{}) {
		pass += ", certificate " + daysText(daysLeft(notAfter, now))
	}
	res := verdict(spec, pass, findings)
	res.ObservedValue, res.ObservedUnit = check.Value(math.Round(a.elapsed.Seconds()*1e6)/1e6), "s"
	res.CertNotAfter = notAfter
	return res
}

// exchange sends the request and reads the answer; done is true when
// there is no answer to judge (r says why).
func (c HTTPConfig) exchange(ctx context.Context, spec check.Spec, env *Env, timeout time.Duration) (a httpAnswer, r check.Result, done bool) {
	u, err := url.Parse(c.URL)
	if err != nil || !ValidHTTPURL(c.URL) {
		return a, failed(spec.FailResult("invalid url"), check.ReasonInvalidURL), true
	}
	conf, err := c.Files.config(u.Hostname())
	if err != nil {
		return a, failed(spec.FailResult(runFileProblem(err)), check.ReasonError), true
	}
	conf.ServerName = "" // net/http sets it per host (redirects)
	tr := LinkTransport(env.checkGuard(spec), 1)
	tr.TLSClientConfig = conf
	tr.DisableKeepAlives = true
	defer tr.CloseIdleConnections()
	origin := u.Host
	client := &http.Client{Transport: locationCheck{tr}, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !c.FollowRedirects {
			return http.ErrUseLastResponse
		}
		if len(via) > MaxRedirects {
			return errTooManyRedirects
		}
		if req.URL.Host != origin {
			// Configured headers are credentials as often as not: they
			// go to the configured host only. basic_auth and
			// bearer_token too: net/http would send Authorization on to
			// the same host name on another port and to its subdomains.
			for _, h := range c.Headers {
				req.Header.Del(h.Name)
			}
			req.Header.Del("Authorization")
		}
		return nil
	}}

	var body io.Reader
	if c.Body != "" {
		body = strings.NewReader(c.Body)
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, c.URL, body)
	if err != nil {
		return a, failed(spec.FailResult("invalid request"), check.ReasonInvalidURL), true
	}
	req.Header.Set("User-Agent", HTTPUserAgent)
	for _, h := range c.Headers {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value.Reveal()
			continue
		}
		req.Header.Set(h.Name, h.Value.Reveal())
	}
	switch {
	case c.Username != "":
		req.SetBasicAuth(c.Username, c.Password.Reveal())
	case !c.BearerToken.IsZero():
		req.Header.Set("Authorization", "Bearer "+c.BearerToken.Reveal())
	}

	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return a, httpErrResult(ctx, spec, env, err, timeout), true
	}
	defer resp.Body.Close()
	a.resp = resp
	a.body, err = io.ReadAll(io.LimitReader(resp.Body, c.MaxBody+1))
	if int64(len(a.body)) > c.MaxBody {
		// The rest is never read: closing the body drops the connection.
		a.body, a.cut = a.body[:c.MaxBody], true
	}
	a.elapsed = time.Since(start)
	if err != nil {
		return a, httpErrResult(ctx, spec, env, fmt.Errorf("read body: %w", err), timeout), true
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		a.location = resp.Header.Get("Location")
	}
	return a, r, false
}

var errTooManyRedirects = fmt.Errorf("more than %d redirects", MaxRedirects)

// httpErrResult is the FAIL of an exchange that got no answer. Its message
// never quotes the URL (it may hold credentials).
func httpErrResult(ctx context.Context, spec check.Spec, env *Env, err error, timeout time.Duration) check.Result {
	if ctx.Err() != nil {
		if isCanceled(ctx) {
			return failed(spec.FailResult("canceled"), check.ReasonCanceled)
		}
		return failed(spec.FailResult(timedOut(timeout)), check.ReasonTimeout)
	}
	if f, notAfter, ok := certFailure(err, env.now()); ok {
		r := verdict(spec, "", []finding{f})
		r.CertNotAfter = notAfter
		return r
	}
	if errors.Is(err, errTooManyRedirects) {
		return failed(spec.FailResult(errTooManyRedirects.Error()), check.ReasonRedirects)
	}
	kind, msg, protocol := classifyLinkErr(ctx, err)
	switch {
	case kind == check.ReasonBlocked:
		msg += "; server.guard_checks is on"
	case protocol:
		// Connected, then the answer broke off or broke the protocol:
		// "connect:" would send the reader to the wrong place.
		msg = brokenAnswer(err, msg)
	case kind == check.ReasonConnect || kind == check.ReasonDNS || kind == check.ReasonTLS:
		if !strings.HasPrefix(msg, "tls: ") && !strings.HasPrefix(msg, "no such host") &&
			!strings.HasPrefix(msg, "DNS") {
			msg = "connect: " + msg
		}
	}
	return failed(spec.FailResult(check.RedactText(msg)), kind)
}

// brokenAnswer says what went wrong after connecting: the server closed
// or reset the connection, sent headers over the transport's bound,
// redirected to a scheme other than http(s), or did not speak HTTP.
func brokenAnswer(err error, msg string) string {
	var opErr *net.OpError
	switch {
	case strings.Contains(msg, "server response headers exceeded"):
		return fmt.Sprintf("response headers larger than %d KiB", maxResponseHeaderBytes>>10)
	case strings.HasPrefix(msg, "unsupported protocol scheme"):
		// Only a redirect gets here: a configured url is http(s).
		return "redirect to an " + msg
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "server closed the connection without an answer"
	case errors.As(err, &opErr) && (opErr.Op == "read" || opErr.Op == "write"):
		return "no answer: " + check.RedactText(opErr.Err.Error())
	}
	return "bad answer: " + msg
}

func statusText(resp *http.Response) string {
	if t := http.StatusText(resp.StatusCode); t != "" {
		return fmt.Sprintf("%d %s", resp.StatusCode, t)
	}
	return strconv.Itoa(resp.StatusCode)
}

func (c HTTPConfig) assertStatus(a httpAnswer) []finding {
	want := c.Status
	if len(want) == 0 {
		want = []StatusRange{{200, 299}}
	}
	code := a.resp.StatusCode
	for _, s := range want {
		if code >= s.From && code <= s.To {
			return nil
		}
	}
	wants := make([]string, len(want))
	for i, s := range want {
		wants[i] = s.String()
	}
	msg := fmt.Sprintf("status %s, want %s", statusText(a.resp), strings.Join(wants, " or "))
	if a.location != "" {
		msg += " (redirect to " + check.RedactURL(a.location) + ")"
	}
	return []finding{{msg: msg, reason: check.ReasonHTTPStatus}}
}

// hider hides the check's own credentials in values the server sent
// back: an echo service (or a hostile one) reflecting the Authorization
// header, an API key or the URL's token would otherwise put it into the
// message, which the public health API and alerts carry. Values are
// hidden before they are cut to maxShown, so no prefix shows either.
func (c HTTPConfig) hider() *check.Redactor {
	r := check.NewRedactor()
	for _, h := range c.Headers {
		if !publicHeaders[http.CanonicalHeaderKey(h.Name)] {
			r.Add(h.Value.Reveal())
		}
	}
	basic := func(user, pass string) {
		r.Add(pass)
		r.Add(base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)))
	}
	if c.Username != "" {
		basic(c.Username, c.Password.Reveal())
	}
	r.Add(c.BearerToken.Reveal())
	if u, err := url.Parse(c.URL); err == nil {
		if pass, ok := u.User.Password(); ok {
			basic(u.User.Username(), pass)
		}
		for _, vs := range u.Query() {
			for _, v := range vs {
				r.Add(v)
				r.Add(url.QueryEscape(v))
			}
		}
	}
	return r
}

func (c HTTPConfig) assertHeaders(a httpAnswer, hide *check.Redactor) []finding {
	var out []finding
	for _, h := range c.Header {
		got, ok := a.resp.Header[http.CanonicalHeaderKey(h.Name)]
		switch {
		case !ok || len(got) == 0:
			out = append(out, finding{msg: fmt.Sprintf("header %s is missing, want %q", h.Name, h.Value),
				reason: check.ReasonAssertion})
		case !headerMatches(got[0], h.Value):
			out = append(out, finding{msg: fmt.Sprintf("header %s is %s, want %q", h.Name, shown(hide.Redact(got[0])), h.Value),
				reason: check.ReasonAssertion})
		}
	}
	return out
}

// headerMatches: equal, case ignored, or equal before the parameters.
func headerMatches(got, want string) bool {
	got, want = strings.TrimSpace(got), strings.TrimSpace(want)
	if strings.EqualFold(got, want) {
		return true
	}
	if i := strings.IndexByte(got, ';'); i >= 0 && !strings.Contains(want, ";") {
		return strings.EqualFold(strings.TrimSpace(got[:i]), want)
	}
	return false
}

func (c HTTPConfig) assertBody(a httpAnswer, hide *check.Redactor) []finding {
	var out []finding
	cut := ""
	if a.cut {
		cut = fmt.Sprintf(" (in its first %s: max_body)", sizeText(c.MaxBody))
	}
	if c.BodyContains != "" && !bytes.Contains(a.body, []byte(c.BodyContains)) {
		out = append(out, finding{msg: fmt.Sprintf("body does not contain %q%s", c.BodyContains, cut),
			reason: check.ReasonAssertion})
	}
	if c.BodyRegex != "" {
		re, err := regexp.Compile(c.BodyRegex)
		if err == nil && !re.Match(a.body) {
			out = append(out, finding{msg: fmt.Sprintf("body does not match /%s/%s", c.BodyRegex, cut),
				reason: check.ReasonAssertion})
		}
	}
	if len(c.JSON) == 0 {
		return out
	}
	if a.cut {
		return append(out, finding{msg: fmt.Sprintf("body is larger than max_body %s: its JSON cannot be read", sizeText(c.MaxBody)),
			reason: check.ReasonAssertion})
	}
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return append(out, finding{msg: "body is not JSON: " + check.Truncate(err.Error()), reason: check.ReasonAssertion})
	}
	for _, j := range c.JSON {
		if msg := j.check(doc, hide); msg != "" {
			out = append(out, finding{msg: msg, reason: check.ReasonAssertion})
		}
	}
	return out
}

func (c HTTPConfig) assertLatency(elapsed time.Duration) []finding {
	l := c.Latency
	switch {
	case l.Critical > 0 && elapsed > l.Critical:
		return []finding{{msg: fmt.Sprintf("response took %s (critical %s)", shortDuration(elapsed), shortDuration(l.Critical)),
			sev: check.Critical, reason: check.ReasonSlow}}
	case l.Warn > 0 && elapsed > l.Warn:
		return []finding{{msg: fmt.Sprintf("response took %s (warn %s)", shortDuration(elapsed), shortDuration(l.Warn)),
			sev: check.Warn, reason: check.ReasonSlow}}
	}
	return nil
}

// check tests the assertion on doc: "" when it holds, else the message.
func (j JSONAssertion) check(doc any, hide *check.Redactor) string {
	steps, err := parseJSONPath(j.Path)
	if err != nil {
		return err.Error()
	}
	vals, err := evalJSONPath(doc, steps)
	if j.Op == "exists" {
		switch want := j.Value == "true"; {
		case want && err != nil:
			return fmt.Sprintf("%s is missing (%v), want it to exist", j.Path, err)
		case !want && err == nil:
			return fmt.Sprintf("%s is %s, want no value", j.Path, jsonShown(vals[0], hide))
		}
		return ""
	}
	if err != nil {
		return fmt.Sprintf("%s is missing (%v), want %s", j.Path, err, j.want())
	}
	for _, v := range vals {
		if !j.holds(v) {
			return fmt.Sprintf("%s is %s, want %s", j.Path, jsonShown(v, hide), j.want())
		}
	}
	return ""
}

// want writes the assertion's wish: "ok", < 1000, not "degraded".
func (j JSONAssertion) want() string {
	v := yamlShown(j.Value)
	switch j.Op {
	case "equals":
		return v
	case "not_equals":
		return "not " + v
	case "lt":
		return "< " + j.Value
	case "lte":
		return "<= " + j.Value
	case "gt":
		return "> " + j.Value
	case "gte":
		return ">= " + j.Value
	case "contains":
		return "it to contain " + v
	}
	return j.Op + " " + v
}

// holds tests one value.
func (j JSONAssertion) holds(v any) bool {
	switch j.Op {
	case "equals":
		return jsonEquals(v, j.Value)
	case "not_equals":
		return !jsonEquals(v, j.Value)
	case "lt", "lte", "gt", "gte":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		got, err1 := n.Float64()
		want, err2 := strconv.ParseFloat(j.Value, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		switch j.Op {
		case "lt":
			return got < want
		case "lte":
			return got <= want
		case "gt":
			return got > want
		}
		return got >= want
	case "contains":
		switch x := v.(type) {
		case string:
			return strings.Contains(x, j.Value)
		case []any:
			return slices.ContainsFunc(x, func(e any) bool { return jsonEquals(e, j.Value) })
		}
	}
	return false
}

// jsonEquals compares a JSON value with a YAML scalar: strings as text,
// numbers as numbers, true, false and null as themselves.
func jsonEquals(v any, want string) bool {
	switch x := v.(type) {
	case string:
		return x == want
	case json.Number:
		a, err1 := x.Float64()
		b, err2 := strconv.ParseFloat(want, 64)
		return err1 == nil && err2 == nil && a == b
	case bool:
		return strconv.FormatBool(x) == want
	case nil:
		return want == "null" || want == "~"
	}
	return false
}

// jsonShown writes an observed JSON value for a message, short, with the
// check's credentials hidden.
func jsonShown(v any, hide *check.Redactor) string {
	switch x := v.(type) {
	case string:
		return shown(hide.Redact(x))
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return jsonType(v)
}

// yamlShown writes a configured value: numbers, true, false and null bare,
// text quoted.
func yamlShown(s string) string {
	if _, err := strconv.ParseFloat(s, 64); err == nil || s == "true" || s == "false" || s == "null" {
		return s
	}
	return strconv.Quote(s)
}

// shown quotes an observed string, cut to maxShown characters.
func shown(s string) string {
	if r := []rune(s); len(r) > maxShown {
		s = string(r[:maxShown]) + "…"
	}
	return strconv.Quote(s)
}
