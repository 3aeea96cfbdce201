package probes

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/textproto"
	"os"
	"strings"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// KindTLS is the kind tls: a TLS service's certificate chain and expiry.
const KindTLS check.Kind = "tls"

// Default certificate expiry thresholds of a tls check.
const (
	DefaultCertWarn     = 21 * 24 * time.Hour
	DefaultCertCritical = 7 * 24 * time.Hour
)

// maxPEMFile bounds a ca_file, cert_file or key_file.
const maxPEMFile = 1 << 20

// maxStartTLSChatter bounds what a server may say before STARTTLS.
const maxStartTLSChatter = 64 << 10

// tlsKind is the kind tls: connect to address (optionally after STARTTLS),
// verify the chain and judge the leaf's days left.
var tlsKind = Kind{
	Name:      KindTLS,
	Keys:      []string{"address", "server_name", "ca_file", "cert_file", "key_file", "cert_expiry", "starttls"},
	Decode:    decodeTLS,
	Probe:     ProbeTLS,
	Behaviour: check.Behaviour{TimeoutStatus: check.Fail, ComponentType: "component"},
}

// TLSConfig is the configuration of a tls check (check.Spec.Config).
//
// The yaml tags name the check's keys (docs/config.md is generated from
// them and from these comments).
type TLSConfig struct {
	// Address is the service's host:port (port 1 to 65535). Required.
	Address string `yaml:"address"`
	// ServerName is the name the certificate is verified for; default the
	// host of address.
	ServerName string   `yaml:"server_name"`
	Files      TLSFiles `yaml:",inline"`
	// CertExpiry judges the leaf certificate's days left.
	CertExpiry Expiry `yaml:"cert_expiry"`
	// StartTLS speaks a protocol before the handshake: smtp (EHLO then
	// STARTTLS) or postgres (PostgreSQL's SSLRequest); unset: TLS from the
	// first byte (443, 465, 993).
	StartTLS string `yaml:"starttls" ref:"smtp | postgres"`
}

// TLSFiles are a check's certificate files: CAFile trusts a private CA
// (besides the system's); CertFile and KeyFile are a client certificate
// (mTLS). They are read at every run, so that a renewed certificate is
// picked up without a reload.
type TLSFiles struct {
	// CAFile is a PEM file of a private CA, trusted besides the system's
	// roots; relative to the config file's directory.
	CAFile string `yaml:"ca_file"`
	// CertFile is a PEM client certificate (mTLS); needs key_file.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the client certificate's PEM key; needs cert_file.
	KeyFile string `yaml:"key_file"`
}

// Expiry is cert_expiry: a leaf certificate with at most Warn left FAILs
// WARN, with at most Critical left FAILs CRITICAL (zero: not judged).
type Expiry struct {
	// Warn: a certificate with at most this long left FAILs WARN; > 0.
	Warn time.Duration `yaml:"warn"`
	// Critical: at most this long left FAILs CRITICAL; > 0 and ≤ warn.
	Critical time.Duration `yaml:"critical"`
}

func decodeTLS(f check.Fields) any {
	c := TLSConfig{
		Address:    f.Str("address"),
		ServerName: f.Str("server_name"),
		Files:      decodeTLSFiles(f),
		CertExpiry: decodeExpiry(f, Expiry{Warn: DefaultCertWarn, Critical: DefaultCertCritical}),
		StartTLS:   strings.ToLower(f.Str("starttls")),
	}
	switch host, port, err := net.SplitHostPort(c.Address); {
	case !f.Has("address"):
		f.Errorf("", "missing address%s", f.In())
	case err != nil || host == "" || !validPort(port):
		f.Errorf("address", "invalid address %q%s (want host:port, like mail.example.com:465)", c.Address, f.In())
	case c.ServerName == "":
		c.ServerName = host
	}
	switch c.StartTLS {
	case "", "smtp", "postgres":
	default:
		f.Errorf("starttls", "invalid starttls %q%s (want smtp or postgres)", f.Raw("starttls"), f.In())
	}
	return c
}

