// Package email is the email receiver: one mail per notification through
// an SMTP server (STARTTLS, implicit TLS or none; AUTH when a username is
// set), with a plain-text and an HTML part listing every alert.
package email

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
)

// Config is a receiver of `type: email`.
type Config struct {
	To   []string `yaml:"to"`   // to: the recipients' addresses, 1 to MaxRecipients
	SMTP SMTP     `yaml:"smtp"` // smtp: the server to send through
}

// SMTP is the `smtp:` mapping of an email receiver.
type SMTP struct {
	Host     string       `yaml:"host"`     // host: the server's name or address
	Port     int          `yaml:"port"`     // port; default 587, or 465 with tls: tls
	Username string       `yaml:"username"` // username: to log in; optional
	Password check.Secret `yaml:"password"` // password (or password_file); needs username
	// from: the sender's address; default the username when it is an
	// address, else monitor@ the server's domain (see Config.Sender).
	From string `yaml:"from"`
	// tls: starttls (default: upgrade, refuse a server without it), tls
	// (implicit TLS, usually port 465) or none (plain text; no password then).
	TLS string `yaml:"tls"`
	// ca_file: an absolute path to PEM certificates trusted besides the
	// system's, for a server whose certificate a private CA signed; optional.
	CAFile string `yaml:"ca_file"`
}

// TLS modes.
const (
	StartTLS = "starttls"
	TLS      = "tls"
	NoTLS    = "none"
)

// MaxRecipients bounds `to`.
const MaxRecipients = 100

// DefaultConfig is an email receiver's configuration before its keys are read.
var DefaultConfig = Config{SMTP: SMTP{TLS: StartTLS}}

// Type registers the email receiver with the configuration loader.
var Type = receiver.Type{Name: "email", New: func() receiver.Config { c := DefaultConfig; return &c }, Sender: newSender}

var _ receiver.Config = (*Config)(nil)

// Errors of Validate.
var (
	ErrToNotSet           = errors.New("missing to")
	ErrTooManyTo          = fmt.Errorf("more than %d addresses in to", MaxRecipients)
	ErrInvalidAddress     = errors.New("invalid address")
	ErrHostNotSet         = errors.New("missing host")
	ErrInvalidHost        = errors.New("invalid host")
	ErrInvalidPort        = errors.New("invalid port")
	ErrInvalidTLS         = errors.New("invalid tls")
	ErrFromNotSet         = errors.New("missing from")
	ErrUsernameNotSet     = errors.New("missing username")
	ErrPasswordWithoutTLS = errors.New("password with tls: none")
	ErrInvalidCAFile      = errors.New("invalid ca_file")
)

// MaxCAFile bounds the size of ca_file.
const MaxCAFile = 1 << 20

// Validate checks the recipients and the SMTP settings.
func (c *Config) Validate() error {
	var errs []error
	if len(c.To) == 0 {
		errs = append(errs, receiver.Field("to", ErrToNotSet, ""))
	}
	if len(c.To) > MaxRecipients {
		errs = append(errs, receiver.Field("to", ErrTooManyTo, ""))
	}
	for i, to := range c.To {
		if !validAddress(to) {
			errs = append(errs, receiver.Field(fmt.Sprintf("to.%d", i), fmt.Errorf("%w %q", ErrInvalidAddress, to), "want name@example.com"))
		}
	}
	s := c.SMTP
	switch {
	case s.Host == "":
		errs = append(errs, receiver.Field("smtp.host", ErrHostNotSet, ""))
	case !receiver.ValidHost(s.Host):
		errs = append(errs, receiver.Field("smtp.host", fmt.Errorf("%w %q", ErrInvalidHost, s.Host), "want a host name or IP address, without a port"))
	}
	if s.Port < 0 || s.Port > 65535 {
		errs = append(errs, receiver.Field("smtp.port", fmt.Errorf("%w %d", ErrInvalidPort, s.Port), "want 1 to 65535"))
	}
	switch s.TLS {
	case StartTLS, TLS:
	case NoTLS:
		if s.Password != "" {
			errs = append(errs, receiver.Field("smtp.password", ErrPasswordWithoutTLS, "the password would travel in clear text: use starttls or tls"))
		}
	default:
		errs = append(errs, receiver.Field("smtp.tls", fmt.Errorf("%w %q", ErrInvalidTLS, s.TLS), "want starttls, tls or none"))
	}
	if s.Password != "" && s.Username == "" {
		errs = append(errs, receiver.Field("smtp.username", ErrUsernameNotSet, "a password needs a username"))
	}
	if s.CAFile != "" {
		if s.TLS == NoTLS {
			errs = append(errs, receiver.Field("smtp.ca_file", ErrInvalidCAFile, "tls: none uses no certificates: use starttls or tls"))
		} else if _, err := s.certPool(); err != nil {
			errs = append(errs, receiver.Field("smtp.ca_file", err, "want an absolute path to a PEM file of CA certificates"))
		}
	}
	if s.From != "" && !validAddress(s.From) {
		errs = append(errs, receiver.Field("smtp.from", fmt.Errorf("%w %q", ErrInvalidAddress, s.From), "want name@example.com"))
	}
	return errors.Join(errs...)
}

// Sender is the From address: from; else the username when it is an
// address; else monitor@ the SMTP server's domain (smtp.example.com gives
// monitor@example.com, as the contract's example has no from).
func (c *Config) Sender() string {
	switch {
	case c.SMTP.From != "":
		return c.SMTP.From
	case validAddress(c.SMTP.Username):
		return c.SMTP.Username
	}
	host := c.SMTP.Host
	if labels := strings.Split(host, "."); len(labels) > 2 && net.ParseIP(host) == nil {
		host = strings.Join(labels[1:], ".")
	}
	return "monitor@" + host
}

func validAddress(s string) bool {
	_, err := mail.ParseAddress(s)
	return s != "" && err == nil
}

// certPool returns the system's certificate pool plus the certificates of
// ca_file; nil (the system's) when ca_file is unset.
func (s *SMTP) certPool() (*x509.CertPool, error) {
	if s.CAFile == "" {
		return nil, nil
	}
	if !filepath.IsAbs(s.CAFile) {
		return nil, fmt.Errorf("%w: %q is not an absolute path", ErrInvalidCAFile, s.CAFile)
	}
	f, err := os.Open(s.CAFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCAFile, err)
	}
	defer f.Close()
	pem, err := io.ReadAll(io.LimitReader(f, MaxCAFile+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrInvalidCAFile, err)
	case len(pem) > MaxCAFile:
		return nil, fmt.Errorf("%w: %q is larger than %d bytes", ErrInvalidCAFile, s.CAFile, MaxCAFile)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: no PEM certificate in %q", ErrInvalidCAFile, s.CAFile)
	}
	return pool, nil
}

// PortOrDefault is the port to connect to: the configured one, else 465
// for implicit TLS (tls: tls) and 587 (submission) otherwise.
func (s SMTP) PortOrDefault() int {
	switch {
	case s.Port != 0:
		return s.Port
	case s.TLS == TLS:
		return 465
	}
	return 587
}
