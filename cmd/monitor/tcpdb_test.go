package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/internal/testenv"
)

// pongServer answers every line PING with +PONG on loopback, for the life
// of the test.
func pongServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					reply := "-ERR unknown command\r\n"
					if strings.TrimSpace(line) == "PING" {
						reply = "+PONG\r\n"
					}
					if _, err := c.Write([]byte(reply)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// serverUp ends t through testenv.Unavailable when nothing listens at the
// address of a test server's DSN.
func serverUp(t *testing.T, what, envVar, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err == nil {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", u.Host, 3*time.Second); err == nil {
			_ = c.Close()
			return dsn
		}
	}
	testenv.Unavailable(t, what+" test server unreachable: "+err.Error(), "start it or set "+envVar)
	return ""
}

// tcpChecks are tcp checks against a loopback server answering PING (pong)
// and a port nothing listens on.
func tcpChecks(pong string, closed int) string {
	return fmt.Sprintf(`  - name: broker
    kind: tcp
    address: "%s"
    send: "PING\r\n"
    expect: "^\\+PONG"
  - name: broker_wrong_reply
    kind: tcp
    address: "%s"
    send: "HELLO\r\n"
    expect: "^\\+PONG"
  - name: broker_down
    kind: tcp
    address: "127.0.0.1:%d"
    severity: CRITICAL
`, pong, pong, closed)
}

// headroomChecks are db checks with headroom whose verdict does not depend
// on what else uses the shared servers: with max_connections 1, the probe's
// own connection is 100% (CRITICAL); with 100000 and warn at 0.0005%, one
// connection is WARN; with 100000 and the usual thresholds it is PASS.
const headroomChecks = `  - name: pg_roomy
    kind: db
    database: pg
    headroom: { warn: 80%, critical: 95%, max_connections: 100000 }
  - name: pg_warn
    kind: db
    database: pg
    headroom: { warn: 0.0005%, critical: 100%, max_connections: 100000 }
  - name: pg_full
    kind: db
    database: pg
    headroom: { warn: 80%, critical: 95%, max_connections: 1 }
  - name: my_roomy
    kind: db
    database: my
    headroom: { warn: 80%, critical: 95% }
  - name: my_full
    kind: db
    database: my
    headroom: { critical: 95%, max_connections: 1 }
`

func headroomDatabases(t *testing.T) string {
	pg := serverUp(t, "PostgreSQL", testenv.EnvPostgres, testenv.Postgres())
	my := serverUp(t, "MariaDB/MySQL", testenv.EnvMySQL, testenv.MySQL())
	return fmt.Sprintf("databases:\n  pg: { dsn: %q }\n  my: { dsn: %q }\n", pg, my)
}

// wantTCPAndHeadroom asserts the verdicts of tcpChecks and headroomChecks,
// as `monitor check` prints them and the daemon serves them.
func wantTCPAndHeadroom(t *testing.T, h healthBody) {
	t.Helper()
	for _, w := range []struct{ name, status, severity, msg string }{
		{"broker", "PASS", "INFO", `^reply matches \^\\\+PONG$`},
		{"broker_wrong_reply", "FAIL", "WARN", `^reply did not match \^\\\+PONG within 2s: "-ERR unknown command\\r\\n"$`},
		{"broker_down", "FAIL", "CRITICAL", `^connect: connection refused$`},
		{"pg_roomy", "PASS", "INFO", `^ok; connections \d+/100000 in use \(0%\)$`},
		{"pg_warn", "FAIL", "WARN", `^connections \d+/100000 in use \(0%\), warn at 0\.0005%$`},
		{"pg_full", "FAIL", "CRITICAL", `^connections \d+/1 in use \(\d+%\), critical at 95%$`},
		{"my_roomy", "PASS", "INFO", `^ok; connections \d+/\d+ in use \(\d+%\)$`},
		{"my_full", "FAIL", "CRITICAL", `^connections \d+/1 in use \(\d+%\), critical at 95%$`},
	} {
		c := wantCheck(t, h, w.name, w.status, w.severity)
		if !regexp.MustCompile(w.msg).MatchString(c.Message) {
			t.Errorf("%s message = %q, want it to match %s", w.name, c.Message, w.msg)
		}
		if w.status == "PASS" && (c.ObservedValue == nil || c.ObservedUnit != "s") {
			t.Errorf("%s observed %v %q, want a time in s", w.name, c.ObservedValue, c.ObservedUnit)
		}
	}
}

