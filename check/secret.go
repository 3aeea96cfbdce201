package check

import (
	"fmt"
	"log/slog"
	"strconv"
)

// Secret is a configuration value that must never leave the process: a
// webhook signing secret, an SMTP password, a PagerDuty routing key, a URL
// with a token in it. It redacts itself wherever it could be printed: fmt
// (every verb, %v %s %q %+v %#v included), encoding/json, encoding.TextMarshaler
// users (YAML encoders among them) and log/slog. Reveal gives the value to
// the code that uses it (a notifier signing or sending).
//
// Redaction by type covers structured output; the values are still handed to
// check.NewRedactor (config.Config.Secrets) for free text, such as an error
// message that quotes a URL.
type Secret string

// Redacted is what a non-empty Secret prints as.
const Redacted = "<secret>"

// Reveal returns the secret value itself.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports an unset secret.
func (s Secret) IsZero() bool { return s == "" }

func (s Secret) shown() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// String returns <secret> (or "" for an unset secret).
func (s Secret) String() string { return s.shown() }

// GoString serves %#v.
func (s Secret) GoString() string { return strconv.Quote(s.shown()) }

// Format serves every fmt verb, so that %x or %q cannot print the value.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprint(f, strconv.Quote(s.shown()))
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, s.GoString())
			return
		}
		fmt.Fprint(f, s.shown())
	default:
		fmt.Fprint(f, s.shown())
	}
}

// MarshalJSON writes "<secret>".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.shown())), nil }

// MarshalText writes <secret>, for encoders that use encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.shown()), nil }

// LogValue hides the value from log/slog handlers.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.shown()) }