func validPort(p string) bool {
	var n int
	_, err := fmt.Sscanf(p, "%d", &n)
	return err == nil && n > 0 && n <= 65535 && fmt.Sprint(n) == p
}

// decodeTLSFiles reads ca_file, cert_file and key_file, and loads them
// once, so that `monitor validate` reports a file that cannot be used.
func decodeTLSFiles(f check.Fields) TLSFiles {
	t := TLSFiles{CAFile: f.Path("ca_file"), CertFile: f.Path("cert_file"), KeyFile: f.Path("key_file")}
	if t.CAFile != "" {
		if _, err := t.roots(); err != nil {
			f.Errorf("ca_file", "%v%s", err, f.In())
		}
	}
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		f.Errorf("cert_file", "cert_file without key_file%s (want both for a client certificate)", f.In())
	case t.KeyFile != "" && t.CertFile == "":
		f.Errorf("key_file", "key_file without cert_file%s (want both for a client certificate)", f.In())
	case t.CertFile != "":
		if _, err := t.clientCert(); err != nil {
			f.Errorf("cert_file", "%v%s", err, f.In())
		}
	}
	return t
}

// decodeExpiry reads cert_expiry: {warn, critical}.
func decodeExpiry(f check.Fields, def Expiry) Expiry {
	if !f.Has("cert_expiry") {
		return def
	}
	sub, ok := f.Map("cert_expiry", "cert_expiry of "+f.Where(), "warn", "critical")
	if !ok {
		return def
	}
	warn, okW := positiveDuration(sub, "warn")
	critical, okC := positiveDuration(sub, "critical")
	e := Expiry{Warn: warn, Critical: critical}
	switch {
	case !sub.Has("warn") && !sub.Has("critical"):
		f.Errorf("cert_expiry", "empty cert_expiry%s (want warn, critical or both, like {warn: 21d, critical: 7d})", f.In())
	case !okW || !okC:
	case e.Warn > 0 && e.Critical > 0 && e.Critical > e.Warn:
		sub.Errorf("critical", "critical %s > warn %s%s (critical is the fewer days left)",
			check.FormatDuration(e.Critical), check.FormatDuration(e.Warn), sub.In())
	}
	return e
}

// positiveDuration reads a threshold of latency or cert_expiry: 0 when
// absent; a zero or negative one is reported, since 0s would silently
// switch the threshold off. ok is false when the value was reported.
func positiveDuration(f check.Fields, key string) (d time.Duration, ok bool) {
	if !f.Has(key) {
		return 0, true
	}
	const malformed = time.Duration(math.MinInt64)
	switch d = f.Duration(key, malformed); {
	case d == malformed: // reported by Duration
		return 0, false
	case d <= 0:
		f.Errorf(key, "%s must be > 0%s", key, f.In())
		return 0, false
	}
	return d, true
}

// fileError is a certificate file that cannot be used. Error names the
// file's path, for `monitor validate`; Short names only the key, for a
// run's result, which the health API, logs and alerts carry: where the
// client key lives is the operator's business, not theirs.
type fileError struct {
	text  string // the message, a %q after each key for its path: "key_file %q does not exist"
	paths []any  // the paths, in the order of text's %q
	err   error  // the cause, or nil
}

func (e *fileError) Error() string {
	return e.format(true)
}

// Short is the problem without the paths.
func (e *fileError) Short() string {
	return e.format(false)
}

func (e *fileError) Unwrap() error { return e.err }

func (e *fileError) format(paths bool) string {
	s := e.text
	if paths {
		s = fmt.Sprintf(e.text, e.paths...)
	} else {
		s = strings.ReplaceAll(s, " %q", "")
	}
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

// runFileProblem is a certificate file problem as a run reports it:
// without the file's path.
func runFileProblem(err error) string {
	var fe *fileError
	if errors.As(err, &fe) {
		return fe.Short()
	}
	return err.Error()
}

// readPEM reads a certificate file, bounded.
func readPEM(key, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &fileError{paths: []any{path}, text: key + " %q does not exist"}
		}
		return nil, &fileError{paths: []any{path}, text: "cannot read " + key + " %q", err: errors.Unwrap(err)}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	switch {
	case err != nil:
		var pe *os.PathError // a directory: "read /etc/...: is a directory"
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &fileError{paths: []any{path}, text: "cannot read " + key + " %q", err: err}
	case len(b) > maxPEMFile:
		return nil, &fileError{paths: []any{path}, text: key + " %q is larger than 1 MiB"}
	}
	return b, nil
}

