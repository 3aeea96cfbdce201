package snapshot

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// minRefresh is the least time between two renderings while results keep
// changing: a new result shows within it, and a busy daemon does not spend
// its CPU re-rendering for every request. A rendering that costs more
// stretches it to ten times its cost, up to maxRefresh.
const (
	minRefresh = 100 * time.Millisecond
	maxRefresh = time.Second
)

type renderCache struct {
	health, ietf renderSlot
}

type renderSlot struct {
	cur atomic.Pointer[Rendered]
	mu  sync.Mutex // one rendering at a time
}

// Rendered is a health body ready to be written: the JSON, its gzip copy
// (Gzip), a strong ETag for each, and what a Filter needs to answer from it
// without rendering again.
//
// A body is rendered when what it shows changes (a result, the checks, a
// result going stale or a stale result's age), not on a timer: its
// generatedAt is when it was rendered, and while nothing changes the same
// bytes and ETag are served, so that a client can revalidate with
// If-None-Match.
type Rendered struct {
	Body []byte
	Code int    // 200, or 503 when a check is FAIL with CRITICAL severity
	ETag string // strong: "CODE-HASH" of Body, quoted

	gzOnce   sync.Once
	gz       []byte
	gzETag   string
	noGzip   bool // a filtered answer built for one request
	filtered bool // an answer of Filter: no entries of its own

	// Body[:head] is the envelope up to the checks' opening bracket,
	// Body[tail:] from their closing one; entries are the checks, in name
	// order, each a span of Body.
	head, tail int
	entries    []entry
	filters    filterCache

	version     uint64
	builtAt     time.Time
	validBefore time.Time // zero: until a result changes
	refresh     time.Duration
}

// entry is one check of a rendered body.
type entry struct {
	start, end uint32 // its JSON in Body
	status     check.Status
	name       string
	component  string
}

// fresh reports whether r may still be served at now.
func (r *Rendered) fresh(now time.Time, version uint64) bool {
	return r != nil && (r.validBefore.IsZero() || now.Before(r.validBefore)) &&
		(r.version == version || now.Sub(r.builtAt) < r.refresh)
}

// Health returns the GET /v2/system/health body in the contract's shape, or
// with ietf the IETF health-check draft shape (application/health+json),
// with its gzip copy built. A body is rendered once and served to every
// request until a result changes (at most every minRefresh) or the clock
// changes what it shows (a result going stale). While one request renders,
// the others get the previous body.
func (s *Snapshot) Health(ietf bool) *Rendered {
	slot := &s.cache.health
	if ietf {
		slot = &s.cache.ietf
	}
	version := s.versionNow()
	r := slot.cur.Load()
	if r.fresh(s.now(), version) {
		return r
	}
	if r != nil {
		if !slot.mu.TryLock() {
			return r // someone is rendering; the previous body is at most that old
		}
	} else {
		slot.mu.Lock()
	}
	defer slot.mu.Unlock()
	if r = slot.cur.Load(); r.fresh(s.now(), s.versionNow()) {
		return r
	}
	t0 := time.Now()
	v := s.view(false)
	if ietf {
		r = renderIETF(v)
	} else {
		r = renderHealth(v)
	}
	r.Code, r.version, r.builtAt = StatusCode(v), v.Version, v.GeneratedAt
	r.ETag = etag(r.Code, r.Body)
	r.Gzip() // built once per change, by the request that renders
	r.refresh = min(max(minRefresh, 10*time.Since(t0)), maxRefresh)
	r.validBefore = v.NextChange
	slot.cur.Store(r)
	return r
}

func (s *Snapshot) versionNow() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.version
}

// StatusCode is 503 when any check is FAIL with CRITICAL severity, else 200.
func StatusCode(v View) int {
	for _, r := range v.Checks {
		if r.Status == check.Fail && r.Severity == check.Critical {
			return http.StatusServiceUnavailable
		}
	}
	return http.StatusOK
}

// bodyWriter builds a body: the envelope around one span per check.
type bodyWriter struct {
	b   bytes.Buffer
	enc *json.Encoder
}

func newBodyWriter(checks int) *bodyWriter {
	w := &bodyWriter{}
	w.b.Grow(128 + checks*256)
	w.enc = json.NewEncoder(&w.b)
	return w
}

