package slack_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/alerting/receiver/receivertest"
	"github.com/monitor-dev/monitor/alerting/slack"
	"github.com/monitor-dev/monitor/check"
)

// message is the payload as Slack reads it, decoded from the wire.
type message struct {
	Channel     string `json:"channel"`
	Text        string `json:"text"`
	Attachments []struct {
		Color    string `json:"color"`
		Fallback string `json:"fallback"`
		Blocks   []struct {
			Type string `json:"type"`
			Text *struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"text"`
			Elements []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"elements"`
		} `json:"blocks"`
	} `json:"attachments"`
}

// send posts n through a real Slack sender to a local server answering
// "ok", and returns what the server got.
func send(t *testing.T, n receiver.Notification, channel string) (message, receivertest.Request) {
	t.Helper()
	srv := receivertest.NewServer(t, func(w http.ResponseWriter, _ receivertest.Request, _ int) {
		w.Write([]byte("ok"))
	})
	c := slack.Config{URL: check.Secret(srv.URL + "/services/T0/B0/XYZ"), Channel: channel}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := slack.Type.Sender("chat", &c, receivertest.Deps())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	var m message
	if err := json.Unmarshal(reqs[0].Body, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 1 {
		t.Fatalf("%d attachments, want 1: %s", len(m.Attachments), reqs[0].Body)
	}
	return m, reqs[0]
}

// TestPayloadFiring checks a firing group's message field by field.
func TestPayloadFiring(t *testing.T) {
	n := receivertest.Notification(receiver.StatusFiring)
	n.Alerts[0].Summary = "dial tcp: <refused> & gone"
	m, req := send(t, n, "#ops")
	if req.Method != http.MethodPost || req.Path != "/services/T0/B0/XYZ" || req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %s %s", req.Method, req.Path, req.Header.Get("Content-Type"))
	}
	if m.Channel != "#ops" {
		t.Errorf("channel %q", m.Channel)
	}
	wantText := "FIRING · CRITICAL · 2 alerts — usage_meters_connectivity: dial tcp: &lt;refused&gt; &amp; gone — " +
		"redirect_analytics_freshness: newest row is 17m12s old (max 15m)"
	if m.Text != wantText {
		t.Errorf("text\n%q\nwant\n%q", m.Text, wantText)
	}
	att := m.Attachments[0]
	if att.Color != slack.ColorCritical || att.Fallback != wantText {
		t.Errorf("color %s fallback %q", att.Color, att.Fallback)
	}
	if len(att.Blocks) != 4 {
		t.Fatalf("%d blocks, want header, 2 sections, context", len(att.Blocks))
	}
	h := att.Blocks[0]
	if h.Type != "header" || h.Text.Type != "plain_text" || h.Text.Text != "FIRING · CRITICAL · 2 alerts" {
		t.Errorf("header %+v", h.Text)
	}
	s0, s1 := att.Blocks[1], att.Blocks[2]
	want0 := ":red_circle: *<https://status.example.com/alerts/check:usage_meters_connectivity|usage_meters_connectivity>* · CRITICAL · db" +
		" · <" + receivertest.RunbookDB + "|runbook>\n" +
		"dial tcp: &lt;refused&gt; &amp; gone\n" +
		"Since <!date^1795255980^{date_short_pretty} {time}|2026-11-21 10:13 UTC>"
	if s0.Type != "section" || s0.Text.Type != "mrkdwn" || s0.Text.Text != want0 {
		t.Errorf("section 0\n%s\nwant\n%s", s0.Text.Text, want0)
	}
	if !strings.HasPrefix(s1.Text.Text, ":large_orange_circle: *<https://status.example.com/alerts/check:redirect_analytics_freshness|redirect_analytics_freshness>* · WARN · freshness"+
		" · <https://wiki.example.com/teams/analytics/freshness?space=ops&amp;page=42|runbook>\nnewest row is 17m12s old (max 15m)") {
		t.Errorf("section 1: %s", s1.Text.Text)
	}
	c := att.Blocks[3]
	if c.Type != "context" || len(c.Elements) != 2 || c.Elements[0].Type != "mrkdwn" ||
		c.Elements[0].Text != "<https://status.example.com/alerts|Open the monitor's alerts>" ||
		c.Elements[1].Text != "receiver oncall · notification "+n.ID {
		t.Errorf("context %+v", c.Elements)
	}
}

// TestPayloadResolved: one resolved alert, green, with its outage's length.
func TestPayloadResolved(t *testing.T) {
	n := receivertest.Notification(receiver.StatusResolved)
	n.Alerts = n.Alerts[:1]
	m, _ := send(t, n, "")
	att := m.Attachments[0]
	if m.Channel != "" || att.Color != slack.ColorResolved {
		t.Errorf("channel %q color %s", m.Channel, att.Color)
	}
	if got := att.Blocks[0].Text.Text; got != "RESOLVED · usage_meters_connectivity" {
		t.Errorf("header %q", got)
	}
	want := ":large_green_circle: *<https://status.example.com/alerts/check:usage_meters_connectivity|usage_meters_connectivity>* resolved after 16m · was CRITICAL · db" +
		" · <" + receivertest.RunbookDB + "|runbook>\nok"
	if got := att.Blocks[1].Text.Text; got != want {
		t.Errorf("section\n%s\nwant\n%s", got, want)
	}
	if m.Text != "RESOLVED · usage_meters_connectivity — ok" {
		t.Errorf("text %q", m.Text)
	}
}

