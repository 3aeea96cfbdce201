package email

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
)

// DefaultTimeout bounds an attempt whose context has no deadline.
const DefaultTimeout = 30 * time.Second

// Headers every mail carries besides the usual ones, for filters and for
// finding a delivery again: the notification's ID (the same on every
// retry), its status and group, and the receiver's name.
const (
	HeaderNotificationID = "X-Monitor-Notification-Id"
	HeaderStatus         = "X-Monitor-Status"
	HeaderGroupKey       = "X-Monitor-Group-Key"
	HeaderReceiver       = "X-Monitor-Receiver"
)

// Notifier mails the notifications of one email receiver. It holds no
// connection: each Send dials, sends one mail and quits.
type Notifier struct {
	name     string
	conf     Config
	from     string
	domain   string // of from: the right side of Message-IDs
	password string
	tls      *tls.Config
	helo     string
	now      func() time.Time
	logger   *slog.Logger
}

var _ receiver.Sender = (*Notifier)(nil)

// New returns the sender of the email receiver called name. c must be
// valid (Validate).
func New(name string, c *Config, d receiver.Deps) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("email receiver %q: %w", name, err)
	}
	pool, err := c.SMTP.certPool()
	if err != nil {
		return nil, fmt.Errorf("email receiver %q: %w", name, err)
	}
	from := c.Sender()
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("email receiver %q: from %q: %w", name, from, err)
	}
	_, domain, _ := strings.Cut(addr.Address, "@")
	n := &Notifier{
		name:     name,
		conf:     *c,
		from:     from,
		domain:   domain,
		password: c.SMTP.Password.Reveal(),
		tls: &tls.Config{
			ServerName: c.SMTP.Host,
			RootCAs:    pool, // nil: the system's
			MinVersion: tls.VersionTLS12,
		},
		now:    d.Now,
		logger: d.Logger,
	}
	if n.now == nil {
		n.now = time.Now
	}
	if n.logger == nil {
		n.logger = slog.New(slog.DiscardHandler)
	}
	n.logger = n.logger.With("receiver", name)
	if h, err := os.Hostname(); err == nil && h != "" && !strings.ContainsAny(h, " \r\n") {
		n.helo = h
	}
	return n, nil
}

func newSender(name string, c receiver.Config, d receiver.Deps) (receiver.Sender, error) {
	conf, ok := c.(*Config)
	if !ok {
		return nil, fmt.Errorf("email receiver %q: configuration of type %T", name, c)
	}
	return New(name, conf, d)
}

// Send mails n: one attempt, within ctx's deadline (DefaultTimeout when
// it has none). An SMTP 4xx answer is a temporary *receiver.SendError
// with the reply code as StatusCode; a 5xx one is permanent; a failure
// without a reply (the connection, TLS, a server without STARTTLS) is
// temporary. No error holds the password.
func (n *Notifier) Send(ctx context.Context, notif receiver.Notification) error {
	msg, err := n.message(notif)
	if err != nil {
		return &receiver.SendError{Permanent: true, Err: err}
	}
	timeout := DefaultTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if err := ctx.Err(); err != nil || timeout <= 0 {
		return &receiver.SendError{Err: fmt.Errorf("smtp %s: %w", n.addr(), context.Cause(ctx))}
	}
	// go-mail sets the connection's deadline twice, once for dialling,
	// greeting, TLS and AUTH and once more for the mail itself: half of
	// what is left each keeps the whole attempt within ctx's deadline.
	client, err := gomail.NewClient(n.conf.SMTP.Host, n.options(timeout/2)...)
	if err != nil {
		return &receiver.SendError{Permanent: true, Err: fmt.Errorf("smtp %s: %w", n.addr(), err)}
	}
	conn, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return n.sendError(err)
	}
	err = client.SendWithSMTPClient(conn, msg)
	// The mail is accepted (or not) before QUIT: a failing QUIT must not
	// make the outbox send it twice.
	if qerr := client.CloseWithSMTPClient(conn); qerr != nil {
		n.logger.Debug("smtp quit failed", "err", n.redact(qerr))
	}
	if err != nil {
		return n.sendError(err)
	}
	return nil
}

func (n *Notifier) addr() string {
	return net.JoinHostPort(n.conf.SMTP.Host, strconv.Itoa(n.conf.SMTP.PortOrDefault()))
}

// options are the go-mail client's: port, TLS mode, AUTH when a username
// is set (the strongest mechanism the server offers; PLAIN and LOGIN only
// over TLS).
func (n *Notifier) options(timeout time.Duration) []gomail.Option {
	s := n.conf.SMTP
	opts := []gomail.Option{
		gomail.WithPort(s.PortOrDefault()),
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(n.tls),
	}
	switch s.TLS {
	case TLS:
		opts = append(opts, gomail.WithSSL())
	case NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.Username != "" {
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.Username),
			gomail.WithPassword(n.password))
	}
	if n.helo != "" {
		opts = append(opts, gomail.WithHELO(n.helo))
	}
	return opts
}

// sendError classifies a failed attempt by the SMTP reply code in err.
func (n *Notifier) sendError(err error) error {
	code := replyCode(err)
	return &receiver.SendError{
		StatusCode: code,
		Permanent:  code >= 500 && code <= 599,
		Err:        n.redact(fmt.Errorf("smtp %s: %w", n.addr(), err)),
	}
}

// replyCode is the SMTP reply code of err, 0 when the server gave none.
func replyCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		return se.ErrorCode()
	}
	return 0
}

// redact keeps the password out of err's message (a server could echo
// it); the chain is kept when it does not hold it.
func (n *Notifier) redact(err error) error {
	if n.password == "" || !strings.Contains(err.Error(), n.password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), n.password, check.Redacted))
}

// message builds the mail of notif.
func (n *Notifier) message(notif receiver.Notification) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.From(n.from); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := m.To(n.conf.To...); err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	v := newView(notif, n.now())
	v.Receiver = n.name
	m.Subject(v.Subject)
	m.SetMessageIDWithValue(messageID(notif.ID, n.domain))
	date := notif.CreatedAt
	if date.IsZero() {
		date = n.now()
	}
	m.SetDateWithValue(date)
	m.SetUserAgent("monitor")
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader(HeaderNotificationID, headerValue(notif.ID))
	m.SetGenHeader(HeaderStatus, headerValue(notif.Status))
	m.SetGenHeader(HeaderReceiver, headerValue(n.name))
	if notif.GroupKey != "" {
		m.SetGenHeader(HeaderGroupKey, headerValue(notif.GroupKey))
	}
	text, html, err := v.render()
	if err != nil {
		return nil, err
	}
	m.SetBodyString(gomail.TypeTextPlain, text)
	m.AddAlternativeString(gomail.TypeTextHTML, html)
	return m, nil
}

// messageID is the Message-ID of the notification with id, without its
// angle brackets: id@domain when id is made of letters, digits, '.', '-'
// and '_', else a hash of it; the same on every retry.
func messageID(id, domain string) string {
	ok := id != "" && len(id) <= 128 && !strings.HasPrefix(id, ".") && !strings.HasSuffix(id, ".") && !strings.Contains(id, "..")
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			ok = false
			break
		}
	}
	if !ok {
		sum := sha256.Sum256([]byte(id))
		id = hex.EncodeToString(sum[:16])
	}
	return "monitor." + id + "@" + domain
}

// headerValue makes s one line, bounded.
func headerValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return truncate(s, maxHeader)
}

const maxHeader = 200

// truncate cuts s to at most max runes, with an ellipsis.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-1]) + "…"
}
