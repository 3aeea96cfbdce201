package snapshot

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// clock is a hand-moved clock for tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)} }
func spec(name string, kind check.Kind) check.Spec {
	return check.Spec{Name: name, Kind: kind, Interval: 30 * time.Second, Timeout: 5 * time.Second,
		Severity: check.Critical}
}

func result(sp check.Spec, st check.Status, sev check.Severity, at time.Time) check.Result {
	return check.Result{Check: sp.Name, Kind: sp.Kind, Status: st, Severity: sev, Message: "m", CheckedAt: at}
}

func find(t *testing.T, v View, name string) check.Result {
	t.Helper()
	for _, r := range v.Checks {
		if r.Check == name {
			return r
		}
	}
	t.Fatalf("no check %q in view", name)
	return check.Result{}
}

func TestNotYetRunIsUnknownInfo(t *testing.T) {
	c := newClock()
	s := New([]check.Spec{spec("a", "db")}, c.now)
	r := find(t, s.View(), "a")
	if r.Status != check.Unknown || r.Severity != check.Info || r.Message != "not yet run" {
		t.Fatalf("got %s/%s %q, want UNKNOWN/INFO \"not yet run\"", r.Status, r.Severity, r.Message)
	}
}

func TestStaleAfterTwoIntervalsPlusTimeout(t *testing.T) {
	c := newClock()
	sp := spec("a", "db") // stale after 2×30s + 5s = 65s
	s := New([]check.Spec{sp}, c.now)
	s.Record(result(sp, check.Pass, check.Info, c.now()))

	c.add(65 * time.Second)
	if r := find(t, s.View(), "a"); r.Status != check.Pass {
		t.Fatalf("at exactly 65s: got %s, want PASS", r.Status)
	}
	c.add(time.Second)
	r := find(t, s.View(), "a")
	if r.Status != check.Unknown || r.Severity != check.Warn {
		t.Fatalf("at 66s: got %s/%s, want UNKNOWN/WARN", r.Status, r.Severity)
	}
	if !strings.Contains(r.Message, "stale") || !strings.Contains(r.Message, "1m6s") {
		t.Fatalf("message %q should say stale and the age", r.Message)
	}
}

func TestUnknownSeverityConfigured(t *testing.T) {
	c := newClock()
	sp := spec("a", "db")
	sp.UnknownSeverity = check.Critical
	s := New([]check.Spec{sp}, c.now)
	s.Record(result(sp, check.Pass, check.Info, c.now()))
	c.add(time.Hour)
	if r := find(t, s.View(), "a"); r.Severity != check.Critical {
		t.Fatalf("stale severity = %s, want the configured CRITICAL", r.Severity)
	}
}

func TestDependsOnParentFailing(t *testing.T) {
	c := newClock()
	parent, child, grandchild := spec("db", "db"), spec("fresh", "freshness"), spec("gc", "freshness")
	child.DependsOn = []string{"db"}
	grandchild.DependsOn = []string{"fresh"}
	s := New([]check.Spec{parent, child, grandchild}, c.now)

	s.Record(result(parent, check.Fail, check.Critical, c.now()))
	got := s.Record(result(child, check.Fail, check.Warn, c.now()))
	if got.Status != check.Unknown || got.Message != "parent db failing" {
		t.Fatalf("Record returned %s %q, want UNKNOWN \"parent db failing\"", got.Status, got.Message)
	}
	// The grandchild's parent is UNKNOWN, not FAIL: it keeps its own result.
	s.Record(result(grandchild, check.Pass, check.Info, c.now()))
	if r := find(t, s.View(), "gc"); r.Status != check.Pass {
		t.Fatalf("grandchild = %s, want PASS (its parent is UNKNOWN, not FAIL)", r.Status)
	}

	// The parent recovers: the child's own result shows again.
	s.Record(result(parent, check.Pass, check.Info, c.now()))
	if r := find(t, s.View(), "fresh"); r.Status != check.Fail || r.Severity != check.Warn {
		t.Fatalf("after the parent recovered: %s/%s, want the child's own FAIL/WARN", r.Status, r.Severity)
	}
}

