package probes

import (
	"net/url"
	"strings"
)

// Helpers of the kinds' decoders, written as package config writes them
// (its messages must read the same).

func validHTTPURL(s string) bool {
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

func isRedis(dsn string) bool {
	scheme, _, _ := strings.Cut(dsn, "://")
	scheme = strings.ToLower(scheme)
	return scheme == "redis" || scheme == "rediss"
}

// andList writes a, b and c.
func andList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}
