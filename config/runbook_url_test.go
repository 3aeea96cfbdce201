package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/monitor-dev/monitor/config"
)

// TestRunbookURLBounded: a runbook_url that would break every notification
// (longer than any receiver takes, or with a character that ends a Slack
// link or an HTML attribute) is refused at its line and column, without
// the value.
func TestRunbookURLBounded(t *testing.T) {
	long := "https://wiki.example.com/" + strings.Repeat("a", 3000)
	_, err := config.Parse("monitor.yml", []byte(`alerting:
  runbook_url: "`+long+`"
checks:
  - name: a
    kind: link
    urls: ["https://example.com/"]
    runbook_url: "https://wiki.example.com/a|<!channel>"
  - name: b
    kind: link
    urls: ["https://example.com/"]
    runbook_url: 'https://wiki.example.com/b"><script>alert(1)</script>'
  - name: c
    kind: link
    urls: ["https://example.com/"]
    runbook_url: "https://wiki.example.com/%7C/ñ"
`), func(string) (string, bool) { return "", false })
	var got []string
	for _, p := range config.Problems(err) {
		got = append(got, p.Error())
	}
	want := []string{
		`monitor.yml:2:16: runbook_url in alerting is longer than 2048 bytes (it goes into every notification)`,
		`monitor.yml:7:18: runbook_url in check "a" holds a character to %-encode, one of " < > \ ^ ` + "`" + ` { | } (they end a link in Slack or HTML; want the URL as a browser's address bar copies it)`,
		`monitor.yml:11:18: runbook_url in check "b" holds a character to %-encode, one of " < > \ ^ ` + "`" + ` { | } (they end a link in Slack or HTML; want the URL as a browser's address bar copies it)`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
