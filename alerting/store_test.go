package alerting

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/hub"
	"github.com/monitor-dev/monitor/internal/testenv"
	"github.com/monitor-dev/monitor/store"
)

// The tests on the real store (SQLite in a temporary directory, and the
// PostgreSQL test server in a fresh schema) drive the engine by hand: an
// injected clock and step() instead of Run, so no goroutine, bubble or
// real wait is involved.

func TestMain(m *testing.M) { testenv.Main(m) }

var pgReachable = sync.OnceValue(func() error {
	db, err := sql.Open("pgx", testenv.Postgres())
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return db.PingContext(ctx)
})

// storeDSNs gives a fresh database per engine: SQLite, and PostgreSQL in
// a schema dropped at the end (skipped loudly when the server is down,
// failed under CI=true).
var storeDSNs = []struct {
	name string
	dsn  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "monitor.db") }},
	{"postgres", func(t *testing.T) string {
		if err := pgReachable(); err != nil {
			testenv.Unavailable(t, "PostgreSQL test server unreachable: "+check.RedactText(err.Error()),
				"start it or set "+testenv.EnvPostgres)
		}
		b := make([]byte, 5)
		_, _ = rand.Read(b)
		schema := "monitor_alerting_" + hex.EncodeToString(b)
		db, err := sql.Open("pgx", testenv.Postgres())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			defer db.Close()
			if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
				t.Errorf("drop schema: %v", err)
			}
		})
		u, err := url.Parse(testenv.Postgres())
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}},
}

func openStore(t *testing.T, dsn string) store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return st
}

// manual is an engine on a real store, stepped by hand.
type manual struct {
	t   *testing.T
	e   *Engine
	st  store.Store
	clk *clock
	sp  map[string]check.Spec
}

func newManual(t *testing.T, st store.Store, clk *clock, cfg Config, specs []check.Spec) *manual {
	t.Helper()
	m := &manual{t: t, st: st, clk: clk, sp: map[string]check.Spec{}}
	m.e = New(cfg, Options{Store: st, Now: clk.Now})
	m.e.SetSpecs(specs)
	for _, s := range specs {
		m.sp[s.Name] = s
	}
	if err := m.e.Restore(context.Background()); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	return m
}

func (m *manual) result(name string, st check.Status) {
	sp := m.sp[name]
	sev := check.Info
	if st == check.Fail {
		sev = sp.FailSeverity()
	}
	m.e.Observe(check.Result{Check: name, Kind: sp.Kind, Status: st, Severity: sev, Message: string(st),
		CheckedAt: m.clk.Now()}, hub.Change{Spec: sp})
}

// run advances the clock by d in steps of a second, stepping the engine.
func (m *manual) run(d time.Duration) {
	for end := m.clk.Now().Add(d); m.clk.Now().Before(end); {
		m.clk.advance(time.Second)
		m.e.step(context.Background())
	}
}

// sent lists the deliveries in the store's outbox, oldest first.
func sentIn(t *testing.T, st store.Store) []string {
	t.Helper()
	ds, err := st.PendingDeliveries(context.Background(), 1000)
	if err != nil {
		t.Fatalf("PendingDeliveries: %v", err)
	}
	slices.SortFunc(ds, func(a, b store.Delivery) int { return int(a.ID - b.ID) })
	return summaries(decode(t, ds))
}

