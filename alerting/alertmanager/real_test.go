package alertmanager

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/testenv"
)

// startAlertmanager runs Debian's prometheus-alertmanager on a free
// loopback port, without clustering, and returns its base URL and a
// function that waits until it is ready (so that several start at once).
func startAlertmanager(t *testing.T) (string, func()) {
	t.Helper()
	bin := testenv.Tool(t, "prometheus-alertmanager", "prometheus-alertmanager")
	dir := t.TempDir()
	conf := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(conf, []byte("route: { receiver: \"null\" }\nreceivers: [ { name: \"null\" } ]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	logFile, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--config.file="+conf,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = logFile.Close()
	})

	base := "http://" + addr
	return base, func() {
		t.Helper()
		waitReady(t, base, exited, logFile.Name())
	}
}

func waitReady(t *testing.T, base string, exited <-chan error, logName string) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get(base + "/-/ready")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logName)
			t.Fatalf("alertmanager exited: %v\n%s", err, log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logName)
			t.Fatalf("alertmanager not ready after 15s:\n%s", log)
		}
	}
}

// gettableAlert is an alert as GET /api/v2/alerts shows it.
type gettableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

func getAlerts(t *testing.T, base string) map[string]gettableAlert {
	t.Helper()
	resp, err := http.Get(base + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []gettableAlert
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	out := map[string]gettableAlert{}
	for _, a := range list {
		out[a.Labels["alertname"]+"/"+a.Labels["severity"]] = a
	}
	return out
}

// TestRealAlertmanager fires, changes severity and resolves alerts in a
// real Alertmanager and reads its state back through Alertmanager's own
// API. Two Alertmanagers and a dead URL stand for an HA cluster.
func TestRealAlertmanager(t *testing.T) {
	ams := make([]string, 2)
	waits := make([]func(), 2)
	for i := range ams {
		ams[i], waits[i] = startAlertmanager(t)
	}
	for _, wait := range waits {
		wait()
	}
	c := &Config{URL: check.Secret(ams[0]), URLs: []check.Secret{check.Secret(deadURL(t)), check.Secret(ams[1])}}
	n, err := New("am", c, receiver.Deps{HTTP: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now().Add(-10 * time.Minute).UTC().Truncate(time.Millisecond)

	if err := n.Send(ctx, firing(start)); err != nil {
		t.Fatalf("firing: %v", err)
	}
	for i, base := range ams {
		got := getAlerts(t, base)
		db, ok := got["usage_db/CRITICAL"]
		if !ok || len(got) != 2 {
			t.Fatalf("alertmanager %d has %v, want usage_db and escalation", i, got)
		}
		wantLabels := map[string]string{"alertname": "usage_db", "check": "usage_db", "kind": "db", "severity": "CRITICAL",
			"component": "Usage metering", "handle": "acme", "team_name": "core", "alert_id": "check:usage_db"}
		if fmt.Sprint(db.Labels) != fmt.Sprint(wantLabels) {
			t.Errorf("alertmanager %d labels %v, want %v", i, db.Labels, wantLabels)
		}
		if db.Annotations["summary"] != "connect: connection refused" || db.Annotations["description"] != "3 failures in a row" ||
			db.Annotations["runbook_url"] != runbookDB {
			t.Errorf("annotations %v", db.Annotations)
		}
		if db.Status.State != "active" || !db.StartsAt.Equal(start) ||
			db.GeneratorURL != "https://status.example.com/alerts/check:usage_db" {
			t.Errorf("alert %+v", db)
		}
		if left := time.Until(db.EndsAt); left < DefaultResolveTimeout-time.Minute || left > DefaultResolveTimeout {
			t.Errorf("endsAt in %v, want about %v", left, DefaultResolveTimeout)
		}
		if esc := got["escalation/WARN"]; esc.Status.State != "active" || esc.Labels["handle"] != "acme" {
			t.Errorf("escalation %+v", esc)
		}
	}

	// WARN → CRITICAL: Alertmanager keeps one alert, not one per severity.
	up := firing(start)
	up.Notice = receiver.NoticeSeverity
	up.Alerts[1].Severity = check.Critical
	if err := n.Send(ctx, up); err != nil {
		t.Fatalf("severity change: %v", err)
	}
	got := getAlerts(t, ams[0])
	if _, ok := got["escalation/WARN"]; ok || got["escalation/CRITICAL"].Status.State != "active" || len(got) != 2 {
		t.Errorf("after the severity change alertmanager has %v", keys(got))
	}

	res := resolved(start, time.Now())
	res.Alerts[1].Severity = check.Critical
	if err := n.Send(ctx, res); err != nil {
		t.Fatalf("resolved: %v", err)
	}
	for i, base := range ams {
		if got := getAlerts(t, base); len(got) != 0 {
			t.Errorf("alertmanager %d still shows %v after the resolve", i, keys(got))
		}
	}

	// The dead member's URL (with its credentials) never shows in an error.
	c.URLs = c.URLs[:1]
	c.URL = ""
	only, err := New("am", c, receiver.Deps{HTTP: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	err = only.Send(ctx, firing(start))
	if err == nil {
		t.Fatal("a send to a dead alertmanager succeeded")
	}
	assertNoSecret(t, err.Error(), c.URLs[0].Reveal())
}

func keys(m map[string]gettableAlert) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return strings.Join(ks, ", ")
}
