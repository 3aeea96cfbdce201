// Package alertmanager is the receiver that forwards alerts to Prometheus
// Alertmanager (POST /api/v2/alerts). For now it holds the configuration
// only; the sender comes with the alerting engine.
package alertmanager

import (
	"errors"
	"fmt"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
)

// Config is a receiver of `type: alertmanager`.
type Config struct {
	// url (or url_file): the Alertmanager's base URL, like http://alertmanager:9093.
	URL check.Secret `yaml:"url"`
	// urls: more Alertmanagers of the same cluster; each gets every alert.
	URLs []check.Secret `yaml:"urls"`
}

// MaxURLs bounds url plus urls.
const MaxURLs = 16

// DefaultConfig is an Alertmanager receiver's configuration before its keys are read.
var DefaultConfig = Config{}

// Type registers the Alertmanager receiver with the configuration loader.
var Type = receiver.Type{Name: "alertmanager", New: func() receiver.Config { c := DefaultConfig; return &c }}

var _ receiver.Config = (*Config)(nil)

// ErrTooManyURLs is more than MaxURLs Alertmanagers.
var ErrTooManyURLs = fmt.Errorf("more than %d urls", MaxURLs)

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
