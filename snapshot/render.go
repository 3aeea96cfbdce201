package snapshot

import (
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// maxBodyAge bounds how old generatedAt may be in a served body.
const maxBodyAge = time.Second

// minRefresh is the least time between two renderings while results keep
// changing: a new result shows within it, and a busy daemon does not spend
// its CPU re-rendering for every request. A rendering that costs more
// stretches it to ten times its cost.
const minRefresh = 100 * time.Millisecond

type renderCache struct {
	health, ietf renderSlot
}

type renderSlot struct {
	cur atomic.Pointer[Rendered]
	mu  sync.Mutex // one rendering at a time
}

// Rendered is a health body ready to be written.
type Rendered struct {
	Body        []byte
	Code        int // 200, or 503 when a check is FAIL with CRITICAL severity
	version     uint64
	builtAt     time.Time
	validBefore time.Time
	refresh     time.Duration
}

// fresh reports whether r may still be served at now.
func (r *Rendered) fresh(now time.Time, version uint64) bool {
	return r != nil && now.Before(r.validBefore) && (r.version == version || now.Sub(r.builtAt) < r.refresh)
}

// Health returns the GET /v2/system/health body in the contract's shape, or
// with ietf the IETF health-check draft shape (application/health+json).
// A body is rendered once and served to every request until a result
// changes (at most every minRefresh), a result goes stale, or a second has
// passed. While one request renders, the others get the previous body.
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
	r = &Rendered{Code: StatusCode(v), version: v.Version, builtAt: v.GeneratedAt}
	if ietf {
		r.Body = renderIETF(v)
	} else {
		r.Body = renderHealth(v)
	}
	r.refresh = max(minRefresh, 10*time.Since(t0))
	r.validBefore = s.now().Add(maxBodyAge)
	if !v.NextChange.IsZero() && v.NextChange.Before(r.validBefore) {
		r.validBefore = v.NextChange
	}
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

func renderHealth(v View) []byte {
	body := struct {
		Status      check.Status   `json:"status"`
		Severity    check.Severity `json:"severity"`
		GeneratedAt string         `json:"generatedAt"`
		Checks      []check.Result `json:"checks"`
	}{v.Status, v.Severity, v.GeneratedAt.UTC().Format(time.RFC3339), v.Checks}
	b, err := json.Marshal(body)
	if err != nil { // cannot happen: every field marshals
		panic(err)
	}
	return append(b, '\n')
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

func renderIETF(v View) []byte {
	checks := make(map[string][]ietfCheck, len(v.Checks))
	for _, r := range v.Checks {
		c := ietfCheck{ComponentType: r.Kind.ComponentType(), ObservedValue: r.ObservedValue,
			ObservedUnit: r.ObservedUnit, Status: ietfStatus(r.Status, r.Severity)}
		if !r.CheckedAt.IsZero() {
			c.Time = r.CheckedAt.UTC().Format(time.RFC3339)
		}
		if r.Status != check.Pass {
			c.Output = r.Message
		}
		checks[r.Check] = []ietfCheck{c}
	}
	body := struct {
		Status      string                 `json:"status"`
		Description string                 `json:"description"`
		Checks      map[string][]ietfCheck `json:"checks"`
	}{overallIETF(v), "monitor: platform health", checks}
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}
