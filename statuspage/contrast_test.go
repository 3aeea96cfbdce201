package statuspage

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestContrast reads the page's colours from its style sheet, light and
// dark, and checks WCAG 2.1 AA: 4.5:1 for text on the backgrounds it is
// drawn on, 3:1 for the day bars against the page (non-text contrast). The
// grey of a day without data is exempt: it shows that nothing is known.
func TestContrast(t *testing.T) {
	css, err := web.ReadFile("web/style.css")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile(`:root\{([^}]*)\}`).FindAllStringSubmatch(string(css), -1)
	if len(blocks) != 2 {
		t.Fatalf("want a light and a dark :root block, found %d", len(blocks))
	}
	fixed := map[string]string{} // the banners: white text on a fixed colour
	for _, m := range regexp.MustCompile(`\.ind-[a-z]+\{background:(#[0-9a-f]{6})\}`).FindAllStringSubmatch(string(css), -1) {
		fixed[m[0]] = m[1]
	}
	if len(fixed) != 5 {
		t.Fatalf("want five banner colours, found %d", len(fixed))
	}
	for i, b := range blocks {
		theme := []string{"light", "dark"}[i]
		vars := map[string]string{}
		for _, m := range regexp.MustCompile(`--([a-z]+):(#[0-9a-f]{6})`).FindAllStringSubmatch(b[1], -1) {
			vars[m[1]] = m[2]
		}
		text := [][2]string{{"fg", "bg"}, {"fg", "card"}, {"muted", "bg"}, {"muted", "card"}, {"link", "bg"}, {"link", "card"},
			{"tipfg", "tipbg"}}
		for _, state := range []string{"ok", "minor", "major", "critical", "maint"} {
			text = append(text, [2]string{state, "bg"}, [2]string{state, "card"})
		}
		for _, p := range text {
			if r := contrast(t, vars[p[0]], vars[p[1]]); r < 4.5 {
				t.Errorf("%s: --%s on --%s is %.2f:1, want 4.5:1", theme, p[0], p[1], r)
			}
		}
		for _, bar := range []string{"ok", "minor", "major", "critical"} {
			if r := contrast(t, vars[bar], vars["bg"]); r < 3 {
				t.Errorf("%s: bar --%s on --bg is %.2f:1, want 3:1", theme, bar, r)
			}
		}
	}
	for rule, bg := range fixed {
		if r := contrast(t, "#ffffff", bg); r < 4.5 {
			t.Errorf("%s: white text is %.2f:1, want 4.5:1", rule, r)
		}
	}
}

// contrast is the WCAG contrast ratio of two #rrggbb colours.
func contrast(t *testing.T, a, b string) float64 {
	t.Helper()
	la, lb := luminance(t, a), luminance(t, b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil || len(hex) != 7 {
		t.Fatalf("colour %q", hex)
	}
	ch := func(c uint64) float64 {
		s := float64(c) / 255
		if s <= 0.03928 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(v>>16&0xff) + 0.7152*ch(v>>8&0xff) + 0.0722*ch(v&0xff)
}
