package config

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses a Go duration ("90s", "1h30m") with one more unit in
// front: whole days, written d ("90d", "1d12h"). A day is 24 hours.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n < 0 || s[0] == '+' {
			return 0, errBadDuration(orig)
		}
		if n > int64(math.MaxInt64/(24*time.Hour)) {
			return 0, errBadDuration(orig)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return sign(neg, days), nil
		}
	}
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		return 0, errBadDuration(orig)
	}
	rest, err := time.ParseDuration(s)
	if err != nil || rest > math.MaxInt64-days {
		return 0, errBadDuration(orig)
	}
	return sign(neg, days+rest), nil
}

func sign(neg bool, d time.Duration) time.Duration {
	if neg {
		return -d
	}
	return d
}

func errBadDuration(s string) error {
	return errors.New("invalid duration " + strconv.Quote(s))
}
