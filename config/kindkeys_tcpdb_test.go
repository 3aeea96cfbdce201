package config_test

import (
	"strings"
	"testing"

	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/probes"
)

// TestTCPAndHeadroomProblems: the keys of kind tcp and of a db check's
// headroom, every problem at its position, all at once.
func TestTCPAndHeadroomProblems(t *testing.T) {
	_, err := parseFile(t, "invalid-tcp-headroom.yml", nil)
	var got []string
	for _, p := range config.Problems(err) {
		got = append(got, p.Error())
	}
	want := []string{
		`invalid-tcp-headroom.yml:6:5: missing address in check "t_none"`,
		`invalid-tcp-headroom.yml:10:14: invalid address "127.0.0.1" in check "t_bad": missing port in address (want host:port, like 127.0.0.1:6379)`,
		`invalid-tcp-headroom.yml:11:13: invalid expect "^+PONG(" in check "t_bad": missing closing ) in "^+PONG("`,
		`invalid-tcp-headroom.yml:14:14: invalid address "broker.internal:99999" in check "t_port": port "99999" is not a number from 1 to 65535 (want host:port, like 127.0.0.1:6379)`,
		`invalid-tcp-headroom.yml:17:14: invalid address ":6379" in check "t_host": no host (want host:port, like 127.0.0.1:6379)`,
		`invalid-tcp-headroom.yml:18:13: empty expect in check "t_host" (want a regular expression the reply must match, or no expect)`,
		`invalid-tcp-headroom.yml:22:23: invalid warn "180%" in headroom of check "h_range" (want a percentage above 0% and at most 100%, like 80%)`,
		`invalid-tcp-headroom.yml:22:39: invalid critical "0%" in headroom of check "h_range" (want a percentage above 0% and at most 100%, like 80%)`,
		`invalid-tcp-headroom.yml:26:23: warn 95% above critical 80% in headroom of check "h_order"`,
		`invalid-tcp-headroom.yml:26:60: max_connections must be > 0 in headroom of check "h_order"`,
		`invalid-tcp-headroom.yml:30:23: invalid warn "0.8" in headroom of check "h_sign" (want a percentage above 0% and at most 100%, like 80%)`,
		`invalid-tcp-headroom.yml:30:38: invalid critical "ninety" in headroom of check "h_sign" (want a percentage above 0% and at most 100%, like 80%)`,
		`invalid-tcp-headroom.yml:34:15: missing warn or critical in headroom of check "h_empty"`,
		`invalid-tcp-headroom.yml:38:15: headroom in check "h_sqlite" needs a postgres:// or mysql:// database; "lite" is sqlite`,
		`invalid-tcp-headroom.yml:42:15: headroom in check "h_redis" needs a postgres:// or mysql:// database; "cache" is redis`,
		`invalid-tcp-headroom.yml:42:32: unknown key "typo" in headroom of check "h_redis"`,
		`invalid-tcp-headroom.yml:46:5: key "headroom" does not apply to kind "tcp" in check "h_tcp"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A valid tcp check and a headroom decode into what the probes read.
func TestTCPAndHeadroomDecode(t *testing.T) {
	cfg, err := config.Parse("ok.yml", []byte(`databases:
  pg: { dsn: "postgres://monitor@127.0.0.1:5432/app" }
  my: { dsn: "mysql://monitor@127.0.0.1:3306/app" }
checks:
  - name: broker
    kind: tcp
    address: "127.0.0.1:6379"
    send: "PING\r\n"
    expect: "^\\+PONG"
  - name: pg_headroom
    kind: db
    database: pg
    headroom: { warn: 80%, critical: 92.5% }
  - name: my_headroom
    kind: db
    database: my
    headroom: { critical: 95%, max_connections: 200 }
`), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	tc, ok := cfg.Checks[0].Config.(probes.TCPConfig)
	if !ok || tc.Address != "127.0.0.1:6379" || tc.Send != "PING\r\n" || tc.Expect == nil || tc.Expect.String() != `^\+PONG` {
		t.Errorf("tcp config = %#v", cfg.Checks[0].Config)
	}
	if got := cfg.Checks[0].Timeout; got <= 0 {
		t.Errorf("tcp timeout = %s, want the default", got)
	}
	for i, want := range []probes.Headroom{{Warn: 80, Critical: 92.5}, {Critical: 95, MaxConnections: 200}} {
		dc, ok := cfg.Checks[i+1].Config.(probes.DBConfig)
		if !ok || dc.Headroom == nil || *dc.Headroom != want {
			t.Errorf("check %s headroom = %#v, want %+v", cfg.Checks[i+1].Name, cfg.Checks[i+1].Config, want)
		}
	}
}

// A component is a public name: blank, with edge spaces, control
// characters or over 100 characters it is refused where it is written.
func TestComponentBlank(t *testing.T) {
	_, err := config.Parse("c.yml", []byte(`checks:
  - name: a
    kind: freshness
    source: { heartbeat: true }
    max_age: 10m
    component: "   "
  - name: b
    kind: freshness
    source: { heartbeat: true }
    max_age: 10m
    component: " Redirects"
  - name: c
    kind: freshness
    source: { heartbeat: true }
    max_age: 10m
    component: Redirects
  - name: d
    kind: freshness
    source: { heartbeat: true }
    max_age: 10m
    component: "Re\ndirects"
  - name: e
    kind: freshness
    source: { heartbeat: true }
    max_age: 10m
    component: "`+strings.Repeat("é", config.MaxComponentName+1)+`"
  - name: f
    kind: freshness
    source: { heartbeat: true }
    max_age: 10m
    component: "`+strings.Repeat("é", config.MaxComponentName)+`"
`), nil)
	var got []string
	for _, p := range config.Problems(err) {
		got = append(got, p.Error())
	}
	want := []string{
		`c.yml:6:16: invalid component "   " in check "a" (want a name without leading or trailing spaces)`,
		`c.yml:11:16: invalid component " Redirects" in check "b" (want a name without leading or trailing spaces)`,
		`c.yml:21:16: invalid component "Re\ndirects" in check "d" (want at most 100 characters and no control characters)`,
		`c.yml:26:16: invalid component "` + strings.Repeat("é", config.MaxComponentName+1) + `" in check "e" (want at most 100 characters and no control characters)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// One value where a list is wanted: the message shows the list to write.
func TestListHint(t *testing.T) {
	_, err := config.Parse("l.yml", []byte(`checks:
  - name: api
    kind: http
    url: http://127.0.0.1:1/health
    status: 200
`), nil)
	got := ""
	for _, p := range config.Problems(err) {
		got += p.Error() + "\n"
	}
	if want := "l.yml:5:13: status in check \"api\" must be a list (write [200] for one)\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
