package receiver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/monitor-dev/monitor/check"
)

// Bounds of what the HTTP receivers read back.
const (
	// MaxAnswer bounds what is read of a receiver's answer; the rest is
	// dropped with the connection.
	MaxAnswer = 4 << 10
	// MaxAnswerText bounds the part of an answer an error quotes.
	MaxAnswerText = 512
	// MaxRetryAfter caps a receiver's Retry-After.
	MaxRetryAfter = 24 * time.Hour
)

// UserAgent is the User-Agent of the HTTP receivers' requests.
const UserAgent = "monitor-alerting/1.0 (+https://github.com/monitor-dev/monitor)"

// Post is one JSON POST to an HTTP receiver.
type Post struct {
	// URL is where to POST; it may carry a token, so that no error shows
	// more of it than its host.
	URL string
	// Header is sent besides Content-Type (application/json, always) and
	// User-Agent (UserAgent unless Header has one).
	Header http.Header
	Body   []byte
	// Secrets are kept out of the error text: a receiver's answer may echo
	// the request (a routing key, a header's token).
	Secrets []string
}

// PostJSON makes one attempt to POST p with d.HTTP, bound to ctx. It
// returns nil when the receiver answered 2xx, else a *SendError:
//   - 408, 429 and 5xx can be retried; on 429 and 503 RetryAfter is the
//     answer's Retry-After (seconds or an HTTP date, capped at
//     MaxRetryAfter);
//   - other 4xx are Permanent, and so are 3xx: receivers are not followed
//     across redirects (a POST would turn into a GET);
//   - a transport failure (refused, timeout, ctx's deadline) can be
//     retried; its text names the URL's host only.
//
// The error quotes the start of the answer's body (at most MaxAnswerText
// of the MaxAnswer bytes read), with p.Secrets and URL query values
// replaced by ***.
func PostJSON(ctx context.Context, d Deps, p Post) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(p.Body))
	if err != nil {
		// url.Parse's error quotes the URL: say only what is wrong.
		return &SendError{Permanent: true, Err: ErrInvalidURL}
	}
	// The URL's path may be the token (Slack): an answer quoting it is
	// redacted too.
	hidden := append([]string{p.URL, req.URL.RequestURI(), req.URL.EscapedPath()}, p.Secrets...)
	for _, vs := range req.URL.Query() { // ?token=...: the value alone may be echoed
		hidden = append(hidden, vs...)
	}
	if pw, ok := req.URL.User.Password(); ok {
		hidden = append(hidden, pw)
	}
	red := check.NewRedactor(hidden...)
	for k, vs := range p.Header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", UserAgent)
	}

	client := *d.HTTP
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		return &SendError{Err: transportError(ctx, req.URL, err, red)}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return StatusError(resp, answer, now(d), red)
}

// StatusError is the *SendError of a non-2xx answer whose body starts
// with answer, with red applied to the quoted text; see PostJSON for the
// classification.
func StatusError(resp *http.Response, answer []byte, now time.Time, red *check.Redactor) *SendError {
	code := resp.StatusCode
	se := &SendError{StatusCode: code}
	switch {
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
	case code >= 300 && code < 400:
		se.Permanent = true
		se.Err = errors.New("redirected elsewhere: receivers are not followed across redirects (fix the URL)")
		return se
	default:
		se.Permanent = true
	}
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		se.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), now)
	}
	text := AnswerText(answer, red)
	if text == "" {
		text = cmpOr(http.StatusText(code), "no reason given")
	}
	se.Err = errors.New(text)
	return se
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// AnswerText is the start of a receiver's answer as an error quotes it:
// one line of valid UTF-8, at most MaxAnswerText bytes, secrets redacted.
func AnswerText(answer []byte, red *check.Redactor) string {
	// Redact before cutting: a secret cut in half would not be found.
	s := red.Redact(strings.ToValidUTF8(string(answer), "\uFFFD"))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > MaxAnswerText {
		cut := MaxAnswerText
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// ParseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110 §10.2.3), relative to now. It returns 0 when v is empty,
// malformed or in the past, and at most MaxRetryAfter.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		if secs > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	}
	return max(0, min(d, MaxRetryAfter))
}

// transportError is err (from http.Client.Do) without the URL: only its
// host is named. The chain below the *url.Error stays for errors.Is
// (net.Error ...), with ctx's error when ctx is done (the client may
// return ctx's cause instead of context.DeadlineExceeded).
func transportError(ctx context.Context, u *url.URL, err error, red *check.Redactor) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	chain := []error{err}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if cause := context.Cause(ctx); !errors.Is(err, cause) && !strings.Contains(msg, cause.Error()) {
			msg += ": " + cause.Error()
		}
		if !errors.Is(err, ctxErr) {
			chain = append(chain, ctxErr)
		}
	}
	return &redactedError{msg: red.Redact(fmt.Sprintf("POST to %s: %s", u.Host, msg)), errs: chain}
}

// redactedError has a redacted message and keeps the chain of the errors
// it was made from (none of which prints the URL).
type redactedError struct {
	msg  string
	errs []error
}

func (e *redactedError) Error() string   { return e.msg }
func (e *redactedError) Unwrap() []error { return e.errs }

func now(d Deps) time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}
