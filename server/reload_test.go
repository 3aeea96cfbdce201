package server

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"
)

// TestReloadEndpoint: POST /-/reload runs the reloader as the token's
// holder and answers what it did: 200 {"status":"reloaded","checks":N},
// or 400 invalid_request with every problem; 503 with no reloader; GET is
// 405 and no token 401.
func TestReloadEndpoint(t *testing.T) {
	f := newFixture(t)
	f.s.SetTokens([]string{"ops-token-0001"}, []string{"ops"})
	ops := map[string]string{"Authorization": "Bearer ops-token-0001"}

	resp, body := f.do(t, "POST", "/-/reload", ops)
	assertEnvelope(t, resp, body, http.StatusServiceUnavailable, CodeUnavailable)

	var mu sync.Mutex
	var actors []string
	var next error
	f.s.SetReloader(func(_ context.Context, actor string) (ReloadResult, error) {
		mu.Lock()
		defer mu.Unlock()
		actors = append(actors, actor)
		return ReloadResult{Checks: 3}, next
	})
	resp, body = f.do(t, "POST", "/-/reload", ops)
	if resp.StatusCode != http.StatusOK || string(body) != `{"checks":3,"status":"reloaded"}`+"\n" {
		t.Errorf("POST /-/reload = %d %s, want 200 reloaded with 3 checks", resp.StatusCode, body)
	}

	// A reload that moves what only a restart moves says so.
	f.s.SetReloader(func(_ context.Context, actor string) (ReloadResult, error) {
		return ReloadResult{Checks: 3, RestartNeeded: []string{"server.listen", "storage"}}, nil
	})
	resp, body = f.do(t, "POST", "/-/reload", ops)
	if want := `{"checks":3,"restartRequired":["server.listen","storage"],"status":"reloaded"}` + "\n"; resp.StatusCode != http.StatusOK || string(body) != want {
		t.Errorf("POST /-/reload moving listen and storage = %d %s, want 200 %s", resp.StatusCode, body, want)
	}
	f.s.SetReloader(func(_ context.Context, actor string) (ReloadResult, error) {
		mu.Lock()
		defer mu.Unlock()
		actors = append(actors, actor)
		return ReloadResult{Checks: 3}, next
	})

	problems := []string{"config.yaml:7:74: invalid max_age \"soon\" in check \"beat\"", "config.yaml:8:42: unknown key \"intervl\""}
	mu.Lock()
	next = &ReloadRefused{Stage: "config", Problems: problems}
	mu.Unlock()
	resp, body = f.do(t, "POST", "/-/reload", ops)
	assertEnvelope(t, resp, body, http.StatusBadRequest, CodeInvalidRequest)
	var env struct {
		Description string `json:"error_description"`
		Details     struct {
			Stage    string   `json:"stage"`
			Problems []string `json:"problems"`
		} `json:"details"`
	}
	_ = json.Unmarshal(body, &env)
	if env.Details.Stage != "config" || !slices.Equal(env.Details.Problems, problems) ||
		env.Description != "The config was not reloaded (2 problems); the previous config keeps running" {
		t.Errorf("refused reload answered %s", body)
	}

	resp, body = f.do(t, "GET", "/-/reload", ops)
	assertEnvelope(t, resp, body, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
	resp, body = f.do(t, "POST", "/-/reload", nil)
	assertEnvelope(t, resp, body, http.StatusUnauthorized, CodeMissingToken)

	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(actors, []string{"ops", "ops"}) {
		t.Errorf("reloads ran as %v, want ops twice (and never without a token)", actors)
	}
}
