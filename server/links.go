package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/probes"
)

// Limits of the on-demand link API.
const (
	maxLinkURLs    = 100
	maxHandleLinks = 1000
)

// linkRuntime is what the link API needs from the running config.
type linkRuntime struct {
	env          *probes.Env
	clients      *probes.LinkClients
	allowPrivate bool // server.links_allow_private
	// onDemand are clients's guard with their own transports, holding at
	// most connLimit outbound connections (rate_limits.link_connections).
	onDemand  *probes.LinkClients
	connLimit int
}

type linkAPI struct {
	mu sync.Mutex // one writer of rt at a time
	rt atomic.Pointer[linkRuntime]
}

// SetLinks gives the link API its connections and guard setting (at start
// and on every reload).
func (s *Server) SetLinks(env *probes.Env, clients *probes.LinkClients, allowPrivate bool) {
	s.links.mu.Lock()
	defer s.links.mu.Unlock()
	s.storeLinks(&linkRuntime{env: env, clients: clients, allowPrivate: allowPrivate})
}

// setOnDemandClients rebuilds the on-demand clients after a change of
// link_connections.
func (s *Server) setOnDemandClients() {
	s.links.mu.Lock()
	defer s.links.mu.Unlock()
	if rt := s.links.rt.Load(); rt != nil {
		next := *rt
		s.storeLinks(&next)
	}
}

// storeLinks keeps the on-demand clients (and so the connection bound
// across requests) unless the clients or the bound changed.
func (s *Server) storeLinks(rt *linkRuntime) {
	n := 0
	if l := s.limits.Load(); l != nil {
		n = l.cfg.LinkConnections
	}
	prev := s.links.rt.Load()
	if prev != nil && prev.clients == rt.clients && prev.connLimit == n {
		rt.onDemand = prev.onDemand
	} else {
		rt.onDemand = rt.clients.WithConnLimit(n)
		if prev != nil {
			defer prev.onDemand.CloseIdle()
		}
	}
	rt.connLimit = n
	s.links.rt.Store(rt)
}

func (s *Server) routeLinks() {
	s.mux.Handle("POST /v2/links/health-check", s.private(http.HandlerFunc(s.linksCheck)))
	s.mux.Handle("POST /v2/handles/{handle}/links/health-check", s.private(http.HandlerFunc(s.handleLinksCheck)))
	s.mux.Handle("GET /v2/links", s.private(http.HandlerFunc(s.linksLatest)))
}

type linksBody struct {
	URLs []string `json:"urls"`
}

const linksShape = `{"urls": ["https://..."]}`

type linksAnswer struct {
	Results []check.LinkResult `json:"results"`
	// Truncated (GET /v2/links only) names the checks whose per-link
	// results this replica holds only in part: another replica ran them,
	// and they were over the store's size bound (the failing links are
	// kept first).
	Truncated []truncatedLinks `json:"truncated,omitempty"`
}

// truncatedLinks is a check of linksAnswer.Truncated: links of total.
type truncatedLinks struct {
	Check string `json:"check"`
	Links int    `json:"links"`
	Total int    `json:"total"`
}

func (s *Server) linksCheck(w http.ResponseWriter, r *http.Request) {
	rt := s.links.rt.Load()
	if rt == nil {
		writeError(w, r, CodeInternal, "Link checks are not configured", nil)
		return
	}
	var body linksBody
	if !decodeJSON(w, r, &body, linksShape) {
		return
	}
	release, ok := s.acquireLinkSlot(w, r)
	if !ok {
		return
	}
	defer release()
	switch {
	case len(body.URLs) == 0:
		writeError(w, r, CodeInvalidRequest, "Body must be "+linksShape+" with at least one URL", nil)
		return
	case len(body.URLs) > maxLinkURLs:
		writeError(w, r, CodeTooLarge, "At most 100 URLs per request", map[string]any{"max": maxLinkURLs, "got": len(body.URLs)})
		return
	}
	targets := make([]probes.LinkTarget, len(body.URLs))
	for i, u := range body.URLs {
		if strings.TrimSpace(u) == "" {
			writeError(w, r, CodeInvalidRequest, "URLs must not be empty", map[string]any{"index": i})
			return
		}
		targets[i] = probes.LinkTarget{URL: u}
	}
	results := s.checkNow(r.Context(), rt, targets)
	for i := range results {
		results[i] = redactEcho(results[i], body.URLs[i])
	}
	writeJSON(w, http.StatusOK, linksAnswer{Results: results})
}

// redactLink hides the secrets of a link from config or a SQL source as it
// leaves the process: passwords and query values of every URL (the same
// check.RedactURL as the metric labels), and of URLs in its message.
func redactLink(l check.LinkResult) check.LinkResult {
	return redactExcept(l, "")
}

