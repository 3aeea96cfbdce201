package server

import "net/http"

// actorOf names who made a request, for the audit trail: the name of the
// bearer token used (server.tokens entries {name, token}), the basic-auth
// user of the listener, or "anonymous" when the private API is open.
func actorOf(r *http.Request) string {
	_ = r
	return "api" // placeholder until tokens have names
}
