package check_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/monitor-dev/monitor/check"
)

const secretValue = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

type holder struct {
	Name     string
	Password check.Secret `json:"password" yaml:"password"`
	Keys     []check.Secret
	Ptr      *check.Secret
}

func TestSecretRedactsItself(t *testing.T) {
	s := check.Secret(secretValue)
	h := holder{Name: "smtp", Password: s, Keys: []check.Secret{s}, Ptr: &s}

	var outputs []struct{ name, out string }
	add := func(name, out string) { outputs = append(outputs, struct{ name, out string }{name, out}) }

	for _, verb := range []string{"%v", "%s", "%+v", "%#v", "%q", "%x", "%X", "%d", "%10s", "%-8v"} {
		add("fmt "+verb, fmt.Sprintf(verb, s))
		add("fmt struct "+verb, fmt.Sprintf(verb, h))
		add("fmt *struct "+verb, fmt.Sprintf(verb, &h))
	}
	add("fmt Sprint", fmt.Sprint(s, h))
	add("fmt Sprintln", fmt.Sprintln(s, h))
	add("String", s.String())
	add("error wrap", fmt.Errorf("login with %v failed", s).Error())

	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	add("json", string(b))
	if want := `"password":"\u003csecret\u003e"`; !strings.Contains(string(b), want) {
		t.Errorf("json = %s, want it to hold %s", b, want)
	}
	y, err := yaml.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	add("yaml", string(y))

	for _, newHandler := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(newHandler(&buf))
		log.Info("login", "password", s, "holder", h, slog.Any("any", s), slog.Group("g", "k", s))
		log.With("secret", s).Warn("again")
		add("slog", buf.String())
		if !strings.Contains(buf.String(), check.Redacted) {
			t.Errorf("slog output without %s: %s", check.Redacted, buf.String())
		}
	}

	for _, o := range outputs {
		if strings.Contains(o.out, secretValue) || strings.Contains(o.out, "MfKQ9r8") ||
			strings.Contains(o.out, fmt.Sprintf("%x", secretValue)[:16]) {
			t.Errorf("%s leaks the secret: %s", o.name, o.out)
		}
	}
	if got := fmt.Sprintf("%v|%s|%q|%#v", s, s, s, s); got != `<secret>|<secret>|"<secret>"|"<secret>"` {
		t.Errorf("verbs = %s", got)
	}
	if s.Reveal() != secretValue {
		t.Errorf("Reveal() = %q", s.Reveal())
	}
	// An unset secret prints as empty, so that "not configured" stays visible.
	if got := fmt.Sprintf("[%v]", check.Secret("")); got != "[]" {
		t.Errorf("empty secret prints %s", got)
	}
}
