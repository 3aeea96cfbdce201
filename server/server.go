// Package server serves the monitor's HTTP API: precomputed state, the
// contract's error envelope, request ids and bearer-token auth. No request
// waits on a probe.
package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/metrics"
	"github.com/monitor-dev/monitor/snapshot"
)

// Beater records heartbeats.
type Beater interface {
	Beat(check string, t time.Time)
}

// Options are what the server serves.
type Options struct {
	Snapshot *snapshot.Snapshot
	Gatherer prometheus.Gatherer
	Beats    Beater
	Logger   *slog.Logger
	Now      func() time.Time

	// Metrics are the check series, served on /metrics after Gatherer's
	// families (nil: Gatherer alone).
	Metrics *metrics.Metrics
}

// Server is an http.Handler. Its tokens and readiness can change while it
// serves (a reload).
type Server struct {
	opts   Options
	mux    *http.ServeMux
	tokens atomic.Pointer[[]bearer]
	ready  atomic.Bool
	// degraded says what works only in part, for /readyz ("" when all is well)
	degraded atomic.Pointer[func() string]
	// unready says why the replica must not take traffic, for /readyz
	// ("" when it may)
	unready  atomic.Pointer[func() string]
	links    linkAPI
	history  historyAPI
	outbox   outboxAPI
	alerting alertingAPI
	// listenerUser, when set, says whether a basic-auth user was verified by
	// the listener (--web.config.file): such a request needs no token.
	listenerUser atomic.Pointer[func(user string) bool]
	limits       atomic.Pointer[limits]
	site         atomic.Pointer[Site] // the status page; nil until built
	reloader     atomic.Pointer[Reloader]
}

// TrustListenerAuth lets requests that passed the listener's basic auth
// (exporter-toolkit web config) reach private endpoints without a bearer
// token; isUser says whether a user is configured there now.
func (s *Server) TrustListenerAuth(isUser func(user string) bool) {
	s.listenerUser.Store(&isUser)
}

// New builds the handler.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, mux: http.NewServeMux()}
	s.SetTokens(nil, nil)
	s.SetRateLimits(config.DefaultRateLimits)

	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /v2/system/health", s.health)
	s.mux.Handle("GET /metrics", metrics.Handler(opts.Gatherer, opts.Metrics,
		slog.NewLogLogger(opts.Logger.Handler(), slog.LevelError)))
	s.mux.Handle("POST /v2/heartbeats/{check}", s.private(http.HandlerFunc(s.heartbeat)))
	s.routeLinks()
	s.routeHistory()
	s.routeDeliveries()
	s.routeStatusPage()
	s.routeAlerting()
	s.routeReload()
	return s
}

// Handle adds a route; private routes need a bearer token when tokens are
// configured.
func (s *Server) Handle(pattern string, h http.Handler, private bool) {
	if private {
		h = s.private(h)
	}
	s.mux.Handle(pattern, h)
}

// bearer is a token and the name the audit trail knows its holder by.
type bearer struct {
	value []byte
	name  string
}

// SetTokens replaces the bearer tokens (empty: private endpoints are open).
// names[i] names tokens[i] as the actor of the requests that use it
// (config.Server.TokenNames); a token without a name is token-<i+1>, by its
// position, never by its value.
func (s *Server) SetTokens(tokens, names []string) {
	var keep []bearer
	for i, t := range tokens {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		name := fmt.Sprintf("token-%d", i+1)
		if i < len(names) && names[i] != "" {
			name = names[i]
		}
		keep = append(keep, bearer{value: []byte(t), name: name})
	}
	s.tokens.Store(&keep)
}

// SetReady flips /readyz.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// SetDegraded gives /readyz a way to say what works only in part (such as
// a history store that is down): a ready server still answers 200 then, as
// health and probes work, with the reason in its body.
func (s *Server) SetDegraded(f func() string) { s.degraded.Store(&f) }

// SetUnready gives /readyz a reason to answer 503 while the process is up
// (such as a cluster replica that lost the database and runs no checks);
// f returns "" while all is well.
func (s *Server) SetUnready(f func() string) { s.unready.Store(&f) }

