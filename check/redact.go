package check

import (
	"net/url"
	"regexp"
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

// Redact returns s with every registered secret replaced by ***, and any
// URL password hidden.
func (r *Redactor) Redact(s string) string {
	if r != nil {
		for _, sec := range r.secrets {
			if sec != "" && strings.Contains(s, sec) {
				s = strings.ReplaceAll(s, sec, "***")
			}
		}
	}
	return redactUserinfo.ReplaceAllString(s, "$1:***@")
}
