// Package testenv is the tests' shared environment: the addresses of the
// real servers the tests talk to, and what happens when one of them (or a
// tool like promtool) is missing.
//
// Addresses come from the environment, with defaults matching a developer
// machine and CI:
//
//	MONITOR_TEST_POSTGRES  postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//	MONITOR_TEST_MYSQL     mysql://root@127.0.0.1:3306/test
//	MONITOR_TEST_REDIS     redis://127.0.0.1:6379/0
//
// A test whose server or tool is missing fails under CI=true and is skipped
// loudly elsewhere ("!!! SKIPPED: ..."). `go test ./...` hides the output of
// a passing package unless -v is given, so a package's TestMain calls Main,
// which prints a summary of its skipped tests after the run: on stderr, and
// on the terminal (/dev/tty) when there is one and the run is not verbose.
// A run that skipped such a test is not cached by the go command, so the
// summary shows again on the next run instead of a silent "(cached)".
package testenv

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Default addresses of the test servers.
const (
	DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultMySQL    = "mysql://root@127.0.0.1:3306/test"
	DefaultRedis    = "redis://127.0.0.1:6379/0"
)

// Environment variables naming the test servers.
const (
	EnvPostgres = "MONITOR_TEST_POSTGRES"
	EnvMySQL    = "MONITOR_TEST_MYSQL"
	EnvRedis    = "MONITOR_TEST_REDIS"
)

// Postgres is the DSN of the PostgreSQL test server.
func Postgres() string { return getenv(EnvPostgres, DefaultPostgres) }

// MySQL is the DSN of the MariaDB/MySQL test server.
func MySQL() string { return getenv(EnvMySQL, DefaultMySQL) }

// Redis is the DSN of the Redis test server.
func Redis() string { return getenv(EnvRedis, DefaultRedis) }

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// CI reports whether the tests run under CI=true, where every real-server
// test must run.
func CI() bool { return os.Getenv("CI") == "true" }

// Unavailable ends t because something it needs is missing: a failure under
// CI=true, a loud skip elsewhere, remembered for Main's summary. what says
// what is missing (already redacted: it is printed as given), fix how to
// get it.
func Unavailable(t testing.TB, what, fix string) {
	t.Helper()
	if CI() {
		t.Fatalf("%s (%s); it is required under CI=true", what, fix)
	}
	marker()
	record(t.Name(), what+" — "+fix)
	t.Skipf("!!! SKIPPED: %s — %s; under CI=true this is a failure", what, fix)
}

// Tool returns the path of an executable from a Debian package, or ends t
// through Unavailable.
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := lookTool(name)
	if err != nil {
		Unavailable(t, name+" not installed", "apt-get install "+pkg)
	}
	return path
}

// lookTool finds name on PATH, or in /usr/bin where Debian puts it.
func lookTool(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err == nil {
		return path, nil
	}
	if _, serr := os.Stat("/usr/bin/" + name); serr == nil {
		return "/usr/bin/" + name, nil
	}
	return "", err
}

var (
	mu      sync.Mutex
	skipped = map[string][]string{} // reason → test names
)

func record(test, reason string) {
	reason = strings.Join(strings.Fields(reason), " ") // one line, even for a multi-line error
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(skipped[reason], test) {
		skipped[reason] = append(skipped[reason], test)
	}
}

// Main runs the tests, prints the summary of skipped real-server tests and
// exits: a package's TestMain is `func TestMain(m *testing.M) { testenv.Main(m) }`.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit, for a TestMain with its own cleanup.
func Run(m *testing.M) int {
	code := m.Run()
	Report()
	return code
}

// Report prints the summary of the tests skipped so far, if any: on stderr
// and, in a run that is not verbose, on the terminal too.
func Report() {
	s := Summary(packagePath())
	if s == "" {
		return
	}
	fmt.Fprint(os.Stderr, s)
	if !testing.Verbose() {
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			_, _ = io.WriteString(tty, s)
			_ = tty.Close()
		}
	}
	noCache()
}

// Summary is the text Report prints for pkg: one line per reason, with the
// tests it skipped; "" when nothing was skipped.
func Summary(pkg string) string {
	mu.Lock()
	defer mu.Unlock()
	if len(skipped) == 0 {
		return ""
	}
	reasons := make([]string, 0, len(skipped))
	n := 0
	for r, tests := range skipped {
		reasons = append(reasons, r)
		n += len(tests)
	}
	slices.Sort(reasons)
	var b strings.Builder
	fmt.Fprintf(&b, "!!! SKIPPED in %s: %d %s, a server or tool is missing (under CI=true this fails):\n", pkg, n, plural(n, "test"))
	for _, r := range reasons {
		tests := slices.Sorted(slices.Values(skipped[r]))
		list := strings.Join(tests[:min(len(tests), 4)], ", ")
		if len(tests) > 4 {
			list += fmt.Sprintf(" and %d more", len(tests)-4)
		}
		fmt.Fprintf(&b, "!!!   %s: %s\n", r, list)
	}
	return b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// packagePath names the package under test, from the test binary's build
// information.
func packagePath() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Path != "" {
		return strings.TrimSuffix(bi.Path, ".test")
	}
	return filepath.Base(os.Args[0])
}

// The go command caches a passing package together with the files inside
// the module its tests opened, unless one of them was modified less than
// two seconds before the run ended. A test that skips opens the marker
// .testenv-skipped at the module root (git-ignored), and Report rewrites it
// after the run: the run is not cached, so the next one tries the servers
// again and prints the summary again instead of a silent "ok (cached)".
// (The open is logged for the go command only while tests run, the write
// must come after them.)
var marker = sync.OnceValue(func() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			path := filepath.Join(dir, ".testenv-skipped")
			if f, err := os.Open(path); err == nil {
				_ = f.Close()
			}
			return path
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
})

func noCache() {
	if path := marker(); path != "" {
		_ = os.WriteFile(path, []byte("the last test run skipped real-server tests (see internal/testenv)\n"), 0o644)
	}
}
