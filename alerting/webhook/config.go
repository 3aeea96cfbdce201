// Package webhook is the webhook receiver: a JSON POST per notification,
// signed per the Standard Webhooks spec. For now it holds the configuration
// only; the sender comes with the alerting engine.
package webhook

import (
	"encoding/base64"
	"errors"
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
	// asks. Optional: unsigned when unset.
	Secret check.Secret `yaml:"secret"`
}

// DefaultConfig is a webhook receiver's configuration before its keys are read.
var DefaultConfig = Config{}

// Type registers the webhook receiver with the configuration loader.
var Type = receiver.Type{Name: "webhook", New: func() receiver.Config { c := DefaultConfig; return &c }}

var _ receiver.Config = (*Config)(nil)

// ErrInvalidSecret is a signing secret not of the form whsec_<base64 of 24 to 64 bytes>.
var ErrInvalidSecret = errors.New("invalid secret")

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
