package server

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/monitor-dev/monitor/config"
)

// limits is the running rate-limit state: per-client limiters, failed-auth
// limiters per IP and the on-demand link-check slots. A reload that changes
// the settings builds a new one.
type limits struct {
	cfg     config.RateLimits
	clients *limiterSet // nil: off
	failed  *limiterSet // nil: off
	links   chan struct{}
	history chan struct{}
}

// historySlots bounds the history queries read at once, all clients
// together: each may allocate some megabytes (400 days of hourly spans), and
// the per-client limits alone let many addresses read at the same time
// (1,200 requests from as many loopback addresses took the daemon from 29 MB
// to 1.4 GB).
const historySlots = 4

func newLimits(cfg config.RateLimits) *limits {
	l := &limits{cfg: cfg, links: make(chan struct{}, max(cfg.LinkChecks, 1)), history: make(chan struct{}, historySlots)}
	if cfg.RequestsPerSecond > 0 {
		l.clients = newLimiterSet(rate.Limit(cfg.RequestsPerSecond), cfg.Burst, cfg.MaxClients)
	}
	if cfg.FailedAuthPerMinute > 0 {
		l.failed = newLimiterSet(rate.Limit(cfg.FailedAuthPerMinute/60), cfg.FailedAuthBurst, cfg.MaxClients)
	}
	return l
}

// SetRateLimits applies server.rate_limits (at start and on every reload;
// unchanged settings keep the clients' state).
func (s *Server) SetRateLimits(cfg config.RateLimits) {
	if cur := s.limits.Load(); cur != nil && cur.cfg == cfg {
		return
	}
	s.limits.Store(newLimits(cfg))
	s.setOnDemandClients()
}

// limiterSet is a token bucket per key, remembering at most max keys: the
// least recently used is forgotten first.
type limiterSet struct {
	mu    sync.Mutex
	limit rate.Limit
	burst int
	max   int
	keys  map[string]*list.Element
	lru   *list.List // of *keyed, most recent first
}

type keyed struct {
	key string
	lim *rate.Limiter
}

func newLimiterSet(limit rate.Limit, burst, maxKeys int) *limiterSet {
	return &limiterSet{limit: limit, burst: burst, max: max(maxKeys, 1), keys: map[string]*list.Element{}, lru: list.New()}
}

func (ls *limiterSet) get(key string) *rate.Limiter {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if e, ok := ls.keys[key]; ok {
		ls.lru.MoveToFront(e)
		return e.Value.(*keyed).lim
	}
	for ls.lru.Len() >= ls.max {
		oldest := ls.lru.Back()
		ls.lru.Remove(oldest)
		delete(ls.keys, oldest.Value.(*keyed).key)
	}
	k := &keyed{key: key, lim: rate.NewLimiter(ls.limit, ls.burst)}
	ls.keys[key] = ls.lru.PushFront(k)
	return k.lim
}

// len is how many keys are remembered.
func (ls *limiterSet) len() int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.lru.Len()
}

// take spends one token of key's bucket; when there is none it returns how
// long until there is.
func (ls *limiterSet) take(key string, now time.Time) (bool, time.Duration) {
	lim := ls.get(key)
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Minute
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// empty reports whether key's bucket has no token left now, and how long
// until it has one.
func (ls *limiterSet) empty(key string, now time.Time) (bool, time.Duration) {
	lim := ls.get(key)
	if tokens := lim.TokensAt(now); tokens < 1 {
		return true, time.Duration((1 - tokens) / float64(ls.limit) * float64(time.Second))
	}
	return false, 0
}

// clientIP is the address the request came from (the proxy's, behind one:
// X-Forwarded-For is not trusted).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// tokenKey names a client by its token without keeping the token.
func tokenKey(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return "token:" + hex.EncodeToString(sum[:8])
}

// writeRateLimited answers 429 rate_limited with Retry-After in whole
// seconds (at least 1).
func writeRateLimited(w http.ResponseWriter, r *http.Request, wait time.Duration, desc string, details map[string]any) {
	secs := max(int(math.Ceil(wait.Seconds())), 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	if details == nil {
		details = map[string]any{}
	}
	details["retryAfterSeconds"] = secs
	writeError(w, r, CodeRateLimited, desc, details)
}

// allowClient applies the per-client limit; false: it answered 429.
func (s *Server) allowClient(w http.ResponseWriter, r *http.Request, key string) bool {
	l := s.limits.Load()
	if l == nil || l.clients == nil {
		return true
	}
	ok, wait := l.clients.take(key, time.Now())
	if !ok {
		writeRateLimited(w, r, wait, "Too many requests", map[string]any{"limit": "requests_per_second"})
	}
	return ok
}

// authBlocked reports (answering 429) whether ip has used up its failed
// authentication attempts: its requests are then refused before their
// token is even compared, so guessing stays slow.
func (s *Server) authBlocked(w http.ResponseWriter, r *http.Request, ip string) bool {
	l := s.limits.Load()
	if l == nil || l.failed == nil {
		return false
	}
	blocked, wait := l.failed.empty(ip, time.Now())
	if blocked {
		writeRateLimited(w, r, wait, "Too many failed authentication attempts", map[string]any{"limit": "failed_auth_per_minute"})
	}
	return blocked
}

// authFailed counts a failed attempt of ip.
func (s *Server) authFailed(ip string) {
	if l := s.limits.Load(); l != nil && l.failed != nil {
		l.failed.take(ip, time.Now())
	}
}

// acquireLinkSlot waits up to queue_timeout for one of the link_checks
// slots of on-demand link checks; false: it answered 429 (or the client
// went away).
func (s *Server) acquireLinkSlot(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	l := s.limits.Load()
	if l == nil {
		return func() {}, true
	}
	return acquireSlot(w, r, l.links, l.cfg.QueueTimeout, "Too many link checks in progress",
		map[string]any{"limit": "link_checks", "max": l.cfg.LinkChecks})
}

// acquireHistorySlot waits up to queue_timeout for one of the historySlots
// slots of history queries; false: it answered 429 (or the client went
// away).
func (s *Server) acquireHistorySlot(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	l := s.limits.Load()
	if l == nil {
		return func() {}, true
	}
	return acquireSlot(w, r, l.history, l.cfg.QueueTimeout, "Too many history queries in progress",
		map[string]any{"limit": "history_queries", "max": historySlots})
}

func acquireSlot(w http.ResponseWriter, r *http.Request, slots chan struct{}, wait time.Duration,
	desc string, details map[string]any) (release func(), ok bool) {
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, true
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, true
	case <-t.C:
	case <-r.Context().Done():
		return nil, false // the client went away
	}
	writeRateLimited(w, r, max(wait, time.Second), desc, details)
	return nil, false
}
