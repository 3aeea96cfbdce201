package alerting

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/hub"
	"github.com/monitor-dev/monitor/store"
)

// memStore is an in-memory store.AlertStore for the engine's tests that
// need to make the store fail on purpose (down). The restart tests run on
// the real store.
type memStore struct {
	store.AlertStore // the outbox methods, unused here: nil (panic if called)

	mu          sync.Mutex
	down        bool
	alerts      map[string]store.AlertRow
	deliveries  []store.Delivery
	audit       []store.AuditEvent
	silences    map[string]store.Silence
	escalations map[string]store.Escalation
	commits     int
}

func newMemStore() *memStore {
	return &memStore{alerts: map[string]store.AlertRow{}, silences: map[string]store.Silence{},
		escalations: map[string]store.Escalation{}}
}

func (m *memStore) setDown(d bool) {
	m.mu.Lock()
	m.down = d
	m.mu.Unlock()
}

func (m *memStore) CommitAlerts(_ context.Context, c store.AlertCommit) ([]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, store.ErrUnavailable
	}
	m.commits++
	for _, r := range c.Alerts {
		m.alerts[r.ID] = r
	}
	for _, id := range c.Deleted {
		delete(m.alerts, id)
	}
	var ids []int64
	for _, d := range c.Deliveries {
		d.ID = int64(len(m.deliveries) + 1)
		m.deliveries = append(m.deliveries, d)
		ids = append(ids, d.ID)
	}
	m.audit = append(m.audit, c.Audit...)
	return ids, nil
}

func (m *memStore) LoadAlerts(context.Context) ([]store.AlertRow, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, store.ErrUnavailable
	}
	var out []store.AlertRow
	for _, r := range m.alerts {
		out = append(out, r)
	}
	return out, nil
}

func (m *memStore) SaveSilence(_ context.Context, s store.Silence) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return store.ErrUnavailable
	}
	m.silences[s.ID] = s
	return nil
}

func (m *memStore) Silences(_ context.Context, since time.Time) ([]store.Silence, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Silence
	for _, s := range m.silences {
		if s.EndsAt.After(since) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (m *memStore) SaveEscalation(_ context.Context, e store.Escalation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return store.ErrUnavailable
	}
	m.escalations[e.ID] = e
	return nil
}

func (m *memStore) Escalation(_ context.Context, id string) (store.Escalation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.escalations[id]
	if !ok {
		return store.Escalation{}, store.ErrNotFound
	}
	return e, nil
}

func (m *memStore) Escalations(_ context.Context, status string, limit int) ([]store.Escalation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Escalation
	for _, e := range m.escalations {
		if status == "" || e.Status == status {
			out = append(out, e)
		}
	}
	return out[:min(len(out), limit)], nil
}

func (m *memStore) Audit(_ context.Context, evs []store.AuditEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return store.ErrUnavailable
	}
	m.audit = append(m.audit, evs...)
	return nil
}

// sent returns the notifications written so far, decoded.
func (m *memStore) sent(t *testing.T) []receiver.Notification {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	return decode(t, m.deliveries)
}

func (m *memStore) actions() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, ev := range m.audit {
		out = append(out, ev.Action+" "+ev.Target+" by "+ev.Actor)
	}
	return out
}

func decode(t *testing.T, ds []store.Delivery) []receiver.Notification {
	t.Helper()
	var out []receiver.Notification
	for _, d := range ds {
		var n receiver.Notification
		if err := json.Unmarshal(d.Body, &n); err != nil {
			t.Fatalf("delivery %d body: %v", d.ID, err)
		}
		if n.ID != d.NotificationID || n.Receiver != d.Receiver || len(n.Alerts) != len(d.AlertIDs) {
			t.Fatalf("delivery %d does not agree with its body: %+v vs %s", d.ID, d, d.Body)
		}
		out = append(out, n)
	}
	return out
}

