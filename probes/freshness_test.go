package probes

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/testenv"
)

// freshSpec is the check of the contract's example: max 15m, critical 60m.
func freshSpec(src Source) check.Spec {
	return check.Spec{Name: "events_freshness", Kind: "freshness",
		Config:   FreshnessConfig{Source: src, MaxAge: 15 * time.Minute, CriticalAge: 60 * time.Minute},
		Severity: check.Warn, Timeout: 5 * time.Second}
}

// editFresh changes the freshness configuration of s.
func editFresh(s *check.Spec, edit func(*FreshnessConfig)) {
	c := freshnessConfig(*s)
	edit(&c)
	s.Config = c
}

// want is the expected outcome of one freshness run.
type want struct {
	status   check.Status
	severity check.Severity
	message  string  // exact, or a regexp when it starts with ^
	age      float64 // observed seconds; -1 for none
}

func (w want) check(t *testing.T, res check.Result) {
	t.Helper()
	if res.Status != w.status || res.Severity != w.severity {
		t.Fatalf("got %s/%s %q, want %s/%s", res.Status, res.Severity, res.Message, w.status, w.severity)
	}
	if strings.HasPrefix(w.message, "^") {
		if !regexp.MustCompile(w.message).MatchString(res.Message) {
			t.Errorf("message %q does not match %s", res.Message, w.message)
		}
	} else if res.Message != w.message {
		t.Errorf("message %q, want %q", res.Message, w.message)
	}
	switch {
	case w.age < 0 && res.ObservedValue != nil:
		t.Errorf("observed value %v, want none", *res.ObservedValue)
	case w.age >= 0 && res.ObservedValue == nil:
		t.Errorf("no observed value, want %v", w.age)
	case w.age >= 0 && *res.ObservedValue != w.age:
		t.Errorf("observed value %v, want %v", *res.ObservedValue, w.age)
	}
	if w.age >= 0 {
		if res.ObservedUnit != "s" {
			t.Errorf("unit %q, want s", res.ObservedUnit)
		}
		if res.NewestAt.IsZero() {
			t.Errorf("NewestAt not set")
		}
	}
}

// sqlEngine describes how to make a test table on one engine.
type sqlEngine struct {
	name   string
	dsn    func(t *testing.T) string
	create string // %s = table; columns received_at (timestamp, nullable) and epoch (bigint, nullable)
}

var sqlEngines = []sqlEngine{
	{"postgres", postgresDSN, "CREATE TABLE %s (id serial PRIMARY KEY, received_at timestamptz NULL, epoch bigint NULL)"},
	{"mysql", mysqlDSN, "CREATE TABLE %s (id int AUTO_INCREMENT PRIMARY KEY, received_at datetime(6) NULL, epoch bigint NULL)"},
	{"sqlite", func(t *testing.T) string {
		return "sqlite://" + filepath.Join(t.TempDir(), "app.db")
	}, "CREATE TABLE %s (id integer PRIMARY KEY, received_at timestamp NULL, epoch integer NULL)"},
}

// row is one row of a test table; nil fields are NULL.
type row struct {
	at    *time.Duration // received_at = fixedNow - *at
	epoch any            // epoch column, as given
}

func ago(d time.Duration) *time.Duration { return &d }

