package testenv

import (
	"strings"
	"testing"
)

func TestSummary(t *testing.T) {
	mu.Lock()
	saved := skipped
	skipped = map[string][]string{}
	mu.Unlock()
	t.Cleanup(func() { mu.Lock(); skipped = saved; mu.Unlock() })

	if s := Summary("example.com/p"); s != "" {
		t.Fatalf("summary with nothing skipped = %q, want empty", s)
	}
	for _, n := range []string{"TestF", "TestA", "TestB", "TestC", "TestE", "TestA"} {
		record(n, "PostgreSQL test server unreachable at postgres://x@127.0.0.1:1/x — start it or set MONITOR_TEST_POSTGRES")
	}
	record("TestTool/sub", "promtool not installed — apt-get install prometheus")
	want := "!!! SKIPPED in example.com/p: 6 tests, a server or tool is missing (under CI=true this fails):\n" +
		"!!!   PostgreSQL test server unreachable at postgres://x@127.0.0.1:1/x — start it or set MONITOR_TEST_POSTGRES: TestA, TestB, TestC, TestE and 1 more\n" +
		"!!!   promtool not installed — apt-get install prometheus: TestTool/sub\n"
	if got := Summary("example.com/p"); got != want {
		t.Fatalf("summary:\n%s\nwant:\n%s", got, want)
	}
}

func TestUnavailableSkipsLoudly(t *testing.T) {
	t.Setenv("CI", "")
	var msg string
	t.Run("missing", func(t *testing.T) {
		defer func() { msg = strings.Join(skippedFor(t.Name()), "") }()
		Unavailable(t, "Redis test server unreachable at redis://127.0.0.1:1/0", "start it or set MONITOR_TEST_REDIS")
		t.Error("Unavailable returned")
	})
	if !strings.Contains(msg, "Redis test server unreachable") {
		t.Fatalf("the skip was not recorded for the summary: %q", msg)
	}
}

// skippedFor lists the reasons recorded for a test.
func skippedFor(test string) []string {
	mu.Lock()
	defer mu.Unlock()
	var out []string
	for r, tests := range skipped {
		for _, n := range tests {
			if n == test {
				out = append(out, r)
			}
		}
	}
	return out
}
