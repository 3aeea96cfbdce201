package webhook_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/alerting/receiver/receivertest"
	"github.com/monitor-dev/monitor/alerting/webhook"
	"github.com/monitor-dev/monitor/check"
)

// The Standard Webhooks spec's published test vector (its libraries'
// TestWebhookSign: standard-webhooks/standard-webhooks, libraries/go).
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorPayload   = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignSpecVector(t *testing.T) {
	key, err := webhook.SigningKey(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := webhook.Sign(key, vectorID, vectorTimestamp, []byte(vectorPayload)); got != vectorSignature {
		t.Errorf("Sign = %s, want the spec's %s", got, vectorSignature)
	}
	// The independent verifier below agrees with the vector too.
	h := http.Header{}
	h.Set("webhook-id", vectorID)
	h.Set("webhook-timestamp", strconv.Itoa(vectorTimestamp))
	h.Set("webhook-signature", vectorSignature)
	if err := verify(vectorSecret, h, []byte(vectorPayload), time.Unix(vectorTimestamp, 0)); err != nil {
		t.Errorf("the test's verifier rejects the spec's vector: %v", err)
	}
}

// verify checks a message as a Standard Webhooks receiver does, written
// from the spec and not from the sender's code: the secret is base64
// after "whsec_"; the signed content is "msg_id.timestamp.payload"; the
// signature header is a space-delimited list of "v1,<base64>"; the
// timestamp must be within 5 minutes of now.
func verify(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing header")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("bad timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("timestamp out of tolerance")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, s := range strings.Split(sigs, " ") {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no matching signature")
}

// A signing secret of 32 random bytes, as a user would generate it.
var secret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789ABCDEF"))

func newNotifier(t *testing.T, c webhook.Config, d receiver.Deps) receiver.Sender {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := webhook.Type.Sender("oncall", &c, d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSendSigned: a real server verifies each attempt's signature with
// its own implementation; retries carry the same webhook-id and a fresh
// timestamp; the body is the §6 notification, field by field.
func TestSendSigned(t *testing.T) {
	clock := receivertest.Now
	d := receivertest.Deps()
	d.Now = func() time.Time { return clock }
	srv := receivertest.NewServer(t, func(w http.ResponseWriter, r receivertest.Request, n int) {
		if err := verify(secret, r.Header, r.Body, clock); err != nil {
			t.Errorf("attempt %d: signature: %v", n, err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if n == 0 {
			w.WriteHeader(http.StatusInternalServerError) // then a retry
		}
	})
	s := newNotifier(t, webhook.Config{URL: check.Secret(srv.URL + "/monitor"), Secret: check.Secret(secret),
		Headers: map[string]check.Secret{"Authorization": "Bearer hdr-t0ken-1234", "X-Team": "core"}}, d)
	n := receivertest.Notification(receiver.StatusFiring)

	err := s.Send(t.Context(), n)
	if se := receiver.AsSendError(err); err == nil || se.StatusCode != 500 || se.Permanent {
		t.Fatalf("first attempt: %v, want a retryable status 500", err)
	}
	clock = clock.Add(5 * time.Second)
	if err := s.Send(t.Context(), n); err != nil {
		t.Fatalf("retry: %v", err)
	}

	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		if r.Method != http.MethodPost || r.Path != "/monitor" {
			t.Errorf("request %d: %s %s", i, r.Method, r.Path)
		}
		if got := r.Header.Get("webhook-id"); got != n.ID {
			t.Errorf("request %d: webhook-id %q, want the notification's %q", i, got, n.ID)
		}
		wantTS := strconv.FormatInt(receivertest.Now.Add(time.Duration(i)*5*time.Second).Unix(), 10)
		if got := r.Header.Get("webhook-timestamp"); got != wantTS {
			t.Errorf("request %d: webhook-timestamp %s, want %s (this attempt's)", i, got, wantTS)
		}
		if got := r.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type %q", got)
		}
		if r.Header.Get("Authorization") != "Bearer hdr-t0ken-1234" || r.Header.Get("X-Team") != "core" {
			t.Errorf("custom headers: %v", r.Header)
		}
	}
	if !bytes.Equal(reqs[0].Body, reqs[1].Body) {
		t.Errorf("the retry's body differs")
	}

	// The body, as a receiver written against CONTRACT §6 reads it.
	var got struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		GroupKey string `json:"groupKey"`
		Receiver string `json:"receiver"`
		URL      string `json:"url"`
		Alerts   []struct {
			ID       string            `json:"id"`
			Check    string            `json:"check"`
			Kind     string            `json:"kind"`
			Status   string            `json:"status"`
			Severity string            `json:"severity"`
			Labels   map[string]string `json:"labels"`
			Result   map[string]any    `json:"result"`
			StartsAt time.Time         `json:"startsAt"`
			EndsAt   *time.Time        `json:"endsAt"`
			URL      string            `json:"url"`
			Runbook  string            `json:"runbookUrl"`
		} `json:"alerts"`
	}
	dec := json.NewDecoder(bytes.NewReader(reqs[1].Body))
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.ID != n.ID || got.Status != "firing" || got.GroupKey != n.GroupKey || got.Receiver != "oncall" ||
		got.URL != "https://status.example.com/alerts" || len(got.Alerts) != 2 {
		t.Fatalf("body: %s", reqs[1].Body)
	}
	a, want := got.Alerts[1], n.Alerts[1]
	if a.ID != want.ID || a.Check != want.Check || a.Kind != "freshness" || a.Status != "firing" ||
		a.Severity != "WARN" || !reflect.DeepEqual(a.Labels, want.Labels) || !a.StartsAt.Equal(want.StartsAt) ||
		a.EndsAt != nil || a.URL != want.URL || a.Runbook != receivertest.RunbookOwn {
		t.Errorf("alert: %+v\nwant %+v", a, want)
	}
	if got.Alerts[0].Runbook != receivertest.RunbookDB {
		t.Errorf("alerts[0].runbookUrl %q, want %q", got.Alerts[0].Runbook, receivertest.RunbookDB)
	}
	// result is in the health shape.
	wantResult := map[string]any{"name": "redirect_analytics_freshness", "kind": "freshness", "status": "FAIL",
		"severity": "WARN", "message": "newest row is 17m12s old (max 15m)", "observedValue": 1032.0,
		"observedUnit": "s", "checkedAt": "2026-11-21T10:29:41Z", "durationMs": 0.0}
	if !reflect.DeepEqual(a.Result, wantResult) {
		t.Errorf("result %v\nwant %v", a.Result, wantResult)
	}
	if !strings.Contains(string(reqs[1].Body), `"endsAt":null`) {
		t.Errorf("a firing alert's endsAt is not null: %s", reqs[1].Body)
	}
}

// TestSendResolved: a resolved notification carries each alert's end.
func TestSendResolved(t *testing.T) {
	srv := receivertest.NewServer(t, nil)
	s := newNotifier(t, webhook.Config{URL: check.Secret(srv.URL)}, receivertest.Deps())
	n := receivertest.Notification(receiver.StatusResolved)
	if err := s.Send(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	var got receiver.Notification
	if err := json.Unmarshal(srv.Requests()[0].Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Status != "resolved" || got.Alerts[0].Status != "resolved" || got.Alerts[0].EndsAt == nil ||
		!got.Alerts[0].EndsAt.Equal(*n.Alerts[0].EndsAt) {
		t.Errorf("got %+v", got)
	}
}

// TestSendUnsigned: without a secret there is no signature, but the id
// and timestamp still come (idempotency).
func TestSendUnsigned(t *testing.T) {
	srv := receivertest.NewServer(t, nil)
	s := newNotifier(t, webhook.Config{URL: check.Secret(srv.URL)}, receivertest.Deps())
	if err := s.Send(t.Context(), receivertest.Notification(receiver.StatusFiring)); err != nil {
		t.Fatal(err)
	}
	h := srv.Requests()[0].Header
	if h.Get("webhook-signature") != "" || h.Get("webhook-id") == "" || h.Get("webhook-timestamp") == "" {
		t.Errorf("headers %v", h)
	}
}

// TestSendNoSecretInErrors: a receiver echoing the whole request in a 500
// answer; neither the URL's token, the secret nor a header's token is in
// the error. A 401 is permanent.
func TestSendNoSecretInErrors(t *testing.T) {
	const urlToken, hdrToken = "u8l-t0ken-4f3e2d1c", "hdr-t0ken-9a8b7c6d"
	srv := receivertest.NewServer(t, receivertest.Echo)
	s := newNotifier(t, webhook.Config{URL: check.Secret(srv.URL + "/hooks/" + urlToken), Secret: check.Secret(secret),
		Headers: map[string]check.Secret{"Authorization": "Bearer " + hdrToken}}, receivertest.Deps())
	err := s.Send(t.Context(), receivertest.Notification(receiver.StatusFiring))
	if se := receiver.AsSendError(err); err == nil || se.StatusCode != 500 {
		t.Fatalf("Send = %v, want status 500", err)
	}
	receivertest.NoSecret(t, err, urlToken, hdrToken, secret, strings.TrimPrefix(secret, "whsec_"))

	srv.Answer = func(w http.ResponseWriter, _ receivertest.Request, _ int) { w.WriteHeader(http.StatusUnauthorized) }
	if err := s.Send(t.Context(), receivertest.Notification(receiver.StatusFiring)); !receiver.AsSendError(err).Permanent {
		t.Errorf("401: %v, want permanent", err)
	}
}

func TestValidateHeaders(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers map[string]check.Secret
		want    error
	}{
		{"ok", map[string]check.Secret{"Authorization": "Bearer x", "X-Team": "core"}, nil},
		{"content type", map[string]check.Secret{"content-type": "text/plain"}, webhook.ErrReservedHeader},
		{"signature", map[string]check.Secret{"Webhook-Signature": "v1,x"}, webhook.ErrReservedHeader},
		{"host", map[string]check.Secret{"Host": "example.com"}, webhook.ErrReservedHeader},
		{"bad name", map[string]check.Secret{"X Team": "core"}, webhook.ErrInvalidHeader},
		{"newline", map[string]check.Secret{"X-Token": "a\r\nX-Evil: 1"}, webhook.ErrInvalidHeader},
		{"too long", map[string]check.Secret{"X-Token": check.Secret(strings.Repeat("a", webhook.MaxHeaderValue+1))}, webhook.ErrInvalidHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := webhook.Config{URL: "https://h.example/x", Headers: tc.headers}
			err := c.Validate()
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Validate() = %v, want %v", err, tc.want)
			}
			var fe *receiver.FieldError
			if err != nil && (!errors.As(err, &fe) || !strings.HasPrefix(fe.Key, "headers.")) {
				t.Errorf("error %v is not about a key headers.NAME", err)
			}
			if err != nil && strings.Contains(err.Error(), "X-Evil") {
				t.Errorf("error shows the value: %v", err)
			}
		})
	}
	many := map[string]check.Secret{}
	for i := range webhook.MaxHeaders + 1 {
		many["X-H"+strconv.Itoa(i)] = "v"
	}
	if err := (&webhook.Config{URL: "https://h.example/x", Headers: many}).Validate(); !errors.Is(err, webhook.ErrTooManyHeaders) {
		t.Errorf("%d headers: %v", len(many), err)
	}
}