func TestFreshnessSQL(t *testing.T) {
	t.Parallel()
	const (
		maxQ    = "SELECT max(received_at) FROM %s"
		latestQ = "SELECT received_at FROM %s ORDER BY id DESC LIMIT 1"
		epochQ  = "SELECT max(epoch) FROM %s"
	)
	cases := []struct {
		name  string
		rows  []row
		query string
		drop  bool // drop the table before probing
		want  want
	}{
		{name: "fresh", rows: []row{{at: ago(time.Hour)}, {at: ago(3*time.Minute + 12*time.Second)}}, query: maxQ,
			want: want{check.Pass, check.Info, "newest row is 3m12s old (max 15m)", 192}},
		{name: "exactly max age", rows: []row{{at: ago(15 * time.Minute)}}, query: maxQ,
			want: want{check.Pass, check.Info, "newest row is 15m old (max 15m)", 900}},
		{name: "older than max", rows: []row{{at: ago(16 * time.Minute)}}, query: maxQ,
			want: want{check.Fail, check.Warn, "newest row is 16m old (max 15m)", 960}},
		{name: "older than critical", rows: []row{{at: ago(61 * time.Minute)}}, query: maxQ,
			want: want{check.Fail, check.Critical, "newest row is 1h1m old (critical 1h)", 3660}},
		{name: "sub-second age", rows: []row{{at: ago(1500 * time.Millisecond)}}, query: maxQ,
			want: want{check.Pass, check.Info, "newest row is 2s old (max 15m)", 1.5}},
		{name: "empty table", query: latestQ,
			want: want{check.Unknown, check.Warn, "query returned no rows", -1}},
		{name: "max of empty table", query: maxQ,
			want: want{check.Unknown, check.Warn, "query returned NULL", -1}},
		{name: "NULL timestamp", rows: []row{{}}, query: latestQ,
			want: want{check.Unknown, check.Warn, "query returned NULL", -1}},
		{name: "dropped table", rows: []row{{at: ago(time.Minute)}}, query: maxQ, drop: true,
			want: want{check.Unknown, check.Warn, `^query: .*(does not exist|doesn't exist|no such table).*`, -1}},
		{name: "future beyond skew", rows: []row{{at: ago(-5 * time.Minute)}}, query: maxQ,
			want: want{check.Unknown, check.Warn, "clock skew: newest row is 5m in the future", -1}},
		{name: "future within skew", rows: []row{{at: ago(-30 * time.Second)}}, query: maxQ,
			want: want{check.Pass, check.Info, "newest row is 0s old (max 15m)", 0}},
		{name: "epoch seconds", rows: []row{{epoch: fixedNow.Add(-20 * time.Minute).Unix()}}, query: epochQ,
			want: want{check.Fail, check.Warn, "newest row is 20m old (max 15m)", 1200}},
		{name: "epoch milliseconds", rows: []row{{epoch: fixedNow.Add(-2*time.Minute - 30500*time.Millisecond).UnixMilli()}}, query: epochQ,
			want: want{check.Pass, check.Info, "newest row is 2m31s old (max 15m)", 150.5}},
		{name: "not a timestamp", rows: []row{{}}, query: "SELECT 'soon' FROM %s",
			want: want{check.Unknown, check.Warn, `query result: unrecognised timestamp "soon"`, -1}},
	}
	for _, eng := range sqlEngines {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, map[string]string{"app": eng.dsn(t)})
			db, engine := sqlOf(t, p, "app")
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					table := makeTable(t, db, engine, eng.create, tc.rows)
					if tc.drop {
						mustExec(t, db, "DROP TABLE "+table)
					}
					spec := freshSpec(SQLSource{Database: "app", Query: fmt.Sprintf(tc.query, table)})
					tc.want.check(t, ProbeFreshness(context.Background(), spec, fixedEnv(p)))
				})
			}
		})
	}
}

// makeTable creates a uniquely named table with rows and drops it after the test.
func makeTable(t *testing.T, db *sql.DB, engine, create string, rows []row) string {
	t.Helper()
	table := "monitor_fresh_" + suffix()
	mustExec(t, db, fmt.Sprintf(create, table))
	t.Cleanup(func() { _, _ = db.Exec("DROP TABLE IF EXISTS " + table) })
	insert := fmt.Sprintf("INSERT INTO %s (received_at, epoch) VALUES (%s, %s)",
		table, placeholder(engine, 1), placeholder(engine, 2))
	for _, r := range rows {
		var at any
		if r.at != nil {
			at = fixedNow.Add(-*r.at)
		}
		mustExec(t, db, insert, at, r.epoch)
	}
	return table
}