// value appends v as json.Marshal writes it.
func (w *bodyWriter) value(v any) {
	if err := w.enc.Encode(v); err != nil { // cannot happen: every value marshals
		panic(err)
	}
	w.b.Truncate(w.b.Len() - 1) // Encode's newline
}

func (w *bodyWriter) raw(s string) { w.b.WriteString(s) }

// renderHealth writes json.Marshal's bytes of
// {status, severity, generatedAt, checks}, keeping where each check is.
func renderHealth(v View) *Rendered {
	w := newBodyWriter(len(v.Checks))
	w.raw(`{"status":`)
	w.value(v.Status)
	w.raw(`,"severity":`)
	w.value(v.Severity)
	w.raw(`,"generatedAt":`)
	w.value(v.GeneratedAt.UTC().Format(time.RFC3339))
	w.raw(`,"checks":[`)
	r := &Rendered{head: w.b.Len(), entries: make([]entry, len(v.Checks))}
	for i, c := range v.Checks {
		if i > 0 {
			w.raw(",")
		}
		start := w.b.Len()
		// Result.MarshalJSON's bytes are json.Marshal's already (compact,
		// HTML-escaped): written as they are, without the encoder's
		// second pass over them.
		frag, err := c.MarshalJSON()
		if err != nil { // cannot happen: every field marshals
			panic(err)
		}
		w.b.Write(frag)
		r.entries[i] = entry{start: uint32(start), end: uint32(w.b.Len()), status: c.Status, name: c.Check,
			component: v.components[i]}
	}
	r.tail = w.b.Len()
	w.raw("]}\n")
	r.Body = w.b.Bytes()
	return r
}

// ietfStatus maps a status and severity onto the draft's pass/warn/fail.
// The draft reserves "fail" for answers with a 4xx/5xx code, so only what
// makes the endpoint answer 503 (FAIL with CRITICAL severity) is "fail";
// a FAIL at WARN or INFO and UNKNOWN are "warn", PASS is "pass".
func ietfStatus(s check.Status, sev check.Severity) string {
	switch {
	case s == check.Pass:
		return "pass"
	case s == check.Fail && sev == check.Critical:
		return "fail"
	default:
		return "warn"
	}
}

type ietfCheck struct {
	ComponentType string   `json:"componentType"`
	ObservedValue *float64 `json:"observedValue,omitempty"`
	ObservedUnit  string   `json:"observedUnit,omitempty"`
	Status        string   `json:"status"`
	Time          string   `json:"time,omitempty"`
	Output        string   `json:"output,omitempty"`
}

// overallIETF is the body's status: "fail" exactly when the answer is 503.
func overallIETF(v View) string {
	if StatusCode(v) != http.StatusOK {
		return "fail"
	}
	if v.Status == check.Pass {
		return "pass"
	}
	return "warn"
}

// renderIETF writes json.Marshal's bytes of {status, description, checks}
// with checks a map of one-element arrays by name (names are sorted, as
// json.Marshal sorts a map's keys), keeping where each check is.
func renderIETF(v View) *Rendered {
	w := newBodyWriter(len(v.Checks))
	w.raw(`{"status":`)
	w.value(overallIETF(v))
	w.raw(`,"description":"monitor: platform health","checks":{`)
	r := &Rendered{head: w.b.Len(), entries: make([]entry, len(v.Checks))}
	one := make([]ietfCheck, 1)
	for i, res := range v.Checks {
		if i > 0 {
			w.raw(",")
		}
		start := w.b.Len()
		c := ietfCheck{ComponentType: res.Kind.ComponentType(), ObservedValue: res.ObservedValue,
			ObservedUnit: res.ObservedUnit, Status: ietfStatus(res.Status, res.Severity)}
		if !res.CheckedAt.IsZero() {
			c.Time = res.CheckedAt.UTC().Format(time.RFC3339)
		}
		if res.Status != check.Pass {
			c.Output = res.Message
		}
		one[0] = c
		w.value(res.Check)
		w.raw(":")
		w.value(one)
		r.entries[i] = entry{start: uint32(start), end: uint32(w.b.Len()), status: res.Status, name: res.Check,
			component: v.components[i]}
	}
	r.tail = w.b.Len()
	w.raw("}}\n")
	r.Body = w.b.Bytes()
	return r
}
