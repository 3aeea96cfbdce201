package probes

import (
	"net/url"
	"strings"

	"github.com/monitor-dev/monitor/internal/dsn"
)

// Helpers of the kinds' decoders, written as package config writes them
// (its messages must read the same).

// ValidHTTPURL reports an absolute http(s) URL with a host; config checks
// server.public_url with it too, so both say the same.
func ValidHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func urlHasPassword(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	_, ok := u.User.Password()
	return ok
}

func isRedis(d string) bool {
	e, err := dsn.EngineOf(d)
	return err == nil && e == dsn.Redis
}

// andList writes a, b and c.
func andList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}
