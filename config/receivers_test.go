package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/alerting"
	"github.com/monitor-dev/monitor/alerting/alertmanager"
	"github.com/monitor-dev/monitor/alerting/email"
	"github.com/monitor-dev/monitor/alerting/pagerduty"
	"github.com/monitor-dev/monitor/alerting/slack"
	"github.com/monitor-dev/monitor/alerting/webhook"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
)

const smtpPassword = "Sm7p-pa55word"

// TestReceivers loads one receiver of every type, with secrets from files
// named relative to the config file's directory (testdata/), not to the
// working directory.
func TestReceivers(t *testing.T) {
	cfg, err := config.Load("testdata/receivers.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := []config.Receiver{
		{Name: "hook", Type: "webhook", Config: &webhook.Config{
			URL: "https://hooks.example.com/monitor", Secret: webhookSecret}},
		{Name: "chat", Type: "slack", Config: &slack.Config{
			URL: "https://hooks.slack.example/services/T0/B0/XYZ", Channel: "#ops"}},
		{Name: "pd", Type: "pagerduty", Config: &pagerduty.Config{
			RoutingKey: "R0UTING-FROM-FILE", URL: pagerduty.DefaultURL}},
		{Name: "mail", Type: "email", Config: &email.Config{
			To: []string{"owner@acme.example", "Ops <ops@acme.example>"},
			SMTP: email.SMTP{Host: "smtp.example.com", Username: "monitor",
				Password: "s3cret-smtp-password", From: "monitor@example.com", TLS: email.StartTLS}}},
		{Name: "am", Type: "alertmanager", Config: &alertmanager.Config{
			URLs: []check.Secret{"http://am-0:9093", "http://am-1:9093"}}},
	}
	if !reflect.DeepEqual(cfg.Alerting.Receivers, want) {
		t.Errorf("receivers:\n%#v\nwant:\n%#v", cfg.Alerting.Receivers, want)
		for i, r := range cfg.Alerting.Receivers {
			t.Logf("%d: %+v", i, reflect.ValueOf(r.Config).Elem().Interface())
		}
	}
	wantRoutes := []config.Route{{
		Receivers: []string{"hook", "chat", "pd", "mail", "am"},
		GroupWait: 30 * time.Second, GroupInterval: 5 * time.Minute, Continue: true,
		Unknown: alerting.UnknownKeep, // the default
	}, {
		Match:     alerting.Match{Check: "x*", Labels: map[string]string{"team": "core"}},
		Receivers: []string{"hook"}, GroupBy: []string{"check", "team"},
		GroupWait: 0, GroupInterval: 5 * time.Minute, Unknown: alerting.UnknownFire,
	}}
	if !reflect.DeepEqual(cfg.Alerting.Routes, wantRoutes) {
		t.Errorf("routes:\n%+v\nwant:\n%+v", cfg.Alerting.Routes, wantRoutes)
	}
	if got := cfg.Alerting.Retry; got == nil || len(got) != 0 {
		t.Errorf("retry: [] gives %#v, want no retries", got)
	}
	if got := cfg.Alerting.Flapping; got != (alerting.Flapping{Changes: 0, Window: 30 * time.Minute}) {
		t.Errorf("flapping = %+v", got)
	}
	// Every secret, from the file or not, reaches the process redactor.
	r := check.NewRedactor(cfg.Secrets...)
	for _, s := range []string{webhookSecret, "https://hooks.slack.example/services/T0/B0/XYZ",
		"R0UTING-FROM-FILE", "s3cret-smtp-password", "https://hooks.example.com/monitor", "http://am-1:9093"} {
		if got := r.Redact("x " + s + " y"); strings.Contains(got, s) {
			t.Errorf("Secrets does not cover %q", s)
		}
	}
}

// TestSecretFileRelativeToConfig loads a config from another directory than
// the working one: secret_file is found beside the config file.
func TestSecretFileRelativeToConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("password", smtpPassword+"\n")
	write("monitor.yml", `checks:
  - { name: x, kind: link, urls: ["https://example.com/"] }
alerting:
  receivers:
    - name: mail
      type: email
      to: [owner@acme.example]
      smtp: { host: smtp.example.com, username: monitor@example.com, password_file: password }
`)
	cfg, err := config.Load(filepath.Join(dir, "monitor.yml"))
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Alerting.Receivers[0].Config.(*email.Config)
	if got.SMTP.Password.Reveal() != smtpPassword {
		t.Errorf("password = %q, want the file's content without its newline", got.SMTP.Password.Reveal())
	}
	if got.Sender() != "monitor@example.com" {
		t.Errorf("Sender() = %q, want the username", got.Sender())
	}
	if !strings.Contains(strings.Join(cfg.Secrets, " "), smtpPassword) {
		t.Errorf("the password from the file is not in Secrets")
	}
}