// TestCheckTCPAndHeadroom: `monitor check` runs tcp checks and db checks
// with headroom against real servers, prints their verdicts and exits 1
// for the FAILs.
func TestCheckTCPAndHeadroom(t *testing.T) {
	dbs := headroomDatabases(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	writeFile(t, cfg, dbs+"defaults: { interval: 30s, timeout: 2s }\nchecks:\n"+
		tcpChecks(pongServer(t), closedPort(t))+headroomChecks)

	code, stdout, stderr := runMain(t, "check", "--config", cfg, "--format", "json")
	if code != 1 {
		t.Fatalf("check = %d, want 1 (FAILs); stdout %s stderr %s", code, stdout, stderr)
	}
	h := decodeCheck(t, stdout)
	if h.Status != "FAIL" || h.Severity != "CRITICAL" {
		t.Errorf("overall = %s/%s, want FAIL/CRITICAL", h.Status, h.Severity)
	}
	wantTCPAndHeadroom(t, h)

	// Only the passing ones: exit 0.
	code, stdout, _ = runMain(t, "check", "--config", cfg, "--only", "broker,pg_roomy,my_roomy")
	if code != 0 || !regexp.MustCompile(`(?m)^broker\s+tcp\s+PASS\s+INFO\s`).MatchString(stdout) {
		t.Errorf("check --only the passing ones = %d:\n%s", code, stdout)
	}
}

// TestE2ETCPAndHeadroom: the daemon serves the same verdicts in its health
// API (503: a CRITICAL FAIL) and the connection series in /metrics.
func TestE2ETCPAndHeadroom(t *testing.T) {
	t.Parallel()
	dbs := headroomDatabases(t)
	pong, closed := pongServer(t), closedPort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	p := startMonitor(t, dir, func(listen string) (string, string) {
		return cfg, fmt.Sprintf("server:\n  listen: %q\n", listen) + dbs +
			"defaults: { interval: 3s, timeout: 2s }\nchecks:\n" + tcpChecks(pong, closed) + headroomChecks
	}, []string{"--config", cfg})
	names := []string{"broker", "broker_wrong_reply", "broker_down", "pg_roomy", "pg_warn", "pg_full", "my_roomy", "my_full"}
	p.waitHealth(15*time.Second, "every check has run", allRan(names...))
	h, code, _ := p.health()
	if code != http.StatusServiceUnavailable {
		t.Errorf("health = %d, want 503 (CRITICAL FAILs)", code)
	}
	wantTCPAndHeadroom(t, h)

	_, body := p.do(http.MethodGet, "/metrics", nil, "")
	m := parseMetrics(t, string(body))
	if v := m.get(t, "monitor_db_max_connections", "check", "pg_full"); v != 1 {
		t.Errorf("monitor_db_max_connections{check=pg_full} = %v, want the override 1", v)
	}
	if v := m.get(t, "monitor_db_connections", "check", "pg_full", "state", "active"); v < 1 {
		t.Errorf("monitor_db_connections{check=pg_full,state=active} = %v, want the probe's own query at least", v)
	}
	if !m.any("monitor_db_connections", "check", "pg_full", "state", "idle in transaction") {
		t.Error("monitor_db_connections has no idle in transaction series for pg_full (want every state, 0 when empty)")
	}
	if v := m.get(t, "monitor_db_max_connections", "check", "my_roomy"); v < 1 {
		t.Errorf("monitor_db_max_connections{check=my_roomy} = %v, want the server's max_connections", v)
	}
	if v := m.get(t, "monitor_db_connections", "check", "my_roomy", "state", "running"); v < 1 {
		t.Errorf("monitor_db_connections{check=my_roomy,state=running} = %v, want the probe's own query at least", v)
	}
	if m.any("monitor_db_connections", "check", "broker") || m.any("monitor_db_max_connections", "check", "broker") {
		t.Error("a tcp check exports connection series")
	}
	if v := m.get(t, "monitor_check_status", "check", "broker_down", "status", "FAIL"); v != 1 {
		t.Errorf("monitor_check_status{check=broker_down,status=FAIL} = %v, want 1", v)
	}
}

// TestValidateTCPAndHeadroom: `monitor validate` reports the problems of
// tcp checks and headroom at their file:line:col and exits 2.
func TestValidateTCPAndHeadroom(t *testing.T) {
	path := filepath.Join("..", "..", "config", "testdata", "invalid-tcp-headroom.yml")
	code, stdout, stderr := runMain(t, "validate", "--config", path)
	if code != 2 || stdout != "" {
		t.Fatalf("validate = %d, stdout %q, want 2 and nothing", code, stdout)
	}
	for _, want := range []string{
		path + `:10:14: invalid address "127.0.0.1" in check "t_bad": missing port in address (want host:port, like 127.0.0.1:6379)`,
		path + `:11:13: invalid expect "^+PONG(" in check "t_bad": missing closing ) in "^+PONG("`,
		path + `:26:23: warn 95% above critical 80% in headroom of check "h_order"`,
		path + `:38:15: headroom in check "h_sqlite" needs a postgres:// or mysql:// database; "lite" is sqlite`,
	} {
		if !strings.Contains(stderr, want+"\n") {
			t.Errorf("stderr lacks\n%s\ngot\n%s", want, stderr)
		}
	}
}
