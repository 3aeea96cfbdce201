package probes

import (
	"net/url"
	"strconv"
	"strings"
	"time"
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

// formatDuration writes d the short way users write it: 15m, not 15m0s;
// whole days as d (90d, 1d12h).
func formatDuration(d time.Duration) string {
	if d <= 0 {
		return d.String()
	}
	var days string
	if n := d / (24 * time.Hour); n > 0 {
		days = strconv.FormatInt(int64(n), 10) + "d"
		d -= n * 24 * time.Hour
		if d == 0 {
			return days
		}
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return days + s
}
