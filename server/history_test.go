package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/store"
)

// historyFixture is a fixture with a real SQLite history store holding
// results of "conn" every 10 minutes over the last two days.
func historyFixture(t *testing.T) (*fixture, int64) {
	t.Helper()
	f := newFixture(t)
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "h.db"), store.Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var recs []store.Record
	for ts := at.Add(-48 * time.Hour); ts.Before(at); ts = ts.Add(10 * time.Minute) {
		recs = append(recs, store.Record{Result: check.Result{Check: "conn", Kind: "db", Status: check.Pass,
			Severity: check.Info, CheckedAt: ts}, WithinSLA: true})
	}
	if err := st.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := st.Compact(ctx, at); err != nil {
		t.Fatal(err)
	}
	f.s.SetHistory(st, nil)
	return f, int64(len(recs))
}

// TestHistoryHugeSince asks for the history since the year 1: the range is
// clamped to the 400 days of rollups, and the answer comes with little
// memory (before, about 11 GB and a minute).
func TestHistoryHugeSince(t *testing.T) {
	f, n := historyFixture(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, body := f.do(t, "GET", "/v2/checks/conn/history?since=0001-01-01T00:00:00Z", nil)
	runtime.ReadMemStats(&after)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("history since the year 1 allocated %.1f MiB", float64(alloc)/(1<<20))
	if alloc > 64<<20 {
		t.Errorf("history since the year 1 allocated %d MiB, want at most 64 MiB", alloc>>20)
	}
	var out struct {
		From   string `json:"from"`
		Step   string `json:"step"`
		Points []struct {
			Runs int64 `json:"runs"`
		} `json:"points"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	from, _ := time.Parse(time.RFC3339, out.From)
	if h := at.Add(-400 * 24 * time.Hour); from.Before(h.Add(-24*time.Hour)) || from.After(h) {
		t.Errorf("from = %s, want the 400-day horizon %s (truncated to the step)", out.From, h.Format(time.RFC3339))
	}
	var runs int64
	for _, p := range out.Points {
		runs += p.Runs
	}
	if runs != n || len(out.Points) > 101 {
		t.Errorf("%d points, %d runs; want at most 101 points holding the %d runs", len(out.Points), runs, n)
	}
}

// TestHistoryTooManyPoints: a step giving more than the maximum of points
// is a 400 naming the limit.
func TestHistoryTooManyPoints(t *testing.T) {
	f, _ := historyFixture(t)
	resp, body := f.do(t, "GET", "/v2/checks/conn/history?since=30d&step=1m", nil)
	assertEnvelope(t, resp, body, 400, CodeInvalidRequest)
	var env struct {
		Description string         `json:"error_description"`
		Details     map[string]any `json:"details"`
	}
	_ = json.Unmarshal(body, &env)
	if env.Details["maxPoints"] != float64(maxHistoryPoints) || env.Details["points"] != float64(43200) {
		t.Errorf("details = %v, want points 43200 and maxPoints %d", env.Details, maxHistoryPoints)
	}
	// Since the year 1 by the hour: clamped to 400 days, still 9,600 points.
	resp, body = f.do(t, "GET", "/v2/checks/conn/history?since=0001-01-01T00:00:00Z&step=1h", nil)
	assertEnvelope(t, resp, body, 400, CodeInvalidRequest)
	_ = json.Unmarshal(body, &env)
	if env.Details["points"] != float64(9600) {
		t.Errorf("details = %v, want points 9600 (400 days of hours)", env.Details)
	}
}

// TestHistoryStoreUnavailable: while the history store is down (not opened
// yet), the history answers 500 saying the store is unavailable and
// retried, not only that it "could not be read".
func TestHistoryStoreUnavailable(t *testing.T) {
	f := newFixture(t)
	f.s.SetHistory(store.NewLazy("postgres://monitor@127.0.0.1:1/db", store.Options{}, nil), nil)
	resp, body := f.do(t, "GET", "/v2/checks/conn/history", nil)
	assertEnvelope(t, resp, body, 500, CodeInternal)
	if want := "The history store is unavailable for now; the monitor keeps retrying it (GET /readyz says why)"; !strings.Contains(string(body), want) {
		t.Errorf("body %s, want it to say %q", body, want)
	}
}

// TestHistoryHugeStep: a step longer than the history kept (step=1000000h,
// or the largest duration) answered 200 with "from" in 1940 or 1754, as
// since was rounded down to the step. It is refused, naming the maximum.
func TestHistoryHugeStep(t *testing.T) {
	f, _ := historyFixture(t)
	for _, step := range []string{"1000000h", "9223372036854775807ns", "401d"} {
		resp, body := f.do(t, "GET", "/v2/checks/conn/history?step="+step, nil)
		assertEnvelope(t, resp, body, 400, CodeInvalidRequest)
		if !strings.Contains(string(body), "at most 400d") {
			t.Errorf("step=%s: %s; want the maximum named", step, body)
		}
	}
	if resp, body := f.do(t, "GET", "/v2/checks/conn/history?since=400d&step=400d", nil); resp.StatusCode != 200 {
		t.Errorf("step=400d: %d %s, want 200", resp.StatusCode, body)
	}
}

// heldStore is the real store with its History held until release is
// closed, to keep queries in flight.
type heldStore struct {
	store.Store
	entered chan struct{}
	release chan struct{}
}

func (h *heldStore) History(ctx context.Context, name string, from, to time.Time, step time.Duration) ([]store.Bucket, error) {
	h.entered <- struct{}{}
	<-h.release
	return h.Store.History(ctx, name, from, to, step)
}

// TestHistoryQueriesBounded: per-client limits let many addresses read
// history at once (1,200 requests from as many loopback addresses took the
// daemon from 29 MB to 1.4 GB). At most historySlots queries run at once,
// all clients together; one more waits queue_timeout, then gets 429.
func TestHistoryQueriesBounded(t *testing.T) {
	f, _ := historyFixture(t)
	cfg := config.DefaultRateLimits
	cfg.RequestsPerSecond = 0 // per-client limits off: only the global bound acts
	cfg.QueueTimeout = 10 * time.Millisecond
	f.s.SetRateLimits(cfg)
	real := *f.s.history.store.Load()
	held := &heldStore{Store: real, entered: make(chan struct{}, 100), release: make(chan struct{})}
	f.s.SetHistory(held, nil)

	done := make(chan int, historySlots)
	for range historySlots {
		go func() {
			resp, err := http.Get(f.srv.URL + "/v2/checks/conn/history?since=400d&step=2h")
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
	}
	for range historySlots {
		<-held.entered
	}
	// Before the bound, this one reached the held store too and hung.
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(f.srv.URL + "/v2/checks/conn/history?since=400d&step=2h")
	if err != nil {
		close(held.release)
		t.Fatalf("a query past the slots: %v, want 429 at once", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assertEnvelope(t, resp, body, 429, CodeRateLimited)
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	close(held.release)
	for range historySlots {
		if code := <-done; code != 200 {
			t.Errorf("a query in a slot answered %d, want 200", code)
		}
	}
	if resp, body := f.do(t, "GET", "/v2/checks/conn/history?since=400d&step=2h", nil); resp.StatusCode != 200 {
		t.Errorf("after the slots freed: %d %s", resp.StatusCode, body)
	}
}
