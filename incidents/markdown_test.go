package incidents_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/monitor-dev/monitor/incidents"
)

const rel = ` rel="nofollow noopener noreferrer"`

// TestMarkdown: headings, lists, emphasis and links render; raw HTML comes
// out as text; only http, https and mailto links keep a target; images
// load nothing.
func TestMarkdown(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"paragraph", "Dashboards lag by ~40 minutes.", "<p>Dashboards lag by ~40 minutes.</p>\n"},
		{"headings move down", "# Cause\n\n## Detail\n\n#### Deep", "<h4>Cause</h4>\n<h5>Detail</h5>\n<h6>Deep</h6>\n"},
		{"lists", "- a\n- b\n\n1. one\n2. two", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n<ol>\n<li>one</li>\n<li>two</li>\n</ol>\n"},
		{"emphasis, strikethrough, code", "**b** *i* ~~old~~ `a <b>`",
			"<p><strong>b</strong> <em>i</em> <del>old</del> <code>a &lt;b&gt;</code></p>\n"},
		{"link", `[status](https://acme.example/a?b=1&c=2 "t")`,
			`<p><a href="https://acme.example/a?b=1&amp;c=2" title="t"` + rel + `>status</a></p>` + "\n"},
		{"mailto", "[write](mailto:ops@acme.example) <ops@acme.example>",
			`<p><a href="mailto:ops@acme.example"` + rel + `>write</a> <a href="mailto:ops@acme.example"` + rel + `>ops@acme.example</a></p>` + "\n"},
		{"bare URLs", "see www.acme.example and https://acme.example/x",
			`<p>see <a href="http://www.acme.example"` + rel + `>www.acme.example</a> and <a href="https://acme.example/x"` + rel + `>https://acme.example/x</a></p>` + "\n"},
		{"script block", "<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"},
		{"inline HTML", `a <img src=x onerror="alert(1)"> b`, "<p>a &lt;img src=x onerror=&quot;alert(1)&quot;&gt; b</p>\n"},
		{"HTML block", "<div>\nhello\n</div>", "<p>&lt;div&gt;\nhello\n&lt;/div&gt;</p>\n"},
		{"javascript link", "[x](javascript:alert(1))", "<p>x</p>\n"},
		{"javascript link, mixed case", "[x](JaVaScRiPt:alert(1))", "<p>x</p>\n"},
		{"javascript link, entity", "[x](jav&#x61;script:alert(1))", "<p>x</p>\n"},
		{"javascript autolink", "<javascript:alert(1)>", "<p>javascript:alert(1)</p>\n"},
		{"data link", "[x](data:text/html,<script>alert(1)</script>)", "<p>x</p>\n"},
		{"relative link", "[x](/admin)", "<p>x</p>\n"},
		{"image", "![the *graph*](https://img.example/g.png)",
			`<p><a href="https://img.example/g.png"` + rel + `>the <em>graph</em></a></p>` + "\n"},
		{"image without alt", "![](https://img.example/g.png)",
			`<p><a href="https://img.example/g.png"` + rel + `>https://img.example/g.png</a></p>` + "\n"},
		{"data image", "![pixel](data:image/png;base64,AAAA)", "<p>pixel</p>\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(incidents.Markdown(tc.in)); got != tc.want {
				t.Errorf("Markdown(%q) =\n%s\nwant\n%s", tc.in, got, tc.want)
			}
		})
	}
}

// TestMarkdownNeverUnsafe feeds the classic XSS payloads and checks that
// only harmless tags come out, with no attribute but a link's safe href,
// title and rel.
func TestMarkdownNeverUnsafe(t *testing.T) {
	allowed := map[string]bool{"p": true, "a": true, "em": true, "strong": true, "code": true, "del": true,
		"pre": true, "blockquote": true, "ul": true, "ol": true, "li": true, "hr": true, "br": true,
		"h4": true, "h5": true, "h6": true}
	for _, in := range []string{
		"<script>alert(1)</script>",
		"<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
		"<iframe src=javascript:alert(1)>",
		"<a href=\"javascript:alert(1)\">x</a>",
		"[x](javascript:alert(1))",
		"[x](  javascript:alert(1)  )",
		"[x](<javascript:alert(1)>)",
		"[x](vbscript:msgbox(1))",
		"[x][r]\n\n[r]: javascript:alert(1)",
		"![x](javascript:alert(1))",
		"<svg onload=alert(1)>",
		"`<script>` and <!-- comment --> and <?php x ?> and <![CDATA[x]]>",
		"[x](https://ok.example/\" onclick=\"alert(1))",
		"[x](https://ok.example/ 'a\" onclick=\"alert(1)')",
	} {
		got := string(incidents.Markdown(in))
		for _, m := range tag.FindAllStringSubmatch(got, -1) {
			name, attrs := strings.ToLower(m[1]), m[2]
			if !allowed[name] {
				t.Errorf("Markdown(%q) = %q: tag <%s>", in, got, name)
			}
			rest := attr.ReplaceAllStringFunc(attrs, func(a string) string {
				k, v, _ := strings.Cut(strings.TrimSpace(a), "=")
				v = strings.Trim(v, `"`)
				switch {
				case name == "a" && k == "href" && incidents.SafeURL(v), name == "a" && (k == "title" || k == "rel"):
					return ""
				}
				t.Errorf("Markdown(%q) = %q: attribute %s on <%s>", in, got, a, name)
				return ""
			})
			if strings.TrimSpace(rest) != "" {
				t.Errorf("Markdown(%q) = %q: stray %q in <%s>", in, got, rest, name)
			}
		}
	}
}

var (
	tag  = regexp.MustCompile(`<([A-Za-z0-9!?]+)([^>]*)>`)
	attr = regexp.MustCompile(` [a-z]+="[^"]*"`)
)

func TestSafeURL(t *testing.T) {
	for u, want := range map[string]bool{
		"https://acme.example":      true,
		"HTTP://acme.example/x":     true,
		"mailto:ops@acme.example":   true,
		"https:///path":             false,
		"mailto:":                   false,
		"javascript:alert(1)":       false,
		"/relative":                 false,
		"//acme.example/x":          false,
		"ftp://acme.example/x":      false,
		" https://acme.example":     false,
		"data:text/html,x":          false,
		"java\tscript:alert(1)":     false,
		"https://acme.example/\x00": false,
	} {
		if got := incidents.SafeURL(u); got != want {
			t.Errorf("SafeURL(%q) = %v, want %v", u, got, want)
		}
	}
}

// TestMarkdownConcurrent: configurations may load in parallel (tests,
// reloads); the shared renderer is safe for it (run with -race).
func TestMarkdownConcurrent(t *testing.T) {
	done := make(chan string)
	for i := range 8 {
		go func() { done <- string(incidents.Markdown(strings.Repeat("- *item* [x](https://a.example)\n", i+1))) }()
	}
	for range 8 {
		if got := <-done; !strings.Contains(got, "<em>item</em>") {
			t.Errorf("got %q", got)
		}
	}
}
