// Package runbook names the sections of docs/runbooks.md that alerts link
// to: the notifications of the monitor's receivers (alerts[].runbookUrl),
// the alerting rules of `monitor rules` and deploy/prometheus/alerts.yml
// (annotation runbook_url). A section's anchor is stable: renaming one
// breaks links already sent, so the tests hold every anchor named here to
// an anchor of the document.
package runbook

import (
	"bufio"
	"bytes"
	"errors"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// DefaultBase is the runbook page alerts link to when alerting.runbook_url
// is not set: docs/runbooks.md of the monitor's repository.
const DefaultBase = "https://github.com/monitor-dev/monitor/blob/main/docs/runbooks.md"

// Anchors of docs/runbooks.md besides those of the check kinds (Check).
const (
	// Unknown: a check alert whose result is UNKNOWN (a route with
	// unknown: fire).
	Unknown = "check-unknown"
	// Heartbeat: a freshness check fed by POST /v2/heartbeats/{check}.
	Heartbeat = "check-heartbeat"
	// DBHeadroom: a db check failing on its connection headroom.
	DBHeadroom = "check-db-headroom"
	// SLOBurn: the monitor's own burn-rate alerts (kind slo_burn).
	SLOBurn = "slo-burn"
	// Escalation: an operator escalation (kind escalation).
	Escalation = "escalation"
	// Flapping: the "flapping" notice of an alert.
	Flapping = "flapping"
	// Test: the sample notification of `monitor alert test`.
	Test = "test-notification"
	// RuleSLOBurn: the MonitorSLOErrorBudgetBurn rule of `monitor rules`
	// (GitHub's anchor of its heading).
	RuleSLOBurn = "monitorsloerrorbudgetburn"
)

// Check is the anchor of a failing check of kind: check-db, check-http, ...
func Check(kind string) string { return "check-" + kind }

// URL is the link to anchor on the runbook page base (DefaultBase when
// base is "").
func URL(base, anchor string) string {
	if base == "" {
		base = DefaultBase
	}
	return base + "#" + anchor
}

// Errors of Validate.
var (
	ErrNotHTTP     = errors.New("not an absolute http(s) URL")
	ErrCredentials = errors.New("holds a user or password")
	ErrFragment    = errors.New("has a #fragment")
	ErrTooLong     = errors.New("longer than " + strconv.Itoa(MaxLen) + " bytes")
	ErrUnescaped   = errors.New("holds a character to %-encode")
)

// MaxLen bounds a runbook URL: it goes into every notification, and a
// Slack message or an Alertmanager annotation has a size limit of its own.
// Browsers and proxies take URLs of this length everywhere.
const MaxLen = 2048

// unescaped are the characters RFC 3986 leaves out of a URL that Go's
// parser lets through; in a notification they end a Slack link (| and >)
// or an attribute.
const unescaped = "\"<>\\^`{|}"

// Validate checks a runbook URL from the configuration: an absolute
// http(s) URL with a host and without a user or password (it is sent to
// every receiver). base is true for a page whose anchors are appended
// (alerting.runbook_url), which may not carry a #fragment of its own.
func Validate(s string, base bool) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(s, " \t\r\n"):
		return ErrNotHTTP
	case u.User != nil:
		return ErrCredentials
	case len(s) > MaxLen:
		return ErrTooLong
	case strings.ContainsAny(s, unescaped):
		return ErrUnescaped
	case base && (u.Fragment != "" || strings.Contains(s, "#")):
		return ErrFragment
	}
	return nil
}

var anchorID = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)

// Anchors lists the anchors of a Markdown document as GitHub renders it:
// the explicit <a id="..."> (or name) and the slug of every ATX heading
// (outside fenced code), numbered -1, -2, ... when a slug repeats.
func Anchors(md []byte) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	fence := ""
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		if f := fenceOf(trim); f != "" {
			switch {
			case fence == "":
				fence = f
			case strings.HasPrefix(f, fence) && strings.TrimLeft(trim, f[:1]) == "":
				fence = ""
			}
			continue
		}
		if fence != "" {
			continue
		}
		for _, m := range anchorID.FindAllStringSubmatch(line, -1) {
			out[m[1]] = true
		}
		if h, ok := heading(line); ok {
			s := Slug(h)
			if n := seen[s]; n > 0 {
				seen[s]++
				s = s + "-" + strconv.Itoa(n)
			} else {
				seen[s] = 1
			}
			out[s] = true
		}
	}
	return out
}

func fenceOf(s string) string {
	for _, f := range []string{"```", "~~~"} {
		if strings.HasPrefix(s, f) {
			return s[:len(s)-len(strings.TrimLeft(s, f[:1]))]
		}
	}
	return ""
}

// heading is the text of an ATX heading line (# to ######).
func heading(line string) (string, bool) {
	if len(line)-len(strings.TrimLeft(line, " ")) > 3 {
		return "", false
	}
	s := strings.TrimLeft(line, " ")
	n := len(s) - len(strings.TrimLeft(s, "#"))
	if n == 0 || n > 6 || len(s) > n && s[n] != ' ' && s[n] != '\t' {
		return "", false
	}
	s = strings.TrimSpace(s[n:])
	s = strings.TrimSpace(strings.TrimRight(s, "#"))
	return s, true
}

var inlineHTML = regexp.MustCompile(`<[^>]*>`)

// Slug is GitHub's anchor of a heading's text: HTML tags dropped,
// lowercased, spaces to '-', everything but letters, digits, '-' and '_'
// removed.
func Slug(h string) string {
	h = inlineHTML.ReplaceAllString(h, "")
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
