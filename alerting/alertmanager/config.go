// Package alertmanager is the receiver that forwards alerts to Prometheus
// Alertmanager: every notification's alerts are POSTed to /api/v2/alerts
// of each configured Alertmanager (an HA cluster gets every alert on every
// member, as Alertmanager asks of its clients).
package alertmanager

import (
	"errors"
	"fmt"
	"time"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
)

// Config is a receiver of `type: alertmanager`.
type Config struct {
	// url (or url_file): the Alertmanager's base URL, like http://alertmanager:9093.
	URL check.Secret `yaml:"url"`
	// urls: more Alertmanagers of the same cluster; each gets every alert.
	URLs []check.Secret `yaml:"urls"`
	// resolve_timeout: how long Alertmanager keeps a firing alert active
	// without hearing of it again (the endsAt of a firing alert is now plus
	// this). Each notification of the alert (firing, repeat, severity
	// change) renews it and the resolved one ends it at once; when the
	// monitor stops, its alerts end by themselves after this long. It must
	// be well above alerting.repeat_interval; 0 means
	// DefaultResolveTimeout, 4 × the default repeat_interval.
	ResolveTimeout time.Duration `yaml:"resolve_timeout"`
}

// DefaultResolveTimeout is resolve_timeout when unset: 4 × the default
// repeat_interval (4h), as Prometheus sets endsAt to 4 resend intervals.
const DefaultResolveTimeout = 16 * time.Hour

// Bounds of resolve_timeout.
const (
	MinResolveTimeout = time.Minute
	MaxResolveTimeout = 120 * 24 * time.Hour
)

// MaxURLs bounds url plus urls.
const MaxURLs = 16

// DefaultConfig is an Alertmanager receiver's configuration before its keys are read.
var DefaultConfig = Config{}

// Type registers the Alertmanager receiver with the configuration loader.
var Type = receiver.Type{Name: "alertmanager", New: func() receiver.Config { c := DefaultConfig; return &c }, Sender: newSender}

var _ receiver.Config = (*Config)(nil)

// ErrTooManyURLs is more than MaxURLs Alertmanagers.
var ErrTooManyURLs = fmt.Errorf("more than %d urls", MaxURLs)

// ErrInvalidResolveTimeout is a resolve_timeout out of its bounds.
var ErrInvalidResolveTimeout = errors.New("invalid resolve_timeout")

// Validate checks that there is at least one URL and that each is http(s).
func (c *Config) Validate() error {
	var errs []error
	switch {
	case c.URL == "" && len(c.URLs) == 0:
		errs = append(errs, receiver.Field("url", receiver.ErrURLNotSet, "want url or urls"))
	case c.URL != "":
		errs = append(errs, receiver.CheckURL("url", c.URL.Reveal()))
	}
	for i, u := range c.URLs {
		errs = append(errs, receiver.CheckURL(fmt.Sprintf("urls.%d", i), u.Reveal()))
	}
	if len(c.URLs)+min(len(c.URL), 1) > MaxURLs {
		errs = append(errs, receiver.Field("urls", ErrTooManyURLs, ""))
	}
	if t := c.ResolveTimeout; t != 0 && (t < MinResolveTimeout || t > MaxResolveTimeout) {
		errs = append(errs, receiver.Field("resolve_timeout", fmt.Errorf("%w %s", ErrInvalidResolveTimeout, t), "want 1m to 120d, above repeat_interval"))
	}
	return errors.Join(errs...)
}

// All returns url and urls, in that order.
func (c *Config) All() []check.Secret {
	var out []check.Secret
	if c.URL != "" {
		out = append(out, c.URL)
	}
	return append(out, c.URLs...)
}
