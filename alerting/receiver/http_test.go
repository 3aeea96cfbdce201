package receiver_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/alerting/receiver/receivertest"
)

// TestPostJSONStatuses: what each answer means for the outbox.
func TestPostJSONStatuses(t *testing.T) {
	now := receivertest.Now
	for _, tc := range []struct {
		code       int
		header     string // Retry-After
		body       string
		wantErr    bool
		permanent  bool
		retryAfter time.Duration
		text       string // in the error
	}{
		{code: 200},
		{code: 202, body: `{"status":"success"}`},
		{code: 204},
		{code: 400, body: "invalid_payload", wantErr: true, permanent: true, text: "status 400: invalid_payload"},
		{code: 401, wantErr: true, permanent: true, text: "status 401: Unauthorized"},
		{code: 403, body: "invalid_token", wantErr: true, permanent: true},
		{code: 404, body: "no_service", wantErr: true, permanent: true},
		{code: 410, body: "channel_is_archived", wantErr: true, permanent: true},
		{code: 408, wantErr: true},
		{code: 429, header: "7", wantErr: true, retryAfter: 7 * time.Second},
		{code: 429, header: now.Add(90 * time.Second).Format(http.TimeFormat), wantErr: true, retryAfter: 90 * time.Second},
		{code: 429, header: now.Add(-time.Hour).Format(http.TimeFormat), wantErr: true},
		{code: 429, header: "soon", wantErr: true},
		{code: 429, header: "99999999999", wantErr: true, retryAfter: receiver.MaxRetryAfter},
		{code: 500, body: "boom\n\n  at line 3", wantErr: true, text: "status 500: boom at line 3"},
		{code: 502, wantErr: true},
		{code: 503, header: "30", wantErr: true, retryAfter: 30 * time.Second},
		{code: 500, header: "30", wantErr: true}, // Retry-After only counts on 429 and 503
		{code: 302, wantErr: true, permanent: true, text: "not followed"},
		{code: 308, wantErr: true, permanent: true},
	} {
		t.Run(http.StatusText(tc.code)+tc.header, func(t *testing.T) {
			followed := false
			srv := receivertest.NewServer(t, func(w http.ResponseWriter, r receivertest.Request, _ int) {
				if r.Method == http.MethodGet {
					followed = true
				}
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				if tc.code/100 == 3 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tc.code)
				w.Write([]byte(tc.body))
			})
			err := receiver.PostJSON(t.Context(), receivertest.Deps(), receiver.Post{URL: srv.URL + "/hook", Body: []byte(`{}`)})
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("PostJSON = %v, want nil", err)
				}
				return
			}
			var se *receiver.SendError
			if !errors.As(err, &se) {
				t.Fatalf("PostJSON = %v, want a *SendError", err)
			}
			if se.StatusCode != tc.code || se.Permanent != tc.permanent || se.RetryAfter != tc.retryAfter {
				t.Errorf("got status %d permanent %v retry-after %s, want %d %v %s",
					se.StatusCode, se.Permanent, se.RetryAfter, tc.code, tc.permanent, tc.retryAfter)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not say %q", err, tc.text)
			}
			if followed || len(srv.Requests()) != 1 {
				t.Errorf("the redirect was followed (%d requests)", len(srv.Requests()))
			}
		})
	}
}