// roots is the system's pool plus ca_file's certificates; nil (the
// system's) without a ca_file.
func (t TLSFiles) roots() (*x509.CertPool, error) {
	if t.CAFile == "" {
		return nil, nil
	}
	b, err := readPEM("ca_file", t.CAFile)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, &fileError{paths: []any{t.CAFile}, text: "no PEM certificate in ca_file %q"}
	}
	return pool, nil
}

// clientCert loads cert_file and key_file.
func (t TLSFiles) clientCert() (*tls.Certificate, error) {
	certPEM, err := readPEM("cert_file", t.CertFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := readPEM("key_file", t.KeyFile)
	if err != nil {
		return nil, err
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The error names PEM block types, never key material.
		return nil, &fileError{paths: []any{t.CertFile, t.KeyFile},
			text: "cert_file %q and key_file %q are not a certificate and its key", err: err}
	}
	return &c, nil
}

// config is the client TLS configuration of these files for serverName.
func (t TLSFiles) config(serverName string) (*tls.Config, error) {
	roots, err := t.roots()
	if err != nil {
		return nil, err
	}
	c := &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12}
	if t.CertFile != "" {
		cert, err := t.clientCert()
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{*cert}
	}
	return c, nil
}

// daysLeft is how long leaf has left at now, in days (negative: expired).
func daysLeft(notAfter, now time.Time) float64 {
	return notAfter.Sub(now).Hours() / 24
}

// daysText writes days left the way people read them: "30 days",
// "1 day", "0.5 days", "expired 2 days ago".
func daysText(days float64) string {
	if days < 0 {
		return "expired " + decimalUnits(-days, "day") + " ago"
	}
	return "expires in " + decimalUnits(days, "day")
}

// judgeExpiry compares the leaf's days left with e: nil when neither
// threshold is reached.
func judgeExpiry(notAfter, now time.Time, e Expiry) *finding {
	left := notAfter.Sub(now)
	days := daysLeft(notAfter, now)
	switch {
	case left <= 0:
		return &finding{msg: "certificate " + daysText(days), sev: check.Critical, reason: check.ReasonCertExpiry}
	case e.Critical > 0 && left <= e.Critical:
		return &finding{msg: fmt.Sprintf("certificate %s (critical %s)", daysText(days), check.FormatDuration(e.Critical)),
			sev: check.Critical, reason: check.ReasonCertExpiry}
	case e.Warn > 0 && left <= e.Warn:
		return &finding{msg: fmt.Sprintf("certificate %s (warn %s)", daysText(days), check.FormatDuration(e.Warn)),
			sev: check.Warn, reason: check.ReasonCertExpiry}
	}
	return nil
}

// finding is one assertion that does not hold: its message names it with
// the value observed.
type finding struct {
	msg    string
	sev    check.Severity // "": the check's configured severity
	reason check.Reason
}

// verdict folds findings into the result: PASS with pass when there are
// none, else FAIL at the highest severity, every finding named, the first
// one first.
func verdict(spec check.Spec, pass string, findings []finding) check.Result {
	if len(findings) == 0 {
		return spec.PassResult(pass)
	}
	msgs := make([]string, len(findings))
	sev := check.Info
	for i, f := range findings {
		msgs[i] = f.msg
		s := f.sev
		if s == "" {
			s = spec.FailSeverity()
		}
		if s.Rank() > sev.Rank() {
			sev = s
		}
	}
	r := failed(spec.FailResult(strings.Join(msgs, "; ")), findings[0].reason)
	r.Severity = sev
	return r
}

