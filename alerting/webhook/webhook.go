package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/monitor-dev/monitor/alerting/receiver"
)

// The Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Notifier POSTs notifications to one webhook.
type Notifier struct {
	name    string
	conf    Config
	key     []byte // nil: unsigned
	deps    receiver.Deps
	secrets []string // the secret, the header values: kept out of errors
}

var _ receiver.Sender = (*Notifier)(nil)

// New returns the sender of the webhook receiver name.
func New(name string, c *Config, d receiver.Deps) (*Notifier, error) {
	if d.HTTP == nil {
		return nil, errors.New("webhook: no HTTP client")
	}
	n := &Notifier{name: name, conf: *c, deps: d}
	if c.Secret != "" {
		key, err := SigningKey(c.Secret)
		if err != nil {
			return nil, fmt.Errorf("webhook %s: secret: %w", name, err)
		}
		n.key = key
		n.secrets = append(n.secrets, c.Secret.Reveal())
	}
	for _, v := range c.Headers {
		n.secrets = append(n.secrets, v.Reveal())
	}
	return n, nil
}

func newSender(name string, c receiver.Config, d receiver.Deps) (receiver.Sender, error) {
	wc, ok := c.(*Config)
	if !ok {
		return nil, fmt.Errorf("webhook %s: configuration of type %T", name, c)
	}
	return New(name, wc, d)
}

// Send POSTs n as JSON (CONTRACT §6), with webhook-id n.ID (the same on
// every retry: the receiver's idempotency key), webhook-timestamp this
// attempt's time and, when a secret is set, webhook-signature.
func (w *Notifier) Send(ctx context.Context, n receiver.Notification) error {
	body, err := json.Marshal(n)
	if err != nil {
		return &receiver.SendError{Permanent: true, Err: fmt.Errorf("encoding the notification: %w", err)}
	}
	h := make(http.Header, len(w.conf.Headers)+3)
	for k, v := range w.conf.Headers {
		h.Set(k, v.Reveal())
	}
	now := time.Now
	if w.deps.Now != nil {
		now = w.deps.Now
	}
	ts := now().Unix()
	h[HeaderID] = []string{n.ID}
	h[HeaderTimestamp] = []string{strconv.FormatInt(ts, 10)}
	if w.key != nil {
		h[HeaderSignature] = []string{Sign(w.key, n.ID, ts, body)}
	}
	return receiver.PostJSON(ctx, w.deps, receiver.Post{
		URL: w.conf.URL.Reveal(), Header: h, Body: body, Secrets: w.secrets,
	})
}

// Sign is the Standard Webhooks signature of a message:
// "v1,<base64 of HMAC-SHA256(key, id.timestamp.body)>".
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, timestamp, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
