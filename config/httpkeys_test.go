package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/internal/testenv"
	"github.com/monitor-dev/monitor/probes"
)

// TestHTTPTLSKeyProblems: every problem of the http and tls kinds' keys
// (bad assertions among them), each at its position, all at once, and no
// secret in any message.
func TestHTTPTLSKeyProblems(t *testing.T) {
	_, err := parseFile(t, "invalid-http-tls.yml", map[string]string{"API_TOKEN": "tok-secret-123", "API_KEY": "key-secret-456"})
	var got []string
	for _, p := range config.Problems(err) {
		got = append(got, p.Error())
	}
	want := []string{
		`invalid-http-tls.yml:5:13: invalid method "BREW" in check "api" (want GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS)`,
		`invalid-http-tls.yml:6:55: invalid header name "bad header" in headers of check "api"`,
		`invalid-http-tls.yml:7:19: basic_auth, bearer_token and an Authorization header in check "api" exclude each other (want one)`,
		`invalid-http-tls.yml:9:15: invalid max_body "1GiB" in check "api" (want a size like 1MiB, 512KiB or 65536)`,
		`invalid-http-tls.yml:10:19: invalid status "6xx" in check "api" (want a code like 200 or a range like 2xx)`,
		`invalid-http-tls.yml:10:24: invalid status "2x" in check "api" (want a code like 200 or a range like 2xx)`,
		"invalid-http-tls.yml:11:17: invalid body_regex in check \"api\": missing closing ): `ok(`",
		`invalid-http-tls.yml:13:9: missing operator in json #1 of check "api" (want one of equals, not_equals, lt, lte, gt, gte, contains, exists)`,
		`invalid-http-tls.yml:13:29: unknown key "eq" in json #1 of check "api"`,
		`invalid-http-tls.yml:14:17: invalid path "$.items[?(@.x)]" in json #2 of check "api" (index "?(@.x)" is not an integer (filters and slices are not supported))`,
		`invalid-http-tls.yml:15:32: invalid lt "many" in json #3 of check "api" (want a number)`,
		`invalid-http-tls.yml:16:39: more than one operator in json #4 of check "api" (equals and gt; want one per entry)`,
		`invalid-http-tls.yml:17:9: missing path in json #5 of check "api"`,
		`invalid-http-tls.yml:18:36: critical 500ms < warn 2s in latency of check "api"`,
		`invalid-http-tls.yml:19:40: critical 21d > warn 7d in cert_expiry of check "api" (critical is the fewer days left)`,
		`invalid-http-tls.yml:20:14: ca_file "testdata/nope.pem" does not exist in check "api"`,
		`invalid-http-tls.yml:21:16: cert_file without key_file in check "api" (want both for a client certificate)`,
		`invalid-http-tls.yml:22:5: missing url in check "nourl"`,
		`invalid-http-tls.yml:24:23: invalid follow_redirects "maybe" in check "nourl" (want true or false)`,
		`invalid-http-tls.yml:25:14: empty latency in check "nourl" (want warn, critical or both, like {warn: 500ms, critical: 2s})`,
		`invalid-http-tls.yml:28:14: invalid address "mail.example.com" in check "cert" (want host:port, like mail.example.com:465)`,
		`invalid-http-tls.yml:29:15: invalid starttls "imap" in check "cert" (want smtp or postgres)`,
		`invalid-http-tls.yml:30:26: invalid warn "soon" in cert_expiry of check "cert" (want a duration like 30s, 15m or 1d)`,
		`invalid-http-tls.yml:31:5: missing address in check "cert_noaddr"`,
		`invalid-http-tls.yml:33:15: key_file without cert_file in check "cert_noaddr" (want both for a client certificate)`,
		// 0s would switch the threshold off without a word.
		`invalid-http-tls.yml:37:22: warn must be > 0 in latency of check "zero_thresholds"`,
		`invalid-http-tls.yml:37:36: critical must be > 0 in latency of check "zero_thresholds"`,
		`invalid-http-tls.yml:38:26: warn must be > 0 in cert_expiry of check "zero_thresholds"`,
		`invalid-http-tls.yml:43:20: body_contains in check "head_body" cannot hold with method HEAD (its answer has no body; want GET)`,
		`invalid-http-tls.yml:44:11: json in check "head_body" cannot hold with method HEAD (its answer has no body; want GET)`,
		`invalid-http-tls.yml:47:10: invalid url "http://[::1:80/health?***" in check "broken_url" (want an absolute http(s) URL)`,
		`invalid-http-tls.yml:50:10: invalid url "http://api.internal:99999/health?token=***" in check "bad_port" (port 99999 is not a number from 1 to 65535)`,
		`invalid-http-tls.yml:54:33: invalid lt "NaN" in json #1 of check "nan" (want a number)`,
		`invalid-http-tls.yml:54:62: invalid gte "-Inf" in json #2 of check "nan" (want a number)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, secret := range []string{"tok-secret-123", "key-secret-456"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("a problem leaks %s", secret)
		}
	}
}

// A complete http and tls check decode into what their probes run, with
// ${ENV} secrets kept as secrets, cert files relative to the config file
// and durations in days.
func TestHTTPTLSDecoded(t *testing.T) {
	ca := testenv.NewCA(t)
	client := ca.Leaf(t, time.Now().Add(24*time.Hour))
	dir := t.TempDir()
	for name, from := range map[string]string{"ca.pem": ca.CertFile, "client.pem": client.CertFile, "client-key.pem": client.KeyFile} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("API_KEY", "key-secret-456")
	t.Setenv("API_PASSWORD", "pw-secret-789")
	path := filepath.Join(dir, "monitor.yml")
	if err := os.WriteFile(path, []byte(`server:
  guard_checks: true
checks:
  - name: api
    kind: http
    url: https://api.internal:8443/health
    method: post
    headers: { X-Api-Key: "${API_KEY}", Accept: application/json }
    body: '{"probe": true}'
    basic_auth: { username: monitor, password: "${API_PASSWORD}" }
    ca_file: ca.pem
    cert_file: client.pem
    key_file: client-key.pem
    follow_redirects: false
    max_body: 64KiB
    status: [200, 3xx]
    body_contains: ok
    body_regex: '"queue":\s*\d+'
    json:
      - { path: $.status, equals: ok }
      - { path: $.queue, lt: 1000 }
      - { path: $.maintenance, exists: false }
    header: { Content-Type: application/json }
    latency: { warn: 500ms, critical: 2s }
    cert_expiry: { warn: 21d, critical: 7d }
  - name: smtp_cert
    kind: tls
    address: 127.0.0.1:587
    server_name: mail.internal
    starttls: SMTP
  - name: db_cert
    kind: tls
    address: db.internal:5432
    starttls: postgres
    cert_expiry: { warn: 30d }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	h, ok := cfg.Checks[0].Config.(probes.HTTPConfig)
	if !ok {
		t.Fatalf("Config = %T", cfg.Checks[0].Config)
	}
	want := probes.HTTPConfig{
		URL: "https://api.internal:8443/health", Method: "POST",
		Headers:  []probes.Header{{Name: "X-Api-Key", Value: "key-secret-456"}, {Name: "Accept", Value: "application/json"}},
		Body:     `{"probe": true}`,
		Username: "monitor", Password: "pw-secret-789",
		Files: probes.TLSFiles{CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "client.pem"),
			KeyFile: filepath.Join(dir, "client-key.pem")},
		FollowRedirects: false, MaxBody: 64 << 10,
		Status:       []probes.StatusRange{{From: 200, To: 200}, {From: 300, To: 399}},
		BodyContains: "ok", BodyRegex: `"queue":\s*\d+`,
		JSON: []probes.JSONAssertion{{Path: "$.status", Op: "equals", Value: "ok"}, {Path: "$.queue", Op: "lt", Value: "1000"},
			{Path: "$.maintenance", Op: "exists", Value: "false"}},
		Header:     []probes.HeaderAssertion{{Name: "Content-Type", Value: "application/json"}},
		Latency:    probes.Latency{Warn: 500 * time.Millisecond, Critical: 2 * time.Second},
		CertExpiry: probes.Expiry{Warn: 21 * 24 * time.Hour, Critical: 7 * 24 * time.Hour},
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("http config\n got %#v\nwant %#v", h, want)
	}
	for _, secret := range []string{"key-secret-456", "pw-secret-789"} {
		if !slices.Contains(cfg.Secrets, secret) {
			t.Errorf("%s not among the config's secrets", secret)
		}
		if strings.Contains(fmt.Sprintf("%v %+v %#v", h, h, h), secret) {
			t.Errorf("printing the config shows %s", secret)
		}
	}
	if slices.Contains(cfg.Secrets, "application/json") {
		t.Error("an Accept header's value is among the secrets: the log redactor would blank it everywhere")
	}
	smtp, _ := cfg.Checks[1].Config.(probes.TLSConfig)
	if smtp != (probes.TLSConfig{Address: "127.0.0.1:587", ServerName: "mail.internal", StartTLS: "smtp",
		CertExpiry: probes.Expiry{Warn: 21 * 24 * time.Hour, Critical: 7 * 24 * time.Hour}}) {
		t.Errorf("tls config %+v", smtp)
	}
	db, _ := cfg.Checks[2].Config.(probes.TLSConfig)
	if db.ServerName != "db.internal" || db.CertExpiry != (probes.Expiry{Warn: 30 * 24 * time.Hour}) {
		t.Errorf("tls config %+v: want server_name from the address, only the warn threshold", db)
	}
	for _, sp := range cfg.Checks {
		if !sp.Guarded {
			t.Errorf("check %s not guarded with server.guard_checks: true", sp.Name)
		}
	}
	// Without guard_checks, checks are not guarded.
	cfg, err = config.Parse("x.yml", []byte("checks:\n  - {name: a, kind: tls, address: \"127.0.0.1:1\"}\n"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Checks[0].Guarded {
		t.Error("guarded without server.guard_checks")
	}
}
