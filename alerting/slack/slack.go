package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
)

// Slack's limits (Block Kit reference) and ours.
const (
	MaxBlocks      = 50   // blocks in a message (Slack)
	MaxSectionText = 3000 // characters of a section's text (Slack)
	MaxHeaderText  = 150  // characters of a header's plain text (Slack)
	MaxText        = 3000 // characters of the fallback text (ours: Slack cuts at 40,000)
	// MaxAlertSections bounds the alerts shown one section each; the
	// others are counted in one more section ("… and 280 more").
	MaxAlertSections = 20
	maxMessage       = 1500 // characters of an alert's message in its section
	maxDetails       = 600  // characters of an alert's details in its section (quoted: up to twice as many)
)

// Colours of the attachment's bar.
const (
	ColorCritical = "#E01E5A"
	ColorWarn     = "#ECB22E"
	ColorInfo     = "#9E9E9E"
	ColorResolved = "#2EB67D"
)

// Notifier posts notifications to one Slack incoming webhook.
type Notifier struct {
	name string
	conf Config
	deps receiver.Deps
}

var _ receiver.Sender = (*Notifier)(nil)

// New returns the sender of the Slack receiver name.
func New(name string, c *Config, d receiver.Deps) (*Notifier, error) {
	if d.HTTP == nil {
		return nil, errors.New("slack: no HTTP client")
	}
	return &Notifier{name: name, conf: *c, deps: d}, nil
}

func newSender(name string, c receiver.Config, d receiver.Deps) (receiver.Sender, error) {
	sc, ok := c.(*Config)
	if !ok {
		return nil, fmt.Errorf("slack %s: configuration of type %T", name, c)
	}
	return New(name, sc, d)
}

// Send posts n to the incoming webhook (whose URL, a secret, never shows
// in an error).
func (s *Notifier) Send(ctx context.Context, n receiver.Notification) error {
	body, err := json.Marshal(Payload(n, s.conf.Channel, s.now()))
	if err != nil {
		return &receiver.SendError{Permanent: true, Err: fmt.Errorf("encoding the message: %w", err)}
	}
	return receiver.PostJSON(ctx, s.deps, receiver.Post{URL: s.conf.URL.Reveal(), Body: body})
}

func (s *Notifier) now() time.Time {
	if s.deps.Now != nil {
		return s.deps.Now()
	}
	return time.Now()
}

// Message is an incoming webhook's payload: the fallback text (what
// notifications and old clients show) and one attachment, whose colour
// bar tells the severity, holding the blocks.
type Message struct {
	Channel     string       `json:"channel,omitempty"`
	Text        string       `json:"text"`
	Attachments []Attachment `json:"attachments"`
}

// Attachment is a coloured part of a message.
type Attachment struct {
	Color    string  `json:"color"`
	Fallback string  `json:"fallback"`
	Blocks   []Block `json:"blocks"`
}

// Block is a Block Kit block: header, section or context.
type Block struct {
	Type     string `json:"type"`
	Text     *Text  `json:"text,omitempty"`
	Elements []Text `json:"elements,omitempty"`
}

