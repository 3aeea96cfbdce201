package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/testenv"
)

const (
	testUser     = "monitor@example.com"
	testPassword = "pa55-Secret-do-not-leak"
)

// newTestCert is a self-signed certificate for 127.0.0.1 and localhost;
// its CertFile is the ca_file that trusts it.
func newTestCert(t *testing.T) testenv.Cert { return testenv.SelfSigned(t) }

// smtpServer is a real SMTP server (emersion/go-smtp) on 127.0.0.1.
type smtpServer struct {
	port int

	// set before use
	requireAuth bool
	mailErr     error // the answer to MAIL FROM, nil: 250

	mu     sync.Mutex
	mails  []received
	auths  []string // the username of every AUTH attempt
	plains int      // sessions that sent MAIL over a connection without TLS
}

type received struct {
	from string
	to   []string
	data []byte
	tls  bool
	user string
}

type serverMode int

const (
	modeStartTLS serverMode = iota // STARTTLS offered
	modeImplicit                   // TLS from the first byte
	modePlain                      // no TLS at all
)

func startSMTP(t *testing.T, mode serverMode, cert testenv.Cert, requireAuth bool) *smtpServer {
	t.Helper()
	s := &smtpServer{requireAuth: requireAuth}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.ErrorLog = nopLogger{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
	switch mode {
	case modeStartTLS:
		srv.TLSConfig = tlsConf
	case modeImplicit:
		ln = tls.NewListener(ln, tlsConf)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

func (s *smtpServer) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.mails...)
}

type session struct {
	srv  *smtpServer
	conn *smtp.Conn
	user string
	from string
	to   []string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		s.srv.mu.Lock()
		s.srv.auths = append(s.srv.auths, username)
		s.srv.mu.Unlock()
		if username != testUser || password != testPassword {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if _, ok := s.conn.TLSConnectionState(); !ok {
		s.srv.mu.Lock()
		s.srv.plains++
		s.srv.mu.Unlock()
	}
	if s.srv.requireAuth && s.user == "" {
		return smtp.ErrAuthRequired
	}
	if s.srv.mailErr != nil {
		return s.srv.mailErr
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	s.srv.mails = append(s.srv.mails, received{from: s.from, to: s.to, data: b, tls: isTLS, user: s.user})
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func testConfig(s *smtpServer, cert testenv.Cert, mode string) *Config {
	c := DefaultConfig
	c.To = []string{"oncall@acme.example", "owner@acme.example"}
	c.SMTP = SMTP{Host: "127.0.0.1", Port: s.port, Username: testUser, Password: testPassword, TLS: mode, CAFile: cert.CertFile}
	return &c
}

func newNotifier(t *testing.T, c *Config) *Notifier {
	t.Helper()
	n, err := New("oncall_mail", c, receiver.Deps{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func storm() receiver.Notification {
	started := now.Add(-90 * time.Minute)
	ended := now.Add(-5 * time.Minute)
	return receiver.Notification{
		ID:       "01JDXQ7W9Y8K4M2N6P0R3S5T7V",
		Status:   receiver.StatusFiring,
		GroupKey: `{component="Usage metering"}`,
		Receiver: "oncall_mail",
		URL:      "https://status.example.com/alerts",
		Alerts: []receiver.Alert{
			{
				ID: "check:usage_db", Check: "usage_db", Kind: "db", Status: receiver.StatusFiring,
				Severity:   check.Critical,
				Labels:     map[string]string{"component": "Usage metering", "check": "usage_db"},
				Summary:    `connect: refused <script>alert("x")</script> & more`,
				StartsAt:   started,
				URL:        "https://status.example.com/alerts/check:usage_db",
				RunbookURL: "https://wiki.example.com/runbooks?space=ops&page=7#check-db",
			},
			{
				ID: "check:usage_freshness", Check: "usage_freshness", Kind: "freshness", Status: receiver.StatusResolved,
				Severity: check.Warn,
				Labels:   map[string]string{"component": "Usage metering", "check": "usage_freshness"},
				Result:   &check.Result{Message: "newest record 20m old"},
				StartsAt: started,
				EndsAt:   &ended,
				URL:      "https://status.example.com/alerts/check:usage_freshness",
			},
		},
		CreatedAt: now,
	}
}

// parsed is a received mail, decoded.
type parsed struct {
	header mail.Header
	text   string
	html   string
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	p := parsed{header: m.Header}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: want multipart/alternative (%v)", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			p.text = string(b)
		case "text/html":
			p.html = string(b)
		default:
			t.Errorf("unexpected part %q", ct)
		}
	}
	if p.text == "" || p.html == "" {
		t.Fatalf("want a text/plain and a text/html part, got text %d bytes, html %d bytes", len(p.text), len(p.html))
	}
	return p
}

func decodeHeader(t *testing.T, h mail.Header, key string) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(h.Get(key))
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return s
}

func TestSendSTARTTLSWithAuth(t *testing.T) {
	cert := newTestCert(t)
	srv := startSMTP(t, modeStartTLS, cert, true)
	n := newNotifier(t, testConfig(srv, cert, StartTLS))

	notif := storm()
	if err := n.Send(context.Background(), notif); err != nil {
		t.Fatalf("Send: %v", err)
	}
	mails := srv.received()
	if len(mails) != 1 {
		t.Fatalf("got %d mails, want one for the whole group", len(mails))
	}
	got := mails[0]
	if !got.tls {
		t.Error("the mail travelled without TLS")
	}
	if got.user != testUser {
		t.Errorf("authenticated as %q, want %q", got.user, testUser)
	}
	if got.from != testUser || strings.Join(got.to, ",") != "oncall@acme.example,owner@acme.example" {
		t.Errorf("envelope from %q to %q", got.from, got.to)
	}

	p := parse(t, got.data)
	for key, want := range map[string]string{
		"Subject":                   "[FIRING:1] Usage metering — usage_db, usage_freshness",
		"From":                      "<monitor@example.com>",
		"To":                        "<oncall@acme.example>, <owner@acme.example>",
		"Message-Id":                "<monitor.01JDXQ7W9Y8K4M2N6P0R3S5T7V@example.com>",
		"X-Monitor-Notification-Id": "01JDXQ7W9Y8K4M2N6P0R3S5T7V",
		"X-Monitor-Status":          "firing",
		"X-Monitor-Receiver":        "oncall_mail",
		"X-Monitor-Group-Key":       `{component="Usage metering"}`,
		"Auto-Submitted":            "auto-generated",
		"Date":                      "Sun, 29 Nov 2026 12:00:00 +0000",
	} {
		if got := decodeHeader(t, p.header, key); got != want {
			t.Errorf("%s: %q, want %q", key, got, want)
		}
	}

	for _, want := range []string{
		"FIRING  usage_db  (CRITICAL)",
		`connect: refused <script>alert("x")</script> & more`, // plain text is not HTML
		"since 2026-11-29 10:30:00 UTC, firing for 1h30m",
		"https://status.example.com/alerts/check:usage_db",
		"  runbook: https://wiki.example.com/runbooks?space=ops&page=7#check-db",
		"RESOLVED  usage_freshness  (WARN)",
		"newest record 20m old", // the result's message when there is no summary
		"since 2026-11-29 10:30:00 UTC, lasted 1h25m",
		"All alerts: https://status.example.com/alerts",
	} {
		if !strings.Contains(p.text, want) {
			t.Errorf("text part lacks %q:\n%s", want, p.text)
		}
	}
	for _, want := range []string{
		`connect: refused &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more`,
		`<a href="https://status.example.com/alerts/check:usage_db">usage_db</a>`,
		`<a href="https://status.example.com/alerts">All alerts</a>`,
		`<br><a href="https://wiki.example.com/runbooks?space=ops&amp;page=7#check-db">Runbook</a></td>`,
		"firing for 1h30m", "lasted 1h25m", "CRITICAL", "RESOLVED",
	} {
		if !strings.Contains(p.html, want) {
			t.Errorf("html part lacks %q:\n%s", want, p.html)
		}
	}
	if strings.Contains(p.html, "<script>") {
		t.Errorf("html part holds an unescaped <script>:\n%s", p.html)
	}
	if bytes.Contains(got.data, []byte(testPassword)) {
		t.Error("the mail holds the password")
	}

	// A retry of the same notification is the same mail: same Message-ID.
	if err := n.Send(context.Background(), notif); err != nil {
		t.Fatalf("second Send: %v", err)
	}
	mails = srv.received()
	if len(mails) != 2 {
		t.Fatalf("got %d mails after the retry", len(mails))
	}
	if a, b := parse(t, mails[0].data).header.Get("Message-Id"), parse(t, mails[1].data).header.Get("Message-Id"); a != b {
		t.Errorf("Message-ID changed across retries: %q then %q", a, b)
	}
}

func TestSendResolvedSubject(t *testing.T) {
	cert := newTestCert(t)
	srv := startSMTP(t, modeStartTLS, cert, true)
	n := newNotifier(t, testConfig(srv, cert, StartTLS))
	notif := storm()
	notif.Status = receiver.StatusResolved
	ended := now
	notif.Alerts[0].Status, notif.Alerts[0].EndsAt = receiver.StatusResolved, &ended
	if err := n.Send(context.Background(), notif); err != nil {
		t.Fatal(err)
	}
	p := parse(t, srv.received()[0].data)
	if got, want := decodeHeader(t, p.header, "Subject"), "[RESOLVED] Usage metering — usage_db, usage_freshness"; got != want {
		t.Errorf("Subject %q, want %q", got, want)
	}
	if !strings.Contains(p.text, "RESOLVED  usage_db  (CRITICAL)") || !strings.Contains(p.text, "lasted 1h30m") {
		t.Errorf("text part:\n%s", p.text)
	}
}

func TestSendImplicitTLS(t *testing.T) {
	cert := newTestCert(t)
	srv := startSMTP(t, modeImplicit, cert, true)
	n := newNotifier(t, testConfig(srv, cert, TLS))
	if err := n.Send(context.Background(), storm()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	mails := srv.received()
	if len(mails) != 1 || !mails[0].tls || mails[0].user != testUser {
		t.Fatalf("got %+v, want one mail over TLS, authenticated", mails)
	}
}

func TestSendNoTLS(t *testing.T) {
	cert := newTestCert(t)
	srv := startSMTP(t, modePlain, cert, false)
	c := testConfig(srv, cert, NoTLS)
	c.SMTP.Username, c.SMTP.Password, c.SMTP.CAFile = "", "", ""
	n := newNotifier(t, c)
	if err := n.Send(context.Background(), storm()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	mails := srv.received()
	if len(mails) != 1 || mails[0].tls || mails[0].from != "monitor@127.0.0.1" {
		t.Fatalf("got %+v, want one mail in plain text", mails)
	}
}

// assertNoSecret fails when err shows the password anywhere.
func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	for _, s := range []string{err.Error(), strings.TrimSpace(strings.ReplaceAll(err.Error(), "\n", " "))} {
		if strings.Contains(s, testPassword) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func sendError(t *testing.T, err error) *receiver.SendError {
	t.Helper()
	if err == nil {
		t.Fatal("Send succeeded, want an error")
	}
	assertNoSecret(t, err)
	var se *receiver.SendError
	if !errors.As(err, &se) {
		t.Fatalf("%T %v: want a *receiver.SendError", err, err)
	}
	return se
}

func TestSendErrors(t *testing.T) {
	cert := newTestCert(t)
	for _, tc := range []struct {
		name      string
		mode      serverMode
		tls       string
		mailErr   error
		edit      func(*Config)
		code      int
		permanent bool
		contains  string
	}{
		{name: "451 is temporary", mode: modeStartTLS, tls: StartTLS, code: 451,
			mailErr:  &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"},
			contains: "try again later"},
		{name: "550 is permanent", mode: modeStartTLS, tls: StartTLS, code: 550, permanent: true,
			mailErr:  &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "relaying denied"},
			contains: "relaying denied"},
		{name: "a wrong password is permanent", mode: modeStartTLS, tls: StartTLS, code: 535, permanent: true,
			edit: func(c *Config) { c.SMTP.Password = "wrong-" + testPassword }},
		{name: "a server without STARTTLS is refused", mode: modePlain, tls: StartTLS,
			contains: "STARTTLS"},
		{name: "an untrusted certificate is refused", mode: modeStartTLS, tls: StartTLS,
			edit: func(c *Config) { c.SMTP.CAFile = "" }, contains: "certificate"},
		{name: "implicit TLS against a plain server", mode: modePlain, tls: TLS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMTP(t, tc.mode, cert, true)
			srv.mailErr = tc.mailErr
			c := testConfig(srv, cert, tc.tls)
			if tc.edit != nil {
				tc.edit(c)
			}
			n := newNotifier(t, c)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			se := sendError(t, n.Send(ctx, storm()))
			if se.StatusCode != tc.code || se.Permanent != tc.permanent {
				t.Errorf("got status %d permanent %v (%v), want %d %v", se.StatusCode, se.Permanent, se, tc.code, tc.permanent)
			}
			if !strings.Contains(se.Error(), tc.contains) {
				t.Errorf("error %q lacks %q", se, tc.contains)
			}
			if len(srv.received()) != 0 {
				t.Error("a mail was accepted")
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if srv.plains != 0 && tc.tls != NoTLS {
				t.Errorf("the client sent MAIL over a connection without TLS")
			}
			if tc.mode == modePlain && len(srv.auths) != 0 {
				t.Errorf("the client authenticated without TLS")
			}
		})
	}
}

func TestSendConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	c := DefaultConfig
	c.To = []string{"oncall@acme.example"}
	c.SMTP = SMTP{Host: "127.0.0.1", Port: port, Username: testUser, Password: testPassword, TLS: StartTLS}
	se := sendError(t, newNotifier(t, &c).Send(context.Background(), storm()))
	if se.Permanent || se.StatusCode != 0 {
		t.Errorf("got %+v, want a temporary error without a code", se)
	}
	if !strings.Contains(se.Error(), "127.0.0.1:"+strconv.Itoa(port)) {
		t.Errorf("error %q does not name the server", se)
	}
}

// A server that accepts and then says nothing does not hold Send past its
// context's deadline.
func TestSendHonoursDeadline(t *testing.T) {
	addr := testenv.Silent(t)
	port, _ := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	c := DefaultConfig
	c.To = []string{"oncall@acme.example"}
	c.SMTP = SMTP{Host: "127.0.0.1", Port: port, TLS: StartTLS}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	se := sendError(t, newNotifier(t, &c).Send(ctx, storm()))
	if took := time.Since(start); took > time.Second {
		t.Errorf("Send took %v with a 300ms deadline", took)
	}
	if se.Permanent {
		t.Errorf("a timeout is permanent: %v", se)
	}
}

func TestSubject(t *testing.T) {
	var alerts []receiver.Alert
	for i := range 60 {
		alerts = append(alerts, receiver.Alert{Check: "check_number_" + strconv.Itoa(i), Status: receiver.StatusFiring,
			Labels: map[string]string{"component": "Redirects"}})
	}
	n := receiver.Notification{Status: receiver.StatusFiring, Alerts: alerts}
	v := newView(n, now)
	if !strings.HasPrefix(v.Subject, "[FIRING:60] Redirects — check_number_0, check_number_1, ") ||
		!strings.HasSuffix(v.Subject, " more") || len([]rune(v.Subject)) > maxSubject {
		t.Errorf("subject %q (%d runes)", v.Subject, len([]rune(v.Subject)))
	}

	esc := receiver.Notification{Status: receiver.StatusFiring, Notice: receiver.NoticeTest, Alerts: []receiver.Alert{
		{ID: "escalation:7", Kind: "escalation", Status: receiver.StatusFiring, Labels: map[string]string{"handle": "acme"}},
	}}
	if got, want := newView(esc, now).Subject, "[TEST] [FIRING:1] acme — escalation"; got != want {
		t.Errorf("subject %q, want %q", got, want)
	}
	mixed := receiver.Notification{Status: receiver.StatusResolved, Notice: receiver.NoticeFlapping, Alerts: []receiver.Alert{
		{Check: "a", Labels: map[string]string{"component": "X"}}, {Check: "b", Labels: map[string]string{"component": "Y"}},
	}}
	if got, want := newView(mixed, now).Subject, "[FLAPPING] — a, b"; got != want {
		t.Errorf("subject %q, want %q", got, want)
	}
}

func TestMessageID(t *testing.T) {
	if got := messageID("abc-123_x.y", "example.com"); got != "monitor.abc-123_x.y@example.com" {
		t.Errorf("got %q", got)
	}
	a, b := messageID("id with <brackets>", "example.com"), messageID("id with <brackets>", "example.com")
	if a != b || strings.ContainsAny(a, " <>") {
		t.Errorf("got %q and %q", a, b)
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                    "0s",
		45 * time.Second:                "45s",
		12*time.Minute + 10*time.Second: "12m",
		62 * time.Minute:                "1h02m",
		76 * time.Hour:                  "3d4h",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestCAFileValidation(t *testing.T) {
	cert := newTestCert(t)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, tls, file string
		ok              bool
	}{
		{"a PEM file", StartTLS, cert.CertFile, true},
		{"relative", StartTLS, "ca.pem", false},
		{"missing", TLS, filepath.Join(dir, "missing.pem"), false},
		{"not PEM", StartTLS, notPEM, false},
		{"with tls none", NoTLS, cert.CertFile, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig
			c.To = []string{"a@example.com"}
			c.SMTP.Host, c.SMTP.TLS, c.SMTP.CAFile = "smtp.example.com", tc.tls, tc.file
			err := c.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate: %v", err)
			}
			var fe *receiver.FieldError
			if err != nil && (!errors.As(err, &fe) || fe.Key != "smtp.ca_file" || !errors.Is(err, ErrInvalidCAFile)) {
				t.Errorf("Validate: %v, want a FieldError at smtp.ca_file", err)
			}
		})
	}
}

func TestTypeSender(t *testing.T) {
	c := Type.New().(*Config)
	c.To = []string{"a@example.com"}
	c.SMTP.Host = "smtp.example.com"
	s, err := Type.Sender("mail", c, receiver.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*Notifier); !ok {
		t.Errorf("Type.Sender gave a %T", s)
	}
	bad := Type.New().(*Config)
	if _, err := Type.Sender("mail", bad, receiver.Deps{}); err == nil {
		t.Error("Type.Sender accepted an invalid configuration")
	}
}

func TestViewBounds(t *testing.T) {
	n := storm()
	n.Notice = receiver.NoticeSeverity
	for len(n.Alerts) < MaxListed+2 {
		n.Alerts = append(n.Alerts, n.Alerts[0])
	}
	n.Alerts[0].Summary = strings.Repeat("x", 5000)
	text, html, err := newView(n, now).render()
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{text, html} {
		if !strings.Contains(body, "and 2 more alerts.") || !strings.Contains(body, "The severity changed.") {
			t.Errorf("body lacks the count of alerts left out or the notice:\n%.300s", body)
		}
		if strings.Contains(body, strings.Repeat("x", maxSummary)) {
			t.Error("a summary is not bounded")
		}
	}
}
