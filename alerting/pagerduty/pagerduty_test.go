package pagerduty_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/monitor-dev/monitor/alerting/pagerduty"
	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/alerting/receiver/receivertest"
	"github.com/monitor-dev/monitor/check"
)

const routingKey = "R0UTINGKEY0123456789abcdefABCDEF"

// event is an Events API v2 event as PagerDuty reads it.
type event struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Payload     *struct {
		Summary       string         `json:"summary"`
		Source        string         `json:"source"`
		Severity      string         `json:"severity"`
		Timestamp     string         `json:"timestamp"`
		Component     string         `json:"component"`
		Group         string         `json:"group"`
		Class         string         `json:"class"`
		CustomDetails map[string]any `json:"custom_details"`
	} `json:"payload"`
	Links []struct {
		Href string `json:"href"`
		Text string `json:"text"`
	} `json:"links"`
	Client    string `json:"client"`
	ClientURL string `json:"client_url"`
}

// accepted answers as PagerDuty does on success.
func accepted(w http.ResponseWriter, r receivertest.Request, _ int) {
	var ev event
	json.Unmarshal(r.Body, &ev)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
}

func newSender(t *testing.T, url string) receiver.Sender {
	t.Helper()
	c := pagerduty.DefaultConfig
	c.RoutingKey, c.URL = routingKey, url
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := pagerduty.Type.Sender("pd", &c, receivertest.Deps())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func events(t *testing.T, srv *receivertest.Server) []event {
	t.Helper()
	var out []event
	for _, r := range srv.Requests() {
		if r.Method != http.MethodPost || r.Path != "/v2/enqueue" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s %s %s", r.Method, r.Path, r.Header.Get("Content-Type"))
		}
		var ev event
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// TestTrigger: one trigger event per firing alert, field by field.
func TestTrigger(t *testing.T) {
	srv := receivertest.NewServer(t, accepted)
	s := newSender(t, srv.URL+"/v2/enqueue")
	n := receivertest.Notification(receiver.StatusFiring)
	n.Alerts[1].Labels["handle"] = "acme"
	if err := s.Send(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	evs := events(t, srv)
	if len(evs) != 2 {
		t.Fatalf("%d events, want one per alert", len(evs))
	}
	ev := evs[0]
	if ev.RoutingKey != routingKey || ev.EventAction != "trigger" || ev.DedupKey != "check:usage_meters_connectivity" ||
		ev.Client != "monitor" || ev.ClientURL != "https://status.example.com" {
		t.Errorf("event %+v", ev)
	}
	p := ev.Payload
	if p == nil {
		t.Fatal("no payload")
	}
	if p.Summary != "usage_meters_connectivity: dial tcp 10.0.0.5:5432: connection refused" ||
		p.Source != "usage_meters_connectivity" || p.Severity != "critical" || p.Timestamp != "2026-11-21T10:29:40Z" ||
		p.Component != "Usage metering" || p.Group != "" || p.Class != "db" {
		t.Errorf("payload %+v", *p)
	}
	cd := p.CustomDetails
	if cd["check"] != "usage_meters_connectivity" || cd["alert"] != "check:usage_meters_connectivity" ||
		cd["severity"] != "CRITICAL" || cd["status"] != "firing" || cd["notification"] != n.ID ||
		cd["url"] != n.Alerts[0].URL || cd["runbook_url"] != receivertest.RunbookDB || cd["startsAt"] != "2026-11-21T10:13:00Z" {
		t.Errorf("custom_details %v", cd)
	}
	if res, _ := cd["result"].(map[string]any); res["status"] != "FAIL" || res["message"] != "dial tcp 10.0.0.5:5432: connection refused" {
		t.Errorf("custom_details.result %v", cd["result"])
	}
	if labels, _ := cd["labels"].(map[string]any); labels["component"] != "Usage metering" || labels["kind"] != "db" {
		t.Errorf("custom_details.labels %v", cd["labels"])
	}
	wantLinks := []string{n.Alerts[0].URL, "This alert in the monitor", receivertest.RunbookDB, "Runbook", n.URL, "All alerts"}
	var links []string
	for _, l := range ev.Links {
		links = append(links, l.Href, l.Text)
	}
	if !reflect.DeepEqual(links, wantLinks) {
		t.Errorf("links %v, want %v", links, wantLinks)
	}
	if p := evs[1].Payload; evs[1].DedupKey != "check:redirect_analytics_freshness" || p.Severity != "warning" ||
		p.Group != "acme" || p.Class != "freshness" {
		t.Errorf("second event %+v %+v", evs[1], p)
	}
	// INFO is info.
	if got := pagerduty.Severity(check.Info); got != "info" {
		t.Errorf("Severity(INFO) = %s", got)
	}
}

// TestResolve: a resolved alert is a resolve event with the same dedup_key
// as its trigger.
func TestResolve(t *testing.T) {
	srv := receivertest.NewServer(t, accepted)
	s := newSender(t, srv.URL+"/v2/enqueue")
	if err := s.Send(t.Context(), receivertest.Notification(receiver.StatusResolved)); err != nil {
		t.Fatal(err)
	}
	evs := events(t, srv)
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	for i, ev := range evs {
		want := receivertest.Notification(receiver.StatusResolved).Alerts[i].ID
		if ev.EventAction != "resolve" || ev.DedupKey != want || ev.RoutingKey != routingKey || ev.Payload != nil {
			t.Errorf("event %d: %+v", i, ev)
		}
	}
}

// TestPartialFailure: one event of two refused with 500: the send fails
// (retryable) and the retry sends only the refused one.
func TestPartialFailure(t *testing.T) {
	fail := true
	srv := receivertest.NewServer(t, func(w http.ResponseWriter, r receivertest.Request, n int) {
		if fail && strings.Contains(string(r.Body), "redirect_analytics_freshness") {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		accepted(w, r, n)
	})
	s := newSender(t, srv.URL+"/v2/enqueue")
	n := receivertest.Notification(receiver.StatusFiring)
	err := s.Send(t.Context(), n)
	se := receiver.AsSendError(err)
	if err == nil || se.Permanent || se.StatusCode != 500 || !strings.Contains(err.Error(), "1 of 2 events not accepted") {
		t.Fatalf("Send = %v, want a retryable error for 1 of 2 events", err)
	}
	fail = false
	if err := s.Send(t.Context(), n); err != nil {
		t.Fatalf("retry: %v", err)
	}
	evs := events(t, srv)
	if len(evs) != 3 || evs[2].DedupKey != "check:redirect_analytics_freshness" {
		t.Errorf("%d events; the retry sent %+v, want only the refused one", len(evs), evs[len(evs)-1].DedupKey)
	}
	// Once delivered, a replay of the same notification sends everything again.
	if err := s.Send(t.Context(), n); err != nil || len(srv.Requests()) != 5 {
		t.Errorf("replay: %v, %d requests", err, len(srv.Requests()))
	}
}

// TestRateLimited: after a 429 the other events are not tried; the error
// carries Retry-After.
func TestRateLimited(t *testing.T) {
	srv := receivertest.NewServer(t, func(w http.ResponseWriter, _ receivertest.Request, _ int) {
		w.Header().Set("Retry-After", "20")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	s := newSender(t, srv.URL+"/v2/enqueue")
	n := receivertest.Notification(receiver.StatusFiring)
	n.Alerts = append(n.Alerts, n.Alerts[0])
	n.Alerts[2].ID = "check:third"
	err := s.Send(t.Context(), n)
	se := receiver.AsSendError(err)
	if err == nil || se.Permanent || se.RetryAfter != 20*time.Second || !strings.Contains(err.Error(), "3 of 3") {
		t.Errorf("Send = %v (retry after %s), want retryable after 20s", err, se.RetryAfter)
	}
	if got := len(srv.Requests()); got != 1 {
		t.Errorf("%d requests after a 429, want 1", got)
	}
}

// TestInvalidEvent: a 400 for every event is permanent, and PagerDuty's
// reason is in the error.
func TestInvalidEvent(t *testing.T) {
	srv := receivertest.NewServer(t, func(w http.ResponseWriter, _ receivertest.Request, _ int) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect"]}`))
	})
	s := newSender(t, srv.URL+"/v2/enqueue")
	err := s.Send(t.Context(), receivertest.Notification(receiver.StatusFiring))
	if se := receiver.AsSendError(err); !se.Permanent || se.StatusCode != 400 || !strings.Contains(err.Error(), "Event object is invalid") {
		t.Errorf("Send = %v, want permanent 400 with the reason", err)
	}
}

// TestNoSecretInErrors: a 500 echoing the request does not put the
// routing key in the error.
func TestNoSecretInErrors(t *testing.T) {
	srv := receivertest.NewServer(t, receivertest.Echo)
	s := newSender(t, srv.URL+"/v2/enqueue")
	err := s.Send(t.Context(), receivertest.Notification(receiver.StatusFiring))
	if err == nil || !strings.Contains(err.Error(), "status 500") {
		t.Fatalf("Send = %v", err)
	}
	receivertest.NoSecret(t, err, routingKey)
}

// TestDeadline: a PagerDuty that does not answer is given up at ctx's
// deadline, and the other events are not tried.
func TestDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := receivertest.NewServer(t, func(http.ResponseWriter, receivertest.Request, int) { <-release })
	defer close(release)
	s := newSender(t, srv.URL+"/v2/enqueue")
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Send(ctx, receivertest.Notification(receiver.StatusFiring))
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %s", took)
	}
	if err == nil || receiver.AsSendError(err).Permanent || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send = %v, want a retryable deadline error", err)
	}
	if got := len(srv.Requests()); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
}

func TestDedupKeyAndSummaryBounds(t *testing.T) {
	long := "escalation:" + strings.Repeat("é", 300)
	k := pagerduty.DedupKey(long)
	if n := utf8.RuneCountInString(k); n > pagerduty.MaxDedupKey || !utf8.ValidString(k) {
		t.Errorf("dedup_key of %d characters", n)
	}
	if k != pagerduty.DedupKey(long) || k == pagerduty.DedupKey(long+"x") {
		t.Errorf("dedup_key not stable or not distinct")
	}
	if got := pagerduty.DedupKey("check:x"); got != "check:x" {
		t.Errorf("short id became %q", got)
	}

	srv := receivertest.NewServer(t, accepted)
	s := newSender(t, srv.URL+"/v2/enqueue")
	n := receivertest.Notification(receiver.StatusFiring)
	n.Alerts = n.Alerts[:1]
	n.Alerts[0].Summary = strings.Repeat("ü", 5000)
	if err := s.Send(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	if c := utf8.RuneCountInString(events(t, srv)[0].Payload.Summary); c > pagerduty.MaxSummary {
		t.Errorf("summary of %d characters", c)
	}
}
