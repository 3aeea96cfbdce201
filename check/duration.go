package check

import (
	"strconv"
	"strings"
	"time"
)

// FormatDuration writes d the short way users write it: 15m, not 15m0s;
// whole days as d (90d, 1d12h).
func FormatDuration(d time.Duration) string {
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
