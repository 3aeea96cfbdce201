package config_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/monitor-dev/monitor/alerting/webhook"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
)

// TestWebhookHeaders: a receiver's mapping with free keys (webhook
// headers) is decoded, its values are secrets, and problems come at the
// header's line and column.
func TestWebhookHeaders(t *testing.T) {
	const token = "hdr-T0KEN-from-env-7a6b"
	env := map[string]string{"HOOK_TOKEN": token}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := config.Parse("monitor.yml", []byte(`checks:
  - { name: x, kind: link, urls: ["https://example.com/"] }
alerting:
  receivers:
    - name: hook
      type: webhook
      url: https://hooks.example.com/monitor
      headers:
        Authorization: "Bearer ${HOOK_TOKEN}"
        X-Team: core
`), lookup)
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Alerting.Receivers[0].Config.(*webhook.Config).Headers
	want := map[string]check.Secret{"Authorization": "Bearer " + token, "X-Team": "core"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("headers %v, want %v", got, want)
	}
	if r := check.NewRedactor(cfg.Secrets...).Redact("x Bearer " + token); strings.Contains(r, token) {
		t.Errorf("the header's value is not in Secrets")
	}

	_, err = config.Parse("monitor.yml", []byte(`checks:
  - { name: x, kind: link, urls: ["https://example.com/"] }
alerting:
  receivers:
    - name: hook
      type: webhook
      url: https://hooks.example.com/monitor
      headers:
        Content-Type: text/plain
        X-Token: "${HOOK_TOKEN}"
    - name: list
      type: webhook
      url: https://hooks.example.com/monitor
      headers: [a, b]
`), lookup)
	var problems []string
	for _, p := range config.Problems(err) {
		problems = append(problems, p.Error())
	}
	wantProblems := []string{
		`monitor.yml:9:23: header cannot be set in headers of receiver "hook" (the sender sets it)`,
		`monitor.yml:14:16: headers of receiver "list" must be a mapping`,
	}
	if !reflect.DeepEqual(problems, wantProblems) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(wantProblems, "\n"))
	}
}