// TestFreshnessSQLUnreachable: a database that is down makes the freshness
// UNKNOWN, never FAIL.
func TestFreshnessSQLUnreachable(t *testing.T) {
	t.Parallel()
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		dsn  func(t *testing.T) string
		want string
	}{
		{"postgres stopped", func(t *testing.T) string {
			return withAddr(t, postgresDSN(t), closedAddr(t))
		}, "^connect: connection refused$"},
		{"mysql stopped", func(t *testing.T) string {
			return withAddr(t, mysqlDSN(t), closedAddr(t))
		}, "^connect: connection refused$"},
		{"postgres silent", func(t *testing.T) string {
			return withAddr(t, postgresDSN(t), testenv.Silent(t))
		}, "^timed out after 1s$"},
		{"sqlite directory cannot be created", func(*testing.T) string {
			return "sqlite://" + filepath.Join(notDir, "sub", "app.db")
		}, `^database "app": create directory: mkdir .*: not a directory$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, map[string]string{"app": tc.dsn(t)})
			spec := freshSpec(SQLSource{Database: "app", Query: "SELECT max(received_at) FROM events"})
			spec.Timeout = time.Second
			want{check.Unknown, check.Warn, tc.want, -1}.check(t, ProbeFreshness(context.Background(), spec, fixedEnv(p)))
		})
	}
}

func TestFreshnessRedis(t *testing.T) {
	t.Parallel()
	p := newPool(t, map[string]string{"cache": redisDSN(t)})
	c, err := p.Redis("cache")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		value any // nil: key not set
		want  want
	}{
		{"RFC 3339", fixedNow.Add(-3 * time.Minute).Format(time.RFC3339Nano),
			want{check.Pass, check.Info, "newest record is 3m old (max 15m)", 180}},
		{"epoch seconds", fixedNow.Add(-20 * time.Minute).Unix(),
			want{check.Fail, check.Warn, "newest record is 20m old (max 15m)", 1200}},
		{"epoch milliseconds", fixedNow.Add(-2 * time.Hour).UnixMilli(),
			want{check.Fail, check.Critical, "newest record is 2h old (critical 1h)", 7200}},
		{"missing key", nil,
			want{check.Unknown, check.Warn, `^key "monitor_test_\w+" does not exist$`, -1}},
		{"garbage", "yesterday-ish",
			want{check.Unknown, check.Warn, `^key "monitor_test_\w+": unrecognised timestamp "yesterday-ish"$`, -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key := "monitor_test_" + suffix()
			if tc.value != nil {
				if err := c.Set(context.Background(), key, tc.value, time.Minute).Err(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Del(context.Background(), key) })
			}
			spec := freshSpec(RedisSource{Database: "cache", Key: key})
			tc.want.check(t, ProbeFreshness(context.Background(), spec, fixedEnv(p)))
		})
	}
	t.Run("server down", func(t *testing.T) {
		t.Parallel()
		down := newPool(t, map[string]string{"cache": withAddr(t, redisDSN(t), closedAddr(t))})
		spec := freshSpec(RedisSource{Database: "cache", Key: "k"})
		want{check.Unknown, check.Warn, "connect: connection refused", -1}.check(t, ProbeFreshness(context.Background(), spec, fixedEnv(down)))
	})
}

func TestFreshnessHTTP(t *testing.T) {
	t.Parallel()
	rfc := func(d time.Duration) string { return fixedNow.Add(-d).Format(time.RFC3339) }
	bodies := map[string]string{
		"/last":    `{"lastEventAt": "` + rfc(3*time.Minute+12*time.Second) + `"}`,
		"/nested":  `{"data": {"items": [{"ts": "` + rfc(17*time.Minute+12*time.Second) + `"}, {"ts": "2020-01-01T00:00:00Z"}]}}`,
		"/epoch":   fmt.Sprintf(`{"ts": %d}`, fixedNow.Add(-45*time.Second).Unix()),
		"/epochms": fmt.Sprintf(`{"ts": %d}`, fixedNow.Add(-62*time.Minute).UnixMilli()),
		"/many":    `{"items": [{"ts": "` + rfc(time.Hour) + `"}, {"other": 1}, {"ts": null}, {"ts": "` + rfc(5*time.Minute) + `"}]}`,
		"/quoted":  `{"a.b": {"c d": "` + rfc(time.Minute) + `"}}`,
		"/null":    `{"ts": null}`,
		"/bad":     `<html>not json</html>`,
		"/big":     `{"pad": "` + strings.Repeat("x", maxBody) + `"}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/down":
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		case "/slow":
			<-r.Context().Done()
		default:
			body, ok := bodies[r.URL.Path]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(body))
		}
	}))
	t.Cleanup(srv.Close)
	refused := "http://user:hunter2secret@" + closedAddr(t) + "/x?token=tok3nsecret"

	for _, tc := range []struct {
		name, url, path string
		want            want
	}{
		{"member", srv.URL + "/last", "$.lastEventAt",
			want{check.Pass, check.Info, "newest record is 3m12s old (max 15m)", 192}},
		{"member without $", srv.URL + "/last", "lastEventAt",
			want{check.Pass, check.Info, "newest record is 3m12s old (max 15m)", 192}},
		{"array element", srv.URL + "/nested", "$.data.items[0].ts",
			want{check.Fail, check.Warn, "newest record is 17m12s old (max 15m)", 1032}},
		{"last array element", srv.URL + "/nested", "$.data.items[-1].ts",
			want{check.Fail, check.Critical, `^newest record is \d+(\.\d)? (days|years?) old \(critical 1h\)$`, -2}},
		{"epoch seconds", srv.URL + "/epoch", "$.ts",
			want{check.Pass, check.Info, "newest record is 45s old (max 15m)", 45}},
		{"epoch milliseconds", srv.URL + "/epochms", "$['ts']",
			want{check.Fail, check.Critical, "newest record is 1h2m old (critical 1h)", 3720}},
		{"wildcard takes the newest", srv.URL + "/many", "$.items[*].ts",
			want{check.Pass, check.Info, "newest record is 5m old (max 15m)", 300}},
		{"quoted members", srv.URL + "/quoted", `$["a.b"]['c d']`,
			want{check.Pass, check.Info, "newest record is 1m old (max 15m)", 60}},
		{"missing member", srv.URL + "/last", "$.nope",
			want{check.Unknown, check.Warn, `json_path $.nope: no member "nope" at $`, -1}},
		{"index out of range", srv.URL + "/nested", "$.data.items[5].ts",
			want{check.Unknown, check.Warn, `json_path $.data.items[5].ts: index 5 out of range at $.data.items (length 2)`, -1}},
		{"null", srv.URL + "/null", "$.ts",
			want{check.Unknown, check.Warn, "json_path $.ts: value is null", -1}},
		{"not JSON", srv.URL + "/bad", "$.ts",
			want{check.Unknown, check.Warn, "^http: invalid JSON: ", -1}},
		{"too large", srv.URL + "/big", "$.pad",
			want{check.Unknown, check.Warn, "http: response larger than 1 MiB", -1}},
		{"non-2xx", srv.URL + "/down", "$.ts",
			want{check.Unknown, check.Warn, "http: status 503 Service Unavailable", -1}},
		{"not found", srv.URL + "/nothing", "$.ts",
			want{check.Unknown, check.Warn, "http: status 404 Not Found", -1}},
		{"refused, secrets in URL", refused, "$.ts",
			want{check.Unknown, check.Warn, "connect: connection refused", -1}},
		{"bad json_path", srv.URL + "/last", "$..ts",
			want{check.Unknown, check.Warn, `invalid json_path "$..ts": recursive descent (..) is not supported`, -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := freshSpec(HTTPSource{URL: tc.url, JSONPath: tc.path})
			env := &Env{HTTP: srv.Client(), Now: func() time.Time { return fixedNow }}
			res := ProbeFreshness(context.Background(), spec, env)
			if tc.want.age == -2 { // some age, not worth spelling out
				tc.want.age = *res.ObservedValue
			}
			tc.want.check(t, res)
			assertNoSecret(t, res.Message, "hunter2secret", "tok3nsecret")
		})
	}

	t.Run("slow server", func(t *testing.T) {
		t.Parallel()
		spec := freshSpec(HTTPSource{URL: srv.URL + "/slow", JSONPath: "$.ts"})
		spec.Timeout = 500 * time.Millisecond
		start := time.Now()
		res := ProbeFreshness(context.Background(), spec, &Env{HTTP: srv.Client()})
		want{check.Unknown, check.Warn, "timed out after 500ms", -1}.check(t, res)
		if elapsed := time.Since(start); elapsed > time.Second {
			t.Errorf("took %v", elapsed)
		}
	})
}

func TestFreshnessFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	touched := func(age time.Duration) string {
		path := filepath.Join(dir, suffix())
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		mt := fixedNow.Add(-age)
		if err := os.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tc := range []struct {
		name, path string
		want       want
	}{
		{"fresh", touched(42 * time.Second), want{check.Pass, check.Info, "file is 42s old (max 15m)", 42}},
		{"stale", touched(30 * time.Minute), want{check.Fail, check.Warn, "file is 30m old (max 15m)", 1800}},
		{"very stale", touched(50 * time.Hour), want{check.Fail, check.Critical, "file is 2.1 days old (critical 1h)", 180000}},
		{"missing", filepath.Join(dir, "nope"), want{check.Unknown, check.Warn, "^file .*nope does not exist$", -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := freshSpec(FileSource{Path: tc.path})
			tc.want.check(t, ProbeFreshness(context.Background(), spec, fixedEnv(nil)))
		})
	}
}

func TestFreshnessHeartbeat(t *testing.T) {
	t.Parallel()
	beats := fakeBeats{
		"recent": fixedNow.Add(-10 * time.Second),
		"late":   fixedNow.Add(-20 * time.Minute),
	}
	for _, tc := range []struct {
		name string
		env  *Env
		want want
	}{
		{"recent", &Env{Heartbeats: beats, Now: func() time.Time { return fixedNow }},
			want{check.Pass, check.Info, "last heartbeat is 10s old (max 15m)", 10}},
		{"late", &Env{Heartbeats: beats, Now: func() time.Time { return fixedNow }},
			want{check.Fail, check.Warn, "last heartbeat is 20m old (max 15m)", 1200}},
		{"never", &Env{Heartbeats: beats, Now: func() time.Time { return fixedNow }},
			want{check.Unknown, check.Warn, "no heartbeat received yet", -1}},
		{"no heartbeat store", &Env{},
			want{check.Unknown, check.Warn, "heartbeats are not available", -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := freshSpec(HeartbeatSource{})
			spec.Name = tc.name
			tc.want.check(t, ProbeFreshness(context.Background(), spec, tc.env))
		})
	}
}

