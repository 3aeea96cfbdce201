package config_test

import (
	"context"
	"strings"
	"testing"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/probes"
)

// A new kind is one probes.Kind: registered, config takes its keys (and
// reports their problems at their positions), rejects keys of other kinds,
// hands its decoded value to the spec, and its behaviour decides what an
// SLI within_sla may use.
func TestNewKindIsOneRegistration(t *testing.T) {
	type pingConfig struct{ Target string }
	t.Cleanup(probes.Register(probes.Kind{
		Name: "ping",
		Keys: []string{"target"},
		Decode: func(f check.Fields) any {
			c := pingConfig{Target: f.Str("target")}
			if c.Target == "" {
				f.Errorf("target", "missing target%s", f.In())
			}
			return c
		},
		Probe: func(_ context.Context, sp check.Spec, _ *probes.Env) check.Result { return sp.PassResult("pong") },
		Behaviour: check.Behaviour{ComponentType: "system",
			Within: func(r check.Result, _ check.Spec) bool { return r.Status != check.Fail }},
	}))
	good := `checks:
  - name: p
    kind: ping
    interval: 1m
    target: 127.0.0.1
slos:
  - check: p
    objective: 99
    sli: within_sla
`
	cfg, err := config.Parse("ping.yml", []byte(good), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := cfg.Checks[0].Config.(pingConfig); !ok || c.Target != "127.0.0.1" {
		t.Errorf("Config = %#v, want the kind's decoded value", cfg.Checks[0].Config)
	}
	if got := cfg.Checks[0].Kind.ComponentType(); got != "system" {
		t.Errorf("componentType = %q", got)
	}

	bad := `checks:
  - name: p
    kind: ping
    interval: 1m
    target: ""
    max_age: 1m
`
	_, err = config.Parse("ping.yml", []byte(bad), func(string) (string, bool) { return "", false })
	var got []string
	for _, p := range config.Problems(err) {
		got = append(got, p.Error())
	}
	want := []string{
		`ping.yml:5:13: missing target in check "p"`,
		`ping.yml:6:5: key "max_age" does not apply to kind "ping" in check "p"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
