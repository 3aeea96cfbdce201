package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/monitor-dev/monitor/alerting"
	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/internal/runbook"
)

// alertTestTimeout bounds `monitor alert test`'s one attempt.
const alertTestTimeout = 30 * time.Second

// cmdAlert is `monitor alert test --receiver NAME`.
func cmdAlert(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if code, done := groupUsage("alert", args, stdout, stderr); done {
		return code
	}
	var c commonFlags
	fs := newFlagSet("alert test", stderr, &c)
	name := fs.String("receiver", "", "the receiver `NAME` (from alerting: receivers:)")
	if code, ok := c.parse(fs, "alert test", args[1:], stdout, stderr); !ok {
		return code
	}
	l, ok := c.load("alert test", stderr)
	if !ok {
		return exitConfig
	}
	var names []string
	var rcv *config.Receiver
	for i := range l.cfg.Alerting.Receivers {
		r := &l.cfg.Alerting.Receivers[i]
		names = append(names, r.Name)
		if r.Name == *name {
			rcv = r
		}
	}
	switch {
	case len(names) == 0:
		fmt.Fprintf(stderr, "monitor alert test: %s has no receivers (add one under alerting: receivers:)\n", l.path)
		return exitConfig
	case *name == "":
		fmt.Fprintf(stderr, "monitor alert test: --receiver is required (one of %s)\n", strings.Join(names, ", "))
		return exitConfig
	case rcv == nil:
		fmt.Fprintf(stderr, "monitor alert test: no receiver %q in %s (want one of %s)\n", *name, l.path, strings.Join(names, ", "))
		return exitConfig
	}
	sender, err := newSender(*rcv, l.cfg, l.logger)
	if err != nil {
		fmt.Fprintf(stderr, "monitor alert test: %s\n", l.red.Redact(err.Error()))
		return exitConfig
	}
	n := sampleNotification(rcv.Name, l.cfg.Server.PublicURL, time.Now())
	n.Alerts[0].RunbookURL = runbook.URL(l.cfg.Alerting.RunbookURL, runbook.Test)
	sctx, cancel := context.WithTimeout(ctx, alertTestTimeout)
	defer cancel()
	start := time.Now()
	err = sender.Send(sctx, n)
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		se := receiver.AsSendError(err)
		msg := l.red.Redact(se.Error())
		if se.Permanent {
			msg += " (permanent: retrying would not help)"
		}
		fmt.Fprintf(stdout, "%s (%s): FAILED after %s: %s\n", rcv.Name, rcv.Type, took, msg)
		return exitFail
	}
	fmt.Fprintf(stdout, "%s (%s): sent in %s (notification %s)\n", rcv.Name, rcv.Type, took, n.ID)
	return exitOK
}

// newSender builds the sender of one configured receiver.
func newSender(r config.Receiver, cfg *config.Config, logger *slog.Logger) (receiver.Sender, error) {
	t, ok := config.ReceiverType(r.Type)
	if !ok || t.Sender == nil {
		return nil, fmt.Errorf("receiver %q: type %s cannot send yet", r.Name, r.Type)
	}
	return t.Sender(r.Name, r.Config, senderDeps(cfg, logger))
}

// senderTimeout bounds one delivery attempt to an HTTP receiver.
const senderTimeout = 10 * time.Second

// senderDeps is what the senders of cfg's receivers share. Receivers are
// configured by the operator, so their URLs are not held to the SSRF guard
// (a webhook on the internal network is normal).
func senderDeps(cfg *config.Config, logger *slog.Logger) receiver.Deps {
	return receiver.Deps{
		HTTP:      &http.Client{Timeout: senderTimeout},
		PublicURL: cfg.Server.PublicURL,
		Now:       time.Now,
		Logger:    logger.With("component", "alerting"),
	}
}

// sampleNotification is what `monitor alert test` sends: one firing alert
// of a made-up check, marked as a test.
func sampleNotification(rcv, publicURL string, now time.Time) receiver.Notification {
	now = now.UTC().Truncate(time.Second)
	sp := check.Spec{Name: "monitor_test_alert", Kind: "test", Severity: check.Warn}
	res := sp.FailResult("this is a test notification from monitor alert test")
	res.CheckedAt = now
	a := receiver.Alert{
		ID: "test:monitor_test_alert", Check: sp.Name, Kind: "test", Status: receiver.StatusFiring,
		Severity: check.Warn, Summary: res.Message, Result: &res, StartsAt: now,
		Labels: map[string]string{"check": sp.Name, "kind": "test", "severity": string(check.Warn)},
	}
	if publicURL != "" {
		a.URL = publicURL + "/v2/alerts"
	}
	return receiver.Notification{
		ID: "test-" + now.Format("20060102T150405Z"), Status: receiver.StatusFiring, Notice: receiver.NoticeTest,
		GroupKey: "test", Receiver: rcv, Alerts: []receiver.Alert{a}, URL: publicURL, CreatedAt: now,
	}
}

