package probes

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/monitor-dev/monitor/check"
)

// withDeadline bounds one probe run: by spec.Timeout when set, and always by
// the caller's deadline. It returns the timeout to name in messages.
func withDeadline(ctx context.Context, spec check.Spec) (context.Context, context.CancelFunc, time.Duration) {
	timeout := spec.Timeout
	if timeout > 0 {
		// The caller's deadline, when it comes first, is the one to name;
		// asked of the parent, so that the time spent creating the child
		// does not turn a configured 50ms into "timed out after 47ms" on a
		// busy machine.
		if d, ok := ctx.Deadline(); ok {
			if left := time.Until(d); left < timeout {
				timeout = left
			}
		}
		ctx, cancel := context.WithTimeout(ctx, spec.Timeout)
		return ctx, cancel, timeout
	}
	ctx, cancel := context.WithCancel(ctx)
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	return ctx, cancel, timeout
}

// timedOut is the message of a run that hit its deadline.
func timedOut(timeout time.Duration) string {
	if timeout <= 0 {
		return "timed out"
	}
	return "timed out after " + shortDuration(timeout)
}

// shortDuration prints a configured duration the way people write it:
// 2s, 1.5s, 500ms, 1m, 1m30s, 1h.
func shortDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		d = d.Round(100 * time.Millisecond)
	case d >= time.Millisecond:
		d = d.Round(time.Millisecond)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// redact hides passwords known to the pool and any DSN-shaped password.
func (e *Env) redact(s string) string {
	if e != nil && e.Pool != nil {
		return e.Pool.redact(s)
	}
	return check.RedactText(s)
}

// isTimeout reports whether the run's own deadline ended it. A socket that
// timed out at (or a hair before) the context deadline counts: drivers such
// as go-redis copy the deadline onto the socket, which can fire first.
func isTimeout(ctx context.Context, err error) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < deadlineSlack && isTimeoutErr(err)
}

// deadlineSlack is how close to the context deadline a timeout error counts
// as the deadline itself.
const deadlineSlack = 50 * time.Millisecond

func isTimeoutErr(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) ||
		errors.As(err, &netErr) && netErr.Timeout()
}

// describe turns a driver or network error into a short message such as
// `connect: connection refused`, `connect: password authentication failed
// for user "x"`, `query: relation "t" does not exist` or `timed out after 2s`.
// phase names the step that failed when the error itself does not say
// (ping, query, get, http). The caller redacts the message. The reason is
// read from the error's type: timeout, canceled, auth, connect, dns, tls,
// query (a server refusing a statement or command) or error.
func describe(ctx context.Context, phase string, err error, timeout time.Duration) (check.Reason, string) {
	if isTimeout(ctx, err) {
		return check.ReasonTimeout, timedOut(timeout)
	}
	if errors.Is(ctx.Err(), context.Canceled) || errors.Is(err, context.Canceled) {
		return check.ReasonCanceled, "canceled"
	}
	reason, msg := classify(phase, err)
	return reason, strings.TrimSpace(msg)
}

// phaseReason is the reason of a failure the error's type does not name:
// a connect phase is connect, a query or get is query, anything else error.
func phaseReason(phase string) check.Reason {
	switch phase {
	case "connect":
		return check.ReasonConnect
	case "query", "get":
		return check.ReasonQuery
	}
	return check.ReasonError
}

// isCanceled reports whether the caller gave up on the run (shutdown,
// reload), as opposed to the run failing or timing out.
func isCanceled(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled)
}

func classify(phase string, err error) (check.Reason, string) {
	var connErr *pgconn.ConnectError
	isConnect := errors.As(err, &connErr)
	if isConnect {
		phase = "connect"
	}

	// Server-side errors: the server's own words, without the driver's framing.
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 28: invalid authorization specification.
		if strings.HasPrefix(pgErr.Code, "28") {
			return check.ReasonAuth, phase + ": " + pgErr.Message
		}
		return phaseReason(phase), phase + ": " + pgErr.Message
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		switch myErr.Number {
		// access denied (db, password), host not allowed, auth plugin refused
		case 1044, 1045, 1130, 1251, 1698:
			return check.ReasonAuth, "connect: " + myErr.Message
		// too many connections, unknown database
		case 1040, 1049:
			return check.ReasonConnect, "connect: " + myErr.Message
		}
		return phaseReason(phase), phase + ": " + myErr.Message
	}
	var redisErr redis.Error
	if errors.As(err, &redisErr) {
		// The protocol's error prefixes are its error types.
		if redis.IsAuthError(err) || redis.IsPermissionError(err) || redis.HasErrorPrefix(err, "ERR AUTH") {
			return check.ReasonAuth, "connect: " + redisErr.Error()
		}
		return phaseReason(phase), phase + ": " + redisErr.Error()
	}

	// Network errors.
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return check.ReasonDNS, "connect: " + dnsErr.Error()
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		if opErr.Op == "dial" {
			phase = "connect"
		}
		return check.ReasonConnect, phase + ": " + sysText(opErr.Err)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return check.ReasonConnect, "connect: connection refused"
	}
	if isTimeoutErr(err) { // a driver's own timeout, shorter than the run's
		return check.ReasonTimeout, phase + ": i/o timeout"
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return check.ReasonConnect, phase + ": server closed the connection"
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) {
		return check.ReasonConnect, phase + ": invalid connection"
	}
	if errors.Is(err, sql.ErrConnDone) {
		return check.ReasonConnect, phase + ": connection closed"
	}
	reason := phaseReason(phase)
	if isTLSErr(err) {
		reason = check.ReasonTLS
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return reason, phase + ": " + ue.Err.Error() // the URL may carry credentials
	}
	if isConnect {
		if inner := errors.Unwrap(connErr); inner != nil {
			return reason, "connect: " + inner.Error()
		}
	}
	return reason, phase + ": " + err.Error()
}

// sysText is the text of a socket error without Go's syscall prefix:
// "connection refused" rather than "connect: connection refused".
func sysText(err error) string {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	return err.Error()
}

// failed is r with its reason.
func failed(r check.Result, reason check.Reason) check.Result {
	r.Reason = reason
	return r
}