// TestPostJSONRequest: the request is a JSON POST with the given headers.
func TestPostJSONRequest(t *testing.T) {
	srv := receivertest.NewServer(t, nil)
	err := receiver.PostJSON(t.Context(), receivertest.Deps(), receiver.Post{
		URL: srv.URL + "/hook?x=1", Body: []byte(`{"a":1}`),
		Header: http.Header{"X-Token": {"abc"}, "Content-Type": {"text/plain"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := srv.Requests()[0]
	if r.Method != http.MethodPost || r.Path != "/hook?x=1" || string(r.Body) != `{"a":1}` {
		t.Errorf("got %s %s %s", r.Method, r.Path, r.Body)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q", got)
	}
	if got := r.Header.Get("X-Token"); got != "abc" {
		t.Errorf("X-Token %q", got)
	}
	if got := r.Header.Get("User-Agent"); got != receiver.UserAgent {
		t.Errorf("User-Agent %q", got)
	}
}

// TestPostJSONNoSecretInErrors: an answer echoing the request, a refused
// connection and an invalid URL name neither the URL's token nor a secret.
func TestPostJSONNoSecretInErrors(t *testing.T) {
	const token, key = "T0KEN-in-the-path-9f8e7d", "r0uting-key-5a4b3c2d1e"
	srv := receivertest.NewServer(t, receivertest.Echo)
	p := receiver.Post{URL: srv.URL + "/services/" + token + "?sig=qu3ry-s1gnature",
		Header: http.Header{"Authorization": {"Bearer " + key}}, Body: []byte(`{"routing_key":"` + key + `"}`),
		Secrets: []string{key}}
	err := receiver.PostJSON(t.Context(), receivertest.Deps(), p)
	if err == nil || !strings.Contains(err.Error(), "status 500") {
		t.Fatalf("PostJSON = %v, want status 500", err)
	}
	if !strings.Contains(err.Error(), "***") {
		t.Errorf("error %q: want the echoed secrets shown as ***", err)
	}
	receivertest.NoSecret(t, err, token, key, "qu3ry-s1gnature")

	// Nothing listens on a closed server's port.
	srv.Close()
	err = receiver.PostJSON(t.Context(), receivertest.Deps(), p)
	if err == nil || receiver.AsSendError(err).Permanent {
		t.Fatalf("PostJSON to a closed port = %v, want a retryable error", err)
	}
	var ne *net.OpError
	if !errors.As(err, &ne) {
		t.Errorf("error %v lost its chain (want a *net.OpError in it)", err)
	}
	receivertest.NoSecret(t, err, token, key, "qu3ry-s1gnature")

	p.URL = "https://hooks.example.com/" + token + "/%zz"
	err = receiver.PostJSON(t.Context(), receivertest.Deps(), p)
	if se := receiver.AsSendError(err); !se.Permanent || !errors.Is(err, receiver.ErrInvalidURL) {
		t.Errorf("invalid URL: %v, want a permanent ErrInvalidURL", err)
	}
	receivertest.NoSecret(t, err, token)
}

// TestPostJSONDeadline: a receiver that does not answer is given up at
// ctx's deadline, with its cause named, and the attempt can be retried.
func TestPostJSONDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := receivertest.NewServer(t, func(w http.ResponseWriter, _ receivertest.Request, _ int) { <-release })
	defer close(release)
	ctx, cancel := context.WithTimeoutCause(t.Context(), 50*time.Millisecond, errors.New("delivery timeout (50ms)"))
	defer cancel()
	start := time.Now()
	err := receiver.PostJSON(ctx, receivertest.Deps(), receiver.Post{URL: srv.URL, Body: []byte(`{}`)})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %s, want about 50ms", took)
	}
	if err == nil || receiver.AsSendError(err).Permanent || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PostJSON = %v, want a retryable deadline error", err)
	}
	if !strings.Contains(err.Error(), "delivery timeout (50ms)") {
		t.Errorf("error %q does not name the cause", err)
	}
}

// TestPostJSONBoundedAnswer: a huge answer is read only up to MaxAnswer and
// quoted up to MaxAnswerText.
func TestPostJSONBoundedAnswer(t *testing.T) {
	srv := receivertest.NewServer(t, func(w http.ResponseWriter, _ receivertest.Request, _ int) {
		w.WriteHeader(http.StatusBadGateway)
		chunk := []byte(strings.Repeat("é", 512))
		for range 4096 { // 4 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	err := receiver.PostJSON(t.Context(), receivertest.Deps(), receiver.Post{URL: srv.URL, Body: []byte(`{}`)})
	if err == nil {
		t.Fatal("no error")
	}
	msg := receiver.AsSendError(err).Err.Error()
	if len(msg) > receiver.MaxAnswerText+len("…") || !strings.HasSuffix(msg, "é…") {
		t.Errorf("quoted %d bytes (%.20q…), want at most %d, cut between characters", len(msg), msg, receiver.MaxAnswerText)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := receivertest.Now
	for v, want := range map[string]time.Duration{
		"":    0,
		"0":   0,
		"120": 2 * time.Minute,
		" 5 ": 5 * time.Second,
		"-5":  0,
		"1.5": 0,
		now.Add(time.Minute).Format(http.TimeFormat):    time.Minute,
		now.Add(time.Minute).Format(time.RFC850):        time.Minute,
		now.Add(48 * time.Hour).Format(http.TimeFormat): receiver.MaxRetryAfter,
		"Sun, 06 Nov 1994 08:49:37 GMT":                 0,
	} {
		if got := receiver.ParseRetryAfter(v, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}