// summary is a notification in one line: receiver, status, notice and its
// alerts' ids with their statuses.
func summary(n receiver.Notification) string {
	s := n.Receiver + " " + n.Status
	if n.Notice != "" {
		s += "/" + n.Notice
	}
	var as []string
	for _, a := range n.Alerts {
		as = append(as, a.ID+"="+a.Status)
	}
	sort.Strings(as)
	for _, a := range as {
		s += " " + a
	}
	return s
}

func summaries(ns []receiver.Notification) []string {
	var out []string
	for _, n := range ns {
		out = append(out, summary(n))
	}
	return out
}

// rig is an engine on a memStore, running in a synctest bubble.
type rig struct {
	t      *testing.T
	e      *Engine
	st     *memStore
	specs  map[string]check.Spec
	cancel context.CancelFunc
	done   chan struct{}
	wakes  int
}

// catchAll is a route taking every alert to receiver "oncall", without
// waits, so that tests see notifications at the next tick.
var catchAll = Route{Receivers: []string{"oncall"}}

func newRig(t *testing.T, cfg Config, specs []check.Spec, opts Options) *rig {
	t.Helper()
	r := &rig{t: t, st: newMemStore(), specs: map[string]check.Spec{}}
	if opts.Store == nil {
		opts.Store = r.st
	}
	opts.Wake = func() { r.wakes++ }
	r.e = New(cfg, opts)
	r.e.SetSpecs(specs)
	for _, sp := range specs {
		r.specs[sp.Name] = sp
	}
	if err := r.e.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *rig) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		r.e.Run(ctx)
	}()
}

func (r *rig) stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
		r.cancel = nil
	}
}

// result hands the engine one result of a check, as the hub would.
func (r *rig) result(name string, st check.Status, sev check.Severity) {
	sp := r.specs[name]
	res := check.Result{Check: name, Kind: sp.Kind, Status: st, Severity: sev, Message: string(st) + " seen",
		CheckedAt: time.Now()}
	r.e.Observe(res, hub.Change{Spec: sp})
}

func (r *rig) fail(names ...string) {
	for _, n := range names {
		r.result(n, check.Fail, r.specs[n].FailSeverity())
	}
}

func (r *rig) pass(names ...string) {
	for _, n := range names {
		r.result(n, check.Pass, check.Info)
	}
}

// wait lets d of fake time pass and the engine settle.
func (r *rig) wait(d time.Duration) {
	time.Sleep(d)
	time.Sleep(10 * time.Millisecond) // past the tick that d ends on
	synctest.Wait()
}

func (r *rig) view(id string) View {
	r.t.Helper()
	for _, v := range r.e.Alerts() {
		if v.ID == id {
			return v
		}
	}
	r.t.Fatalf("alert %s not in Alerts()", id)
	return View{}
}

func (r *rig) expect(want ...string) {
	r.t.Helper()
	got := summaries(r.st.sent(r.t))
	if !slices.Equal(got, want) {
		r.t.Fatalf("notifications:\n got %q\nwant %q", got, want)
	}
}

func spec(name string, sev check.Severity, component string, deps ...string) check.Spec {
	return check.Spec{Name: name, Kind: "db", Interval: time.Minute, Timeout: 5 * time.Second,
		Severity: sev, Component: component, DependsOn: deps}
}

func hubChange(sp check.Spec) hub.Change { return hub.Change{Spec: sp} }

// clock is an injected clock for tests that step the engine by hand.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// flappingRig returns a rig whose check db (WARN, paging oncall after one
// failure, flapping at 3 changes in 30 minutes) failed and passed in turn
// every minute for ten minutes: two alerts fired and resolved, the third
// fired as flapping and stays so until the window passes.
func flappingRig(t *testing.T) *rig {
	cfg := cfgWith(catchAll)
	cfg.FailureThreshold = 1
	cfg.Flapping = Flapping{Changes: 3, Window: 30 * time.Minute}
	r := newRig(t, cfg, []check.Spec{spec("db", check.Warn, "")}, Options{})
	for i := range 10 {
		if i%2 == 0 {
			r.fail("db")
		} else {
			r.pass("db")
		}
		r.wait(time.Minute)
	}
	return r
}