// certFailure turns a failed certificate verification into a CRITICAL
// finding with a message that says what is wrong, and the leaf's expiry
// when the server sent one; ok is false when err is not about the
// certificate.
func certFailure(err error, now time.Time) (f finding, notAfter time.Time, ok bool) {
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) && len(verr.UnverifiedCertificates) > 0 {
		notAfter = verr.UnverifiedCertificates[0].NotAfter
	}
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		f.msg = "certificate not trusted: signed by an unknown authority (ca_file trusts a private CA)"
	case errors.As(err, &host):
		f.msg = "certificate not valid for " + host.Host + ": " + strings.TrimPrefix(host.Error(), "x509: ")
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		if !notAfter.IsZero() && now.After(notAfter) {
			f.msg = "certificate " + daysText(daysLeft(notAfter, now))
		} else {
			f.msg = "certificate not valid yet or expired: " + strings.TrimPrefix(invalid.Error(), "x509: ")
		}
	case errors.As(err, &invalid):
		f.msg = "certificate not valid: " + strings.TrimPrefix(invalid.Error(), "x509: ")
	case verr != nil:
		f.msg = "certificate not valid: " + strings.TrimPrefix(verr.Err.Error(), "x509: ")
	default:
		return f, notAfter, false
	}
	f.sev, f.reason = check.Critical, check.ReasonTLS
	return f, notAfter, true
}

// checkGuard is the SSRF guard of spec's own connections: off unless the
// configuration sets server.guard_checks, then that of link checks
// (addresses only: a check names its port on purpose).
func (e *Env) checkGuard(spec check.Spec) Guard {
	if !spec.Guarded {
		return Guard{AllowPrivate: true}
	}
	g := e.linkClients().guard
	g.AllowPrivate, g.AnyPort = false, true
	return g
}

// ProbeTLS connects to the check's address (after STARTTLS when set),
// verifies the certificate chain against the system's roots and ca_file,
// and judges the leaf's days left against cert_expiry:
//
//	30 days left              PASS  "certificate expires in 30 days (TLS 1.3)"
//	≤ warn (21d)              FAIL/WARN     "certificate expires in 10 days (warn 21d)"
//	≤ critical (7d), expired  FAIL/CRITICAL "certificate expires in 3 days (critical 7d)"
//	untrusted, wrong name     FAIL/CRITICAL "certificate not trusted: ..."
//
// The observed value is the leaf's days left; Result.CertNotAfter its
// expiry, exported as monitor_tls_cert_expiry_timestamp_seconds.
func ProbeTLS(ctx context.Context, spec check.Spec, env *Env) check.Result {
	ctx, cancel, timeout := withDeadline(ctx, spec)
	defer cancel()
	c, _ := spec.Config.(TLSConfig)
	conf, err := c.Files.config(c.ServerName)
	if err != nil {
		return failed(spec.FailResult(runFileProblem(err)), check.ReasonError)
	}
	d := &net.Dialer{Control: env.checkGuard(spec).control()}
	raw, err := d.DialContext(ctx, "tcp", c.Address)
	if err != nil {
		return tlsErrResult(ctx, spec, "connect", err, timeout)
	}
	defer raw.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	switch c.StartTLS {
	case "smtp":
		err = startSMTP(raw)
	case "postgres":
		err = startPostgres(raw)
	}
	if err != nil {
		return tlsErrResult(ctx, spec, "starttls "+c.StartTLS, err, timeout)
	}
	conn := tls.Client(raw, conf)
	if err := conn.HandshakeContext(ctx); err != nil {
		now := env.now()
		if f, notAfter, ok := certFailure(err, now); ok {
			r := verdict(spec, "", []finding{f})
			r.CertNotAfter = notAfter
			return r
		}
		return tlsErrResult(ctx, spec, "handshake", err, timeout)
	}
	state := conn.ConnectionState()
	leaf := state.PeerCertificates[0]
	now := env.now()
	var findings []finding
	if f := judgeExpiry(leaf.NotAfter, now, c.CertExpiry); f != nil {
		findings = append(findings, *f)
	}
	r := verdict(spec, fmt.Sprintf("certificate %s (%s)", daysText(daysLeft(leaf.NotAfter, now)),
		tls.VersionName(state.Version)), findings)
	r.ObservedValue, r.ObservedUnit = check.Value(math.Round(daysLeft(leaf.NotAfter, now)*100)/100), "days"
	r.CertNotAfter = leaf.NotAfter
	return r
}

