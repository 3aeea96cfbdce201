package snapshot

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// maxBodyAge bounds how old generatedAt may be in a cached body.
const maxBodyAge = time.Second

type renderCache struct {
	health atomic.Pointer[Rendered]
	ietf   atomic.Pointer[Rendered]
}

// Rendered is a health body ready to be written.
type Rendered struct {
	Body        []byte
	Code        int // 200, or 503 when a check is FAIL with CRITICAL severity
	version     uint64
	validBefore time.Time
}

// Health returns the GET /v2/system/health body in the contract's shape, or
// with ietf the IETF health-check draft shape (application/health+json).
// Bodies are rendered once and reused until a result changes, a result goes
// stale, or a second has passed.
func (s *Snapshot) Health(ietf bool) *Rendered {
	slot := &s.cache.health
	if ietf {
		slot = &s.cache.ietf
	}
	now := s.now()
	s.mu.RLock()
	version := s.version
	s.mu.RUnlock()
	if r := slot.Load(); r != nil && r.version == version && now.Before(r.validBefore) {
		return r
	}
	v := s.View()
	r := &Rendered{Code: StatusCode(v), version: v.Version, validBefore: v.GeneratedAt.Add(maxBodyAge)}
	if !v.NextChange.IsZero() && v.NextChange.Before(r.validBefore) {
		r.validBefore = v.NextChange
	}
	if ietf {
		r.Body = renderIETF(v)
	} else {
		r.Body = renderHealth(v)
	}
	slot.Store(r)
	return r
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

// ietfStatus maps our statuses onto the draft's pass/fail/warn.
func ietfStatus(s check.Status) string {
	switch s {
	case check.Pass:
		return "pass"
	case check.Fail:
		return "fail"
	default:
		return "warn"
	}
}

func componentType(kind string) string {
	switch kind {
	case "db":
		return "datastore"
	default:
		return "component"
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

func renderIETF(v View) []byte {
	checks := make(map[string][]ietfCheck, len(v.Checks))
	for _, r := range v.Checks {
		c := ietfCheck{ComponentType: componentType(r.Kind), ObservedValue: r.ObservedValue,
			ObservedUnit: r.ObservedUnit, Status: ietfStatus(r.Status)}
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
	}{ietfStatus(v.Status), "monitor: platform health", checks}
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}
