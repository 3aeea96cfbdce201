// Package receiver is what every receiver type (alerting/webhook, slack,
// pagerduty, email, alertmanager) shares with the configuration loader: the
// Config contract, the Type a package registers itself with, and FieldError,
// which names the YAML key a validation problem belongs to so that the loader
// can report it at that key's line and column.
//
// A receiver package imports this one (and check); never config. The config
// package lists the types (config/alerting.go, receiverTypes) and decodes
// each receiver's YAML into the type's Config through its yaml tags:
// string, int, bool, time.Duration, []string, check.Secret, []check.Secret,
// maps with free string keys (map[string]string, map[string]check.Secret)
// and nested structs (YAML mappings). Every check.Secret field also accepts
// a KEY_file sibling naming a file to read the value from.
package receiver

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// Config is one receiver type's configuration. Validate reports every
// problem at once (errors.Join), each as a *FieldError when it belongs to
// a key; it never puts a secret value in a message.
type Config interface {
	Validate() error
}

// Type registers a receiver type with the configuration loader.
type Type struct {
	Name string // the value of `type:`, like "webhook"
	// New returns a pointer to a fresh copy of the type's DefaultConfig,
	// which the loader decodes the receiver's keys into.
	New func() Config
	// Sender builds the sender of a receiver of this type (nil: the type
	// cannot send yet).
	Sender NewSender
}

// FieldError is a problem with one key of a receiver's configuration.
type FieldError struct {
	Key  string // the YAML key; nested keys are dotted, like "smtp.host"
	Err  error  // what is wrong, a sentinel like webhook.ErrURLNotSet
	Hint string // what is wanted, like "want an absolute http(s) URL"; optional
}

// Field returns a *FieldError.
func Field(key string, err error, hint string) error {
	return &FieldError{Key: key, Err: err, Hint: hint}
}

func (e *FieldError) Error() string {
	if e.Hint == "" {
		return e.Key + ": " + e.Err.Error()
	}
	return e.Key + ": " + e.Err.Error() + " (" + e.Hint + ")"
}

func (e *FieldError) Unwrap() error { return e.Err }

// Errors shared by the receiver types.
var (
	ErrInvalidURL = errors.New("invalid url")
	ErrURLNotSet  = errors.New("missing url")
)

// URLHint is the Hint of ErrInvalidURL.
const URLHint = "want an absolute http(s) URL"

// ValidHTTPURL reports an absolute http:// or https:// URL with a host.
func ValidHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// CheckURL returns the FieldError of a required http(s) URL at key.
func CheckURL(key, u string) error {
	switch {
	case u == "":
		return Field(key, ErrURLNotSet, "")
	case !ValidHTTPURL(u):
		// The value is not printed: URLs of receivers may hold tokens.
		return Field(key, ErrInvalidURL, URLHint)
	}
	return nil
}

// ValidHost reports a host name or IP address (without a port).
func ValidHost(h string) bool {
	if h == "" || strings.ContainsAny(h, " /:@") && net.ParseIP(h) == nil {
		return false
	}
	return true
}
