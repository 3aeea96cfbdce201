package snapshot

import (
	"bytes"
	"encoding/json"
	"github.com/monitor-dev/monitor/internal/testenv"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, name, got)
}

// goldenSnapshot holds one check in every state a reader can see, at a
// fixed clock: PASS, a freshness check with its observed age, FAIL/CRITICAL
// (so the answer is 503), UNKNOWN because its parent fails, stale, and not
// yet run.
func goldenSnapshot() *Snapshot {
	c := newClock()
	conn := spec("conn", "db")
	api := spec("api_db", "db")
	api.DependsOn = []string{"conn"}
	fresh := spec("orders_fresh", "freshness")
	fresh.Severity = check.Warn
	old := spec("old_beat", "freshness")
	links := spec("docs_links", "link")
	links.Severity = check.Warn
	idle := spec("idle", "db")
	s := New([]check.Spec{conn, api, fresh, old, links, idle}, c.now)

	age := 42.0
	s.Record(check.Result{Check: "old_beat", Kind: "freshness", Status: check.Pass, Severity: check.Info,
		Message: "newest record 10s old", CheckedAt: c.now(), Duration: 3 * time.Millisecond})
	c.add(2 * time.Minute) // old_beat is stale after 65s
	s.Record(check.Result{Check: "conn", Kind: "db", Status: check.Fail, Severity: check.Critical,
		Message: "connect: connection refused", CheckedAt: c.now(), Duration: 12 * time.Millisecond})
	s.Record(check.Result{Check: "api_db", Kind: "db", Status: check.Pass, Severity: check.Info,
		Message: "ok", CheckedAt: c.now(), Duration: 8 * time.Millisecond})
	s.Record(check.Result{Check: "orders_fresh", Kind: "freshness", Status: check.Pass, Severity: check.Info,
		Message: "newest record 42s old", CheckedAt: c.now(), Duration: 5 * time.Millisecond,
		ObservedValue: &age, ObservedUnit: "s"})
	s.Record(check.Result{Check: "docs_links", Kind: "link", Status: check.Fail, Severity: check.Warn,
		Message: "1 of 3 links failing", CheckedAt: c.now(), Duration: 240 * time.Millisecond})
	return s
}

// TestHealthGolden is the GET /v2/system/health body a user sees.
func TestHealthGolden(t *testing.T) {
	h := goldenSnapshot().Health(false)
	if h.Code != 503 {
		t.Errorf("code %d, want 503 (conn is FAIL/CRITICAL)", h.Code)
	}
	golden(t, "health.golden.json", indentJSON(t, h.Body))
}

// TestHealthIETFGolden is the application/health+json body.
func TestHealthIETFGolden(t *testing.T) {
	h := goldenSnapshot().Health(true)
	golden(t, "health-ietf.golden.json", indentJSON(t, h.Body))
}

func indentJSON(t *testing.T, body []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, body, "", "  "); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
	return b.Bytes() // the body ends with its own newline
}

// The bodies are written piece by piece (so that filters can reuse each
// check's bytes); they must be exactly what json.Marshal writes of the
// whole answer, escapes included.
func TestHealthBodiesAreJSONMarshal(t *testing.T) {
	s := goldenSnapshot()
	s.Record(check.Result{Check: "idle", Kind: "db", Status: check.Fail, Severity: check.Warn,
		Message: `<script>&"quoted"` + "\u2028\t", CheckedAt: newClock().now()})
	v := s.view(false)
	want, err := json.Marshal(struct {
		Status      check.Status   `json:"status"`
		Severity    check.Severity `json:"severity"`
		GeneratedAt string         `json:"generatedAt"`
		Checks      []check.Result `json:"checks"`
	}{v.Status, v.Severity, v.GeneratedAt.UTC().Format(time.RFC3339), v.Checks})
	if err != nil {
		t.Fatal(err)
	}
	if got := renderHealth(v).Body; !bytes.Equal(got, append(want, '\n')) {
		t.Fatalf("health body\n got %s\nwant %s", got, want)
	}
	checks := map[string][]ietfCheck{}
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
	want, err = json.Marshal(struct {
		Status      string                 `json:"status"`
		Description string                 `json:"description"`
		Checks      map[string][]ietfCheck `json:"checks"`
	}{overallIETF(v), "monitor: platform health", checks})
	if err != nil {
		t.Fatal(err)
	}
	if got := renderIETF(v).Body; !bytes.Equal(got, append(want, '\n')) {
		t.Fatalf("health+json body\n got %s\nwant %s", got, want)
	}
}
