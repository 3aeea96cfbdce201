package runbook

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestAnchors(t *testing.T) {
	md := "# Runbooks\n\n<a id=\"check-db\"></a>\n### Database check FAILs\n\n" +
		"```sh\n# not a heading\n```\n\n## MonitorSLOErrorBudgetBurn\n## Same\n## Same\n" +
		"#nospace\n    # indented code\n## `code` & <em>stuff</em>, here (v2)\n"
	got := slices.Sorted(maps.Keys(Anchors([]byte(md))))
	want := []string{"check-db", "code--stuff-here-v2", "database-check-fails", "monitorsloerrorbudgetburn",
		"runbooks", "same", "same-1"}
	if !slices.Equal(got, want) {
		t.Errorf("Anchors = %q, want %q", got, want)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		url  string
		base bool
		want error
	}{
		{"https://wiki.example.com/runbooks", true, nil},
		{"http://wiki.internal:8080/x?y=1", true, nil},
		{"https://wiki.example.com/db#connections", false, nil},
		{"https://wiki.example.com/db#connections", true, ErrFragment},
		{"wiki.example.com/runbooks", false, ErrNotHTTP},
		{"ftp://wiki.example.com/", false, ErrNotHTTP},
		{"https:///path", false, ErrNotHTTP},
		{"https://wiki.example.com/a b", false, ErrNotHTTP},
		{"https://bob:hunter2@wiki.example.com/", false, ErrCredentials},
		{"https://wiki.example.com/" + strings.Repeat("a", MaxLen-25), false, nil},
		{"https://wiki.example.com/" + strings.Repeat("a", MaxLen-24), false, ErrTooLong},
		{"https://wiki.example.com/a|<!channel>", false, ErrUnescaped},
		{`https://wiki.example.com/a"><script>alert(1)</script>`, false, ErrUnescaped},
		{"https://wiki.example.com/%7C%3E", false, nil},
		{"https://wiki.example.com/ñ?q=é", false, nil},
	} {
		if err := Validate(tc.url, tc.base); !errors.Is(err, tc.want) {
			t.Errorf("Validate(%q, %v) = %v, want %v", tc.url, tc.base, err, tc.want)
		}
	}
}

func TestURL(t *testing.T) {
	if got := URL("", SLOBurn); got != DefaultBase+"#slo-burn" {
		t.Errorf("URL = %q", got)
	}
	if got := URL("https://wiki.example.com/rb", Check("tls")); got != "https://wiki.example.com/rb#check-tls" {
		t.Errorf("URL = %q", got)
	}
}