// TestColors: the bar's colour follows the worst firing severity.
func TestColors(t *testing.T) {
	for _, tc := range []struct {
		sev    check.Severity
		notice string
		color  string
		header string
	}{
		{check.Critical, "", slack.ColorCritical, "FIRING · CRITICAL · usage_meters_connectivity"},
		{check.Warn, receiver.NoticeSeverity, slack.ColorWarn, "SEVERITY CHANGED · WARN · usage_meters_connectivity"},
		{check.Info, receiver.NoticeRepeat, slack.ColorInfo, "STILL FIRING · INFO · usage_meters_connectivity"},
		{check.Warn, receiver.NoticeFlapping, slack.ColorWarn, "FLAPPING · WARN · usage_meters_connectivity"},
	} {
		n := receivertest.Notification(receiver.StatusFiring)
		n.Alerts = n.Alerts[:1]
		n.Alerts[0].Severity, n.Notice = tc.sev, tc.notice
		m := slack.Payload(n, "", receivertest.Now)
		if got := m.Attachments[0].Color; got != tc.color {
			t.Errorf("%s: color %s, want %s", tc.sev, got, tc.color)
		}
		if got := m.Attachments[0].Blocks[0].Text.Text; got != tc.header {
			t.Errorf("%s: header %q, want %q", tc.sev, got, tc.header)
		}
	}
	// A group with one alert resolved and one still firing is still red.
	n := receivertest.Notification(receiver.StatusFiring)
	n.Alerts[1].Status = receiver.StatusResolved
	n.Alerts[0].Severity = check.Warn
	m := slack.Payload(n, "", receivertest.Now)
	if got := m.Attachments[0].Blocks[0].Text.Text; got != "FIRING · WARN · 2 alerts (1 resolved)" {
		t.Errorf("mixed header %q", got)
	}
}

// TestLimits: a storm of 300 alerts with huge messages stays within
// Slack's limits, and says how many were left out.
func TestLimits(t *testing.T) {
	n := receivertest.Notification(receiver.StatusFiring)
	long := strings.Repeat("<&> é ", 2000)
	var alerts []receiver.Alert
	for range 300 {
		a := n.Alerts[0]
		a.Check = strings.Repeat("x", 200)
		a.Summary, a.Details = long, long
		alerts = append(alerts, a)
	}
	n.Alerts = alerts
	m, _ := send(t, n, "")
	blocks := m.Attachments[0].Blocks
	if len(blocks) > slack.MaxBlocks {
		t.Errorf("%d blocks, Slack takes %d", len(blocks), slack.MaxBlocks)
	}
	sections := 0
	for _, b := range blocks {
		if b.Text == nil {
			continue
		}
		limit := slack.MaxSectionText
		if b.Type == "header" {
			limit = slack.MaxHeaderText
		}
		if c := utf8.RuneCountInString(b.Text.Text); c > limit {
			t.Errorf("%s block of %d characters (limit %d)", b.Type, c, limit)
		}
		if b.Type == "section" {
			sections++
			// The cut never leaves half an entity.
			if i := strings.LastIndexByte(b.Text.Text, '&'); i >= 0 && !strings.Contains(b.Text.Text[i:], ";") {
				t.Errorf("section ends in a cut entity: …%s", b.Text.Text[max(0, len(b.Text.Text)-20):])
			}
		}
	}
	if sections != slack.MaxAlertSections+1 {
		t.Errorf("%d sections, want %d alerts and one more", sections, slack.MaxAlertSections)
	}
	more := blocks[len(blocks)-2].Text.Text
	if !strings.HasPrefix(more, "… and 280 more alerts") {
		t.Errorf("the last section says %q", more)
	}
	if c := utf8.RuneCountInString(m.Text); c > slack.MaxText {
		t.Errorf("text of %d characters", c)
	}
}

// TestNoSecretInErrors: the webhook URL's path is Slack's token; a 500
// echoing the request does not put it in the error; 404 (no_service) is
// permanent, 429 carries Retry-After.
func TestNoSecretInErrors(t *testing.T) {
	const token = "T0AAAA/B0BBBB/xoxSecretPart1234"
	srv := receivertest.NewServer(t, receivertest.Echo)
	c := slack.Config{URL: check.Secret(srv.URL + "/services/" + token)}
	s, err := slack.Type.Sender("chat", &c, receivertest.Deps())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(t.Context(), receivertest.Notification(receiver.StatusFiring))
	if se := receiver.AsSendError(err); err == nil || se.StatusCode != 500 || se.Permanent {
		t.Fatalf("Send = %v, want a retryable 500", err)
	}
	receivertest.NoSecret(t, err, token, srv.URL+"/services/"+token)

	srv.Answer = func(w http.ResponseWriter, _ receivertest.Request, _ int) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("no_service"))
	}
	err = s.Send(t.Context(), receivertest.Notification(receiver.StatusFiring))
	if se := receiver.AsSendError(err); !se.Permanent || !strings.Contains(err.Error(), "no_service") {
		t.Errorf("404: %v, want permanent no_service", err)
	}
	srv.Answer = func(w http.ResponseWriter, _ receivertest.Request, _ int) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
	}
	err = s.Send(t.Context(), receivertest.Notification(receiver.StatusFiring))
	if se := receiver.AsSendError(err); se.Permanent || se.RetryAfter != 30*time.Second {
		t.Errorf("429: %v (retry after %s), want retryable after 30s", err, se.RetryAfter)
	}
}
