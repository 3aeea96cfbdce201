package probes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/monitor-dev/monitor/check"
)

// KindTCP is the kind tcp: a TCP service that accepts connections and,
// optionally, answers a line with the expected reply.
const KindTCP check.Kind = "tcp"

// tcpKind is the kind tcp, for brokers and services without HTTP. A
// timeout is a FAIL (the service did not answer); the observed value is the
// connect time, drawn on the status page like a database's round trip.
var tcpKind = Kind{
	Name:      KindTCP,
	Keys:      []string{"address", "send", "expect"},
	Decode:    decodeTCP,
	Probe:     ProbeTCP,
	Behaviour: check.Behaviour{TimeoutStatus: check.Fail, ComponentType: "component", Chart: "Response time"},
}

// maxTCPReply bounds what a tcp check reads of a reply while it waits for
// expect to match: a service that streams forever cannot fill memory.
const maxTCPReply = 64 << 10

// replyExcerpt bounds the part of a reply a message shows.
const replyExcerpt = 64

// TCPConfig is the configuration of a tcp check (check.Spec.Config).
//
// The yaml tags name the check's keys (docs/config.md is generated from
// them and from these comments).
type TCPConfig struct {
	// Address is the service's host:port (port 1 to 65535). Required.
	Address string `yaml:"address"`
	// Send is written once connected, as is ("PING\r\n" in double quotes
	// sends CR LF); optional.
	Send string `yaml:"send"`
	// Expect is a regular expression the reply must match (read up to 64
	// KiB within the timeout; without send, a banner such as ^220 ); unset:
	// connecting is enough.
	Expect *regexp.Regexp `yaml:"expect" ref:"regular expression"`
}

func decodeTCP(f check.Fields) any {
	c := TCPConfig{Address: f.Str("address"), Send: f.Str("send")}
	if !f.Has("address") {
		f.Errorf("", "missing address%s", f.In())
	} else if err := validAddress(c.Address); err != nil {
		f.Errorf("address", "invalid address %q%s: %s (want host:port, like 127.0.0.1:6379)", c.Address, f.In(), err)
	}
	if f.Has("expect") {
		re, err := regexp.Compile(f.Str("expect"))
		if f.Str("expect") == "" {
			// An empty expression matches any reply, even none worth the name.
			f.Errorf("expect", "empty expect%s (want a regular expression the reply must match, or no expect)", f.In())
		} else if err != nil {
			f.Errorf("expect", "invalid expect %q%s: %s", f.Raw("expect"), f.In(), regexpProblem(err))
		}
		c.Expect = re
	}
	return c
}

// validAddress accepts host:port with a host and a numeric port 1–65535.
func validAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return errors.New(ae.Err)
		}
		return err
	}
	if host == "" {
		return errors.New("no host")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return nil
}

// regexpProblem is a regexp error without the package's "error parsing
// regexp: " prefix, which the message already says.
func regexpProblem(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return fmt.Sprintf("%s in %q", se.Code, se.Expr)
	}
	return err.Error()
}

// ProbeTCP connects to the check's address (kind: tcp), writes send when
// set, and reads until the reply matches expect when set:
//
//	connected                        PASS  "connected"
//	reply matches                    PASS  "reply matches ^\+PONG"
//	nothing listens                  FAIL  "connect: connection refused"
//	name does not resolve            FAIL  "connect: lookup x: no such host"
//	no answer within the timeout     FAIL  "connect: timed out after 2s", "no reply within 2s"
//	reply does not match             FAIL  `reply did not match ^\+PONG: "-ERR unknown command"`
//
// The observed value is the connect time in seconds. The SSRF guard does
// not apply (these are the operator's own services) unless
// server.guard_checks is set.
func ProbeTCP(ctx context.Context, spec check.Spec, env *Env) check.Result {
	ctx, cancel, timeout := withDeadline(ctx, spec)
	defer cancel()
	c, _ := spec.Config.(TCPConfig)

	// The guard is off unless server.guard_checks puts it on.
	d := net.Dialer{Control: env.checkGuard(spec).control()}
	start := time.Now()
	conn, err := d.DialContext(ctx, "tcp", c.Address)
	connect := time.Since(start)
	if err != nil {
		return tcpFailure(ctx, spec, env, "connect", err, timeout, nil)
	}
	defer conn.Close()
	// The run's deadline bounds the exchange, and giving up on the run
	// (shutdown, reload) ends a read at once.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	pass := func(msg string) check.Result {
		r := spec.PassResult(msg)
		r.ObservedValue, r.ObservedUnit = check.Value(connect.Seconds()), "s"
		return r
	}
	if c.Send != "" {
		if _, err := io.WriteString(conn, c.Send); err != nil {
			return tcpFailure(ctx, spec, env, "send", err, timeout, nil)
		}
	}
	if c.Expect == nil {
		return pass("connected")
	}

	buf := make([]byte, 0, 512)
	chunk := make([]byte, 4096)
	for {
		n, err := conn.Read(chunk[:min(len(chunk), maxTCPReply-len(buf))])
		buf = append(buf, chunk[:n]...)
		if c.Expect.Match(buf) {
			return pass("reply matches " + c.Expect.String())
		}
		if len(buf) >= maxTCPReply {
			return failed(spec.FailResult(env.redact(fmt.Sprintf("reply did not match %s in its first %d KiB: %s",
				c.Expect, maxTCPReply>>10, excerpt(echoSafe(buf, c.Send))))), check.ReasonQuery)
		}
		if err != nil {
			return tcpFailure(ctx, spec, env, "reply", err, timeout, buf)
		}
	}
}

