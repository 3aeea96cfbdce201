package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/internal/testenv"
)

// monitor alert test sends one signed sample to the named receiver, says
// so, and exits 1 with the receiver's answer (no secret) when it refuses.
func TestAlertTestCommand(t *testing.T) {
	var code atomic.Int32
	code.Store(http.StatusNoContent)
	var gotID, gotSig, gotBody atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		gotBody.Store(body)
		gotID.Store(r.Header.Get("webhook-id"))
		gotSig.Store(r.Header.Get("webhook-signature"))
		w.WriteHeader(int(code.Load()))
		_, _ = w.Write([]byte("refused, token=hooksecret123"))
	}))
	defer srv.Close()
	t.Setenv("HOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	writeFile(t, cfg, `checks:
  - name: c
    kind: freshness
    source: {heartbeat: true}
    max_age: 1m
alerting:
  receivers:
    - name: oncall
      type: webhook
      url: `+srv.URL+`/hook?token=hooksecret123
      secret: "${HOOK_SECRET}"
  runbook_url: https://wiki.example.com/monitor/runbooks
`)
	rc, out, errOut := runMain(t, "alert", "test", "--config", cfg, "--receiver", "oncall")
	if rc != 0 || !strings.Contains(out, "oncall (webhook): sent") {
		t.Fatalf("exit %d, stdout %q, stderr %q", rc, out, errOut)
	}
	if id, _ := gotID.Load().(string); id == "" {
		t.Error("no webhook-id header")
	}
	if sig, _ := gotSig.Load().(string); !strings.HasPrefix(sig, "v1,") {
		t.Errorf("webhook-signature %q", sig)
	}
	// The sample links to the test notification's section of the runbook
	// page that alerting.runbook_url names.
	var sample receiver.Notification
	if body, _ := gotBody.Load().([]byte); json.Unmarshal(body, &sample) != nil || len(sample.Alerts) != 1 {
		t.Fatalf("body %s", body)
	}
	if a := testenv.RunbookURL(t, "https://wiki.example.com/monitor/runbooks", sample.Alerts[0].RunbookURL); a != "test-notification" {
		t.Errorf("runbookUrl %q, want the test notification's section", sample.Alerts[0].RunbookURL)
	}

	code.Store(http.StatusInternalServerError)
	rc, out, errOut = runMain(t, "alert", "test", "--config", cfg, "--receiver", "oncall")
	if rc != 1 || !strings.Contains(out, "FAILED") || !strings.Contains(out, "500") {
		t.Fatalf("exit %d, stdout %q, stderr %q", rc, out, errOut)
	}
	if strings.Contains(out+errOut, "hooksecret123") || strings.Contains(out+errOut, "MfKQ9r8") {
		t.Errorf("a secret leaked: %s%s", out, errOut)
	}

	rc, _, errOut = runMain(t, "alert", "test", "--config", cfg, "--receiver", "nope")
	if rc != 2 || !strings.Contains(errOut, `no receiver "nope"`) || !strings.Contains(errOut, "oncall") {
		t.Errorf("unknown receiver: exit %d, stderr %q", rc, errOut)
	}
}