func TestLoadBadReceivers(t *testing.T) {
	t.Setenv("WEBHOOK_TOKEN", webhookToken)
	t.Setenv("WEBHOOK_SECRET", webhookSecret)
	t.Setenv("SMTP_PASSWORD", smtpPassword)
	for _, tc := range []struct {
		file string
		want []string
	}{
		{
			file: "invalid-receiver-webhook.yml",
			want: []string{
				`testdata/invalid-receiver-webhook.yml:5:7: missing url in receiver "no_url"`,
				`testdata/invalid-receiver-webhook.yml:9:12: invalid url in receiver "bad_url" (want an absolute http(s) URL)`,
				`testdata/invalid-receiver-webhook.yml:10:15: invalid secret in receiver "bad_url" (want whsec_ followed by the base64 of 24 to 64 random bytes)`,
				`testdata/invalid-receiver-webhook.yml:15:7: secret and secret_file are both set in receiver "both" (want one of them)`,
				`testdata/invalid-receiver-webhook.yml:18:17: url_file "secrets/nope" in receiver "missing_file" does not exist`,
				`testdata/invalid-receiver-webhook.yml:19:7: key "routing_key" does not apply to type "webhook" in receiver "missing_file"`,
				`testdata/invalid-receiver-webhook.yml:23:20: secret_file "secrets/empty" in receiver "empty_file" is empty`,
				`testdata/invalid-receiver-webhook.yml:27:15: invalid secret in receiver "not_base64" (want whsec_ followed by the base64 of 24 to 64 random bytes)`,
			},
		},
		{
			file: "invalid-receiver-slack.yml",
			want: []string{
				`testdata/invalid-receiver-slack.yml:5:7: missing url in receiver "no_url"`,
				`testdata/invalid-receiver-slack.yml:5:45: invalid channel in receiver "no_url" (want #channel, @user or a channel id like C0123456789)`,
				`testdata/invalid-receiver-slack.yml:9:7: url and url_file are both set in receiver "bad_url" (want one of them)`,
				`testdata/invalid-receiver-slack.yml:10:43: url in receiver "list_url" must be a single value, not a list`,
			},
		},
		{
			file: "invalid-receiver-pagerduty.yml",
			want: []string{
				`testdata/invalid-receiver-pagerduty.yml:5:7: missing routing_key in receiver "no_key"`,
				`testdata/invalid-receiver-pagerduty.yml:5:45: invalid url in receiver "no_key" (want an absolute http(s) URL)`,
				`testdata/invalid-receiver-pagerduty.yml:6:66: routing_key_file "secrets/empty" in receiver "empty_key_file" is empty`,
				`testdata/invalid-receiver-pagerduty.yml:7:64: cannot read routing_key_file "secrets" in receiver "dir_key_file": not a regular file`,
			},
		},
		{
			file: "invalid-receiver-email.yml",
			want: []string{
				`testdata/invalid-receiver-email.yml:5:7: missing to in receiver "nothing"`,
				`testdata/invalid-receiver-email.yml:5:7: missing smtp in receiver "nothing"`,
				`testdata/invalid-receiver-email.yml:9:11: to in receiver "old_form" must be a list (write [owner@acme.example] for one)`,
				`testdata/invalid-receiver-email.yml:10:13: smtp of receiver "old_form" must be a mapping`,
				`testdata/invalid-receiver-email.yml:13:32: invalid address "not-an-address" in receiver "bad" (want name@example.com)`,
				`testdata/invalid-receiver-email.yml:15:9: missing username in smtp of receiver "bad" (a password needs a username)`,
				`testdata/invalid-receiver-email.yml:15:15: invalid host "smtp.example.com:587" in smtp of receiver "bad" (want a host name or IP address, without a port)`,
				`testdata/invalid-receiver-email.yml:16:15: invalid port 70000 in smtp of receiver "bad" (want 1 to 65535)`,
				`testdata/invalid-receiver-email.yml:17:14: invalid tls "ssl" in smtp of receiver "bad" (want starttls, tls or none)`,
				`testdata/invalid-receiver-email.yml:19:9: unknown key "sender" in smtp of receiver "bad"`,
				`testdata/invalid-receiver-email.yml:23:89: password with tls: none in smtp of receiver "clear_text" (the password would travel in clear text: use starttls or tls)`,
				`testdata/invalid-receiver-email.yml:27:45: invalid port "submission" in smtp of receiver "port_word" (want a whole number)`,
				`testdata/invalid-receiver-email.yml:27:63: invalid address "monitor at example" in smtp of receiver "port_word" (want name@example.com)`,
			},
		},
		{
			file: "invalid-receiver-alertmanager.yml",
			want: []string{
				`testdata/invalid-receiver-alertmanager.yml:5:7: missing url in receiver "none" (want url or urls)`,
				`testdata/invalid-receiver-alertmanager.yml:6:45: invalid url in receiver "bad" (want an absolute http(s) URL)`,
				`testdata/invalid-receiver-alertmanager.yml:6:81: invalid url in receiver "bad" (want an absolute http(s) URL)`,
			},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := config.Load(filepath.Join("testdata", tc.file))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			var got []string
			for _, p := range config.Problems(err) {
				got = append(got, p.Error())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for _, secret := range []string{webhookToken, webhookSecret, smtpPassword} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error text holds the secret %q:\n%s", secret, err)
				}
			}
		})
	}
}