// TestFreshnessSeverities: the configured FAIL and UNKNOWN severities and
// the skew setting are honoured.
func TestFreshnessSeverities(t *testing.T) {
	t.Parallel()
	beats := fakeBeats{"x": fixedNow.Add(-20 * time.Minute), "future": fixedNow.Add(90 * time.Second)}
	env := &Env{Heartbeats: beats, Now: func() time.Time { return fixedNow }}
	for _, tc := range []struct {
		name string
		edit func(*check.Spec)
		want want
	}{
		{"fail severity", func(s *check.Spec) { s.Severity = check.Critical },
			want{check.Fail, check.Critical, "last heartbeat is 20m old (max 15m)", 1200}},
		{"no critical age", func(s *check.Spec) {
			editFresh(s, func(c *FreshnessConfig) { c.CriticalAge = 0; c.MaxAge = time.Minute })
		},
			want{check.Fail, check.Warn, "last heartbeat is 20m old (max 1m)", 1200}},
		{"unknown severity", func(s *check.Spec) { s.Name = "never"; s.UnknownSeverity = check.Info },
			want{check.Unknown, check.Info, "no heartbeat received yet", -1}},
		{"default skew", func(s *check.Spec) { s.Name = "future" },
			want{check.Unknown, check.Warn, "clock skew: last heartbeat is 1m30s in the future", -1}},
		{"wider skew", func(s *check.Spec) {
			s.Name = "future"
			editFresh(s, func(c *FreshnessConfig) { c.Skew = 2 * time.Minute })
		},
			want{check.Pass, check.Info, "last heartbeat is 0s old (max 15m)", 0}},
		{"no max age", func(s *check.Spec) { editFresh(s, func(c *FreshnessConfig) { c.MaxAge = 0 }) },
			want{check.Unknown, check.Warn, "max_age is not configured", -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := freshSpec(HeartbeatSource{})
			spec.Name = "x"
			tc.edit(&spec)
			tc.want.check(t, ProbeFreshness(context.Background(), spec, env))
		})
	}
}

