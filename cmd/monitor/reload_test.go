package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/internal/testenv"
	"github.com/monitor-dev/monitor/server"
)

// reloadAtomicV1 is the config a daemon starts with in the reload tests;
// %s is the directory of its files.
const reloadAtomicV1 = `server:
  listen: 127.0.0.1:0
  tokens: ["old-token"]
storage:
  dsn: "sqlite://%[1]s/history.db"
databases:
  app: { dsn: "sqlite://%[1]s/app.db" }
checks:
  - { name: first_db, kind: db, database: app, interval: 1h, timeout: 1s }
`

// startReloadDaemon builds a daemon on reloadAtomicV1 with its scheduler
// running (but no signal loop), and returns it with its log.
func startReloadDaemon(t *testing.T) (*daemon, *testenv.SyncBuffer, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	writeFile(t, path, fmt.Sprintf(reloadAtomicV1, dir))
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := newDaemon(context.Background(), path, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.sched.Apply(cfg.Checks); err != nil {
		t.Fatal(err)
	}
	if err := d.sched.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = d.sched.Shutdown(ctx)
		d.demoCancel()
		_ = d.ln.Close()
		_ = d.env.Pool.Close()
		_ = d.store.Close()
	})
	return d, logs, path
}

// tokenWorks tells whether token opens a private endpoint.
func tokenWorks(t *testing.T, d *daemon, token string) bool {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/v2/sla", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	d.srv.ServeHTTP(rec, req)
	return rec.Code != http.StatusUnauthorized
}

// wantOldConfigLive: the tokens, checks, schedule and pools of
// reloadAtomicV1 are the ones in force.
func wantOldConfigLive(t *testing.T, d *daemon, oldEnv any) {
	t.Helper()
	if !tokenWorks(t, d, "old-token") || tokenWorks(t, d, "new-token") {
		t.Errorf("after a rejected reload: old token works = %v, new token works = %v; want only the old one",
			tokenWorks(t, d, "old-token"), tokenWorks(t, d, "new-token"))
	}
	var names []string
	for _, sp := range d.snap.Specs() {
		names = append(names, sp.Name)
	}
	if !slices.Equal(names, []string{"first_db"}) {
		t.Errorf("checks shown after a rejected reload = %v, want [first_db]", names)
	}
	if n := d.sched.Len(); n != 1 {
		t.Errorf("%d checks scheduled after a rejected reload, want 1", n)
	}
	if any(d.env) != oldEnv {
		t.Error("a rejected reload swapped the connection pools")
	}
	if len(d.cfg.Checks) != 1 || len(d.cfg.Server.Tokens) != 1 {
		t.Errorf("the daemon's config changed: %d checks, tokens %d", len(d.cfg.Checks), len(d.cfg.Server.Tokens))
	}
}

// TestReloadBadCronRejected: a SIGHUP with a cron the scheduler refuses
// is rejected whole, at the config's line:col: the new token does not
// work and the old checks keep running. (It used to log "reload:
// scheduling" then "config reloaded" with the new token live.)
func TestReloadBadCronRejected(t *testing.T) {
	for _, cron := range []string{"99 99 99 99 99", "*/0 * * * *", "0 0 30 2 *", "60 * * * * *", "CRON_TZ=Mars/Olympus 0 3 * * *"} {
		t.Run(cron, func(t *testing.T) {
			d, logs, path := startReloadDaemon(t)
			oldEnv := any(d.env)
			text := strings.Replace(fmt.Sprintf(reloadAtomicV1, filepath.Dir(path)), `"old-token"`, `"new-token"`, 1) +
				fmt.Sprintf("  - { name: nightly, kind: db, database: app, cron: %q }\n", cron)
			writeFile(t, path, text)
			d.reload()
			log := logs.String()
			if !strings.Contains(log, "reload rejected: invalid config") || !strings.Contains(log, path+":10:") {
				t.Errorf("log does not reject the reload at line 10:\n%s", log)
			}
			if strings.Contains(log, "config reloaded") {
				t.Errorf("log says the config was reloaded:\n%s", log)
			}
			wantOldConfigLive(t, d, oldEnv)
		})
	}
}