// TestReceiverValidateErrors: Validate's problems are FieldErrors wrapping
// the package's sentinel errors, for callers that use a Config without the
// loader.
func TestReceiverValidateErrors(t *testing.T) {
	c := email.DefaultConfig
	err := c.Validate()
	for _, want := range []error{email.ErrToNotSet, email.ErrHostNotSet} {
		if !errors.Is(err, want) {
			t.Errorf("Validate() = %v, want it to hold %v", err, want)
		}
	}
	w := webhook.Config{URL: "https://h.example/x", Secret: "whsec_c2hvcnQ="}
	if err := w.Validate(); !errors.Is(err, webhook.ErrInvalidSecret) {
		t.Errorf("short secret: Validate() = %v, want ErrInvalidSecret", err)
	}
}

func TestLoadBadAlerting(t *testing.T) {
	_, err := config.Load("testdata/invalid-alerting.yml")
	var got []string
	for _, p := range config.Problems(err) {
		got = append(got, p.Error())
	}
	want := []string{
		`testdata/invalid-alerting.yml:7:22: unknown kind "incident" in match of route #1`,
		`testdata/invalid-alerting.yml:7:39: invalid pattern "targeting_[" in match of route #1 (want a check name or a glob like targeting_*)`,
		`testdata/invalid-alerting.yml:7:64: invalid severity "high" in match of route #1 (want INFO, WARN or CRITICAL)`,
		`testdata/invalid-alerting.yml:7:92: invalid label name "bad-name" in labels of route #1 (want letters, digits and _)`,
		`testdata/invalid-alerting.yml:8:25: undefined receiver "nobody" in route #1`,
		`testdata/invalid-alerting.yml:9:29: invalid group_by "bad label" in route #1 (want a label name: check, kind, severity, component or handle or one of the alerts' labels)`,
		`testdata/invalid-alerting.yml:10:19: group_wait must be between 0s and 1h in route #1`,
		`testdata/invalid-alerting.yml:11:23: group_interval must be between 1s and 1d in route #1`,
		`testdata/invalid-alerting.yml:12:17: invalid continue "maybe" in route #1 (want true or false)`,
		`testdata/invalid-alerting.yml:13:23: undefined check "nope" in match of route #2`,
		`testdata/invalid-alerting.yml:14:18: missing receivers in route #2`,
		`testdata/invalid-alerting.yml:15:87: invalid unknown "1" in route #3 (want keep, fire or resolve)`,
		`testdata/invalid-alerting.yml:16:22: failure_threshold must be between 1 and 1000 in alerting`,
		`testdata/invalid-alerting.yml:17:22: success_threshold must be between 1 and 1000 in alerting`,
		`testdata/invalid-alerting.yml:18:20: repeat_interval must be between 1m and 30d in alerting`,
		`testdata/invalid-alerting.yml:19:24: changes must be between 0 (off) and 1000 in alerting.flapping`,
		`testdata/invalid-alerting.yml:19:36: window must be between 1m and 1d in alerting.flapping`,
		`testdata/invalid-alerting.yml:20:15: invalid retry "soon" in alerting (want a list of durations like [5s, 10s, 20s])`,
		`testdata/invalid-alerting.yml:20:21: retry 500ms must be between 1s and 1d in alerting`,
		`testdata/invalid-alerting.yml:20:28: retry 2d must be between 1s and 1d in alerting`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// An Alertmanager receiver whose endsAt margin is not above the repeat
// would see its alerts end between two repeats: refused, at the receiver.
func TestResolveTimeoutAboveRepeat(t *testing.T) {
	yml := `checks:
  - { name: a, kind: freshness, source: { heartbeat: true }, max_age: 1m }
alerting:
  receivers:
    - { name: am, type: alertmanager, url: "http://127.0.0.1:9093", resolve_timeout: 1h }
  routes:
    - { match: {}, receivers: [am] }
`
	_, err := config.Parse("rt.yml", []byte(yml), func(string) (string, bool) { return "", false })
	want := `rt.yml:5:5: receiver "am": resolve_timeout 1h is not above repeat_interval 4h: Alertmanager would end the alert between two repeats`
	if got := fmt.Sprint(err); !strings.Contains(got, want) {
		t.Errorf("got %s\nwant %s", got, want)
	}
	if _, err := config.Parse("rt.yml", []byte(strings.Replace(yml, "1h }", "5h }", 1)), func(string) (string, bool) { return "", false }); err != nil {
		t.Errorf("resolve_timeout 5h over repeat 4h: %v", err)
	}
}
