package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/internal/testenv"
)

// docBlocks returns the fenced blocks of docs/NAME tagged lang,
// indentation removed (a block inside a list item is indented).
func docBlocks(t *testing.T, name, lang string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	var blocks, cur []string
	in, indent := false, ""
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case !in && trimmed == "```"+lang:
			in, indent, cur = true, line[:len(line)-len(trimmed)], nil
		case in && trimmed == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, "\n")+"\n")
		case in:
			cur = append(cur, strings.TrimPrefix(line, indent))
		}
	}
	return blocks
}

// docBlock is the one block of docs/NAME tagged lang that contains every
// one of want.
func docBlock(t *testing.T, name, lang string, want ...string) string {
	t.Helper()
	var found []string
	for _, b := range docBlocks(t, name, lang) {
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(b, w)
		}
		if ok {
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		t.Fatalf("docs/%s has %d %s blocks with %q, want 1", name, len(found), lang, want)
	}
	return found[0]
}

// cookbookBlock is docBlock of docs/cookbook.md.
func cookbookBlock(t *testing.T, lang string, want ...string) string {
	t.Helper()
	return docBlock(t, "cookbook.md", lang, want...)
}

// replaceAll replaces each old with its new in s, failing when an old is
// not there (the recipe changed: the test must follow).
func replaceAll(t *testing.T, s string, oldNew ...string) string {
	t.Helper()
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			t.Fatalf("the recipe no longer holds %q:\n%s", oldNew[i], s)
		}
		s = strings.ReplaceAll(s, oldNew[i], oldNew[i+1])
	}
	return s
}

type checkOutput struct {
	Status string `json:"status"`
	Checks []struct {
		Name, Status, Severity, Message string
	} `json:"checks"`
}

