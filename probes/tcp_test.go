package probes

import (
	"bufio"
	"context"
	"net"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/testenv"
)

func tcpSpec(addr, send, expect string, timeout time.Duration) check.Spec {
	c := TCPConfig{Address: addr, Send: send}
	if expect != "" {
		c.Expect = regexp.MustCompile(expect)
	}
	return check.Spec{Name: "tcp_check", Kind: KindTCP, Config: c, Timeout: timeout, Severity: check.Critical}
}

// tcpServer is rawServer for servers that need no quit signal: it hands
// every connection to serve; the listener and the connections close at the
// end of the test.
func tcpServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	return rawServer(t, func(c net.Conn, _ <-chan struct{}) { serve(c) })
}

// lineServer answers each line it reads with reply(line), until the client
// goes; an empty reply closes the connection.
func lineServer(t *testing.T, reply func(line string) string) string {
	return tcpServer(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			out := reply(strings.TrimRight(line, "\r\n"))
			if out == "" {
				_ = c.Close()
				return
			}
			if _, err := c.Write([]byte(out)); err != nil {
				return
			}
		}
	})
}

func redisAddr(t *testing.T) string {
	u, err := url.Parse(redisDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func TestProbeTCP(t *testing.T) {
	t.Parallel()
	const timeout = 500 * time.Millisecond
	pong := lineServer(t, func(line string) string {
		if line == "PING" {
			return "+PONG\r\n"
		}
		return "-ERR unknown command '" + line + "'\r\n"
	})
	banner := tcpServer(t, func(c net.Conn) { _, _ = c.Write([]byte("220 mail.test ESMTP ready\r\n")) })
	closesAfterReply := lineServer(t, func(string) string { return "" })
	partThenSilence := tcpServer(t, func(c net.Conn) { _, _ = c.Write([]byte("+PO")) })
	binary := tcpServer(t, func(c net.Conn) { _, _ = c.Write([]byte("\x00\xff\x1b[31mred\r\n")) })
	flood := tcpServer(t, func(c net.Conn) {
		b := []byte(strings.Repeat("x", 8192))
		for {
			if _, err := c.Write(b); err != nil {
				return
			}
		}
	})

	cases := []struct {
		name   string
		spec   func(t *testing.T) check.Spec
		status check.Status
		reason check.Reason
		msg    string // regexp
	}{
		{"connect only", func(*testing.T) check.Spec { return tcpSpec(pong, "", "", timeout) },
			check.Pass, "", `^connected$`},
		{"send and expect", func(*testing.T) check.Spec { return tcpSpec(pong, "PING\r\n", `^\+PONG`, timeout) },
			check.Pass, "", `^reply matches \^\\\+PONG$`},
		{"real Redis answers PING", func(t *testing.T) check.Spec {
			return tcpSpec(redisAddr(t), "PING\r\n", `^\+PONG\r\n`, 2*time.Second)
		}, check.Pass, "", `^reply matches`},
		{"banner without send", func(*testing.T) check.Spec { return tcpSpec(banner, "", `^220 `, timeout) },
			check.Pass, "", `^reply matches \^220 $`},
		{"reply does not match", func(*testing.T) check.Spec { return tcpSpec(pong, "HELLO\r\n", `^\+PONG`, timeout) },
			check.Fail, check.ReasonQuery, `^reply did not match \^\\\+PONG within 500ms: "-ERR unknown command 'HELLO'\\r\\n"$`},
		{"an echoed password is hidden", func(*testing.T) check.Spec {
			return tcpSpec(pong, "AUTH monitor hunter2-secret\r\n", `^\+OK`, timeout)
		}, check.Fail, check.ReasonQuery, `^reply did not match \^\\\+OK within 500ms: "-ERR unknown command 'AUTH \*\*\* \*\*\*'\\r\\n"$`},
		{"real Redis refuses a command", func(t *testing.T) check.Spec {
			return tcpSpec(redisAddr(t), "NOSUCHCOMMAND\r\n", `^\+PONG`, 2*time.Second)
		}, check.Fail, check.ReasonQuery, `^reply did not match \^\\\+PONG within 2s: "-ERR unknown command`},
		{"control bytes escaped", func(*testing.T) check.Spec { return tcpSpec(binary, "", `^OK`, timeout) },
			check.Fail, check.ReasonQuery, `: "\\x00\\xff\\x1b\[31mred\\r\\n"$`},
		{"server closes without a reply", func(*testing.T) check.Spec {
			return tcpSpec(closesAfterReply, "PING\r\n", `^\+PONG`, timeout)
		}, check.Fail, check.ReasonConnect, `^server closed the connection without a reply$`},
		{"part of a reply, then silence", func(*testing.T) check.Spec {
			return tcpSpec(partThenSilence, "", `^\+PONG`, timeout)
		}, check.Fail, check.ReasonQuery, `^reply did not match \^\\\+PONG within 500ms: "\+PO"$`},
		{"accepts but never answers", func(t *testing.T) check.Spec {
			return tcpSpec(testenv.Silent(t), "PING\r\n", `^\+PONG`, timeout)
		}, check.Fail, check.ReasonTimeout, `^no reply within 500ms$`},
		{"accepts, connect only", func(t *testing.T) check.Spec { return tcpSpec(testenv.Silent(t), "", "", timeout) },
			check.Pass, "", `^connected$`},
		{"endless reply", func(*testing.T) check.Spec { return tcpSpec(flood, "", `^OK`, 5*time.Second) },
			check.Fail, check.ReasonQuery, `^reply did not match \^OK in its first 64 KiB: "x{64}"…$`},
		{"refused", func(t *testing.T) check.Spec { return tcpSpec(closedAddr(t), "PING\r\n", "", timeout) },
			check.Fail, check.ReasonConnect, `^connect: connection refused$`},
		{"unresolvable name", func(*testing.T) check.Spec {
			return tcpSpec("no-such-host.monitor-test.invalid:6379", "", "", 2*time.Second)
		}, check.Fail, check.ReasonDNS, `^connect: lookup no-such-host\.monitor-test\.invalid.*: no such host$`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sp := tc.spec(t)
			start := time.Now()
			r := ProbeTCP(context.Background(), sp, nil)
			if took := time.Since(start); took > sp.Timeout+750*time.Millisecond {
				t.Errorf("took %s, timeout %s", took, sp.Timeout)
			}
			if r.Status != tc.status || r.Reason != tc.reason || !regexp.MustCompile(tc.msg).MatchString(r.Message) {
				t.Fatalf("got %s (%s) %q, want %s (%s) matching %s", r.Status, r.Reason, r.Message, tc.status, tc.reason, tc.msg)
			}
			switch r.Status {
			case check.Pass:
				if r.Severity != check.Info || r.ObservedValue == nil || *r.ObservedValue <= 0 || *r.ObservedValue > sp.Timeout.Seconds() || r.ObservedUnit != "s" {
					t.Errorf("PASS with severity %s, observed %v %q; want INFO and the connect time in s", r.Severity, r.ObservedValue, r.ObservedUnit)
				}
			case check.Fail:
				if r.Severity != check.Critical {
					t.Errorf("FAIL with severity %s, want the check's CRITICAL", r.Severity)
				}
			}
		})
	}
}

// A run given up (shutdown, reload) while waiting for a reply ends at once,
// UNKNOWN: the service was not seen failing.
func TestProbeTCPCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	r := ProbeTCP(ctx, tcpSpec(testenv.Silent(t), "PING\r\n", `^\+PONG`, 10*time.Second), nil)
	if r.Status != check.Unknown || r.Reason != check.ReasonCanceled {
		t.Errorf("got %s (%s) %q, want UNKNOWN (canceled)", r.Status, r.Reason, r.Message)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s after the cancel, want it to end at once", took)
	}
}