// cmdAlerts is `monitor alerts`: the alerts of a running daemon.
func cmdAlerts(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c commonFlags
	fs := newFlagSet("alerts", stderr, &c)
	url := fs.String("url", "", "the daemon's `URL` (default http:// + server.listen of the config)")
	token := fs.String("token", "", "a bearer `TOKEN` for the private API (default $MONITOR_API_TOKEN)")
	format := fs.String("format", "table", "output: table or json")
	all := fs.Bool("all", false, "also list resolved and pending alerts")
	if code, ok := c.parse(fs, "alerts", args, stdout, stderr); !ok {
		return code
	}
	if *format != "table" && *format != "json" {
		fmt.Fprintf(stderr, "monitor alerts: bad --format %q (want table or json)\n", *format)
		return exitConfig
	}
	base := strings.TrimSuffix(*url, "/")
	var l loaded
	if base == "" {
		var ok bool
		if l, ok = c.load("alerts", stderr); !ok {
			return exitConfig
		}
		base = "http://" + l.cfg.Server.Listen
	}
	tok := *token
	if tok == "" {
		tok = os.Getenv("MONITOR_API_TOKEN")
	}
	views, err := fetchAlerts(ctx, base, tok)
	var down *daemonDownError
	if errors.As(err, &down) && l.cfg != nil {
		// No daemon: what the store says, without silences and
		// maintenance (they live in the daemon).
		fmt.Fprintf(stderr, "monitor alerts: no daemon at %s; reading the store (silences and maintenance not shown)\n", base)
		views, err = storedAlerts(ctx, l)
	}
	if err != nil {
		fmt.Fprintf(stderr, "monitor alerts: %v\n", err)
		return exitFail
	}
	if !*all {
		firing := views[:0]
		for _, v := range views {
			if v.Status == "firing" {
				firing = append(firing, v)
			}
		}
		views = firing
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"alerts": views})
		return exitOK
	}
	if len(views) == 0 {
		fmt.Fprintln(stdout, "no alerts firing")
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ALERT\tSTATUS\tSEVERITY\tSINCE\tNOTE\tRECEIVERS")
	for _, v := range views {
		var note []string
		if v.Silenced {
			note = append(note, "silenced")
		}
		if v.Maintenance {
			note = append(note, "maintenance")
		}
		if len(v.InhibitedBy) > 0 {
			note = append(note, "inhibited by "+strings.Join(v.InhibitedBy, ","))
		}
		if v.Flapping {
			note = append(note, "flapping")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.ID, v.Status, v.Severity,
			v.StartsAt.UTC().Format(time.RFC3339), strings.Join(note, "; "), strings.Join(v.Receivers, ","))
	}
	_ = tw.Flush()
	return exitOK
}

func fetchAlerts(ctx context.Context, base, token string) ([]alerting.View, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v2/alerts", nil)
	if err != nil {
		return nil, fmt.Errorf("bad --url: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, &daemonDownError{base: base, err: errors.Unwrap(err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode != http.StatusOK {
		var env struct {
			Desc string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &env)
		if env.Desc == "" {
			env.Desc = strings.TrimSpace(string(body))
		}
		return nil, fmt.Errorf("%s: %s: %s", base, resp.Status, env.Desc)
	}
	var out struct {
		Alerts []alerting.View `json:"alerts"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("%s: unreadable answer: %v", base, err)
	}
	return out.Alerts, nil
}

// daemonDownError is a daemon that could not be reached at all.
type daemonDownError struct {
	base string
	err  error
}

func (e *daemonDownError) Error() string {
	return fmt.Sprintf("is the daemon running at %s? %v", e.base, e.err)
}

// storedAlerts reads the alerts from the config's store (no lock: a
// daemon may be starting beside it).
func storedAlerts(ctx context.Context, l loaded) ([]alerting.View, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := openStore(ctx, l.cfg, l.logger)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	rows, err := st.LoadAlerts(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]alerting.View, 0, len(rows))
	for _, row := range rows {
		v, ok, err := alerting.ViewOfRow(row, now)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b alerting.View) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
