package server

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/snapshot"
)

// Bounds of the health filters: the query, the values per parameter
// (repeated or comma-separated) and each value.
const (
	maxHealthQuery  = 4096
	maxFilterValues = 20
	maxFilterValue  = 100
)

// health answers GET and HEAD /v2/system/health from the snapshot's
// precomputed bodies: the contract's JSON or, on Accept:
// application/health+json, the IETF draft's; gzip when the client takes
// it; a strong ETag per body and encoding. ?status=, ?component= and
// ?check= pick checks from the same body.
//
// The status code is the whole platform's (200, or 503 when a check is
// FAIL/CRITICAL), whatever the filter. A matching If-None-Match gets 304
// only when the answer would be 200: load balancers and probes count 3xx
// as healthy, so a 503 is always answered in full (its ETag differs from
// any 200's anyway, as the code is part of it).
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ietf := acceptsHealthJSON(r.Header.Get("Accept"))
	body := s.opts.Snapshot.Health(ietf)
	f, ok := healthFilter(w, r, body.HasComponent)
	if !ok {
		return
	}
	if !f.IsZero() {
		fb, err := body.Filter(f)
		var nm *snapshot.NoMatchError
		switch {
		case errors.As(err, &nm):
			msg := "No check named " + clip(nm.Value)
			if nm.Param == "component" {
				msg = "No check feeds component " + clip(nm.Value)
			}
			writeError(w, r, CodeInvalidRequest, msg, map[string]any{"field": nm.Param, "got": clip(nm.Value)})
			return
		case err != nil:
			writeError(w, r, CodeInvalidRequest, clip(err.Error()), nil)
			return
		}
		body = fb
	}
	payload, tag := body.Body, body.ETag
	gz := false
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		if b, t := body.Gzip(); b != nil {
			payload, tag, gz = b, t, true
		}
	}
	h := w.Header()
	if ietf {
		h.Set("Content-Type", "application/health+json")
	} else {
		h.Set("Content-Type", "application/json")
	}
	// Caches may keep the body but must ask every time; only a 200 is
	// stored by a cache (a 503 has no freshness), so only a 200 is
	// revalidated.
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept, Accept-Encoding")
	h.Set("ETag", tag)
	if body.Code == http.StatusOK && etagMatch(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if gz {
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(payload)))
	w.WriteHeader(body.Code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(payload)
	}
}

// healthFilter reads ?status=PASS,FAIL,UNKNOWN, ?component=NAME and
// ?check=NAME-or-glob (each repeatable or comma-separated); other
// parameters are ignored, as they always were. A bad value is answered
// with 400 invalid_request naming the parameter. A component value that
// names a component whole (component names may hold commas) is not split.
func healthFilter(w http.ResponseWriter, r *http.Request, isComponent func(string) bool) (snapshot.Filter, bool) {
	var f snapshot.Filter
	if r.URL.RawQuery == "" {
		return f, true
	}
	if len(r.URL.RawQuery) > maxHealthQuery {
		writeError(w, r, CodeInvalidRequest, "The query is longer than "+strconv.Itoa(maxHealthQuery)+" bytes",
			map[string]any{"max": maxHealthQuery})
		return f, false
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, r, CodeInvalidRequest, "The query is not valid: "+clip(err.Error()), nil)
		return f, false
	}
	bad := func(field, msg, got string, extra map[string]any) (snapshot.Filter, bool) {
		d := map[string]any{"field": field, "got": clip(got)}
		for k, v := range extra {
			d[k] = v
		}
		writeError(w, r, CodeInvalidRequest, msg, d)
		return f, false
	}
	for _, field := range []string{"status", "component", "check"} {
		var vals []string
		for _, v := range q[field] {
			if whole := strings.TrimSpace(v); field == "component" && strings.Contains(whole, ",") && isComponent(whole) {
				vals = append(vals, whole)
				continue
			}
			for item := range strings.SplitSeq(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					vals = append(vals, item)
				}
			}
		}
		if len(vals) > maxFilterValues {
			return bad(field, field+" takes at most "+strconv.Itoa(maxFilterValues)+" values",
				strings.Join(vals, ","), map[string]any{"max": maxFilterValues})
		}
		for _, v := range vals {
			switch {
			case len(v) > maxFilterValue:
				return bad(field, field+" values are at most "+strconv.Itoa(maxFilterValue)+" bytes", v,
					map[string]any{"max": maxFilterValue})
			case !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0:
				return bad(field, field+" must be text without control characters", v, nil)
			}
			switch field {
			case "status":
				st := check.Status(strings.ToUpper(v))
				if st != check.Pass && st != check.Fail && st != check.Unknown {
					return bad(field, "status must be PASS, FAIL or UNKNOWN (or a comma list of them)", v,
						map[string]any{"allowed": []check.Status{check.Pass, check.Fail, check.Unknown}})
				}
				f.Statuses = append(f.Statuses, st)
			case "component":
				f.Components = append(f.Components, v)
			case "check":
				if msg := validGlob(v); msg != "" {
					return bad(field, "check must be a check name or a glob like orders_*: "+msg, v, nil)
				}
				f.Checks = append(f.Checks, v)
			}
		}
	}
	return f, true
}

// acceptsHealthJSON reports whether the client asked for the IETF draft's
// media type.
func acceptsHealthJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := strings.Cut(part, ";")
		if strings.EqualFold(strings.TrimSpace(mt), "application/health+json") {
			return true
		}
	}
	return false
}