func TestParseTimestamp(t *testing.T) {
	t.Parallel()
	ref := time.Date(2026, 11, 21, 10, 29, 41, 0, time.UTC)
	refFrac := ref.Add(123456 * time.Microsecond)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2026-11-21T10:29:41Z", ref},
		{"2026-11-21T10:29:41.123456Z", refFrac},
		{"2026-11-21T11:29:41+01:00", ref},
		{"2026-11-21T11:29:41+0100", ref},
		{"2026-11-21T10:29:41", ref},
		{"2026-11-21 10:29:41", ref},
		{"2026-11-21 10:29:41.123456", refFrac},
		{"2026-11-21 11:29:41.123456+01:00", refFrac},
		{"2026-11-21 10:29:41+00", ref},
		{"2026-11-21 05:29:41-05", ref},
		{"2026-11-21 10:29:41 +0000 UTC", ref},
		{"2026-11-21 10:29:41.123456 +0000 UTC m=+0.000012345", refFrac},
		{"Sat, 21 Nov 2026 10:29:41 GMT", ref},
		{"1795256981", ref},
		{"1795256981.123456", refFrac},
		{"1795256981123", ref.Add(123 * time.Millisecond)},
		{"1795256981123456", refFrac},
		{"  1795256981  ", ref},
		{"2026-11-21", time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseTimestamp(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if d := got.Sub(tc.want); d < -time.Microsecond || d > time.Microsecond {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "yesterday", "2026-13-45", "NaN", "Inf", "12:00"} {
		if got, err := parseTimestamp(bad); err == nil {
			t.Errorf("parseTimestamp(%q) = %v, want an error", bad, got)
		}
	}
}

func TestTimeFromValue(t *testing.T) {
	t.Parallel()
	ref := time.Unix(1795256981, 0)
	for _, v := range []any{ref, int64(1795256981), int32(1795256981), 1795256981, uint64(1795256981),
		float64(1795256981), []byte("1795256981"), json.Number("1795256981"), int64(1795256981000)} {
		got, err := timeFromValue(v)
		if err != nil || !got.Equal(ref) {
			t.Errorf("timeFromValue(%T %v) = %v, %v", v, v, got, err)
		}
	}
	for _, v := range []any{time.Time{}, true, struct{}{}} {
		if _, err := timeFromValue(v); err == nil {
			t.Errorf("timeFromValue(%T) succeeded", v)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Minute, "0s"},
		{400 * time.Millisecond, "0s"},
		{1500 * time.Millisecond, "2s"},
		{45 * time.Second, "45s"},
		{17*time.Minute + 12*time.Second, "17m12s"},
		{15 * time.Minute, "15m"},
		{62 * time.Minute, "1h2m"},
		{time.Hour + 5*time.Second, "1h"},
		{60 * time.Minute, "1h"},
		{23*time.Hour + 59*time.Minute + 50*time.Second, "24h"},
		{24 * time.Hour, "1 day"},
		{50 * time.Hour, "2.1 days"},
		{77*time.Hour + 20*time.Minute, "3.2 days"},
		{90 * 24 * time.Hour, "90 days"},
		{364 * 24 * time.Hour, "364 days"},
		{365 * 24 * time.Hour, "1 year"},
		{2524*24*time.Hour + 17*time.Hour + 24*time.Minute + 54*time.Second, "6.9 years"},
	} {
		if got := humanDuration(tc.d); got != tc.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{2 * time.Second, "2s"},
		{1500 * time.Millisecond, "1.5s"},
		{500 * time.Millisecond, "500ms"},
		{time.Minute, "1m"},
		{90 * time.Second, "1m30s"},
		{time.Hour, "1h"},
		{1999999 * time.Microsecond, "2s"},
	} {
		if got := shortDuration(tc.d); got != tc.want {
			t.Errorf("shortDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestJSONPath(t *testing.T) {
	t.Parallel()
	var doc any
	if err := json.Unmarshal([]byte(`{"a": {"b": [10, 20, {"c": "x"}]}, "k.y": 1, "m": {"p": 1, "q": 2}}`), &doc); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want string // JSON of the matches, or "error: ..." prefix
	}{
		{"$", `[{"a":{"b":[10,20,{"c":"x"}]},"k.y":1,"m":{"p":1,"q":2}}]`},
		{"", `[{"a":{"b":[10,20,{"c":"x"}]},"k.y":1,"m":{"p":1,"q":2}}]`},
		{"$.a.b[1]", `[20]`},
		{"$.a.b[-1].c", `["x"]`},
		{"$['k.y']", `[1]`},
		{"$.m.*", `[1,2]`},
		{"$.a.b[*]", `[10,20,{"c":"x"}]`},
		{"$.a.b[*].c", `["x"]`},
		{"$.a.b.c", `error: $.a.b is an array, not an object`},
		{"$.a[0]", `error: $.a is an object, not an array`},
		{"$.a.b[*].zz", `error: no value matched`},
		{"$.a.b[x]", `error: invalid json_path`},
		{"$.a.b[1", `error: invalid json_path`},
		{"$.a['b", `error: invalid json_path`},
		{"$.", `error: invalid json_path`},
		{"$a", `error: invalid json_path`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			steps, err := parseJSONPath(tc.path)
			var got any
			if err == nil {
				got, err = evalJSONPath(doc, steps)
			}
			if err != nil {
				if !strings.HasPrefix("error: "+err.Error(), tc.want) {
					t.Fatalf("error %q, want %q", err, tc.want)
				}
				return
			}
			b, _ := json.Marshal(got)
			if string(b) != tc.want {
				t.Fatalf("got %s, want %s", b, tc.want)
			}
		})
	}
	if err := ValidateJSONPath("$.items[0].ts"); err != nil {
		t.Errorf("ValidateJSONPath: %v", err)
	}
}
