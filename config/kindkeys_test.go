package config_test

import (
	"strings"
	"testing"

	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/probes"
)

// TestKindKeyProblems: every problem of the kinds' own keys, each at its
// position, all at once (the kinds' decoders live in package probes).
func TestKindKeyProblems(t *testing.T) {
	_, err := parseFile(t, "invalid-kind-keys.yml", nil)
	var got []string
	for _, p := range config.Problems(err) {
		got = append(got, p.Error())
	}
	want := []string{
		`invalid-kind-keys.yml:6:15: undefined database "nope" in check "d"`,
		`invalid-kind-keys.yml:10:19: critical_age 5m < max_age 10m in check "f_http"`,
		`invalid-kind-keys.yml:11:11: skew must be ≥ 0 in check "f_http"`,
		`invalid-kind-keys.yml:12:21: invalid http URL in source of check "f_http" (want an absolute http(s) URL)`,
		`invalid-kind-keys.yml:12:43: invalid json_path "lastEventAt" in source of check "f_http" (want a JSONPath like $.lastEventAt)`,
		`invalid-kind-keys.yml:15:14: max_age must be > 0 in check "f_redis"`,
		`invalid-kind-keys.yml:16:13: missing key in source of check "f_redis"`,
		`invalid-kind-keys.yml:16:22: database "app" is not a redis:// database in source of check "f_redis"`,
		`invalid-kind-keys.yml:17:5: missing max_age in check "f_file"`,
		`invalid-kind-keys.yml:19:21: missing file in source of check "f_file"`,
		`invalid-kind-keys.yml:23:13: empty source in check "f_empty" (want database and query, http, redis and key, file, or heartbeat: true)`,
		`invalid-kind-keys.yml:26:35: invalid URL "nope" in check "l_bad" (want an absolute http(s) URL)`,
		`invalid-kind-keys.yml:26:43: urls in check "l_bad" must be a list of strings`,
		`invalid-kind-keys.yml:27:13: invalid method "PUT" in check "l_bad" (want HEAD or GET)`,
		`invalid-kind-keys.yml:28:18: concurrency must be > 0 in check "l_bad"`,
		`invalid-kind-keys.yml:29:15: per_host must be > 0 in check "l_bad"`,
		`invalid-kind-keys.yml:30:17: invalid fail_ratio 2 in check "l_bad" (want a number from 0 to 1)`,
		`invalid-kind-keys.yml:31:31: invalid status code "99" in check "l_bad" (want 100 to 599)`,
		`invalid-kind-keys.yml:31:35: invalid status code "x" in check "l_bad" (want 100 to 599)`,
		`invalid-kind-keys.yml:35:13: urls and source in check "l_both" exclude each other (want one)`,
		`invalid-kind-keys.yml:36:5: missing urls or source in check "l_none"`,
		`invalid-kind-keys.yml:40:13: missing query in source of check "l_src"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLinkQuorum: quorum defaults to 1, and above 1 is accepted with a
// cluster (the locations are known at run time only).
func TestLinkQuorum(t *testing.T) {
	cfg, err := parseFile(t, "quorum-cluster.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, sp := range cfg.Checks {
		c, _ := probes.LinkConfigOf(sp)
		got[sp.Name] = c.Quorum
	}
	if got["three"] != 3 || got["plain"] != 1 {
		t.Errorf("quorum by check = %v, want three 3 and plain 1", got)
	}
}
