package probes

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/testenv"
)

// tlsKindSpec is a tls check of address with decodeTLS's defaults.
func tlsKindSpec(address string, c TLSConfig) check.Spec {
	c.Address = address
	if c.ServerName == "" {
		c.ServerName = "127.0.0.1"
	}
	if c.CertExpiry == (Expiry{}) {
		c.CertExpiry = Expiry{Warn: DefaultCertWarn, Critical: DefaultCertCritical}
	}
	return check.Spec{Name: "cert", Kind: KindTLS, Interval: time.Minute, Timeout: 5 * time.Second,
		Severity: check.Warn, Config: c}
}

func runTLS(t *testing.T, spec check.Spec) check.Result {
	t.Helper()
	return ProbeTLS(context.Background(), spec, &Env{})
}

// tlsListener serves TLS with cert on 127.0.0.1 (after answer, when set:
// a STARTTLS-like preamble) and returns its address.
func tlsListener(t *testing.T, cert testenv.Cert, preamble func(c net.Conn) bool) string {
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
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if preamble != nil && !preamble(c) {
					return
				}
				tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert.TLS}})
				_ = tc.Handshake()
				_, _ = io.Copy(io.Discard, tc)
			}()
		}
	}()
	return ln.Addr().String()
}

// Certificates at 30, 10 and 3 days from expiry, and one nobody trusts.
func TestTLSCertExpiry(t *testing.T) {
	t.Parallel()
	ca := testenv.NewCA(t)
	for _, tc := range []struct {
		name   string
		days   float64
		trust  bool
		status check.Status
		sev    check.Severity
		reason check.Reason
		msg    string
	}{
		{"30 days", 30, true, check.Pass, check.Info, "", "certificate expires in 30 days (TLS 1.3)"},
		{"10 days", 10, true, check.Fail, check.Warn, check.ReasonCertExpiry, "certificate expires in 10 days (warn 21d)"},
		{"3 days", 3, true, check.Fail, check.Critical, check.ReasonCertExpiry, "certificate expires in 3 days (critical 7d)"},
		{"untrusted", 30, false, check.Fail, check.Critical, check.ReasonTLS,
			"certificate not trusted: signed by an unknown authority (ca_file trusts a private CA)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			leaf := ca.Leaf(t, time.Now().Add(time.Duration(tc.days*24)*time.Hour+time.Minute))
			c := TLSConfig{}
			if tc.trust {
				c.Files.CAFile = ca.CertFile
			}
			r := runTLS(t, tlsKindSpec(tlsListener(t, leaf, nil), c))
			if r.Status != tc.status || r.Severity != tc.sev || r.Reason != tc.reason || r.Message != tc.msg {
				t.Errorf("%s %s %s %q, want %s %s %s %q", r.Status, r.Severity, r.Reason, r.Message,
					tc.status, tc.sev, tc.reason, tc.msg)
			}
			if !r.CertNotAfter.Equal(leaf.TLS.Leaf.NotAfter) {
				t.Errorf("CertNotAfter %s, want %s", r.CertNotAfter, leaf.TLS.Leaf.NotAfter)
			}
			if tc.trust && (r.ObservedValue == nil || math.Round(*r.ObservedValue) != tc.days || r.ObservedUnit != "days") {
				t.Errorf("observed %v %s, want %v days", r.ObservedValue, r.ObservedUnit, tc.days)
			}
		})
	}
	t.Run("wrong name", func(t *testing.T) {
		t.Parallel()
		leaf := ca.Leaf(t, time.Now().Add(90*24*time.Hour))
		r := runTLS(t, tlsKindSpec(tlsListener(t, leaf, nil), TLSConfig{ServerName: "db.example.com",
			Files: TLSFiles{CAFile: ca.CertFile}}))
		if r.Status != check.Fail || r.Severity != check.Critical || !strings.HasPrefix(r.Message, "certificate not valid for db.example.com") {
			t.Errorf("%s %s %q", r.Status, r.Severity, r.Message)
		}
	})
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		leaf := ca.Leaf(t, time.Now().Add(-49*time.Hour))
		r := runTLS(t, tlsKindSpec(tlsListener(t, leaf, nil), TLSConfig{Files: TLSFiles{CAFile: ca.CertFile}}))
		if r.Status != check.Fail || r.Severity != check.Critical || r.Message != "certificate expired 2 days ago" {
			t.Errorf("%s %s %q", r.Status, r.Severity, r.Message)
		}
	})
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		_ = ln.Close()
		r := runTLS(t, tlsKindSpec(addr, TLSConfig{}))
		if r.Status != check.Fail || r.Severity != check.Warn || r.Reason != check.ReasonConnect ||
			r.Message != "connect: connection refused" {
			t.Errorf("%s %s %s %q", r.Status, r.Severity, r.Reason, r.Message)
		}
	})
}