func TestOverallIsWorst(t *testing.T) {
	c := newClock()
	a, b, d := spec("a", "db"), spec("b", "db"), spec("c", "db")
	s := New([]check.Spec{a, b, d}, c.now)
	s.Record(result(a, check.Pass, check.Info, c.now()))
	s.Record(result(b, check.Unknown, check.Warn, c.now()))
	s.Record(result(d, check.Pass, check.Info, c.now()))
	v := s.View()
	if v.Status != check.Unknown || v.Severity != check.Warn {
		t.Fatalf("overall %s/%s, want UNKNOWN/WARN", v.Status, v.Severity)
	}
	s.Record(result(d, check.Fail, check.Warn, c.now()))
	if v := s.View(); v.Status != check.Fail {
		t.Fatalf("overall %s, want FAIL", v.Status)
	}
}

func TestHealthCodeAndCache(t *testing.T) {
	c := newClock()
	a, b := spec("b_second", "db"), spec("a_first", "freshness")
	s := New([]check.Spec{a, b}, c.now)
	ra := result(a, check.Fail, check.Warn, c.now())
	ra.ObservedValue, ra.ObservedUnit, ra.Duration = check.Value(0.004), "s", 4*time.Millisecond
	s.Record(ra)
	s.Record(result(b, check.Pass, check.Info, c.now()))

	h := s.Health(false)
	if h.Code != http.StatusOK {
		t.Fatalf("FAIL/WARN must answer 200, got %d", h.Code)
	}
	var body struct {
		Status      string
		Severity    string
		GeneratedAt string
		Checks      []map[string]any
	}
	if err := json.Unmarshal(h.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Status != "FAIL" || body.Severity != "WARN" || body.GeneratedAt != "2026-11-21T10:30:00Z" {
		t.Fatalf("top level = %+v", body)
	}
	if body.Checks[0]["name"] != "a_first" || body.Checks[1]["name"] != "b_second" {
		t.Fatalf("checks not sorted by name: %v", body.Checks)
	}
	if body.Checks[1]["durationMs"] != 4.0 || body.Checks[1]["observedValue"] != 0.004 ||
		body.Checks[1]["checkedAt"] != "2026-11-21T10:30:00Z" {
		t.Fatalf("check fields = %v", body.Checks[1])
	}

	// Same state, same instant: the cached body is reused.
	if h2 := s.Health(false); h2 != h {
		t.Fatal("body was rendered again with nothing changed")
	}
	// A CRITICAL failure turns the answer into 503 within minRefresh.
	s.Record(result(a, check.Fail, check.Critical, c.now()))
	if h3 := s.Health(false); h3 != h {
		t.Fatal("a change re-rendered the body before minRefresh passed")
	}
	// The refresh period is minRefresh, longer only when rendering was slow
	// (10x its cost: -race on a loaded machine), never past maxRefresh.
	if h.refresh < minRefresh || h.refresh > maxRefresh {
		t.Fatalf("refresh period %s, want within [%s, %s]", h.refresh, minRefresh, maxRefresh)
	}
	c.add(h.refresh)
	if h3 := s.Health(false); h3.Code != http.StatusServiceUnavailable {
		t.Fatalf("FAIL/CRITICAL must answer 503 after %s, got %d", h.refresh, h3.Code)
	}
	// Going stale is seen without any new result.
	c.add(2 * time.Minute)
	h4 := s.Health(false)
	if h4.Code != http.StatusOK || !strings.Contains(string(h4.Body), `"status":"UNKNOWN"`) {
		t.Fatalf("after 2m without results: %d %s", h4.Code, h4.Body)
	}
}

func TestHealthIETF(t *testing.T) {
	c := newClock()
	a, b := spec("conn", "db"), spec("fresh", "freshness")
	s := New([]check.Spec{a, b}, c.now)
	s.Record(result(a, check.Pass, check.Info, c.now()))
	s.Record(result(b, check.Unknown, check.Warn, c.now()))
	h := s.Health(true)
	var body struct {
		Status string
		Checks map[string][]struct {
			ComponentType string
			Status        string
			Time          string
			Output        string
		}
	}
	if err := json.Unmarshal(h.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Status != "warn" {
		t.Fatalf("status %q, want warn (UNKNOWN→warn)", body.Status)
	}
	if c := body.Checks["conn"][0]; c.Status != "pass" || c.ComponentType != "datastore" || c.Time != "2026-11-21T10:30:00Z" {
		t.Fatalf("conn = %+v", c)
	}
	if c := body.Checks["fresh"][0]; c.Status != "warn" || c.Output != "m" {
		t.Fatalf("fresh = %+v", c)
	}
}

func TestReloadKeepsResults(t *testing.T) {
	c := newClock()
	a, b := spec("a", "db"), spec("b", "db")
	s := New([]check.Spec{a, b}, c.now)
	s.Record(result(a, check.Fail, check.Critical, c.now()))
	s.Record(result(b, check.Pass, check.Info, c.now()))
	s.SetSpecs([]check.Spec{a, spec("c", "db")})
	v := s.View()
	if len(v.Checks) != 2 || find(t, v, "a").Status != check.Fail || find(t, v, "c").Status != check.Unknown {
		t.Fatalf("after reload: %+v", v.Checks)
	}
}

// The draft reserves "fail" for answers with a 4xx/5xx code: a FAIL at WARN
// answers 200 and must say "warn"; only FAIL/CRITICAL says "fail" (503).
func TestHealthIETFFailMapsToCode(t *testing.T) {
	for _, tc := range []struct {
		name      string
		st        check.Status
		sev       check.Severity
		want      string
		wantCode  int
		wantCheck string
	}{
		{"pass", check.Pass, check.Info, "pass", http.StatusOK, "pass"},
		{"fail warn", check.Fail, check.Warn, "warn", http.StatusOK, "warn"},
		{"fail info", check.Fail, check.Info, "warn", http.StatusOK, "warn"},
		{"fail critical", check.Fail, check.Critical, "fail", http.StatusServiceUnavailable, "fail"},
		{"unknown critical", check.Unknown, check.Critical, "warn", http.StatusOK, "warn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			a := spec("conn", "db")
			s := New([]check.Spec{a}, c.now)
			s.Record(result(a, tc.st, tc.sev, c.now()))
			h := s.Health(true)
			var body struct {
				Status string
				Checks map[string][]struct{ Status string }
			}
			if err := json.Unmarshal(h.Body, &body); err != nil {
				t.Fatal(err)
			}
			if body.Status != tc.want || h.Code != tc.wantCode || body.Checks["conn"][0].Status != tc.wantCheck {
				t.Fatalf("status %q code %d check %q, want %q %d %q", body.Status, h.Code,
					body.Checks["conn"][0].Status, tc.want, tc.wantCode, tc.wantCheck)
			}
		})
	}
}

// A body is rendered again only when what it shows changes: not while the
// clock moves over unchanged results (same bytes, same ETag), but when a
// result goes stale and, once stale, when its age in the message moves on.
func TestHealthChangesOnlyWithWhatItShows(t *testing.T) {
	c := newClock()
	a := spec("a", "db") // stale after 2×30s + 5s = 65s
	s := New([]check.Spec{a}, c.now)
	s.Record(result(a, check.Pass, check.Info, c.now()))
	h := s.Health(false)
	c.add(65 * time.Second)
	if h2 := s.Health(false); h2.ETag != h.ETag || string(h2.Body) != string(h.Body) {
		t.Fatalf("nothing changed in 65s, yet the body did:\n%s\n%s", h.Body, h2.Body)
	}
	c.add(time.Nanosecond)
	stale := s.Health(false)
	if stale.ETag == h.ETag || !strings.Contains(string(stale.Body), "stale: last result is 1m5s old") {
		t.Fatalf("just past 65s: %s", stale.Body)
	}
	c.add(400 * time.Millisecond) // 65.4s still reads 1m5s
	if h3 := s.Health(false); h3.ETag != stale.ETag {
		t.Fatalf("65.4s re-rendered: %s", h3.Body)
	}
	c.add(100 * time.Millisecond) // 65.5s reads 1m6s
	if h4 := s.Health(false); !strings.Contains(string(h4.Body), "1m6s old") {
		t.Fatalf("at 65.5s: %s", h4.Body)
	}
}
