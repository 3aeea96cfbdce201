package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/alerting"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/hub"
	"github.com/monitor-dev/monitor/internal/testenv"
	"github.com/monitor-dev/monitor/store"
)

var _ AlertingAPI = (*alerting.Engine)(nil)

// storeEngines opens a fresh store of each engine: SQLite in a temporary
// directory, PostgreSQL (internal/testenv) in a fresh schema dropped at
// the end.
var storeEngines = []struct {
	name string
	dsn  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "m.db") }},
	{"postgres", func(t *testing.T) string { return testenv.PostgresSchema(t) }},
}

// alertingFixture is the server with a real store and a real engine,
// behind two named tokens: ops and dev.
type alertingFixture struct {
	*fixture
	st  store.Store
	eng *alerting.Engine
	dsn string
}

const (
	opsToken = "ops-token-5f1e"
	devToken = "dev-token-9a2c"
)

var escalationRoutes = alerting.Config{
	Receivers: []alerting.Receiver{{Name: "acme_owner", Type: "webhook"}, {Name: "oncall", Type: "webhook"}},
	Routes: []alerting.Route{
		{Match: alerting.Match{Kind: alerting.KindEscalation, Handle: "acme"}, Receivers: []string{"acme_owner", "oncall"}},
		{Receivers: []string{"oncall"}},
	},
}

func newAlertingFixture(t *testing.T, dsn string) *alertingFixture {
	t.Helper()
	f := newFixture(t)
	setNamedTokens(f.s, map[string]string{opsToken: "ops", devToken: "dev"})
	f.s.SetRateLimits(limitsWith(func(rl *config.RateLimits) { rl.RequestsPerSecond = 0 }))
	af := &alertingFixture{fixture: f, dsn: dsn}
	af.start(t)
	return af
}

