package server

import (
	"context"
	"net/http"
)

// actorAnonymous is the actor of a request to an open private API (no
// tokens configured, no listener user).
const actorAnonymous = "anonymous"

type actorKey struct{}

// withActor returns r carrying its actor.
func withActor(r *http.Request, actor string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), actorKey{}, actor))
}

// actorOf names who made a request, for the audit trail: the name of the
// bearer token used (server.tokens: "ops" for {name: ops, token: ...},
// token-N for the N-th entry when it is a plain string), "user:NAME" for a
// user who passed the listener's basic auth (--web.config.file), or
// "anonymous" when the private API is open. Never the token itself.
func actorOf(r *http.Request) string {
	if a, ok := r.Context().Value(actorKey{}).(string); ok {
		return a
	}
	return actorAnonymous
}

// listenerUserOf returns the basic-auth user of r when the listener
// verified it (a user configured there now).
func (s *Server) listenerUserOf(r *http.Request) (string, bool) {
	isUser := s.listenerUser.Load()
	if isUser == nil {
		return "", false
	}
	user, _, ok := r.BasicAuth()
	if !ok || !(*isUser)(user) {
		return "", false
	}
	return user, true
}