// TestRestartRealStore: a daemon killed (its store closed without another
// write) while an alert fires and told, and another's notification waits
// in its group; the next daemon restores from the store: no second firing
// page, the waiting notification sent once, the resolutions told.
func TestRestartRealStore(t *testing.T) {
	for _, eng := range storeDSNs {
		t.Run(eng.name, func(t *testing.T) {
			dsn := eng.dsn(t)
			cfg := cfgWith(Route{Receivers: []string{"oncall"}, GroupWait: 30 * time.Second, GroupInterval: time.Minute})
			specs := []check.Spec{spec("db", check.Critical, ""), spec("web", check.Warn, "")}
			clk := &clock{t: t0}

			st := openStore(t, dsn)
			m := newManual(t, st, clk, cfg, specs)
			m.result("db", check.Fail)
			m.result("db", check.Fail)
			m.run(time.Minute)
			m.result("web", check.Fail)
			m.result("web", check.Fail)
			m.run(10 * time.Second)
			if got := sentIn(t, st); !slices.Equal(got, []string{"oncall firing check:db=firing"}) {
				t.Fatalf("before the kill: %q", got)
			}
			if err := st.Close(); err != nil { // kill -9: no last write
				t.Fatal(err)
			}

			st2 := openStore(t, dsn)
			t.Cleanup(func() { _ = st2.Close() })
			m2 := newManual(t, st2, clk, cfg, specs)
			if v := m2.view("check:db"); v.Status != "firing" {
				t.Fatalf("after the restart db is %+v, want still firing", v)
			}
			m2.result("db", check.Fail)
			m2.result("web", check.Fail)
			m2.run(time.Minute)
			want := []string{"oncall firing check:db=firing", "oncall firing check:web=firing"}
			if got := sentIn(t, st2); !slices.Equal(got, want) {
				t.Fatalf("after the restart:\n got %q\nwant %q", got, want)
			}
			m2.result("db", check.Pass)
			m2.result("web", check.Pass)
			m2.run(2 * time.Minute)
			want = append(want, "oncall resolved check:db=resolved", "oncall resolved check:web=resolved")
			if got := sentIn(t, st2); !slices.Equal(got, want) {
				t.Fatalf("resolutions after the restart:\n got %q\nwant %q", got, want)
			}
			evs, err := st2.AuditEvents(context.Background(), store.AuditQuery{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, ev := range evs {
				actions = append(actions, fmt.Sprintf("%s %s by %s", ev.Action, ev.Target, ev.Actor))
			}
			slices.Sort(actions)
			wantActions := []string{"alert.firing check:db by system", "alert.firing check:web by system",
				"alert.resolved check:db by system", "alert.resolved check:web by system"}
			if !slices.Equal(actions, wantActions) {
				t.Fatalf("audit trail %q, want %q", actions, wantActions)
			}
		})
	}
}

// TestEscalationRealStore: escalations, silences and their audit events
// on the real store, and an open escalation still open after a restart.
func TestEscalationRealStore(t *testing.T) {
	for _, eng := range storeDSNs {
		t.Run(eng.name, func(t *testing.T) {
			dsn := eng.dsn(t)
			cfg := cfgWith(Route{Match: Match{Kind: KindEscalation}, Receivers: []string{"owner"}})
			clk := &clock{t: t0}
			ctx := context.Background()
			st := openStore(t, dsn)
			m := newManual(t, st, clk, cfg, nil)
			esc, err := m.e.Escalate(ctx, store.Escalation{Handle: "acme", Severity: "MEDIUM", Summary: "slow"}, "ops")
			if err != nil {
				t.Fatal(err)
			}
			sil, err := m.e.AddSilence(ctx, store.Silence{Matchers: map[string]string{"check": "x_*"}, EndsAt: clk.Now().Add(time.Hour)}, "ops")
			if err != nil {
				t.Fatal(err)
			}
			m.run(time.Second)
			id := "escalation:" + esc.ID
			if got := sentIn(t, st); !slices.Equal(got, []string{"owner firing " + id + "=firing"}) {
				t.Fatalf("escalation notifications %q", got)
			}
			_ = st.Close()

			st2 := openStore(t, dsn)
			t.Cleanup(func() { _ = st2.Close() })
			m2 := newManual(t, st2, clk, cfg, nil)
			if got := m2.e.OpenEscalations(); len(got) != 1 || got[0].ID != esc.ID || got[0].CreatedBy != "ops" {
				t.Fatalf("open escalations after restart: %+v", got)
			}
			if got := m2.e.Silences(); len(got) != 1 || got[0].ID != sil.ID {
				t.Fatalf("silences after restart: %+v", got)
			}
			if _, err := m2.e.ResolveEscalation(ctx, esc.ID, "lead"); err != nil {
				t.Fatal(err)
			}
			if err := m2.e.ExpireSilence(ctx, sil.ID, "lead"); err != nil {
				t.Fatal(err)
			}
			m2.run(time.Second)
			if got := sentIn(t, st2); !slices.Equal(got, []string{"owner firing " + id + "=firing", "owner resolved " + id + "=resolved"}) {
				t.Fatalf("escalation notifications after restart %q", got)
			}
			got, err := st2.Escalation(ctx, esc.ID)
			if err != nil || got.Status != EscalationResolved || got.ResolvedBy != "lead" {
				t.Fatalf("stored escalation %+v %v", got, err)
			}
			evs, err := st2.AuditEvents(ctx, store.AuditQuery{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]string{}
			for _, ev := range evs {
				seen[ev.Action] = ev.Actor
			}
			for action, actor := range map[string]string{ActionEscalationCreated: "ops", ActionEscalationResolved: "lead",
				ActionSilenceCreated: "ops", ActionSilenceExpired: "lead", ActionAlertFiring: "system", ActionAlertResolved: "system"} {
				if seen[action] != actor {
					t.Errorf("audit %s by %q, want by %q", action, seen[action], actor)
				}
			}
		})
	}
}

func (m *manual) view(id string) View {
	m.t.Helper()
	for _, v := range m.e.Alerts() {
		if v.ID == id {
			return v
		}
	}
	m.t.Fatalf("alert %s not in Alerts()", id)
	return View{}
}
