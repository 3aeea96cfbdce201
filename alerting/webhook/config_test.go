package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/alerting/webhook"
	"github.com/monitor-dev/monitor/check"
)

// TestSigningKeySpecVector: the key of a whsec_ secret is its decoded
// bytes, so the Standard Webhooks spec's own test vector verifies.
func TestSigningKeySpecVector(t *testing.T) {
	key, err := webhook.SigningKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(`msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}`))
	if got, want := base64.StdEncoding.EncodeToString(mac.Sum(nil)), "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("signature %s, want the spec's %s", got, want)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret check.Secret
		url    check.Secret
		want   error
	}{
		{"ok", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "https://h.example/x", nil},
		{"unsigned", "", "https://h.example/x", nil},
		{"no prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "https://h.example/x", webhook.ErrInvalidSecret},
		{"under 24 bytes", "whsec_" + check.Secret(base64.StdEncoding.EncodeToString(make([]byte, 23))), "https://h.example/x", webhook.ErrInvalidSecret},
		{"over 64 bytes", "whsec_" + check.Secret(base64.StdEncoding.EncodeToString(make([]byte, 65))), "https://h.example/x", webhook.ErrInvalidSecret},
		{"not base64", "whsec_!!!!", "https://h.example/x", webhook.ErrInvalidSecret},
		{"no url", "", "", receiver.ErrURLNotSet},
		{"relative url", "", "/hook", receiver.ErrInvalidURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := webhook.DefaultConfig
			c.URL, c.Secret = tc.url, tc.secret
			err := c.Validate()
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Validate() = %v, want %v", err, tc.want)
			}
			if err != nil && tc.secret != "" && len(tc.secret) > 8 && strings.Contains(err.Error(), tc.secret.Reveal()) {
				t.Errorf("error holds the secret: %v", err)
			}
		})
	}
}
