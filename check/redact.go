package check

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// RedactText hides, in free text (an error message, a log line), every
// URL userinfo password (scheme://user:***@host), every password=...
// pair and the query values of http(s) URLs. A DSN on its own is shown
// with dsn.Redact instead.
func RedactText(s string) string {
	return RedactURLs(redactKV.ReplaceAllString(redactUserinfo.ReplaceAllString(s, "$1:***@"), "${1}***"))
}

var (
	redactUserinfo = regexp.MustCompile(`([A-Za-z0-9+.\-]*://[^:/@\s]*):[^@\s]*@`)
	redactKV       = regexp.MustCompile(`(?i)((?:password|passwd|pwd)\s*=\s*)('[^']*'|\S+)`)
)

// RedactURL is how a link's URL leaves the process (API answers, metric
// labels, logs, messages): the password and every query value (tokens often
// travel there) are replaced by ***, query keys are sorted, and the
// fragment is dropped. Only a caller's own input is ever echoed unredacted.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redactKV.ReplaceAllString(redactUserinfo.ReplaceAllString(raw, "$1:***@"), "${1}***")
	}
	u.Fragment, u.RawFragment = "", ""
	if u.RawQuery != "" || u.ForceQuery {
		q, _ := url.ParseQuery(u.RawQuery)
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = url.QueryEscape(k) + "=***"
		}
		u.RawQuery, u.ForceQuery = strings.Join(parts, "&"), false
	}
	s := u.String()
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "REDACTEDPASSWORD")
		s = strings.Replace(u.String(), ":REDACTEDPASSWORD@", ":***@", 1)
	}
	return s
}

// httpURLs finds http(s) URLs in free text.
var httpURLs = regexp.MustCompile(`(?i)\bhttps?://[^\s"'<>` + "`" + `]+`)

// RedactURLs applies RedactURL to every http(s) URL in free text (log
// lines, error messages).
func RedactURLs(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return httpURLs.ReplaceAllStringFunc(s, RedactURL)
}

// Redactor removes known secret strings from text: DSN passwords, tokens,
// webhook secrets. The zero value redacts only URL userinfo passwords.
type Redactor struct {
	secrets []string
}

// NewRedactor returns a Redactor for these secrets; empty and very short
// strings (under 4 bytes) are ignored so that redaction never mangles text.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	for _, s := range secrets {
		r.Add(s)
	}
	return r
}

// Add registers one more secret. Call it before sharing the Redactor.
func (r *Redactor) Add(s string) {
	if len(s) < 4 {
		return
	}
	r.secrets = append(r.secrets, s)
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && len(p) >= 4 {
			r.secrets = append(r.secrets, p, url.QueryEscape(p), url.PathEscape(p))
		}
	}
}

// Redact returns s with every registered secret replaced by ***, then
// RedactText: URL passwords, password=... pairs and the query values of
// http(s) URLs hidden.
func (r *Redactor) Redact(s string) string {
	if r != nil {
		for _, sec := range r.secrets {
			if sec != "" && strings.Contains(s, sec) {
				s = strings.ReplaceAll(s, sec, "***")
			}
		}
	}
	return RedactText(s)
}