// TestReloadFailingAtSchedulingChangesNothing: when the config is valid
// but the scheduler refuses a check (here a loader that skips validation,
// as a parser disagreement would), nothing of the new config is applied:
// not the tokens, the new database's pool or the checks.
func TestReloadFailingAtSchedulingChangesNothing(t *testing.T) {
	d, logs, path := startReloadDaemon(t)
	oldEnv := any(d.env)
	d.load = func(p string) (*config.Config, error) {
		cfg, err := config.Load(p)
		if err != nil {
			return nil, err
		}
		cfg.Server.Tokens = []string{"new-token"}
		cfg.Databases["other"] = config.Database{DSN: "sqlite://" + filepath.Join(filepath.Dir(p), "other.db")}
		bad := cfg.Checks[0]
		bad.Name, bad.Cron = "never", "0 0 30 2 *"
		cfg.Checks = append(cfg.Checks, bad)
		return cfg, nil
	}
	_, err := d.reloadAs(context.Background(), "ops", "POST /-/reload")
	var refused *server.ReloadRefused
	if !errors.As(err, &refused) || refused.Stage != "scheduling" || len(refused.Problems) != 1 ||
		!strings.HasPrefix(refused.Problems[0], path+": ") || !strings.Contains(refused.Problems[0], `check "never"`) {
		t.Errorf("reloadAs = %v, want refused at scheduling, naming the file and the check", err)
	}
	log := logs.String()
	if !strings.Contains(log, "reload rejected: scheduling") || !strings.Contains(log, `check \"never\"`) {
		t.Errorf("log does not reject the reload naming the check:\n%s", log)
	}
	if strings.Contains(log, "config reloaded") {
		t.Errorf("log says the config was reloaded:\n%s", log)
	}
	wantOldConfigLive(t, d, oldEnv)
	if _, _, err := d.env.Pool.SQL("app"); err != nil {
		t.Errorf("the old pool was closed by the rejected reload: %v", err)
	}

	// The same reload without the bad check goes through.
	d.load = func(p string) (*config.Config, error) {
		cfg, err := config.Load(p)
		if err == nil {
			cfg.Server.Tokens = []string{"new-token"}
		}
		return cfg, err
	}
	d.reload()
	if !tokenWorks(t, d, "new-token") || tokenWorks(t, d, "old-token") {
		t.Error("a good reload did not swap the tokens")
	}
	if !strings.Contains(logs.String(), "config reloaded") {
		t.Errorf("log:\n%s", logs.String())
	}
}

// TestReloadBackToRunningListenAndStore: a reload that moves server.listen
// or storage is told to take effect on restart; a later reload back to
// what runs is no change. (The daemon used to keep the moved values as its
// own, so the reload back warned "changed" and named the address it had
// never listened on.)
func TestReloadBackToRunningListenAndStore(t *testing.T) {
	d, logs, path := startReloadDaemon(t)
	v1 := fmt.Sprintf(reloadAtomicV1, filepath.Dir(path))
	moved := strings.Replace(strings.Replace(v1, "127.0.0.1:0", "127.0.0.1:1", 1), "history.db", "other.db", 1)
	writeFile(t, path, moved)
	res, err := d.reloadAs(context.Background(), "test", "test")
	if err != nil || !slices.Equal(res.RestartNeeded, []string{"server.listen", "storage"}) {
		t.Errorf("reload moving listen and storage = %+v, %v; want restartRequired server.listen and storage", res, err)
	}
	log := logs.String()
	if !strings.Contains(log, "server.listen changed") || !strings.Contains(log, "storage changed") {
		t.Fatalf("moving listen and storage was not warned about:\n%s", log)
	}
	if !strings.Contains(log, "listening=127.0.0.1:0 configured=127.0.0.1:1") {
		t.Errorf("the warning does not name the running and the configured address:\n%s", log)
	}
	n := len(log)
	writeFile(t, path, v1)
	if res, err := d.reloadAs(context.Background(), "test", "test"); err != nil || len(res.RestartNeeded) > 0 {
		t.Errorf("reload back = %+v, %v; want nothing left for a restart", res, err)
	}
	log = logs.String()[n:]
	if !strings.Contains(log, "config reloaded") {
		t.Fatalf("reload back failed:\n%s", log)
	}
	if strings.Contains(log, "changed; it takes effect on restart") {
		t.Errorf("a reload back to the running listen and store warned of a change:\n%s", log)
	}
}