// Text is a text object: plain_text or mrkdwn.
type Text struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Payload is the message of n: a header (what happened, how bad, how
// many), one section per alert (at most MaxAlertSections, then a count of
// the others), and a context line with the link back to the monitor.
// Every text is cut to Slack's limits. now gives the age of resolved
// alerts' outages.
func Payload(n receiver.Notification, channel string, now time.Time) Message {
	head := headline(n)
	blocks := []Block{{Type: "header", Text: &Text{Type: "plain_text", Text: cut(head, MaxHeaderText)}}}
	for i, a := range n.Alerts {
		if i == MaxAlertSections {
			more := len(n.Alerts) - i
			t := fmt.Sprintf("… and %d more %s", more, plural(more, "alert"))
			if n.URL != "" {
				t += fmt.Sprintf(" (<%s|all of them in the monitor>)", escape(n.URL))
			}
			blocks = append(blocks, Block{Type: "section", Text: &Text{Type: "mrkdwn", Text: t}})
			break
		}
		blocks = append(blocks, Block{Type: "section", Text: &Text{Type: "mrkdwn", Text: cut(section(a, now), MaxSectionText)}})
	}
	var ctx []Text
	if n.URL != "" {
		ctx = append(ctx, Text{Type: "mrkdwn", Text: fmt.Sprintf("<%s|Open the monitor's alerts>", escape(n.URL))})
	}
	ctx = append(ctx, Text{Type: "mrkdwn", Text: cut(escape("receiver "+n.Receiver+" · notification "+n.ID), 2000)})
	blocks = append(blocks, Block{Type: "context", Elements: ctx})

	text := cut(escape(fallback(n, head)), MaxText)
	return Message{Channel: channel, Text: text,
		Attachments: []Attachment{{Color: color(n), Fallback: text, Blocks: blocks}}}
}

// headline is "FIRING · CRITICAL · check" (or "· 3 alerts"), with the
// notice's word instead of FIRING for repeats, severity changes, flapping
// and tests.
func headline(n receiver.Notification) string {
	firing := 0
	for _, a := range n.Alerts {
		if a.Status == receiver.StatusFiring {
			firing++
		}
	}
	word := "RESOLVED"
	if n.Status == receiver.StatusFiring {
		word = "FIRING"
	}
	switch n.Notice {
	case receiver.NoticeRepeat:
		word = "STILL FIRING"
	case receiver.NoticeSeverity:
		word = "SEVERITY CHANGED"
	case receiver.NoticeFlapping:
		word = "FLAPPING"
	case receiver.NoticeTest:
		word = "TEST"
	}
	parts := []string{word}
	if n.Status == receiver.StatusFiring {
		parts = append(parts, string(worst(n)))
	}
	switch {
	case len(n.Alerts) == 1:
		parts = append(parts, name(n.Alerts[0]))
	case n.Status == receiver.StatusFiring && firing < len(n.Alerts):
		parts = append(parts, fmt.Sprintf("%d alerts (%d resolved)", len(n.Alerts), len(n.Alerts)-firing))
	default:
		parts = append(parts, fmt.Sprintf("%d alerts", len(n.Alerts)))
	}
	return strings.Join(parts, " · ")
}

// section is one alert: its name linked to the monitor, severity and
// kind, its message, and since when it fires or how long it lasted.
func section(a receiver.Alert, now time.Time) string {
	var b strings.Builder
	title := "*" + escape(name(a)) + "*"
	if a.URL != "" {
		title = fmt.Sprintf("*<%s|%s>*", escape(a.URL), escape(name(a)))
	}
	if a.Status == receiver.StatusResolved {
		fmt.Fprintf(&b, ":large_green_circle: %s resolved", title)
		end := now
		if a.EndsAt != nil {
			end = *a.EndsAt
		}
		if !a.StartsAt.IsZero() && end.After(a.StartsAt) {
			fmt.Fprintf(&b, " after %s", check.FormatDuration(end.Sub(a.StartsAt).Round(time.Second)))
		}
		fmt.Fprintf(&b, " · was %s", a.Severity)
	} else {
		fmt.Fprintf(&b, "%s %s · %s", emoji(a.Severity), title, a.Severity)
	}
	if a.Kind != "" {
		fmt.Fprintf(&b, " · %s", escape(a.Kind))
	}
	if a.RunbookURL != "" {
		fmt.Fprintf(&b, " · <%s|runbook>", escape(a.RunbookURL))
	}
	if msg := message(a); msg != "" {
		b.WriteString("\n" + cut(escape(msg), maxMessage))
	}
	if a.Details != "" {
		b.WriteString("\n>" + strings.ReplaceAll(cut(escape(a.Details), maxDetails), "\n", "\n>"))
	}
	if a.Status == receiver.StatusFiring && !a.StartsAt.IsZero() {
		fmt.Fprintf(&b, "\nSince <!date^%d^{date_short_pretty} {time}|%s>", a.StartsAt.Unix(), a.StartsAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return b.String()
}

// name is what an alert is called: its check, else the escalation's
// handle, else its id.
func name(a receiver.Alert) string {
	switch {
	case a.Check != "":
		return a.Check
	case a.Labels["handle"] != "":
		return a.Kind + " " + a.Labels["handle"]
	}
	return a.ID
}

// message is an alert's line: its summary, or, once resolved, what the
// check says now.
func message(a receiver.Alert) string {
	if a.Status == receiver.StatusResolved && a.Result != nil && a.Result.Message != "" {
		return a.Result.Message
	}
	if a.Summary != "" {
		return a.Summary
	}
	if a.Result != nil {
		return a.Result.Message
	}
	return ""
}

// fallback is the message in one line: the headline and the first
// alerts' messages.
func fallback(n receiver.Notification, head string) string {
	parts := []string{head}
	for i, a := range n.Alerts {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(n.Alerts)-i))
			break
		}
		if msg := message(a); msg != "" && len(n.Alerts) > 1 {
			parts = append(parts, name(a)+": "+cut(msg, 200))
		} else if msg != "" {
			parts = append(parts, cut(msg, 200))
		}
	}
	return strings.Join(parts, " — ")
}

// worst is the highest severity of n's firing alerts.
func worst(n receiver.Notification) check.Severity {
	w := check.Info
	for _, a := range n.Alerts {
		if a.Status == receiver.StatusFiring && a.Severity.Rank() > w.Rank() {
			w = a.Severity
		}
	}
	return w
}

// color is the attachment's colour: green when resolved, else by the
// worst severity.
func color(n receiver.Notification) string {
	if n.Status != receiver.StatusFiring {
		return ColorResolved
	}
	switch worst(n) {
	case check.Critical:
		return ColorCritical
	case check.Warn:
		return ColorWarn
	}
	return ColorInfo
}

func emoji(s check.Severity) string {
	switch s {
	case check.Critical:
		return ":red_circle:"
	case check.Warn:
		return ":large_orange_circle:"
	}
	return ":white_circle:"
}

// escape makes text safe in mrkdwn: &, < and > are control characters.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// cut shortens s to at most n characters (runes), ending with "…", and
// never inside an &entity; that escape made.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := []rune(s)[:n-1]
	out := string(runes)
	if i := strings.LastIndexByte(out, '&'); i >= 0 && !strings.Contains(out[i:], ";") {
		out = out[:i]
	}
	return out + "…"
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
