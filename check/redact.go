package check

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// RedactDSN hides the password of a connection string, in URL form
// (scheme://user:pass@host/db) and in key=value form (password=...).
func RedactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			s := u.String()
			return strings.Replace(s, ":xxxxx@", ":***@", 1)
		}
		return dsn
	}
	return redactKV.ReplaceAllString(redactUserinfo.ReplaceAllString(dsn, "$1:***@"), "${1}***")
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
		return RedactDSN(raw)
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
	return RedactDSN(u.String())
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

// Redact returns s with every registered secret replaced by ***, any URL
// password hidden, and the query values of http(s) URLs hidden (RedactURLs).
func (r *Redactor) Redact(s string) string {
	if r != nil {
		for _, sec := range r.secrets {
			if sec != "" && strings.Contains(s, sec) {
				s = strings.ReplaceAll(s, sec, "***")
			}
		}
	}
	return RedactURLs(redactUserinfo.ReplaceAllString(s, "$1:***@"))
}
