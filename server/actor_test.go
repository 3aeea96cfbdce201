package server

import (
	"net/http"
	"testing"
)

// actorFixture mounts a private test route that answers with actorOf.
func actorFixture(t *testing.T, tokens, names []string) *fixture {
	t.Helper()
	f := newFixture(t)
	f.s.SetTokens(tokens, names)
	f.s.Handle("GET /test/actor", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(actorOf(r)))
	}), true)
	return f
}

// TestActorIsTokenName: each token's requests carry that token's name, a
// token without one is named by its position, and the token itself is
// never the actor.
func TestActorIsTokenName(t *testing.T) {
	f := actorFixture(t, []string{"plain-token-0001", "ops-token-0002", "ci-token-0003"},
		[]string{"token-1", "ops", ""})
	for _, tc := range []struct{ token, actor string }{
		{"plain-token-0001", "token-1"},
		{"ops-token-0002", "ops"},
		{"ci-token-0003", "token-3"},
	} {
		resp, body := f.do(t, "GET", "/test/actor", map[string]string{"Authorization": "Bearer " + tc.token})
		if resp.StatusCode != http.StatusOK || string(body) != tc.actor {
			t.Errorf("token %s: %d %q, want 200 %q", tc.token, resp.StatusCode, body, tc.actor)
		}
	}
	resp, body := f.do(t, "GET", "/test/actor", map[string]string{"Authorization": "Bearer ops-token-0003"})
	assertEnvelope(t, resp, body, http.StatusUnauthorized, CodeInvalidToken)

	// A reload renames: the next request carries the new name.
	f.s.SetTokens([]string{"ops-token-0002"}, []string{"oncall"})
	if _, body := f.do(t, "GET", "/test/actor", map[string]string{"Authorization": "Bearer ops-token-0002"}); string(body) != "oncall" {
		t.Errorf("after SetTokens: actor %q, want oncall", body)
	}
}

// TestActorWithoutTokens: an open private API names nobody; a user the
// listener verified is named user:NAME, with or without tokens.
func TestActorWithoutTokens(t *testing.T) {
	f := actorFixture(t, nil, nil)
	if resp, body := f.do(t, "GET", "/test/actor", nil); resp.StatusCode != http.StatusOK || string(body) != "anonymous" {
		t.Errorf("no tokens: %d %q, want 200 anonymous", resp.StatusCode, body)
	}
	f.s.TrustListenerAuth(func(user string) bool { return user == "prometheus" })
	basic := func(user string) map[string]string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(user, "pw")
		return map[string]string{"Authorization": req.Header.Get("Authorization")}
	}
	if _, body := f.do(t, "GET", "/test/actor", basic("prometheus")); string(body) != "user:prometheus" {
		t.Errorf("listener user, no tokens: actor %q, want user:prometheus", body)
	}
	if _, body := f.do(t, "GET", "/test/actor", basic("stranger")); string(body) != "anonymous" {
		t.Errorf("unknown basic-auth user, no tokens: actor %q, want anonymous", body)
	}
	f.s.SetTokens([]string{"ops-token-0002"}, []string{"ops"})
	if _, body := f.do(t, "GET", "/test/actor", basic("prometheus")); string(body) != "user:prometheus" {
		t.Errorf("listener user with tokens: actor %q, want user:prometheus", body)
	}
	resp, body := f.do(t, "GET", "/test/actor", basic("stranger"))
	assertEnvelope(t, resp, body, http.StatusUnauthorized, CodeMissingToken)
}

// TestActorOfPublicRequest: a request that passed no auth has no actor.
func TestActorOfPublicRequest(t *testing.T) {
	r, _ := http.NewRequest("GET", "/healthz", nil)
	if got := actorOf(r); got != "anonymous" {
		t.Errorf("actorOf(public request) = %q, want anonymous", got)
	}
}