// STARTTLS smtp against a real in-process SMTP server (go-smtp), with and
// without STARTTLS on offer.
func TestTLSStartSMTP(t *testing.T) {
	t.Parallel()
	ca := testenv.NewCA(t)
	leaf := ca.Leaf(t, time.Now().Add(10*24*time.Hour+time.Minute))
	for _, offer := range []bool{true, false} {
		srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return nopSession{}, nil }))
		srv.Domain = "localhost"
		srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
		srv.ErrorLog = quietLog()
		if offer {
			srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		r := runTLS(t, tlsKindSpec(ln.Addr().String(), TLSConfig{StartTLS: "smtp", Files: TLSFiles{CAFile: ca.CertFile}}))
		switch {
		case offer && (r.Status != check.Fail || r.Severity != check.Warn || r.Message != "certificate expires in 10 days (warn 21d)"):
			t.Errorf("STARTTLS offered: %s %s %q", r.Status, r.Severity, r.Message)
		case !offer && (r.Status != check.Fail || r.Message != "starttls smtp: STARTTLS refused: the server does not offer STARTTLS"):
			t.Errorf("STARTTLS not offered: %s %s %q", r.Status, r.Severity, r.Message)
		}
	}
}

type nopSession struct{}

func (nopSession) Mail(string, *smtp.MailOptions) error { return nil }
func (nopSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (nopSession) Data(io.Reader) error                 { return nil }
func (nopSession) Reset()                               {}
func (nopSession) Logout() error                        { return nil }

// STARTTLS postgres: an in-process listener that answers the SSLRequest
// like PostgreSQL (S, then TLS; N when SSL is off).
func TestTLSStartPostgresInProcess(t *testing.T) {
	t.Parallel()
	ca := testenv.NewCA(t)
	leaf := ca.Leaf(t, time.Now().Add(30*24*time.Hour+time.Minute))
	sslRequest := func(answer byte) func(c net.Conn) bool {
		return func(c net.Conn) bool {
			var req [8]byte
			if _, err := io.ReadFull(c, req[:]); err != nil ||
				binary.BigEndian.Uint32(req[:4]) != 8 || binary.BigEndian.Uint32(req[4:]) != 80877103 {
				return false
			}
			_, _ = c.Write([]byte{answer})
			return answer == 'S'
		}
	}
	r := runTLS(t, tlsKindSpec(tlsListener(t, leaf, sslRequest('S')), TLSConfig{StartTLS: "postgres",
		Files: TLSFiles{CAFile: ca.CertFile}}))
	if r.Status != check.Pass || r.Message != "certificate expires in 30 days (TLS 1.3)" {
		t.Errorf("SSL on: %s %q", r.Status, r.Message)
	}
	r = runTLS(t, tlsKindSpec(tlsListener(t, leaf, sslRequest('N')), TLSConfig{StartTLS: "postgres"}))
	if r.Status != check.Fail || r.Message != "starttls postgres: STARTTLS refused: the server does not accept SSL (ssl = off)" {
		t.Errorf("SSL off: %s %q", r.Status, r.Message)
	}
}

// STARTTLS postgres against the local PostgreSQL test server, when it has
// SSL on: the check reaches its certificate and verifies it (the test
// trusts the certificate the server presents, whatever it is).
func TestTLSStartPostgresServer(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(postgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "5432")
	}
	// What does the server present? Fetched without verification, to
	// write the ca_file and server_name the check then verifies with.
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := startPostgres(conn); err != nil {
		testenv.Unavailable(t, "PostgreSQL at "+addr+" has SSL off: "+err.Error(), "set ssl = on to test STARTTLS postgres against it")
	}
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	leaf := tc.ConnectionState().PeerCertificates[0]
	caFile := filepath.Join(t.TempDir(), "server.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	name := leaf.Subject.CommonName
	if len(leaf.DNSNames) > 0 {
		name = leaf.DNSNames[0]
	}
	r := runTLS(t, tlsKindSpec(addr, TLSConfig{StartTLS: "postgres", ServerName: name, Files: TLSFiles{CAFile: caFile},
		CertExpiry: Expiry{Critical: time.Nanosecond}}))
	if r.Status != check.Pass || !r.CertNotAfter.Equal(leaf.NotAfter) {
		t.Errorf("%s %s %q; CertNotAfter %s, want %s", r.Status, r.Severity, r.Message, r.CertNotAfter, leaf.NotAfter)
	}
	// Without the ca_file, the system's roots decide (Debian's snakeoil
	// certificate lies in /etc/ssl/certs, which Go reads as a root).
	_, sysErr := leaf.Verify(x509.VerifyOptions{DNSName: name})
	r = runTLS(t, tlsKindSpec(addr, TLSConfig{StartTLS: "postgres", ServerName: name}))
	if sysErr != nil && (r.Status != check.Fail || r.Severity != check.Critical) || sysErr == nil && r.Status != check.Pass {
		t.Errorf("no ca_file (system roots say %v): %s %s %q", sysErr, r.Status, r.Severity, r.Message)
	}
}

// A server that accepts and never speaks: FAIL within the timeout, said so.
func TestTLSTimeout(t *testing.T) {
	t.Parallel()
	addr := testenv.Silent(t)
	for starttls, phase := range map[string]string{"": "handshake", "smtp": "starttls smtp", "postgres": "starttls postgres"} {
		spec := tlsKindSpec(addr, TLSConfig{StartTLS: starttls})
		spec.Timeout = 50 * time.Millisecond
		start := time.Now()
		r := runTLS(t, spec)
		if r.Status != check.Fail || r.Reason != check.ReasonTimeout || r.Message != phase+": timed out after 50ms" {
			t.Errorf("starttls %q: %s %s %q", starttls, r.Status, r.Reason, r.Message)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("starttls %q: took %s with a 50ms timeout", starttls, took)
		}
	}
}

// What the kinds mean outside their probes: the status page draws an
// http check's response time; a tls check's days left are no duration.
func TestHTTPTLSBehaviour(t *testing.T) {
	if got := KindHTTP.Behaviour().Chart; got != "Response time" {
		t.Errorf("http chart %q", got)
	}
	if got := KindTLS.Behaviour().Chart; got != "" {
		t.Errorf("tls chart %q, want none", got)
	}
	for _, k := range []check.Kind{KindHTTP, KindTLS} {
		sp := check.Spec{Name: "c", Kind: k, Timeout: time.Second}
		if r := sp.TimeoutResult(time.Second); r.Status != check.Fail {
			t.Errorf("%s timeout = %s, want FAIL (the service did not answer)", k, r.Status)
		}
	}
}

// A certificate file that went missing or bad after the config was loaded
// FAILs the run with the key's name, not the file's path: results reach
// the public health API, logs and alerts, and where the client key lives
// is not theirs to know. (monitor validate still names the path.)
func TestCertFileProblemsAtRunTime(t *testing.T) {
	t.Parallel()
	ca := testenv.NewCA(t)
	leaf := ca.Leaf(t, time.Now().Add(90*24*time.Hour))
	dir := filepath.Join(t.TempDir(), "secret-place")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		files TLSFiles
		want  string
	}{
		{TLSFiles{CAFile: ca.CertFile, CertFile: leaf.CertFile, KeyFile: filepath.Join(dir, "gone.pem")}, "key_file does not exist"},
		{TLSFiles{CAFile: dir}, "cannot read ca_file: is a directory"},
		{TLSFiles{CAFile: garbage}, "no PEM certificate in ca_file"},
		{TLSFiles{CertFile: leaf.CertFile, KeyFile: garbage},
			"cert_file and key_file are not a certificate and its key: tls: failed to find any PEM data in key input"},
	} {
		results := map[string]check.Result{
			"tls":  runTLS(t, tlsKindSpec("127.0.0.1:1", TLSConfig{Files: tc.files})),
			"http": runHTTP(t, httpSpec("https://127.0.0.1:1/", func(c *HTTPConfig) { c.Files = tc.files })),
		}
		for kind, r := range results {
			if r.Status != check.Fail || r.Message != tc.want {
				t.Errorf("%s, %+v: %s %q, want FAIL %q", kind, tc.files, r.Status, r.Message, tc.want)
			}
		}
		if _, err := tc.files.config("x"); err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("%+v: validate's error %v, want the path named", tc.files, err)
		}
	}
}