// runCheckJSON runs `monitor check --format json --only name` on a config.
func runCheckJSON(t *testing.T, cfgText, name string) (checkOutput, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, path, cfgText)
	code, stdout, stderr := runMain(t, "check", "--config", path, "--only", name, "--format", "json")
	var out checkOutput
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || len(out.Checks) != 1 {
		t.Fatalf("monitor check = %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	return out, out.Checks[0].Status + " " + out.Checks[0].Severity + " " + out.Checks[0].Message
}

// The PostgreSQL recipes of the cookbook, with their SQL as written, on a
// real PostgreSQL: the freshness check, the index advice (the planner
// answers max() from the index), the time zone pitfall and the link source.
func TestCookbookPostgres(t *testing.T) {
	dsn := testenv.PostgresSchema(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Setenv("APP_DATABASE_URL", dsn)

	t.Run("freshness", func(t *testing.T) {
		mustExec(`CREATE TABLE orders (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL)`)
		mustExec(`INSERT INTO orders (created_at) SELECT now() - interval '1 day' - g * interval '1 second' FROM generate_series(1, 20000) g`)
		recipe := cookbookBlock(t, "yaml", "name: orders_freshness")

		// Ten minutes old: PASS.
		mustExec(`INSERT INTO orders (created_at) VALUES (now() - interval '10 minutes')`)
		if _, got := runCheckJSON(t, recipe, "orders_freshness"); !strings.HasPrefix(got, "PASS INFO newest row is 10m") {
			t.Errorf("orders 10 minutes old: %s, want PASS INFO newest row is 10m… old", got)
		}
		// The index the cookbook advises: max() becomes a backward index scan.
		mustExec(cookbookBlock(t, "sql", "orders_created_at_idx"))
		mustExec(`ANALYZE orders`)
		var plan strings.Builder
		rows, err := db.QueryContext(ctx, `EXPLAIN SELECT max(created_at) FROM orders`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(line + "\n")
		}
		rows.Close()
		if !strings.Contains(plan.String(), "Backward using orders_created_at_idx") {
			t.Errorf("with the cookbook's index, max(created_at) is not an index scan:\n%s", plan.String())
		}
		// Nothing for 20 minutes: FAIL WARN; for two hours: FAIL CRITICAL.
		mustExec(`UPDATE orders SET created_at = created_at - interval '10 minutes' WHERE created_at > now() - interval '1 hour'`)
		if out, got := runCheckJSON(t, recipe, "orders_freshness"); !strings.HasPrefix(got, "FAIL WARN newest row is 20m") || out.Status != "FAIL" {
			t.Errorf("orders 20 minutes old: %s, want FAIL WARN newest row is 20m… old", got)
		}
		mustExec(`UPDATE orders SET created_at = created_at - interval '2 hours' WHERE created_at > now() - interval '1 hour'`)
		if _, got := runCheckJSON(t, recipe, "orders_freshness"); !strings.HasPrefix(got, "FAIL CRITICAL") {
			t.Errorf("orders 2h20m old: %s, want FAIL CRITICAL", got)
		}
	})

	t.Run("read-only role", func(t *testing.T) {
		// The role block, under a name of its own and rolled back: roles
		// belong to the whole server.
		block := replaceAll(t, cookbookBlock(t, "sql", "CREATE ROLE monitor"),
			"ROLE monitor ", "ROLE cookbook_monitor_e2e ", "TO monitor;", "TO cookbook_monitor_e2e;")
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, block); err != nil {
			t.Errorf("the cookbook's role block fails: %v\n%s", err, block)
		}
	})

	t.Run("dbt sources", func(t *testing.T) {
		// The shop tables live in the test's schema, not in shop.
		mustExec(`CREATE TABLE orders_dbt (_loaded_at timestamptz)`)
		mustExec(`CREATE TABLE customers (_loaded_at timestamptz)`)
		mustExec(`CREATE TABLE refunds (updated_at timestamptz)`)
		mustExec(`INSERT INTO orders_dbt VALUES (now() - interval '13 hours')`) // past warn_after 12h
		mustExec(`INSERT INTO customers VALUES (now() - interval '2 days')`)    // within its own 3d
		mustExec(`INSERT INTO refunds VALUES (now() - interval '25 hours')`)    // past error_after 24h
		t.Setenv("WAREHOUSE_DATABASE_URL", dsn)
		recipe := replaceAll(t, cookbookBlock(t, "yaml", "name: shop_refunds_freshness"),
			"shop.orders", "orders_dbt", "shop.customers", "customers", "shop.refunds", "refunds")
		for name, want := range map[string]string{
			"shop_orders_freshness":    "FAIL WARN newest row is 13h old (max 12h)",
			"shop_customers_freshness": "PASS INFO newest row is 2 days old (max 3 days)",
			"shop_refunds_freshness":   "FAIL CRITICAL newest row is 1 day old (critical 1 day)",
		} {
			if _, got := runCheckJSON(t, recipe, name); !strings.HasPrefix(got, want) {
				t.Errorf("%s: %s, want %s…", name, got, want)
			}
		}
	})

	t.Run("time zones", func(t *testing.T) {
		// booked_at is a timestamp without time zone holding Paris wall
		// time, as an application in Paris writes it.
		mustExec(`CREATE TABLE bookings (booked_at timestamp NOT NULL)`)
		mustExec(`INSERT INTO bookings VALUES ((now() - interval '5 minutes') AT TIME ZONE 'Europe/Paris')`)
		recipe := cookbookBlock(t, "yaml", "name: bookings_freshness")
		if _, got := runCheckJSON(t, recipe, "bookings_freshness"); !strings.HasPrefix(got, "PASS INFO newest row is 5m") {
			t.Errorf("with AT TIME ZONE: %s, want PASS, 5m old", got)
		}
		// Without it the row lies an hour or two in the future (UTC+1/+2).
		naive := replaceAll(t, recipe, "max(booked_at) AT TIME ZONE 'Europe/Paris'", "max(booked_at)")
		if _, got := runCheckJSON(t, naive, "bookings_freshness"); !strings.HasPrefix(got, "UNKNOWN") || !strings.Contains(got, "future") {
			t.Errorf("without AT TIME ZONE: %s, want UNKNOWN (a timestamp in the future), as the cookbook says", got)
		}
	})

	t.Run("link source", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/gone") {
				http.NotFound(w, r)
			}
		}))
		t.Cleanup(srv.Close)
		mustExec(cookbookBlock(t, "sql", "CREATE TABLE links"))
		mustExec(`INSERT INTO handles VALUES (1, 'acme'), (2, 'globex')`)
		mustExec(`INSERT INTO links VALUES
			(1, 1, 'home', $1, true),
			(2, 1, 'old', $2, true),
			(3, 2, 'off', $2, false),
			(4, 2, 'mail', 'mailto:x@example.com', true)`, srv.URL+"/ok", srv.URL+"/gone")
		// The links are on 127.0.0.1, which the SSRF guard refuses: this is
		// the cookbook's "links you own on internal hosts".
		recipe := replaceAll(t, cookbookBlock(t, "yaml", "name: destination_links"),
			"    component: Redirects\n", "    component: Redirects\n    allow_private: true\n")
		out, got := runCheckJSON(t, recipe, "destination_links")
		if got != "FAIL WARN 1 of 2 links failing (1 http_status)" || out.Status != "FAIL" {
			t.Errorf("link source: %s, want FAIL WARN 1 of 2 links failing (1 http_status): the active http links only", got)
		}
	})
}

