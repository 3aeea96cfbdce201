package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to make a fresh schema

	"github.com/monitor-dev/monitor/internal/testenv"
	"github.com/monitor-dev/monitor/store"
)

const beatRestartConfig = `server:
  listen: "%s"
storage:
  dsn: %s
checks:
  - name: nightly_export
    kind: freshness
    source: { heartbeat: true }
    interval: 1h
    timeout: 500ms
    max_age: 10m
`

// TestE2EHeartbeatSurvivesRestart: a pushed heartbeat turns the check PASS
// at once (its next scheduled run is an hour away), and a restarted daemon
// still knows it, on both engines.
func TestE2EHeartbeatSurvivesRestart(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			dsn := "sqlite://data/monitor.db"
			if engine == "postgres" {
				dsn = testenv.PostgresSchema(t)
			}
			cfg := filepath.Join(dir, "config.yaml")
			configFor := func(listen string) (string, string) {
				return cfg, fmt.Sprintf(beatRestartConfig, listen, strconv.Quote(dsn))
			}
			p := startMonitor(t, dir, configFor, []string{"--config", cfg})
			h := p.waitHealth(10*time.Second, "nightly_export run", allRan("nightly_export"))
			wantCheck(t, h, "nightly_export", "UNKNOWN", "WARN")

			if resp, body := p.do(http.MethodPost, "/v2/heartbeats/nightly_export", nil, ""); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("heartbeat = %d %s", resp.StatusCode, body)
			}
			p.waitHealth(3*time.Second, "nightly_export PASS right after the push", func(h healthBody) bool {
				c, _ := h.find("nightly_export")
				return c.Status == "PASS"
			})
			p.stop()

			restarted := time.Now()
			p = startMonitor(t, dir, configFor, []string{"--config", cfg})
			h = p.waitHealth(10*time.Second, "nightly_export run after the restart", func(h healthBody) bool {
				c, _ := h.find("nightly_export")
				at, _ := time.Parse(time.RFC3339, c.CheckedAt)
				return !at.Before(restarted.Truncate(time.Second))
			})
			c := wantCheck(t, h, "nightly_export", "PASS", "INFO")
			if !strings.HasPrefix(c.Message, "last heartbeat is") {
				t.Errorf("after the restart: message = %q, want the heartbeat from before", c.Message)
			}
			p.stop()
		})
	}
}

const lockConfig = `server:
  listen: "%s"
storage:
  dsn: %s
databases:
  app: { dsn: "sqlite://app.db" }
checks:
  - name: app_db
    kind: db
    database: app
    interval: 1s
    timeout: 500ms
slos:
  - check: app_db
    objective: 99
    window: 1d
`

// TestE2EOneDaemonPerStore: a second daemon on the same store refuses to
// start, naming the first one's address and pid; `monitor sla report`
// still reads the store meanwhile.
func TestE2EOneDaemonPerStore(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			dsn := "sqlite://data/monitor.db"
			if engine == "postgres" {
				dsn = testenv.PostgresSchema(t)
			}
			cfg := filepath.Join(dir, "config.yaml")
			var firstAddr string
			p := startMonitor(t, dir, func(listen string) (string, string) {
				firstAddr = listen
				return cfg, fmt.Sprintf(lockConfig, listen, strconv.Quote(dsn))
			}, []string{"--config", cfg})
			p.waitHealth(10*time.Second, "app_db run", allRan("app_db"))

			second := freeAddr(t)
			cfg2 := filepath.Join(dir, "second.yaml")
			writeFile(t, cfg2, fmt.Sprintf(lockConfig, second, strconv.Quote(dsn)))
			cmd := exec.Command(monitorBinary(t), "run", "--config", cfg2)
			cmd.Dir = dir
			cmd.Env = daemonEnv()
			out, err := runWithTimeout(cmd, 20*time.Second)
			if code := exitCode(err); code != 1 {
				t.Fatalf("second daemon exit = %v (%d), want 1; output:\n%s", err, code, out)
			}
			for _, want := range []string{`err="history store in use by another monitor (pid ` + strconv.Itoa(p.cmd.Process.Pid) + ", ",
				"listening on " + firstAddr} {
				if !strings.Contains(out, want) {
					t.Errorf("second daemon's error does not say %q:\n%s", want, out)
				}
			}
			if strings.Count(out, "another monitor") != 1 {
				t.Errorf("second daemon's error stutters (want \"another monitor\" once):\n%s", out)
			}
			if resp, err := http.Get("http://" + second + "/readyz"); err == nil {
				resp.Body.Close()
				t.Errorf("the second daemon answers on %s", second)
			}

			rep := exec.Command(monitorBinary(t), "sla", "report", "--config", cfg, "--format", "json")
			rep.Dir = dir
			rep.Env = daemonEnv()
			out, err = runWithTimeout(rep, 20*time.Second)
			if err != nil || !strings.Contains(out, `"app_db"`) {
				t.Errorf("sla report beside the daemon: %v\n%s", err, out)
			}
			p.stop()
		})
	}
}

