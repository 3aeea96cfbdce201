package check

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestRedactText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"dial postgres://app:s3cr3t@db:5432/x: refused", "dial postgres://app:***@db:5432/x: refused"},
		{"host=db user=app password=s3cr3t dbname=x", "host=db user=app password=*** dbname=x"},
		{"GET https://api.example/x?token=abc failed", "GET https://api.example/x?token=*** failed"},
		{"no secret here", "no secret here"},
	} {
		if got := RedactText(tc.in); got != tc.want {
			t.Errorf("RedactText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactor(t *testing.T) {
	r := NewRedactor("postgres://app:p%40ss-word@db/x", "tok-1234567", "", "ab")
	msg := `dial postgres://app:p%40ss-word@db/x: password p@ss-word rejected; token tok-1234567; ab stays`
	got := r.Redact(msg)
	for _, secret := range []string{"p%40ss-word", "p@ss-word", "tok-1234567"} {
		if strings.Contains(got, secret) {
			t.Fatalf("%q still holds %q", got, secret)
		}
	}
	if !strings.Contains(got, "ab stays") {
		t.Fatalf("a short non-secret was mangled: %q", got)
	}
}

// RedactURL is the one way a link URL leaves the process; RedactURLs and
// the Redactor (logs) apply it inside free text.
func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://user:pw-123@example.com/a?token=abc&lang=en#frag", "https://user:***@example.com/a?lang=***&token=***"},
		{"https://example.com/a", "https://example.com/a"},
		{"https://example.com/a?sig=x&sig=y", "https://example.com/a?sig=***"},
		{"https://user@example.com/#access_token=t", "https://user@example.com/"},
	} {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	msg := `fetch "https://api.example.com/x?api_key=k3y-value" failed; see http://u:p4ss@h/y?t=tok-v`
	for _, got := range []string{RedactURLs(msg), NewRedactor().Redact(msg)} {
		for _, secret := range []string{"k3y-value", "p4ss", "tok-v"} {
			if strings.Contains(got, secret) {
				t.Errorf("%q still holds %q", got, secret)
			}
		}
		if !strings.Contains(got, `"https://api.example.com/x?api_key=***" failed`) {
			t.Errorf("text around the URL changed: %q", got)
		}
	}
}

func TestTruncateKeepsUTF8(t *testing.T) {
	msg := strings.Repeat("é", MaxMessage)
	got := Truncate(msg)
	if len(got) > MaxMessage || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Fatalf("Truncate gave %d bytes, valid=%v", len(got), utf8.ValidString(got))
	}
	if Truncate("short") != "short" {
		t.Fatal("short message changed")
	}
}

func TestResultJSON(t *testing.T) {
	r := Result{Check: "a", Kind: "db", Status: Pass, Severity: Info, Message: "ok",
		ObservedValue: Value(0.004), ObservedUnit: "s",
		CheckedAt: time.Date(2026, 11, 21, 10, 29, 55, 123, time.FixedZone("X", 3600)), Duration: 4 * time.Millisecond}
	b, _ := json.Marshal(r)
	want := `{"name":"a","kind":"db","status":"PASS","severity":"INFO","message":"ok","observedValue":0.004,"observedUnit":"s","checkedAt":"2026-11-21T09:29:55Z","durationMs":4}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(Spec{Name: "n", Kind: "db"}.NotRun())
	if strings.Contains(string(b), "checkedAt") || strings.Contains(string(b), "durationMs") {
		t.Fatalf("a check not yet run has no time: %s", b)
	}
}

// A fast probe keeps its sub-millisecond duration: 420µs is 0.42, not 0.
func TestDurationMsSubMillisecond(t *testing.T) {
	r := Result{Check: "a", Kind: "db", Status: Pass, Severity: Info, Message: "ok",
		CheckedAt: time.Date(2026, 11, 21, 10, 29, 55, 0, time.UTC), Duration: 420 * time.Microsecond}
	b, _ := json.Marshal(r)
	if !strings.Contains(string(b), `"durationMs":0.42}`) {
		t.Fatalf("health JSON %s, want durationMs 0.42", b)
	}
	b, _ = json.Marshal(LinkResult{URL: "https://example.com/", DurationMs: Millis(1234 * time.Microsecond)})
	if !strings.Contains(string(b), `"durationMs":1.234`) {
		t.Fatalf("link JSON %s, want durationMs 1.234", b)
	}
}

func TestWorst(t *testing.T) {
	st, sev := Worst([]Result{{Status: Pass, Severity: Info}, {Status: Unknown, Severity: Critical}, {Status: Fail, Severity: Warn}})
	if st != Fail || sev != Critical {
		t.Fatalf("Worst = %s/%s, want FAIL/CRITICAL", st, sev)
	}
	if st, sev := Worst(nil); st != Pass || sev != Info {
		t.Fatalf("Worst(nil) = %s/%s", st, sev)
	}
}
