// Package pagerduty is the PagerDuty receiver: Events API v2, one event
// per alert (trigger or resolve, dedup_key from the alert's id).
package pagerduty

import (
	"errors"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
)

// Config is a receiver of `type: pagerduty`.
type Config struct {
	// routing_key (or routing_key_file): the integration key of the service.
	RoutingKey check.Secret `yaml:"routing_key"`
	// url: the Events API v2 endpoint; default DefaultURL.
	URL string `yaml:"url"`
}

// DefaultURL is PagerDuty's Events API v2 endpoint.
const DefaultURL = "https://events.pagerduty.com/v2/enqueue"

// DefaultConfig is a PagerDuty receiver's configuration before its keys are read.
var DefaultConfig = Config{URL: DefaultURL}

// Type registers the PagerDuty receiver with the configuration loader.
var Type = receiver.Type{Name: "pagerduty", New: func() receiver.Config { c := DefaultConfig; return &c },
	Sender: newSender}

var _ receiver.Config = (*Config)(nil)

// ErrRoutingKeyNotSet is a PagerDuty receiver without a routing key.
var ErrRoutingKeyNotSet = errors.New("missing routing_key")

// Validate checks that a routing key is set and the URL is http(s).
func (c *Config) Validate() error {
	var errs []error
	if c.RoutingKey == "" {
		errs = append(errs, receiver.Field("routing_key", ErrRoutingKeyNotSet, ""))
	}
	errs = append(errs, receiver.CheckURL("url", c.URL))
	return errors.Join(errs...)
}
