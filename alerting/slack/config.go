// Package slack is the Slack receiver: a message with Block Kit blocks,
// coloured by severity, posted to an incoming webhook.
package slack

import (
	"errors"
	"regexp"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
)

// Config is a receiver of `type: slack`.
type Config struct {
	// url (or url_file): the incoming webhook URL; a secret, its path is the token.
	URL check.Secret `yaml:"url"`
	// channel: #channel or @user to post to instead of the webhook's own; optional.
	Channel string `yaml:"channel"`
}

// DefaultConfig is a Slack receiver's configuration before its keys are read.
var DefaultConfig = Config{}

// Type registers the Slack receiver with the configuration loader.
var Type = receiver.Type{Name: "slack", New: func() receiver.Config { c := DefaultConfig; return &c },
	Sender: newSender}

var _ receiver.Config = (*Config)(nil)

// ErrInvalidChannel is a channel that is not #name, @user or a channel id.
var ErrInvalidChannel = errors.New("invalid channel")

var channelRE = regexp.MustCompile(`^([#@][a-z0-9._-]{1,80}|[CGD][A-Z0-9]{8,20})$`)

// Validate checks the URL and the channel's form.
func (c *Config) Validate() error {
	var errs []error
	errs = append(errs, receiver.CheckURL("url", c.URL.Reveal()))
	if c.Channel != "" && !channelRE.MatchString(c.Channel) {
		errs = append(errs, receiver.Field("channel", ErrInvalidChannel, "want #channel, @user or a channel id like C0123456789"))
	}
	return errors.Join(errs...)
}
