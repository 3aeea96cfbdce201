package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// runbookDB is the runbook link of the sample's db alert.
const runbookDB = "https://github.com/monitor-dev/monitor/blob/main/docs/runbooks.md#check-db"

func firing(start time.Time) receiver.Notification {
	return receiver.Notification{
		ID:       "n-1",
		Status:   receiver.StatusFiring,
		Receiver: "am",
		URL:      "https://status.example.com/alerts",
		Alerts: []receiver.Alert{{
			ID: "check:usage_db", Check: "usage_db", Kind: "db", Status: receiver.StatusFiring,
			Severity: check.Critical,
			Labels: map[string]string{"check": "usage_db", "kind": "db", "severity": "CRITICAL",
				"component": "Usage metering", "handle": "acme", "team-name": "core"},
			Summary:    "connect: connection refused",
			Details:    "3 failures in a row",
			StartsAt:   start,
			URL:        "https://status.example.com/alerts/check:usage_db",
			RunbookURL: runbookDB,
		}, {
			ID: "escalation:7", Kind: "escalation", Status: receiver.StatusFiring, Severity: check.Warn,
			Labels:   map[string]string{"handle": "acme"},
			Result:   &check.Result{Message: "from the result"},
			StartsAt: start,
		}},
		CreatedAt: start,
	}
}

func resolved(start, end time.Time) receiver.Notification {
	n := firing(start)
	n.ID, n.Status = "n-2", receiver.StatusResolved
	for i := range n.Alerts {
		n.Alerts[i].Status, n.Alerts[i].EndsAt = receiver.StatusResolved, &end
	}
	return n
}

// capture is an Alertmanager stand-in that records what it is sent.
type capture struct {
	mu     sync.Mutex
	posts  [][]postableAlert
	paths  []string
	status int
	header http.Header
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var alerts []postableAlert
	if err := json.Unmarshal(b, &alerts); err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.posts = append(c.posts, alerts)
	c.paths = append(c.paths, r.URL.Path)
	status, header := c.status, c.header
	c.mu.Unlock()
	for k, v := range header {
		w.Header()[k] = v
	}
	if status != 0 {
		http.Error(w, `"not now: `+strings.Repeat("x", 500)+`"`, status)
	}
}