// tcpFailure is the result of a tcp check that failed in phase (connect,
// send or reply), having read reply so far.
func tcpFailure(ctx context.Context, spec check.Spec, env *Env, phase string, err error,
	timeout time.Duration, reply []byte) check.Result {
	if isCanceled(ctx) {
		return failed(spec.UnknownResult("canceled before the service answered"), check.ReasonCanceled)
	}
	c, _ := spec.Config.(TCPConfig)
	reply = echoSafe(reply, c.Send)
	var blocked *blockedError
	if errors.As(err, &blocked) {
		return failed(spec.FailResult(blocked.Error()+"; server.guard_checks is on"), check.ReasonBlocked)
	}
	var reason check.Reason
	var msg string
	switch {
	case phase == "reply" && len(reply) > 0 && errors.Is(err, io.EOF):
		// Something came back, just not what was expected.
		reason, msg = check.ReasonQuery, fmt.Sprintf("reply did not match %s: %s", c.Expect, excerpt(reply))
	case phase == "reply" && len(reply) > 0 && isTimeout(ctx, err):
		reason, msg = check.ReasonQuery, fmt.Sprintf("reply did not match %s within %s: %s",
			c.Expect, shortDuration(timeout), excerpt(reply))
	case phase == "reply" && errors.Is(err, io.EOF):
		reason, msg = check.ReasonConnect, "server closed the connection without a reply"
	case phase == "reply" && isTimeout(ctx, err):
		reason, msg = check.ReasonTimeout, "no reply within "+shortDuration(timeout)
	case isTimeout(ctx, err):
		reason, msg = check.ReasonTimeout, phase+": "+timedOut(timeout)
	default:
		reason, msg = classify(phase, err)
		if reason == check.ReasonError && phase == "connect" {
			reason = check.ReasonConnect
		}
	}
	return failed(spec.FailResult(env.redact(msg)), reason)
}

// echoSafe hides, in a reply, the arguments of the line sent (its words
// after the first, of 4 bytes or more): a server that echoes what it did
// not understand ("-ERR unknown command 'AUTH hunter22'") would otherwise
// put a password sent as send: "AUTH ${REDIS_PASSWORD}\r\n" into the
// message, which the health API and alerts carry. The command itself
// stays visible: "unknown command 'HELO'" is what the reader needs.
func echoSafe(reply []byte, send string) []byte {
	words := strings.Fields(send)
	for _, w := range words[min(1, len(words)):] {
		if len(w) >= 4 {
			reply = bytes.ReplaceAll(reply, []byte(w), []byte("***"))
		}
	}
	return reply
}

// excerpt shows the start of a reply in a message: quoted, with control
// and invalid bytes escaped, cut at replyExcerpt bytes on a rune boundary.
func excerpt(b []byte) string {
	if len(b) <= replyExcerpt {
		return strconv.Quote(string(b))
	}
	cut := replyExcerpt
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	if cut == 0 { // not text: cut anywhere, the bytes are escaped anyway
		cut = replyExcerpt
	}
	return strconv.Quote(string(b[:cut])) + "…"
}