// A tcp check is drawn on the status page as a response time and its
// timeout is a FAIL.
func TestTCPKindBehaviour(t *testing.T) {
	b := KindTCP.Behaviour()
	if b.Chart != "Response time" || b.TimeoutStatus != check.Fail {
		t.Errorf("tcp behaviour = %+v, want Chart \"Response time\" and timeouts FAIL", b)
	}
}

// The SSRF guard is off for a tcp check (operators monitor internal
// services), on with server.guard_checks: loopback is refused at dial time.
func TestProbeTCPGuardChecks(t *testing.T) {
	t.Parallel()
	addr := lineServer(t, func(string) string { return "+PONG\r\n" })
	sp := tcpSpec(addr, "PING\r\n", `^\+PONG`, time.Second)
	if r := ProbeTCP(context.Background(), sp, nil); r.Status != check.Pass {
		t.Errorf("unguarded: %s %q, want PASS", r.Status, r.Message)
	}
	sp.Guarded = true
	r := ProbeTCP(context.Background(), sp, nil)
	if r.Status != check.Fail || r.Reason != check.ReasonBlocked ||
		r.Message != "destination "+addr+" is a loopback, private or reserved address; server.guard_checks is on" {
		t.Errorf("guarded: %s (%s) %q, want FAIL blocked naming server.guard_checks", r.Status, r.Reason, r.Message)
	}
}