func newNotifier(t *testing.T, c *Config, logger *slog.Logger) *Notifier {
	t.Helper()
	n, err := New("am", c, receiver.Deps{HTTP: &http.Client{Timeout: 5 * time.Second},
		Now: func() time.Time { return now }, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPayload(t *testing.T) {
	var c capture
	srv := httptest.NewServer(&c)
	t.Cleanup(srv.Close)
	n := newNotifier(t, &Config{URL: check.Secret(srv.URL + "/prefix/")}, nil)

	start := now.Add(-time.Hour)
	if err := n.Send(context.Background(), firing(start)); err != nil {
		t.Fatal(err)
	}
	end := now.Add(-time.Minute)
	if err := n.Send(context.Background(), resolved(start, end)); err != nil {
		t.Fatal(err)
	}
	if len(c.posts) != 2 || c.paths[0] != "/prefix/api/v2/alerts" {
		t.Fatalf("got %d posts to %q", len(c.posts), c.paths)
	}
	want := []postableAlert{{
		Labels: map[string]string{"alertname": "usage_db", "check": "usage_db", "kind": "db", "severity": "CRITICAL",
			"component": "Usage metering", "handle": "acme", "team_name": "core", "alert_id": "check:usage_db"},
		Annotations: map[string]string{"summary": "connect: connection refused", "description": "3 failures in a row",
			"runbook_url": runbookDB},
		StartsAt:     start,
		EndsAt:       now.Add(DefaultResolveTimeout),
		GeneratorURL: "https://status.example.com/alerts/check:usage_db",
	}, {
		Labels:       map[string]string{"alertname": "escalation", "kind": "escalation", "severity": "WARN", "handle": "acme", "alert_id": "escalation:7"},
		Annotations:  map[string]string{"summary": "from the result"},
		StartsAt:     start,
		EndsAt:       now.Add(DefaultResolveTimeout),
		GeneratorURL: "https://status.example.com/alerts", // the notification's when the alert has none
	}}
	assertAlerts(t, "firing", c.posts[0], want)
	for i := range want {
		want[i].EndsAt = end
	}
	assertAlerts(t, "resolved", c.posts[1], want)
}

func assertAlerts(t *testing.T, what string, got, want []postableAlert) {
	t.Helper()
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	if !bytes.Equal(g, w) {
		t.Errorf("%s alerts:\n%s\nwant:\n%s", what, g, w)
	}
}

func TestSeverityChangeEndsTheOtherSeverities(t *testing.T) {
	var c capture
	srv := httptest.NewServer(&c)
	t.Cleanup(srv.Close)
	n := newNotifier(t, &Config{URL: check.Secret(srv.URL), ResolveTimeout: time.Hour}, nil)
	notif := firing(now.Add(-time.Hour))
	notif.Notice = receiver.NoticeSeverity
	notif.Alerts = notif.Alerts[:1]
	if err := n.Send(context.Background(), notif); err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Time{}
	for _, a := range c.posts[0] {
		got[a.Labels["severity"]] = a.EndsAt
	}
	want := map[string]time.Time{"CRITICAL": now.Add(time.Hour), "WARN": now, "INFO": now}
	if len(got) != len(want) || got["CRITICAL"] != want["CRITICAL"] || got["WARN"] != now || got["INFO"] != now {
		t.Errorf("endsAt by severity %v, want %v", got, want)
	}
}

func TestTestNoticeEndsSoon(t *testing.T) {
	var c capture
	srv := httptest.NewServer(&c)
	t.Cleanup(srv.Close)
	n := newNotifier(t, &Config{URL: check.Secret(srv.URL)}, nil)
	notif := firing(now)
	notif.Notice = receiver.NoticeTest
	if err := n.Send(context.Background(), notif); err != nil {
		t.Fatal(err)
	}
	if got := c.posts[0][0].EndsAt; !got.Equal(now.Add(TestResolveTimeout)) {
		t.Errorf("a test sample ends at %v, want %v", got, now.Add(TestResolveTimeout))
	}
}

// deadURL is an http URL where nothing listens, with credentials and a
// token that must not leak.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://am-user:am-pa55word@" + addr + "/t0ken-path"
}

func assertNoSecret(t *testing.T, s string, secrets ...string) {
	t.Helper()
	for _, sec := range append(secrets, "am-pa55word", "t0ken") {
		if strings.Contains(s, sec) {
			t.Errorf("%q shows the secret %q", s, sec)
		}
	}
}

func TestClusterMembers(t *testing.T) {
	var up capture
	srv := httptest.NewServer(&up)
	t.Cleanup(srv.Close)
	dead := deadURL(t)
	upURL := strings.Replace(srv.URL, "http://", "http://am-user:am-pa55word@", 1) + "/t0ken-path"

	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	t.Run("one member down", func(t *testing.T) {
		n := newNotifier(t, &Config{URL: check.Secret(dead), URLs: []check.Secret{check.Secret(upURL)}}, logger)
		if err := n.Send(context.Background(), firing(now)); err != nil {
			t.Fatalf("Send: %v, want success when one member accepted", err)
		}
		if len(up.posts) != 1 {
			t.Errorf("the member that is up got %d posts", len(up.posts))
		}
		if !strings.Contains(logs.String(), "alertmanager post failed") || !strings.Contains(logs.String(), "alertmanager=0") {
			t.Errorf("the failing member is not logged:\n%s", logs.String())
		}
		assertNoSecret(t, logs.String(), dead, upURL)
	})

	t.Run("all members down", func(t *testing.T) {
		n := newNotifier(t, &Config{URLs: []check.Secret{check.Secret(dead), check.Secret(dead + "/2")}}, logger)
		err := n.Send(context.Background(), firing(now))
		var se *receiver.SendError
		if !errors.As(err, &se) || se.Permanent || se.StatusCode != 0 {
			t.Fatalf("Send: %#v, want a temporary *receiver.SendError", err)
		}
		if !strings.Contains(err.Error(), "all 2 alertmanagers failed") || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("error %q", err)
		}
		assertNoSecret(t, err.Error(), dead)
	})

	for _, tc := range []struct {
		name       string
		status     int
		header     http.Header
		permanent  bool
		retryAfter time.Duration
	}{
		{name: "400 is permanent", status: 400, permanent: true},
		{name: "404 is permanent", status: 404, permanent: true},
		{name: "500 is temporary", status: 500},
		{name: "429 with Retry-After", status: 429, header: http.Header{"Retry-After": {"30"}}, retryAfter: 30 * time.Second},
		{name: "503 with a Retry-After date", status: 503,
			header: http.Header{"Retry-After": {now.Add(2 * time.Minute).Format(http.TimeFormat)}}, retryAfter: 2 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up.mu.Lock()
			up.status, up.header = tc.status, tc.header
			up.mu.Unlock()
			t.Cleanup(func() { up.mu.Lock(); up.status, up.header = 0, nil; up.mu.Unlock() })
			n := newNotifier(t, &Config{URL: check.Secret(upURL)}, logger)
			err := n.Send(context.Background(), firing(now))
			var se *receiver.SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send: %v, want a *receiver.SendError", err)
			}
			if se.StatusCode != tc.status || se.Permanent != tc.permanent || se.RetryAfter != tc.retryAfter {
				t.Errorf("got status %d permanent %v retry after %v, want %d %v %v",
					se.StatusCode, se.Permanent, se.RetryAfter, tc.status, tc.permanent, tc.retryAfter)
			}
			if !strings.Contains(se.Error(), "not now") || len(se.Error()) > 300 {
				t.Errorf("error %q: want the start of the answer, bounded", se)
			}
			assertNoSecret(t, se.Error(), upURL)
		})
	}
}

func TestLabelName(t *testing.T) {
	for in, want := range map[string]string{
		"team": "team", "team-name": "team_name", "9lives": "_lives", "ümlaut": "_mlaut", "__meta": "", "___": "", "a.b/c": "a_b_c",
	} {
		if got := labelName(in); got != want {
			t.Errorf("labelName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResolveTimeoutValidation(t *testing.T) {
	for d, ok := range map[time.Duration]bool{0: true, time.Minute: true, 30 * time.Second: false, 200 * 24 * time.Hour: false} {
		c := Config{URL: "http://am:9093", ResolveTimeout: d}
		err := c.Validate()
		if ok != (err == nil) || err != nil && !errors.Is(err, ErrInvalidResolveTimeout) {
			t.Errorf("resolve_timeout %v: %v", d, err)
		}
	}
}

func TestTypeSender(t *testing.T) {
	c := Type.New().(*Config)
	c.URL = "http://am:9093"
	s, err := Type.Sender("am", c, receiver.Deps{HTTP: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*Notifier); !ok {
		t.Errorf("Type.Sender gave a %T", s)
	}
	if _, err := Type.Sender("am", Type.New(), receiver.Deps{}); err == nil {
		t.Error("Type.Sender accepted a configuration without url")
	}
}
