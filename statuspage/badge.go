package statuspage

import (
	"bytes"
	"fmt"
	"html"
	"strconv"
	"unicode/utf8"
)

// Badge colours, shields.io's.
var badgeColours = map[string]string{
	Operational:         "#4c1",
	DegradedPerformance: "#dfb317",
	PartialOutage:       "#fe7d37",
	MajorOutage:         "#e05d44",
	UnderMaintenance:    "#007ec6",
}

// stateWords are a component state in words.
var stateWords = map[string]string{
	Operational:         "operational",
	DegradedPerformance: "degraded",
	PartialOutage:       "partial outage",
	MajorOutage:         "major outage",
	UnderMaintenance:    "maintenance",
}

// StateWords is a component state in plain words.
func StateWords(state string) string { return stateWords[state] }

// FormatUptime writes an uptime percentage the way the page shows it: two
// decimals, cut rather than rounded up so that 99.999 never reads 100.00;
// "–" when nothing is known.
func FormatUptime(u *float64) string {
	if u == nil {
		return "–"
	}
	v := float64(int64(*u*100)) / 100
	return strconv.FormatFloat(v, 'f', 2, 64) + "%"
}

// Badge is a component's shields-style badge: the component's name, then
// its state and 30-day uptime.
func (c *Component) Badge() []byte {
	msg := StateWords(c.State)
	if c.Uptime30 != nil {
		msg += " · " + FormatUptime(c.Uptime30)
	}
	return badge(c.Name, msg, badgeColours[c.State])
}

// textWidth estimates the width of s in Verdana 11px, as shields does
// roughly: 7 px a character, plus padding.
func textWidth(s string) int { return utf8.RuneCountInString(s)*7 + 10 }

func badge(label, msg, colour string) []byte {
	if colour == "" {
		colour = "#9f9f9f"
	}
	lw, mw := textWidth(label), textWidth(msg)
	w := lw + mw
	l, m := html.EscapeString(label), html.EscapeString(msg)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="%s: %s">`, w, l, m)
	fmt.Fprintf(&b, `<title>%s: %s</title>`, l, m)
	b.WriteString(`<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>`)
	fmt.Fprintf(&b, `<clipPath id="r"><rect width="%d" height="20" rx="3" fill="#fff"/></clipPath>`, w)
	fmt.Fprintf(&b, `<g clip-path="url(#r)"><rect width="%d" height="20" fill="#555"/><rect x="%d" width="%d" height="20" fill="%s"/><rect width="%d" height="20" fill="url(#s)"/></g>`,
		lw, lw, mw, colour, w)
	b.WriteString(`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">`)
	fmt.Fprintf(&b, `<text x="%d" y="15" fill="#010101" fill-opacity=".3">%s</text><text x="%d" y="14">%s</text>`, lw/2, l, lw/2, l)
	fmt.Fprintf(&b, `<text x="%d" y="15" fill="#010101" fill-opacity=".3">%s</text><text x="%d" y="14">%s</text>`, lw+mw/2, m, lw+mw/2, m)
	b.WriteString("</g></svg>\n")
	return b.Bytes()
}