// tlsErrResult is the FAIL of a connection that did not get to the
// certificate: refused, timed out, no STARTTLS.
func tlsErrResult(ctx context.Context, spec check.Spec, phase string, err error, timeout time.Duration) check.Result {
	var blocked *blockedError
	if errors.As(err, &blocked) {
		return failed(spec.FailResult(blocked.Error()+"; server.guard_checks is on"), check.ReasonBlocked)
	}
	reason, msg := describe(ctx, phase, err, timeout)
	if reason == check.ReasonTimeout {
		// Where it hung tells the reader what to look at: the network
		// (connect), a server that does not speak SMTP or PostgreSQL
		// first (starttls), or one that does not speak TLS (handshake).
		msg = phase + ": " + msg
	}
	if isTLSErr(err) {
		reason = check.ReasonTLS
	}
	return failed(spec.FailResult(check.RedactText(msg)), reason)
}

// errStartTLS is a server that does not offer or refuses STARTTLS.
var errStartTLS = errors.New("STARTTLS refused")

// startSMTP speaks SMTP up to STARTTLS (RFC 3207): the greeting, EHLO,
// STARTTLS offered and accepted.
func startSMTP(conn net.Conn) error {
	tp := textproto.NewReader(bufio.NewReader(io.LimitReader(conn, maxStartTLSChatter)))
	if _, _, err := tp.ReadResponse(220); err != nil {
		return fmt.Errorf("greeting: %w", smtpErr(err))
	}
	if _, err := io.WriteString(conn, "EHLO monitor.invalid\r\n"); err != nil {
		return err
	}
	_, ext, err := tp.ReadResponse(250)
	if err != nil {
		return fmt.Errorf("EHLO: %w", smtpErr(err))
	}
	offered := false
	for _, line := range strings.Split(ext, "\n") {
		if strings.EqualFold(strings.TrimSpace(line), "STARTTLS") {
			offered = true
		}
	}
	if !offered {
		return fmt.Errorf("%w: the server does not offer STARTTLS", errStartTLS)
	}
	if _, err := io.WriteString(conn, "STARTTLS\r\n"); err != nil {
		return err
	}
	if _, _, err := tp.ReadResponse(220); err != nil {
		return fmt.Errorf("%w: %w", errStartTLS, smtpErr(err))
	}
	return nil
}

// smtpErr keeps a server's refusal short and on one line.
func smtpErr(err error) error {
	var pe *textproto.Error
	if errors.As(err, &pe) {
		msg := pe.Msg
		if len(msg) > 120 {
			msg = msg[:120] + "…"
		}
		return fmt.Errorf("server answered %d %s", pe.Code, strings.ReplaceAll(msg, "\n", " "))
	}
	return err
}

// startPostgres asks a PostgreSQL server for TLS (SSLRequest): it answers
// S to go on with a TLS handshake, N when SSL is off.
func startPostgres(conn net.Conn) error {
	var req [8]byte
	binary.BigEndian.PutUint32(req[0:4], 8)
	binary.BigEndian.PutUint32(req[4:8], 80877103)
	if _, err := conn.Write(req[:]); err != nil {
		return err
	}
	var answer [1]byte
	if _, err := io.ReadFull(conn, answer[:]); err != nil {
		return err
	}
	switch answer[0] {
	case 'S':
		return nil
	case 'N':
		return fmt.Errorf("%w: the server does not accept SSL (ssl = off)", errStartTLS)
	}
	return fmt.Errorf("%w: unexpected answer %q to SSLRequest (not PostgreSQL?)", errStartTLS, answer[0])
}