type ctxKey struct{}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ServeHTTP adds the request id, turns the mux's own 404 and 405 into the
// error envelope, and recovers from panics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Request-Id")
	if !validRequestID.MatchString(id) {
		id = newRequestID()
	}
	w.Header().Set("X-Request-Id", id)
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, id))
	if !strings.HasPrefix(r.URL.Path, "/") && r.Method != http.MethodConnect {
		// "GET *" and the like: the mux would answer with a bare redirect.
		writeError(w, r, CodeInvalidRequest, "Path must start with /", map[string]any{"path": clip(r.URL.Path)})
		return
	}
	if clean := cleanPath(r.URL.Path); clean != r.URL.Path && r.Method != http.MethodConnect {
		// Dot segments or doubled slashes: no API client means them, and
		// the mux would answer with an HTML redirect, not an API answer.
		writeError(w, r, CodeInvalidRequest, "Path is not canonical: use "+clip(clean),
			map[string]any{"path": clip(r.URL.Path), "canonical": clip(clean)})
		return
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.opts.Logger.Error("handler panic", "path", r.URL.Path, "request_id", id, "panic", p)
			writeError(w, r, CodeInternal, "Internal error", nil)
		}
	}()

	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		// The mux has no route: find out whether it would say 404 or 405.
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeError(w, r, CodeMethodNotAllowed, "Method "+clip(r.Method)+" not allowed on "+clip(r.URL.Path), nil)
		case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			// A subtree's trailing slash: the redirect, without the HTML.
			w.Header().Set("Location", rec.header.Get("Location"))
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(rec.status)
		default:
			writeError(w, r, CodeNotFound, "No such endpoint: "+clip(r.URL.Path), nil)
		}
		return
	}
	s.mux.ServeHTTP(w, r)
}

// cleanPath is p with dot segments and doubled slashes removed, keeping a
// trailing slash, as the mux cleans it.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	np := path.Clean(p)
	if strings.HasSuffix(p, "/") && np != "/" {
		np += "/"
	}
	return np
}

type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header { return s.header }
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}
func (s *statusRecorder) Write(b []byte) (int, error) {
	s.WriteHeader(http.StatusOK)
	return len(b), nil
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

func requestID(r *http.Request) string {
	if id, ok := r.Context().Value(ctxKey{}).(string); ok {
		return id
	}
	return ""
}

// private requires a valid bearer token when tokens are configured, and
// applies server.rate_limits: per client (its token, else its IP address),
// and harder per IP address for missing or wrong tokens. An address past
// its failed attempts gets 429 before its token is even compared. The
// request goes on with its actor (actorOf) in its context.
func (s *Server) private(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := clientIP(r)
		tokens := *s.tokens.Load()
		user, hasUser := s.listenerUserOf(r)
		if len(tokens) == 0 {
			actor := actorAnonymous
			if hasUser {
				actor = "user:" + user
			}
			if s.allowClient(w, r, "ip:"+ip) {
				h.ServeHTTP(w, withActor(r, actor))
			}
			return
		}
		if hasUser {
			if s.allowClient(w, r, "user:"+user) {
				h.ServeHTTP(w, withActor(r, "user:"+user))
			}
			return
		}
		if s.authBlocked(w, r, ip) {
			return
		}
		auth := r.Header.Get("Authorization")
		scheme, tok, found := strings.Cut(auth, " ")
		if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			s.authFailed(ip)
			w.Header().Set("WWW-Authenticate", `Bearer realm="monitor"`)
			writeError(w, r, CodeMissingToken, "Authorization: Bearer <token> required", nil)
			return
		}
		tok = strings.TrimSpace(tok)
		// Every token is compared, so that the time taken does not tell
		// which one (or whether one) matched.
		match := -1
		for i, t := range tokens {
			match = subtle.ConstantTimeSelect(subtle.ConstantTimeCompare([]byte(tok), t.value), i, match)
		}
		if match < 0 {
			s.authFailed(ip)
			w.Header().Set("WWW-Authenticate", `Bearer realm="monitor", error="invalid_token"`)
			writeError(w, r, CodeInvalidToken, "The bearer token is not valid", nil)
			return
		}
		if s.allowClient(w, r, tokenKey(tok)) {
			h.ServeHTTP(w, withActor(r, tokens[match].name))
		}
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeText(w, r, http.StatusOK, "ok\n")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		writeText(w, r, http.StatusServiceUnavailable, "not ready\n")
		return
	}
	if f := s.unready.Load(); f != nil {
		if why := (*f)(); why != "" {
			writeText(w, r, http.StatusServiceUnavailable, "not ready: "+why+"\n")
			return
		}
	}
	body := "ready\n"
	if f := s.degraded.Load(); f != nil {
		if why := (*f)(); why != "" {
			body = "ready, degraded: " + why + "\n"
		}
	}
	writeText(w, r, http.StatusOK, body)
}

func writeText(w http.ResponseWriter, r *http.Request, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("check")
	sp, ok := s.opts.Snapshot.Spec(name)
	switch {
	case !ok:
		writeError(w, r, CodeNotFound, "No check named "+clip(name), nil)
		return
	case !sp.TakesHeartbeats():
		// It exists, but nothing is pushed to it: say why, not just "no".
		writeError(w, r, CodeNotFound, "Check "+clip(name)+" takes no heartbeats: only a freshness check with source { heartbeat: true } does", nil)
		return
	}
	now := s.opts.Now()
	s.opts.Beats.Beat(name, now)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]string{"check": name, "receivedAt": now.UTC().Format(time.RFC3339)})
}