// start opens the store and starts an engine on it (again after stop: a
// restart).
func (af *alertingFixture) start(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	now := af.clock
	if af.st != nil {
		_ = af.st.Close()
	}
	st, err := store.Open(ctx, af.dsn, store.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := escalationRoutes
	cfg.FailureThreshold, cfg.SuccessThreshold, cfg.RepeatInterval = 1, 1, time.Hour
	eng := alerting.New(cfg, alerting.Options{Store: st, Now: now})
	if err := eng.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	af.st, af.eng = st, eng
	af.s.SetAlerting(eng, st)
	t.Cleanup(func() {
		if af.st == st {
			_ = st.Close()
		}
	})
}

func (af *alertingFixture) clock() time.Time {
	af.mu.Lock()
	defer af.mu.Unlock()
	return af.now
}

func (af *alertingFixture) advance(d time.Duration) {
	af.mu.Lock()
	defer af.mu.Unlock()
	af.now = af.now.Add(d)
}

// ok makes a request that must answer status, and decodes its body into v.
func (af *alertingFixture) ok(t *testing.T, status int, method, path, token, body string, v any) {
	t.Helper()
	resp, b := af.call(t, method, path, token, body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, status, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

type auditList struct {
	Events []struct {
		ID      int64          `json:"id"`
		At      string         `json:"at"`
		Actor   string         `json:"actor"`
		Action  string         `json:"action"`
		Target  string         `json:"target"`
		Details map[string]any `json:"details"`
	} `json:"events"`
}

// TestAlertingEndToEnd: escalations, silences and the audit trail over
// HTTP with named tokens, on both store engines, across a restart.
func TestAlertingEndToEnd(t *testing.T) {
	for _, eng := range storeEngines {
		t.Run(eng.name, func(t *testing.T) {
			af := newAlertingFixture(t, eng.dsn(t))

			// An operator escalates: the owner's alert fires at once.
			var esc escalationJSON
			af.ok(t, 201, "POST", "/v2/operator/escalations", opsToken,
				`{"handle": "acme", "severity": "HIGH", "summary": "Redirects of acme fail", "details": "since 10:20"}`, &esc)
			if esc.ID == "" || esc.Handle != "acme" || esc.Severity != "HIGH" || esc.Status != "open" ||
				esc.CreatedBy != "ops" || esc.CreatedAt != at.Format(time.RFC3339) || esc.Details != "since 10:20" {
				t.Fatalf("escalation = %+v", esc)
			}
			var alerts struct {
				Alerts []map[string]any `json:"alerts"`
			}
			af.ok(t, 200, "GET", "/v2/alerts", devToken, "", &alerts)
			var found map[string]any
			for _, a := range alerts.Alerts {
				if a["id"] == "escalation:"+esc.ID {
					found = a
				}
			}
			if found == nil {
				t.Fatalf("GET /v2/alerts lacks escalation:%s: %v", esc.ID, alerts)
			}
			for _, k := range []string{"id", "check", "kind", "status", "severity", "startsAt", "endsAt", "silenced", "inhibitedBy", "receivers"} {
				if _, ok := found[k]; !ok {
					t.Errorf("alert lacks %q: %v", k, found)
				}
			}
			if found["kind"] != "escalation" || found["status"] != "firing" || found["severity"] != "CRITICAL" ||
				found["silenced"] != false || fmt.Sprint(found["receivers"]) != "[acme_owner oncall]" ||
				fmt.Sprint(found["inhibitedBy"]) != "[]" {
				t.Errorf("escalation alert = %v, want kind escalation, firing, CRITICAL, receivers acme_owner and oncall", found)
			}
			af.ok(t, 200, "GET", "/v2/alerts?status=resolved", devToken, "", &alerts)
			if len(alerts.Alerts) != 0 {
				t.Errorf("?status=resolved lists %v", alerts.Alerts)
			}

			// dev silences acme for an hour; it is listed, then expired.
			var sil silenceJSON
			af.ok(t, 201, "POST", "/v2/silences", devToken,
				`{"matchers": {"handle": "acme", "check": "*"}, "endsAt": "2026-11-21T11:30:00Z", "comment": "we know"}`, &sil)
			if sil.ID == "" || sil.Status != "active" || sil.CreatedBy != "dev" || sil.Comment != "we know" ||
				sil.StartsAt != "2026-11-21T10:30:00Z" || sil.EndsAt != "2026-11-21T11:30:00Z" || sil.Matchers["handle"] != "acme" {
				t.Fatalf("silence = %+v", sil)
			}
			var later silenceJSON
			af.ok(t, 201, "POST", "/v2/silences", devToken,
				`{"matchers": {"check": "targeting_*"}, "startsAt": "2026-11-22T03:00:00Z", "duration": "1h"}`, &later)
			if later.Status != "pending" || later.EndsAt != "2026-11-22T04:00:00Z" {
				t.Errorf("a silence of 1h starting tomorrow is %s until %s, want pending until 04:00", later.Status, later.EndsAt)
			}
			var sils struct {
				Silences []silenceJSON `json:"silences"`
			}
			af.ok(t, 200, "GET", "/v2/silences", opsToken, "", &sils)
			if len(sils.Silences) != 2 || sils.Silences[0].ID != sil.ID || sils.Silences[1].ID != later.ID {
				t.Fatalf("GET /v2/silences = %+v, want the active then the pending one", sils)
			}
			af.ok(t, 204, "DELETE", "/v2/silences/"+sil.ID, opsToken, "", nil)
			resp, body := af.call(t, "DELETE", "/v2/silences/"+sil.ID, opsToken, "")
			assertEnvelope(t, resp, body, 404, CodeNotFound)
			for _, id := range []string{"no-such-silence", "%ff%fe", "%00", strings.Repeat("x", 5000)} {
				resp, body = af.call(t, "DELETE", "/v2/silences/"+id, opsToken, "")
				assertEnvelope(t, resp, body, 404, CodeNotFound)
				if len(body) > 1024 {
					t.Errorf("a %d-byte answer to an unknown id", len(body))
				}
				for _, p := range []string{"/v2/operator/escalations/" + id, "/v2/operator/escalations/" + id + "/resolve"} {
					method := "GET"
					if strings.HasSuffix(p, "/resolve") {
						method = "POST"
					}
					resp, body = af.call(t, method, p, opsToken, "")
					assertEnvelope(t, resp, body, 404, CodeNotFound)
				}
			}
			af.ok(t, 200, "GET", "/v2/silences", opsToken, "", &sils)
			if len(sils.Silences) != 1 || sils.Silences[0].ID != later.ID {
				t.Errorf("after DELETE, GET /v2/silences = %+v, want only the pending one", sils)
			}
			af.advance(time.Second)
			af.ok(t, 200, "GET", "/v2/silences?expired=true", opsToken, "", &sils)
			if len(sils.Silences) != 2 || sils.Silences[0].ID != sil.ID || sils.Silences[0].Status != "expired" {
				t.Errorf("GET /v2/silences?expired=true = %+v, want the expired one too", sils)
			}

			// The escalation is resolved by dev.
			resp, body = af.call(t, "POST", "/v2/operator/escalations/no-such-id/resolve", devToken, "")
			assertEnvelope(t, resp, body, 404, CodeNotFound)
			var open struct {
				Escalations []escalationJSON `json:"escalations"`
			}
			af.ok(t, 200, "GET", "/v2/operator/escalations?status=open", devToken, "", &open)
			if len(open.Escalations) != 1 || open.Escalations[0].ID != esc.ID {
				t.Fatalf("open escalations = %+v", open)
			}
			af.advance(time.Minute)
			var res escalationJSON
			af.ok(t, 200, "POST", "/v2/operator/escalations/"+esc.ID+"/resolve", devToken, "", &res)
			if res.Status != "resolved" || res.ResolvedBy != "dev" || res.CreatedBy != "ops" {
				t.Errorf("resolved escalation = %+v", res)
			}
			af.ok(t, 200, "GET", "/v2/operator/escalations?status=open", devToken, "", &open)
			if len(open.Escalations) != 0 {
				t.Errorf("open escalations after resolve = %+v", open)
			}
			af.ok(t, 200, "GET", "/v2/operator/escalations?status=resolved", devToken, "", &open)
			if len(open.Escalations) != 1 || open.Escalations[0].Status != "resolved" {
				t.Errorf("resolved escalations = %+v", open)
			}
			af.ok(t, 200, "GET", "/v2/alerts?status=resolved", devToken, "", &alerts)
			if len(alerts.Alerts) != 1 || alerts.Alerts[0]["id"] != "escalation:"+esc.ID || alerts.Alerts[0]["endsAt"] == nil {
				t.Errorf("resolved alerts = %v, want the escalation's with its endsAt", alerts)
			}

			// The audit trail, newest first, each with its actor.
			var trail auditList
			af.ok(t, 200, "GET", "/v2/audit-events", opsToken, "", &trail)
			var got []string
			for _, e := range trail.Events {
				if strings.HasPrefix(e.Action, "escalation.") || strings.HasPrefix(e.Action, "silence.") {
					got = append(got, e.Action+" "+e.Actor+" "+e.Target)
				}
			}
			want := []string{
				"escalation.resolved dev " + esc.ID,
				"silence.expired ops " + sil.ID,
				"silence.created dev " + later.ID,
				"silence.created dev " + sil.ID,
				"escalation.created ops " + esc.ID,
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("audit trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for _, e := range trail.Events {
				if e.Details == nil || e.At == "" || e.ID == 0 {
					t.Errorf("audit event %+v lacks id, at or details", e)
				}
			}
			af.ok(t, 200, "GET", "/v2/audit-events?action=silence.created&limit=1", opsToken, "", &trail)
			if len(trail.Events) != 1 || trail.Events[0].Target != later.ID {
				t.Errorf("?action=silence.created&limit=1 = %+v, want the newest silence.created", trail.Events)
			}
			af.ok(t, 200, "GET", "/v2/audit-events?since=2026-11-21T10:31:00Z", opsToken, "", &trail)
			if len(trail.Events) != 1 || trail.Events[0].Action != "escalation.resolved" {
				t.Errorf("?since=10:31 = %+v, want only the resolution", trail.Events)
			}

			// After a restart, the pending silence and the trail are still there.
			af.start(t)
			af.ok(t, 200, "GET", "/v2/silences", opsToken, "", &sils)
			if len(sils.Silences) != 1 || sils.Silences[0].ID != later.ID {
				t.Errorf("after a restart, GET /v2/silences = %+v, want the pending one", sils)
			}
			af.ok(t, 200, "GET", "/v2/audit-events?action=escalation.created", opsToken, "", &trail)
			if len(trail.Events) != 1 || trail.Events[0].Actor != "ops" {
				t.Errorf("after a restart, escalation.created events = %+v", trail.Events)
			}
		})
	}
}

// TestSilenceFlood: 10,000 silences posted at once by 20 clients, on top
// of 990 stored before a restart: 10 more are kept, up to the bound of 1,000, the
// rest are refused with a 400 saying why, and the server keeps answering.
// (The bound is the engine's, the same on both stores: SQLite only.)
func TestSilenceFlood(t *testing.T) {
	af := newAlertingFixture(t, storeEngines[0].dsn(t))
	ctx := context.Background()
	const before = alerting.MaxSilences - 10
	t0 := time.Now()
	for i := range before {
		err := af.st.SaveSilence(ctx, store.Silence{ID: fmt.Sprintf("old-%d", i), Matchers: map[string]string{"check": fmt.Sprintf("old_%d", i)},
			StartsAt: at, EndsAt: at.Add(time.Hour), CreatedBy: "test", CreatedAt: at})
		if err != nil {
			t.Fatal(err)
		}
	}
	af.start(t) // a restart: the stored silences count towards the bound
	t.Logf("%d silences stored and restored in %s", before, time.Since(t0))
	t0 = time.Now()
	var created, refused, other atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sample []byte
	// Keep-alive connections for all 20 clients (the default transport
	// keeps 2 per host and would open thousands).
	tr := &http.Transport{MaxIdleConnsPerHost: 20}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	next := make(chan int)
	go func() {
		for i := range 10_000 {
			next <- i
		}
		close(next)
	}()
	for range 20 {
		wg.Go(func() {
			for i := range next {
				body := fmt.Sprintf(`{"matchers": {"check": "flood_%d"}, "endsAt": "2026-11-21T12:00:00Z"}`, i)
				req, _ := http.NewRequest("POST", af.srv.URL+"/v2/silences", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+opsToken)
				resp, err := client.Do(req)
				if err != nil {
					other.Add(1)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case 201:
					created.Add(1)
				case 400:
					refused.Add(1)
					mu.Lock()
					sample = b
					mu.Unlock()
				default:
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("10,000 requests answered in %s", time.Since(t0))
	if created.Load() != alerting.MaxSilences-before || refused.Load() != 10_000-(alerting.MaxSilences-before) || other.Load() != 0 {
		t.Fatalf("created %d, refused %d, other %d; want %d created and the rest refused",
			created.Load(), refused.Load(), other.Load(), alerting.MaxSilences-before)
	}
	if !strings.Contains(string(sample), "expire some first") {
		t.Errorf("refusal %s does not say what to do", sample)
	}
	var sils struct {
		Silences []silenceJSON `json:"silences"`
	}
	af.ok(t, 200, "GET", "/v2/silences", opsToken, "", &sils)
	if len(sils.Silences) != alerting.MaxSilences {
		t.Errorf("GET /v2/silences lists %d, want %d", len(sils.Silences), alerting.MaxSilences)
	}
	// Expiring one makes room for one.
	af.ok(t, 204, "DELETE", "/v2/silences/"+sils.Silences[0].ID, opsToken, "", nil)
	af.ok(t, 201, "POST", "/v2/silences", opsToken, `{"matchers": {"check": "x"}, "endsAt": "2026-11-21T12:00:00Z"}`, nil)
}

// setNamedTokens gives the server bearer tokens and the names the audit
// trail knows them by.
func setNamedTokens(s *Server, named map[string]string) {
	var tokens, names []string
	for tok, name := range named {
		tokens, names = append(tokens, tok), append(names, name)
	}
	s.SetTokens(tokens, names)
}

// TestEscalationSeverities: LOW, MEDIUM and HIGH fire alerts of severity
// INFO, WARN and CRITICAL, each with the label handle.
func TestEscalationSeverities(t *testing.T) {
	af := newAlertingFixture(t, storeEngines[0].dsn(t))
	want := map[string]string{}
	for sev, alertSev := range map[string]string{"LOW": "INFO", "MEDIUM": "WARN", "HIGH": "CRITICAL"} {
		var esc escalationJSON
		af.ok(t, 201, "POST", "/v2/operator/escalations", opsToken,
			`{"handle": "acme-eu", "severity": "`+sev+`", "summary": "`+sev+` trouble", "public": true}`, &esc)
		if !esc.Public || esc.AlertID != "escalation:"+esc.ID {
			t.Errorf("escalation = %+v, want public with alertId escalation:%s", esc, esc.ID)
		}
		want[esc.AlertID] = alertSev
	}
	var alerts struct {
		Alerts []struct {
			ID       string            `json:"id"`
			Severity string            `json:"severity"`
			Labels   map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	af.ok(t, 200, "GET", "/v2/alerts?status=firing", devToken, "", &alerts)
	if len(alerts.Alerts) != 3 {
		t.Fatalf("firing alerts = %+v, want the 3 escalations", alerts)
	}
	for _, a := range alerts.Alerts {
		if a.Severity != want[a.ID] || a.Labels["handle"] != "acme-eu" {
			t.Errorf("alert %s: severity %s, labels %v; want %s and handle acme-eu", a.ID, a.Severity, a.Labels, want[a.ID])
		}
	}
	var list struct {
		Escalations []escalationJSON `json:"escalations"`
	}
	af.ok(t, 200, "GET", "/v2/operator/escalations?limit=2", devToken, "", &list)
	if len(list.Escalations) != 2 {
		t.Errorf("?limit=2 gave %d escalations", len(list.Escalations))
	}
	var one escalationJSON
	af.ok(t, 200, "GET", "/v2/operator/escalations/"+list.Escalations[0].ID, devToken, "", &one)
	if one.ID != list.Escalations[0].ID || one.CreatedBy != "ops" {
		t.Errorf("GET one escalation = %+v", one)
	}
	resp, body := af.call(t, "GET", "/v2/operator/escalations/nope", devToken, "")
	assertEnvelope(t, resp, body, 404, CodeNotFound)
}

// TestEngineRefusals: what passes the API's checks but not the engine's
// (control characters) is still a 400 naming the field.
func TestEngineRefusals(t *testing.T) {
	af := newAlertingFixture(t, storeEngines[0].dsn(t))
	resp, body := af.call(t, "POST", "/v2/silences", opsToken,
		`{"matchers": {"check": "x"}, "endsAt": "2026-11-21T12:00:00Z", "comment": "bell \u0007"}`)
	assertEnvelope(t, resp, body, 400, CodeInvalidRequest)
	if d := details(t, body); d["field"] != "comment" {
		t.Errorf("details = %v, want field comment", d)
	}
	resp, body = af.call(t, "POST", "/v2/operator/escalations", opsToken,
		`{"handle": "acme", "severity": "LOW", "summary": "s", "details": "nul \u0000"}`)
	assertEnvelope(t, resp, body, 400, CodeInvalidRequest)
	if d := details(t, body); d["field"] != "details" {
		t.Errorf("details = %v, want field details", d)
	}
}

// TestAlertingStoreDown: while the store is down, writes and reads of the
// trail are 503 unavailable with Retry-After, and the answer does not show
// the store's address.
func TestAlertingStoreDown(t *testing.T) {
	f := newFixture(t, "tok")
	st := store.NewLazy("postgres://monitor:hunter2@127.0.0.1:1/db", store.Options{}, nil)
	f.s.SetAlerting(alerting.New(alerting.Config{}, alerting.Options{Store: st, Now: func() time.Time { return at }}), st)
	for _, rt := range []struct{ method, path, body string }{
		{"POST", "/v2/silences", `{"matchers": {"check": "x"}, "endsAt": "2026-11-21T12:00:00Z"}`},
		{"POST", "/v2/operator/escalations", `{"handle": "acme", "severity": "LOW", "summary": "s"}`},
		{"GET", "/v2/operator/escalations", ""},
		{"GET", "/v2/audit-events", ""},
		{"GET", "/v2/silences?expired=true", ""},
	} {
		resp, body := f.call(t, rt.method, rt.path, "tok", rt.body)
		assertEnvelope(t, resp, body, 503, CodeUnavailable)
		if resp.Header.Get("Retry-After") == "" || strings.Contains(string(body), "hunter2") || strings.Contains(string(body), "127.0.0.1") {
			t.Errorf("%s %s: %s (Retry-After %q)", rt.method, rt.path, body, resp.Header.Get("Retry-After"))
		}
	}
	// What the engine holds in memory is still served.
	resp, body := f.call(t, "GET", "/v2/alerts", "tok", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"alerts":[]`) {
		t.Errorf("GET /v2/alerts with the store down: %d %s", resp.StatusCode, body)
	}
}

// TestAuditEventsLimits: the trail is read newest first, 50 by default, at
// most 100.
func TestAuditEventsLimits(t *testing.T) {
	for _, eng := range storeEngines {
		t.Run(eng.name, func(t *testing.T) {
			af := newAlertingFixture(t, eng.dsn(t))
			var evs []store.AuditEvent
			for i := range 120 {
				evs = append(evs, store.AuditEvent{At: at.Add(time.Duration(i) * time.Second), Actor: "system",
					Action: "alert.firing", Target: fmt.Sprintf("check:c%d", i)})
			}
			if err := af.st.Audit(context.Background(), evs); err != nil {
				t.Fatal(err)
			}
			var trail auditList
			af.ok(t, 200, "GET", "/v2/audit-events", opsToken, "", &trail)
			if len(trail.Events) != 50 || trail.Events[0].Target != "check:c119" || trail.Events[49].Target != "check:c70" {
				t.Errorf("default: %d events from %v; want 50, newest first", len(trail.Events), trail.Events[0])
			}
			af.ok(t, 200, "GET", "/v2/audit-events?limit=100", opsToken, "", &trail)
			if len(trail.Events) != 100 {
				t.Errorf("limit=100: %d events", len(trail.Events))
			}
			af.ok(t, 200, "GET", "/v2/audit-events?since=2026-11-21T10:31:50Z&action=alert.firing", opsToken, "", &trail)
			if len(trail.Events) != 10 || trail.Events[9].Target != "check:c110" || trail.Events[0].At != "2026-11-21T10:31:59Z" {
				t.Errorf("since 10:31:50: %+v, want the 10 last", trail.Events)
			}
			af.ok(t, 200, "GET", "/v2/audit-events?action=silence.created", opsToken, "", &trail)
			if len(trail.Events) != 0 || trail.Events == nil {
				t.Errorf("action=silence.created: %+v, want []", trail.Events)
			}
		})
	}
}

// TestAlertsFilteredSilencedInhibited: check alerts as GET /v2/alerts
// shows them: a silence made through the API mutes the checks it matches,
// a child of a firing parent is inhibited, and the filters select.
func TestAlertsFilteredSilencedInhibited(t *testing.T) {
	af := newAlertingFixture(t, storeEngines[0].dsn(t))
	af.ok(t, 201, "POST", "/v2/silences", opsToken,
		`{"matchers": {"check": "targeting_*", "severity": "WARN"}, "endsAt": "2026-11-21T12:00:00Z", "comment": "rebuild"}`, nil)
	specs := []check.Spec{
		{Name: "conn", Kind: "db", Severity: check.Critical, Interval: time.Minute},
		{Name: "child", Kind: "db", Severity: check.Critical, Interval: time.Minute, DependsOn: []string{"conn"}},
		{Name: "targeting_a", Kind: "db", Severity: check.Warn, Interval: time.Minute},
		{Name: "targeting_b", Kind: "db", Severity: check.Warn, Interval: time.Minute},
	}
	af.eng.SetSpecs(specs)
	for _, sp := range specs {
		af.eng.Observe(check.Result{Check: sp.Name, Kind: sp.Kind, Status: check.Fail, Severity: sp.Severity,
			Message: "down", CheckedAt: at}, hub.Change{Spec: sp, First: true})
	}
	type view struct {
		ID          string   `json:"id"`
		Check       string   `json:"check"`
		Status      string   `json:"status"`
		Silenced    bool     `json:"silenced"`
		InhibitedBy []string `json:"inhibitedBy"`
		Receivers   []string `json:"receivers"`
	}
	var out struct {
		Alerts []view `json:"alerts"`
	}
	af.ok(t, 200, "GET", "/v2/alerts?status=firing", devToken, "", &out)
	got := map[string]view{}
	for _, v := range out.Alerts {
		got[v.Check] = v
	}
	if len(got) != 4 {
		t.Fatalf("firing alerts = %+v, want the 4 checks", out.Alerts)
	}
	if !got["targeting_a"].Silenced || !got["targeting_b"].Silenced || got["conn"].Silenced {
		t.Errorf("silenced: %+v, want targeting_a and targeting_b only", out.Alerts)
	}
	if fmt.Sprint(got["child"].InhibitedBy) != "[check:conn]" || len(got["conn"].InhibitedBy) != 0 {
		t.Errorf("child inhibited by %v, conn by %v; want child by check:conn", got["child"].InhibitedBy, got["conn"].InhibitedBy)
	}
	if fmt.Sprint(got["conn"].Receivers) != "[oncall]" {
		t.Errorf("conn receivers %v, want [oncall]", got["conn"].Receivers)
	}
	af.ok(t, 200, "GET", "/v2/alerts?check=targeting_*", devToken, "", &out)
	if len(out.Alerts) != 2 || out.Alerts[0].Check != "targeting_a" || out.Alerts[1].Check != "targeting_b" {
		t.Errorf("?check=targeting_* = %+v", out.Alerts)
	}
	af.ok(t, 200, "GET", "/v2/alerts?check=nothing_*", devToken, "", &out)
	if out.Alerts == nil || len(out.Alerts) != 0 {
		t.Errorf("?check=nothing_* = %+v, want []", out.Alerts)
	}
}

// TestSilenceCreatedNowIsActive: a silence starting now is "active" in the
// 201 answer, although the engine reads its clock after the server does
// (in the daemon both are the real clock, a few µs apart); one asked to
// start later is still "pending".
func TestSilenceCreatedNowIsActive(t *testing.T) {
	f := newFixture(t, "tok")
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "m.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	engineNow := func() time.Time { // later than the server's read, like real time
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.now.Add(3 * time.Microsecond)
	}
	f.s.SetAlerting(alerting.New(alerting.Config{}, alerting.Options{Store: st, Now: engineNow}), st)
	for _, tc := range []struct{ body, want string }{
		{`{"matchers": {"check": "x"}, "endsAt": "2026-11-21T12:00:00Z"}`, "active"},
		{`{"matchers": {"check": "x"}, "startsAt": "2026-11-21T10:00:00Z", "endsAt": "2026-11-21T12:00:00Z"}`, "active"},
		{`{"matchers": {"check": "x"}, "startsAt": "2026-11-21T11:00:00Z", "endsAt": "2026-11-21T12:00:00Z"}`, "pending"},
	} {
		resp, body := f.call(t, "POST", "/v2/silences", "tok", tc.body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /v2/silences %s: %d %s", tc.body, resp.StatusCode, body)
		}
		var got struct{ Status string }
		if err := json.Unmarshal(body, &got); err != nil || got.Status != tc.want {
			t.Errorf("POST /v2/silences %s: status %q, want %q: %s", tc.body, got.Status, tc.want, body)
		}
	}
}