// redactEcho is redactLink for a caller's own URL: url, and a final URL or
// hop that is exactly that URL, are echoed as given; where redirects led
// is redacted (a Location may carry a token the caller never saw).
func redactEcho(l check.LinkResult, input string) check.LinkResult {
	own := ""
	if u, err := url.Parse(strings.TrimSpace(input)); err == nil {
		own = u.String()
	}
	l = redactExcept(l, own)
	l.URL = input
	return l
}

func redactExcept(l check.LinkResult, own string) check.LinkResult {
	red := func(s string) string {
		if s == "" || s == own {
			return s
		}
		return check.RedactURL(s)
	}
	l.URL, l.FinalURL = red(l.URL), red(l.FinalURL)
	l.ErrorMessage = check.RedactURLs(l.ErrorMessage)
	if len(l.Redirects) > 0 {
		hops := make([]check.Hop, len(l.Redirects))
		for i, h := range l.Redirects {
			hops[i] = check.Hop{URL: red(h.URL), StatusCode: h.StatusCode}
		}
		l.Redirects = hops
	}
	return l
}

// checkNow checks user-supplied links. Each request gets an equal share of
// rate_limits.link_connections (link_connections / link_checks links at
// once), so that its links never wait for a connection and each gets its
// whole timeout. The SSRF guard applies unless server.links_allow_private
// is set.
func (s *Server) checkNow(ctx context.Context, rt *linkRuntime, targets []probes.LinkTarget) []check.LinkResult {
	n := len(targets)
	conc := n
	if l := s.limits.Load(); l != nil {
		conc = max(1, min(n, l.cfg.LinkConnections/max(l.cfg.LinkChecks, 1)))
	}
	checker := rt.onDemand.Checker(rt.allowPrivate, probes.LinkOptions{Concurrency: conc, PerHost: conc, OneShot: true,
		AllowHint: "set server.links_allow_private: true in the config to allow it"})
	results := make([]check.LinkResult, n)
	checker.Check(ctx, targets, func(i int, r check.LinkResult) { results[i] = r })
	return results
}

func (s *Server) handleLinksCheck(w http.ResponseWriter, r *http.Request) {
	rt := s.links.rt.Load()
	if rt == nil {
		writeError(w, r, CodeInternal, "Link checks are not configured", nil)
		return
	}
	release, ok := s.acquireLinkSlot(w, r)
	if !ok {
		return
	}
	defer release()
	handle := r.PathValue("handle")
	var targets []probes.LinkTarget
	seen := map[string]bool{}
	var srcErr error
	for _, sp := range s.opts.Snapshot.Specs() {
		if c, ok := probes.LinkConfigOf(sp); !ok || c.Source.Query == "" {
			continue
		}
		all, err := probes.LinkTargets(r.Context(), sp, rt.env)
		if err != nil {
			srcErr = errors.Join(srcErr, err)
			continue
		}
		for _, t := range all {
			if t.Handle == handle && !seen[t.URL] {
				seen[t.URL] = true
				targets = append(targets, t)
			}
		}
	}
	switch {
	case len(targets) == 0 && srcErr != nil:
		s.opts.Logger.Warn("link source failed", "handle", handle, "err", srcErr)
		writeError(w, r, CodeInternal, "The link source could not be read", nil)
		return
	case len(targets) == 0:
		writeError(w, r, CodeNotFound, "No links for handle "+clip(handle), nil)
		return
	case len(targets) > maxHandleLinks:
		targets = targets[:maxHandleLinks]
	}
	results := s.checkNow(r.Context(), rt, targets)
	for i := range results {
		results[i] = redactLink(results[i]) // SQL-sourced: not the caller's input
	}
	writeJSON(w, http.StatusOK, linksAnswer{Results: results})
}

func (s *Server) linksLatest(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var want check.Status
	if st := q.Get("status"); st != "" {
		want = check.Status(strings.ToUpper(st))
		if !want.Valid() {
			writeError(w, r, CodeInvalidRequest, "status must be PASS, FAIL or UNKNOWN", map[string]any{"status": st})
			return
		}
	}
	name := q.Get("check")
	if name != "" {
		if sp, ok := s.opts.Snapshot.Spec(name); !ok || !sp.Kind.Behaviour().Items {
			writeError(w, r, CodeNotFound, "No link check named "+clip(name), nil)
			return
		}
	}
	v := s.opts.Snapshot.View()
	out := linksAnswer{Results: []check.LinkResult{}}
	for _, c := range v.Checks { // sorted by name
		if !c.Kind.Behaviour().Items || (name != "" && c.Check != name) {
			continue
		}
		raw := v.Raw[c.Check]
		for _, l := range raw.Links {
			if want == "" || l.Status == want {
				out.Results = append(out.Results, redactLink(l))
			}
		}
		if raw.LinksTotal > len(raw.Links) {
			out.Truncated = append(out.Truncated, truncatedLinks{Check: c.Check, Links: len(raw.Links), Total: raw.LinksTotal})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
