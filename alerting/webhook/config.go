// Package webhook is the webhook receiver: a JSON POST per notification
// (CONTRACT §6), signed per the Standard Webhooks spec
// (https://www.standardwebhooks.com), with optional custom headers.
package webhook

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
)

// Config is a receiver of `type: webhook`.
type Config struct {
	// url (or url_file): where notifications are POSTed. A secret: such
	// URLs often carry a token.
	URL check.Secret `yaml:"url"`
	// secret (or secret_file): the signing secret, whsec_<base64>; the key
	// is the decoded bytes, 24 to 64 of them as the Standard Webhooks spec
	// asks. Optional: unsigned when unset. A secret without the whsec_
	// prefix is refused rather than guessed at (the spec's libraries would
	// take it as base64, other webhook senders as raw bytes): the two
	// guesses sign differently, and a receiver would reject every message.
	Secret check.Secret `yaml:"secret"`
	// headers: extra request headers, like Authorization: Bearer ${TOKEN}.
	// The values are secrets (kept out of logs and errors). Content-Type,
	// the webhook-* signing headers and the transport's own headers cannot
	// be set.
	Headers map[string]check.Secret `yaml:"headers"`
}

// DefaultConfig is a webhook receiver's configuration before its keys are read.
var DefaultConfig = Config{}

// Type registers the webhook receiver with the configuration loader.
var Type = receiver.Type{Name: "webhook", New: func() receiver.Config { c := DefaultConfig; return &c },
	Sender: newSender}

var _ receiver.Config = (*Config)(nil)

// ErrInvalidSecret is a signing secret not of the form whsec_<base64 of 24 to 64 bytes>.
var ErrInvalidSecret = errors.New("invalid secret")

// Errors of the headers.
var (
	ErrInvalidHeader  = errors.New("invalid header")
	ErrReservedHeader = errors.New("header cannot be set")
	ErrTooManyHeaders = errors.New("too many headers")
)

// Bounds of the headers.
const (
	MaxHeaders     = 32
	MaxHeaderValue = 8 << 10
)

// headerName is an HTTP field name (RFC 9110 token).
var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")

// reserved are the headers the sender or the transport owns.
var reserved = []string{"Content-Type", "Content-Length", "Host", "Transfer-Encoding",
	"Connection", "Te", "Trailer", "Upgrade", "Keep-Alive", "Proxy-Connection"}

// Key sizes the Standard Webhooks spec allows for a signing secret.
const (
	MinSecretBytes = 24
	MaxSecretBytes = 64
)

// Validate checks the URL and the form of the secret.
func (c *Config) Validate() error {
	var errs []error
	errs = append(errs, receiver.CheckURL("url", c.URL.Reveal()))
	if c.Secret != "" {
		if _, err := SigningKey(c.Secret); err != nil {
			errs = append(errs, receiver.Field("secret", ErrInvalidSecret,
				"want whsec_ followed by the base64 of 24 to 64 random bytes"))
		}
	}
	if len(c.Headers) > MaxHeaders {
		errs = append(errs, receiver.Field("headers", ErrTooManyHeaders, fmt.Sprintf("want at most %d", MaxHeaders)))
	}
	for name, v := range c.Headers {
		key := "headers." + name
		canon := http.CanonicalHeaderKey(name)
		switch {
		case !headerName.MatchString(name):
			errs = append(errs, receiver.Field(key, ErrInvalidHeader, "want a header name of letters, digits and -"))
		case strings.HasPrefix(strings.ToLower(name), "webhook-"):
			errs = append(errs, receiver.Field(key, ErrReservedHeader, "webhook-id, webhook-timestamp and webhook-signature are the signature's"))
		case slices.Contains(reserved, canon):
			errs = append(errs, receiver.Field(key, ErrReservedHeader, "the sender sets it"))
		case len(v) > MaxHeaderValue || strings.ContainsAny(v.Reveal(), "\r\n\x00"):
			// The value is not printed: it may be a token.
			errs = append(errs, receiver.Field(key, ErrInvalidHeader,
				fmt.Sprintf("want one line of at most %d KiB", MaxHeaderValue>>10)))
		}
	}
	return errors.Join(errs...)
}

// SigningKey returns the HMAC key of a whsec_<base64> secret: its decoded bytes.
func SigningKey(s check.Secret) ([]byte, error) {
	b64, ok := strings.CutPrefix(s.Reveal(), "whsec_")
	if !ok {
		return nil, ErrInvalidSecret
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, ErrInvalidSecret
	}
	return key, nil
}