func runWithTimeout(cmd *exec.Cmd, d time.Duration) (string, error) {
	var buf testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return buf.String(), err
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
		return buf.String(), fmt.Errorf("still running after %s", d)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// proxy forwards a loopback port to a target once switched on; until then
// the port is closed.
type proxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
}

func (p *proxy) on(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy listen on %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", p.target)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { _, _ = io.Copy(u, c) }()
				_, _ = io.Copy(c, u)
			}()
		}
	}()
}

const noStoreConfig = `server:
  listen: "%s"
storage:
  dsn: %s
databases:
  app: { dsn: "sqlite://app.db" }
checks:
  - name: app_db
    kind: db
    database: app
    interval: 1s
    timeout: 500ms
`

// TestE2EStartWithoutStore: with its PostgreSQL store unreachable the
// daemon starts anyway, probes and serves health, says so in /readyz and
// monitor_store_up; once the store is reachable it opens it and writes the
// results it queued meanwhile.
func TestE2EStartWithoutStore(t *testing.T) {
	t.Parallel()
	real := testenv.PostgresSchema(t)
	u, _ := url.Parse(real)
	px := &proxy{addr: freeAddr(t), target: u.Host}
	u.Host = px.addr
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()

	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	p := startMonitor(t, dir, func(listen string) (string, string) {
		return cfg, fmt.Sprintf(noStoreConfig, listen, strconv.Quote(u.String()))
	}, []string{"--config", cfg})
	started := time.Now()
	h := p.waitHealth(10*time.Second, "app_db run without the store", allRan("app_db"))
	wantCheck(t, h, "app_db", "PASS", "INFO")

	resp, body := p.do(http.MethodGet, "/readyz", nil, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "degraded: history store unavailable") {
		t.Errorf("/readyz without the store = %d %q, want 200 saying the store is unavailable", resp.StatusCode, body)
	}
	if strings.Contains(string(body), u.User.String()+"@") && u.User.String() != "postgres" {
		t.Errorf("/readyz shows the DSN's credentials: %s", body)
	}
	_, mb := p.do(http.MethodGet, "/metrics", nil, "")
	if !strings.Contains(string(mb), "\nmonitor_store_up 0\n") {
		t.Errorf("metrics lack monitor_store_up 0")
	}

	// Let a few results queue up, then make the store reachable.
	queued := regexp.MustCompile(`results queued: (\d+)`)
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, body = p.do(http.MethodGet, "/readyz", nil, "")
		if m := queued.FindStringSubmatch(string(body)); m != nil {
			if n, _ := strconv.Atoi(m[1]); n >= 2 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never showed 2 queued results: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	reachable := time.Now()
	px.on(t)
	deadline := time.Now().Add(40 * time.Second)
	for {
		_, mb = p.do(http.MethodGet, "/metrics", nil, "")
		if strings.Contains(string(mb), "\nmonitor_store_up 1\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not come up within 40s of becoming reachable; log:\n%s", p.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, body = p.do(http.MethodGet, "/readyz", nil, "")
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "degraded") {
		t.Errorf("/readyz with the store up = %d %q, want plain ready", resp.StatusCode, body)
	}
	p.stop()

	// The results queued while the store was down were written.
	st, err := store.Open(context.Background(), real, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b, err := st.Totals(context.Background(), "app_db", started.Add(-time.Minute), reachable)
	if err != nil {
		t.Fatal(err)
	}
	if b.Runs < 2 {
		t.Errorf("%d runs stored from before the store was reachable, want the 2 or more queued meanwhile", b.Runs)
	}
}

// TestE2EFailedStartCreatesNoData: a daemon that cannot listen exits 1
// without creating data/ (its store and SQLite databases live there), and
// relative sqlite:// paths are the config file's neighbours, not the
// working directory's.
func TestE2EFailedStartCreatesNoData(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cwd := t.TempDir()
	cfgDir := filepath.Join(t.TempDir(), "etc")
	cfg := filepath.Join(cfgDir, "config.yaml")
	text := `server:
  listen: "%s"
databases:
  app: { dsn: "sqlite://data/app.db" }
checks:
  - name: app_db
    kind: db
    database: app
    interval: 1s
    timeout: 500ms
`
	writeFile(t, cfg, fmt.Sprintf(text, busy.Addr().String()))
	cmd := exec.Command(monitorBinary(t), "run", "--config", cfg)
	cmd.Dir = cwd
	cmd.Env = daemonEnv()
	out, err := runWithTimeout(cmd, 20*time.Second)
	if exitCode(err) != 1 || !strings.Contains(out, "address already in use") {
		t.Fatalf("run on a busy port = %v, want exit 1 and the listen error:\n%s", err, out)
	}
	for _, d := range []string{cwd, cfgDir} {
		if _, err := os.Stat(filepath.Join(d, "data")); err == nil {
			t.Errorf("a failed start created %s", filepath.Join(d, "data"))
		}
	}

	// Started from another directory, the daemon keeps its files beside
	// the config.
	p := startMonitor(t, cwd, func(listen string) (string, string) {
		return cfg, fmt.Sprintf(text, listen)
	}, []string{"--config", cfg})
	p.waitHealth(10*time.Second, "app_db run", allRan("app_db"))
	p.stop()
	for _, f := range []string{"app.db", "monitor.db"} {
		if _, err := os.Stat(filepath.Join(cfgDir, "data", f)); err != nil {
			t.Errorf("%s not beside the config: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(cwd, "data")); err == nil {
		t.Errorf("the daemon created data/ in its working directory")
	}
}

// TestE2EDemoHistoryApart: the shipped config's demo keeps its history in
// data/monitor-demo.db; pointed at a real platform (APP_DATABASE_URL on
// PostgreSQL, demo off), the daemon uses data/monitor.db, with no demo
// result in it.
func TestE2EDemoHistoryApart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyFile(t, filepath.Join("..", "..", "config.yaml"), filepath.Join(dir, "config.yaml"))
	p := startMonitor(t, dir, nil, nil)
	p.waitHealth(15*time.Second, "the demo checks run", allRan("usage_meters_connectivity"))
	p.stop()
	if _, err := os.Stat(filepath.Join(dir, "data", "monitor-demo.db")); err != nil {
		t.Errorf("demo history not in data/monitor-demo.db: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "monitor.db")); err == nil {
		t.Errorf("the demo wrote data/monitor.db, the real platform's history")
	}

	real := testenv.PostgresSchema(t)
	started := time.Now()
	p = startMonitor(t, dir, nil, nil, "APP_DATABASE_URL="+real)
	p.waitHealth(15*time.Second, "the checks run on the real platform", allRan("usage_meters_connectivity"))
	p.stop()
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(dir, "data", "monitor.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	latest, err := st.Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(latest) == 0 {
		t.Fatal("no result in data/monitor.db")
	}
	for _, r := range latest {
		if r.CheckedAt.Before(started.Add(-time.Second)) {
			t.Errorf("data/monitor.db holds %s from %s, before the real platform's daemon started (a demo result)", r.Check, r.CheckedAt)
		}
	}
}

// TestE2EStoreCopyInterrupted: Ctrl-C in the middle of `monitor store copy`
// stops it with exit 1 and a word that the target holds a partial copy not
// to be used; a second copy into it is refused, saying why.
func TestE2EStoreCopyInterrupted(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, "from.db"), filepath.Join(dir, "to.db")
	st, err := store.Open(context.Background(), "sqlite://"+from, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", from)
	if err != nil {
		t.Fatal(err)
	}
	// Enough rows that the copy runs for a while (about 80,000 rows a second).
	for _, q := range []string{
		`INSERT INTO checks (id, name) VALUES (1, 'orders_fresh')`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 600000)
		 INSERT INTO results (check_id, ts, status, severity, maintenance, within_sla, value, duration_ms)
		 SELECT 1, 1700000000000 + i*1000, 0, 0, 0, 1, 0.5, 3 FROM n`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	_ = db.Close()

	var stderr strings.Builder
	cmd := exec.Command(monitorBinary(t), "store", "copy", "--from", "sqlite://"+from, "--to", "sqlite://"+to)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once some results are in the target.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("no result reached the target in 30 s")
		}
		if n := countRows(to, "results"); n > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitFail {
		t.Fatalf("monitor store copy interrupted: %v (exit %d), stderr %q; want exit 1", err, code, stderr.String())
	}
	if n := countRows(to, "results"); n >= 600000 {
		t.Fatalf("the copy finished (%d results) before the interrupt; make the source bigger", n)
	}
	for _, want := range []string{"interrupted", "partial copy", "not a usable store", "delete it"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr of an interrupted copy = %q; want %q", stderr.String(), want)
		}
	}
	code, _, errOut := runMain(t, "store", "copy", "--from", "sqlite://"+from, "--to", "sqlite://"+to)
	if code != exitFail || !strings.Contains(errOut, "interrupted copy") {
		t.Errorf("a copy into the partial target = %d, stderr %q; want 1 and a word about an interrupted copy", code, errOut)
	}
}

// countRows is the number of rows of table in the SQLite database at path,
// 0 when it cannot be read (yet).
func countRows(path, table string) int {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(2000)")
	if err != nil {
		return 0
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		return 0
	}
	return n
}