// The cookbook's heartbeat recipe on a running daemon, pushed by its curl
// command as written: UNKNOWN before the first push, PASS after it, FAIL
// once the job stops pushing for longer than max_age.
func TestCookbookHeartbeatCurl(t *testing.T) {
	t.Parallel()
	curl := testenv.Tool(t, "curl", "curl")
	const token = "cron-token-5d1e9a3b7c"
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	// The recipe with its day-long ages shrunk to seconds.
	recipe := replaceAll(t, cookbookBlock(t, "yaml", "source: { heartbeat: true }"),
		"max_age: 26h", "max_age: 2s",
		"critical_age: 50h", "critical_age: 1h",
		"interval: 1m", "interval: 200ms\n    timeout: 100ms")
	p := startMonitor(t, dir, func(string) (string, string) {
		return cfg, recipe
	}, []string{"--config", cfg}, "MONITOR_CRON_TOKEN="+token)

	h := p.waitHealth(5*time.Second, "nightly_export run", allRan("nightly_export"))
	if c := wantCheck(t, h, "nightly_export", "UNKNOWN", "WARN"); c.Message != "no heartbeat received yet" {
		t.Errorf("before the first push: %q, want \"no heartbeat received yet\" as the cookbook says", c.Message)
	}

	command := cookbookBlock(t, "sh", "/v2/heartbeats/nightly_export")
	run := func(tok string) (string, error) {
		cmd := exec.Command("bash", "-c", strings.ReplaceAll(command, "curl ", curl+" "))
		cmd.Env = append(os.Environ(), "MONITOR_URL="+p.base, "MONITOR_CRON_TOKEN="+tok)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// curl as a wrapper that writes down its arguments: the token must not
	// be among them (ps shows every process's arguments to every user).
	realCurl, argv := curl, filepath.Join(dir, "curl-argv")
	curl = filepath.Join(dir, "curl")
	writeFile(t, curl, "#!/bin/sh\nprintf '%s\\n' \"$@\" >>"+argv+"\nexec "+realCurl+" \"$@\"\n")
	if err := os.Chmod(curl, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run(token); err != nil || out != "" {
		t.Fatalf("the cookbook's curl: %v, output %q; want exit 0 and no output (cron mails any)", err, out)
	}
	if b, err := os.ReadFile(argv); err != nil || strings.Contains(string(b), token) {
		t.Errorf("the cookbook's curl has the token on its command line, where ps shows it (%v):\n%s", err, b)
	}
	curl = realCurl
	h = p.waitHealth(5*time.Second, "nightly_export PASS", func(h healthBody) bool {
		c, _ := h.find("nightly_export")
		return c.Status == "PASS"
	})
	if c := wantCheck(t, h, "nightly_export", "PASS", "INFO"); !strings.HasPrefix(c.Message, "last heartbeat is") {
		t.Errorf("after the push: %q", c.Message)
	}
	// The job stops: past max_age the check FAILs.
	h = p.waitHealth(10*time.Second, "nightly_export FAIL once max_age has passed", func(h healthBody) bool {
		c, _ := h.find("nightly_export")
		return c.Status == "FAIL"
	})
	if c := wantCheck(t, h, "nightly_export", "FAIL", "WARN"); !strings.Contains(c.Message, "(max 2s)") {
		t.Errorf("after the job stopped: %q", c.Message)
	}
	// A push with a wrong token fails the job (curl -f: exit 22) and changes nothing.
	fast := strings.Replace(command, "--retry 5", "--retry 0", 1)
	cmd := exec.Command("bash", "-c", strings.ReplaceAll(fast, "curl ", curl+" "))
	cmd.Env = append(os.Environ(), "MONITOR_URL="+p.base, "MONITOR_CRON_TOKEN=wrong")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 22 || !strings.Contains(string(out), "401") {
		t.Errorf("curl with a wrong token: %v, %q; want exit 22 and the 401 on stderr", err, out)
	}
	p.stop()
	if strings.Contains(p.stderr.String(), token) {
		t.Errorf("the cron token appears in the log")
	}
}