// TestReloadOneAtATime: SIGHUP's reload and POST /-/reload never run
// together: the second waits for the first, then runs; a caller that
// leaves while waiting starts nothing.
func TestReloadOneAtATime(t *testing.T) {
	d, _, _ := startReloadDaemon(t)
	var mu sync.Mutex
	running, most, loads := 0, 0, 0
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	d.load = func(p string) (*config.Config, error) {
		mu.Lock()
		running++
		loads++
		most = max(most, running)
		mu.Unlock()
		entered <- struct{}{}
		<-release
		mu.Lock()
		running--
		mu.Unlock()
		return config.Load(p)
	}
	sighup := make(chan struct{})
	go func() { d.reload(); close(sighup) }()
	<-entered // SIGHUP's reload is loading

	// A POST whose caller gives up while waiting: nothing runs for it.
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		req := httptest.NewRequest(http.MethodPost, "/-/reload", nil).WithContext(ctx)
		req.Header.Set("Authorization", "Bearer old-token")
		d.srv.ServeHTTP(gaveUp, req)
		close(done)
	}()
	// A POST that waits its turn.
	waited := httptest.NewRecorder()
	posted := make(chan struct{})
	go func() {
		req := httptest.NewRequest(http.MethodPost, "/-/reload", nil)
		req.Header.Set("Authorization", "Bearer old-token")
		d.srv.ServeHTTP(waited, req)
		close(posted)
	}()
	time.Sleep(100 * time.Millisecond) // both POSTs are waiting (a wrong lock lets them in meanwhile)
	cancel()
	<-done
	close(release)
	<-sighup
	<-posted
	mu.Lock()
	defer mu.Unlock()
	if most != 1 || loads != 2 {
		t.Errorf("%d reloads at most at once, %d in all; want 1 at a time, 2 in all (SIGHUP's and the waiting POST)", most, loads)
	}
	if waited.Code != http.StatusOK {
		t.Errorf("the waiting POST /-/reload = %d %s, want 200", waited.Code, waited.Body)
	}
	if gaveUp.Code != http.StatusServiceUnavailable {
		t.Errorf("the POST whose caller left = %d %s, want 503 and no reload", gaveUp.Code, gaveUp.Body)
	}
}

// TestReloadNewSecretsRedactedInLog: the process logger hides the secrets
// of a config a reload brings (here a new database's password and token),
// not only those of the config the daemon started with; a line quoting
// them, from any component, shows *** instead.
func TestReloadNewSecretsRedactedInLog(t *testing.T) {
	d, _, path := startReloadDaemon(t)
	logs := &testenv.SyncBuffer{}
	red := newLiveRedactor(d.cfg.Secrets...)
	logger, err := newLogger(logs, "debug", "text", red)
	if err != nil {
		t.Fatal(err)
	}
	d.logger, d.logRed = logger, red
	const password, token = "n3w-db-passw0rd", "n3w-api-t0ken"
	text := strings.Replace(fmt.Sprintf(reloadAtomicV1, filepath.Dir(path)), `"old-token"`, `"`+token+`"`, 1) +
		"  - { name: other_db, kind: db, database: pg, interval: 1h, timeout: 1s }\n"
	text = strings.Replace(text, "databases:\n", fmt.Sprintf("databases:\n  pg: { dsn: \"postgres://monitor:%s@127.0.0.1:%d/x\" }\n", password, closedPort(t)), 1)
	writeFile(t, path, text)
	if _, err := d.reloadConfig("test", "test"); err != nil {
		t.Fatalf("reload refused: %v", err)
	}
	d.logger.Info("a line quoting the new config", "dsn", "postgres://monitor:"+password+"@db/x", "header", "Bearer "+token)
	d.logger.Error("an error quoting it", "err", errors.New("dial with "+password+" failed"))
	log := logs.String()
	for _, s := range []string{password, token} {
		if strings.Contains(log, s) {
			t.Errorf("the log shows %q, a secret of the reloaded config:\n%s", s, log)
		}
	}
	if !strings.Contains(log, "***") {
		t.Errorf("the log lines are not there with *** in place of the secrets:\n%s", log)
	}
}

// TestReloadFromBlockingFileGivesUp: a config path that blocks on read (a
// FIFO nobody writes to) refuses the reload after reloadReadTimeout,
// instead of holding the reload lock, and with it SIGTERM, forever.
func TestReloadFromBlockingFileGivesUp(t *testing.T) {
	d, logs, path := startReloadDaemon(t)
	fifo := filepath.Join(filepath.Dir(path), "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	old := reloadReadTimeout
	reloadReadTimeout = 200 * time.Millisecond
	t.Cleanup(func() {
		reloadReadTimeout = old
		// Let the abandoned read finish: open the FIFO for writing, once.
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	d.path = fifo
	done := make(chan error, 1)
	go func() {
		_, err := d.reloadConfig("test", "test")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "took longer than 200ms") {
			t.Errorf("reload from a FIFO = %v; want it refused as taking too long", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("reload from a FIFO still blocked after 10 s")
	}
	if !strings.Contains(logs.String(), "reload rejected") {
		t.Errorf("the refused reload is not logged:\n%s", logs.String())
	}
}
