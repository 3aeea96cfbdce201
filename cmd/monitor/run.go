package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/monitor-dev/monitor/alerting"
	"github.com/monitor-dev/monitor/alerting/outbox"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/cluster"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/hub"
	"github.com/monitor-dev/monitor/metrics"
	"github.com/monitor-dev/monitor/probes"
	"github.com/monitor-dev/monitor/scheduler"
	"github.com/monitor-dev/monitor/server"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/snapshot"
	"github.com/monitor-dev/monitor/store"
)

// drainTimeout bounds how long SIGTERM waits for running checks.
const drainTimeout = 15 * time.Second

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c commonFlags
	fs := newFlagSet("run", stderr, &c)
	webConfig := fs.String("web.config.file", "",
		"exporter-toolkit web config (TLS, basic auth), as Prometheus exporters use; default plain HTTP")
	if code, ok := c.parse(fs, "run", args, stdout, stderr); !ok {
		return code
	}
	if err := web.Validate(*webConfig); err != nil {
		fmt.Fprintf(stderr, "monitor run: --web.config.file %s: %v\n", *webConfig, err)
		return exitConfig
	}
	l, ok := c.load("run", stderr)
	if !ok {
		return exitConfig
	}
	path, cfg, logger := l.path, l.cfg, l.logger
	if note := alertingNotice(cfg); note != "" {
		logger.Info(note)
	}
	if err := checkStatusPageOut(cfg); err != nil {
		logger.Error("start refused", "err", err)
		return exitConfig
	}
	if p, ok := setGCPercent(); ok {
		logger.Debug("garbage collection target set ($GOGC unset)", "gogc", p)
	}
	stopPprof, err := startPprof(logger)
	if err != nil {
		logger.Error("start refused", "err", err)
		return exitConfig
	}
	defer stopPprof()
	d, err := newDaemon(ctx, path, cfg, logger)
	if err != nil {
		logger.Error("start failed", "err", err)
		return exitFail
	}
	d.logRed = l.logRed
	d.webConfig = *webConfig
	if d.webConfig != "" {
		// Basic auth from the web config stands in for a bearer token: a
		// client cannot send both in one Authorization header.
		d.srv.TrustListenerAuth(webConfigUser(d.webConfig))
	}
	return d.serve(ctx)
}

// daemon is the running monitor: everything wired, plus what reload swaps.
type daemon struct {
	path   string
	cfg    *config.Config
	logger *slog.Logger

	reg     *prometheus.Registry
	beats   *probes.BeatStore
	links   *probes.LinkClients
	env     *probes.Env
	snap    *snapshot.Snapshot
	metrics *metrics.Metrics
	sched   *scheduler.Scheduler
	srv     *server.Server
	ln      net.Listener
	// webConfig is --web.config.file: TLS and basic auth on the listener.
	webConfig string

	store  store.Store
	lazy   *store.Lazy // the same store: up or not (see openHistory)
	writer *store.Writer
	eval   *sla.Evaluator
	hub    *hub.Hub
	alerts *alerting.Engine
	outbox *outbox.Dispatcher
	// node is this replica's membership of the cluster, feed the results
	// feed from the other replicas (both nil without cluster.enabled; see
	// clusterwire.go).
	node *cluster.Node
	// quorum are the link checks with quorum > 1 (quorumwire.go).
	quorum quorumSet
	feed   *store.Feed
	// live is the config running, for background loops (d.cfg belongs to
	// the signal loop).
	live atomic.Pointer[config.Config]
	// maint is the maintenance rule of the config running (reloads swap it).
	maint  atomic.Pointer[hub.InMaintenance]
	bg     context.CancelFunc // stops the writer, evaluator and compaction
	bgDone sync.WaitGroup

	demoCancel context.CancelFunc

	// load reads the config on reload; nil means config.Load.
	load func(path string) (*config.Config, error)

	// reloadOK and reloadAt are monitor_config_last_reload_successful and
	// monitor_config_last_reload_success_timestamp_seconds, as Prometheus
	// names its own: the start counts as a successful load.
	reloadOK, reloadAt prometheus.Gauge
	// logRed is the logger's redactor; a reload adds the new config's
	// secrets to it before anything of that config is logged.
	logRed *liveRedactor
	// reloadSem lets one reload run at a time (SIGHUP and POST /-/reload);
	// stopping, read and written holding it, refuses reloads once shutdown
	// has begun.
	reloadSem chan struct{}
	stopping  bool
}

func newDaemon(ctx context.Context, path string, cfg *config.Config, logger *slog.Logger) (*daemon, error) {
	d := &daemon{path: path, cfg: cfg, logger: logger, reg: prometheus.NewRegistry(), beats: probes.NewBeatStore(),
		links: probes.NewLinkClients(probes.Guard{}), reloadSem: make(chan struct{}, 1)}
	d.live.Store(cfg)
	d.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{Name: "monitor_config_last_reload_successful",
		Help: "Whether the last configuration load (at start or on SIGHUP) took effect: 1, or 0 when it was refused and the previous configuration runs."})
	d.reloadAt = prometheus.NewGauge(prometheus.GaugeOpts{Name: "monitor_config_last_reload_success_timestamp_seconds",
		Help: "When the configuration was last loaded successfully, in Unix seconds."})
	d.reloadOK.Set(1)
	d.reloadAt.SetToCurrentTime()
	d.reg.MustRegister(d.reloadOK, d.reloadAt)

	// Listen first: a port in use fails the start before anything is
	// created on disk.
	var err error
	if d.ln, err = net.Listen("tcp", cfg.Server.Listen); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = d.ln.Close()
		}
	}()
	env, err := newEnv(cfg, d.beats, d.links, logger)
	if err != nil {
		return nil, err
	}
	d.env = env
	d.snap = snapshot.New(cfg.Checks, time.Now)
	d.metrics = metrics.New(d.snap)
	d.metrics.SetChecks(cfg.Checks)
	d.srv = server.New(server.Options{Snapshot: d.snap, Gatherer: d.reg, Metrics: d.metrics, Beats: d.beats,
		Logger: logger.With("component", "http")})
	d.srv.SetTokens(cfg.Server.Tokens, cfg.Server.TokenNames)
	d.srv.SetRateLimits(cfg.Server.RateLimits)
	d.srv.SetLinks(env, d.links, cfg.Server.LinksAllowPrivate)

	// History: restore the latest results, so that /v2/system/health is
	// right before the first probe runs again.
	octx, ocancel := context.WithTimeout(ctx, 30*time.Second)
	defer ocancel()
	if err := d.openHistory(octx, d.ln.Addr().String()); err != nil {
		_ = env.Pool.Close()
		if le := (*store.LockedError)(nil); errors.As(err, &le) {
			return nil, le // says all: no "history store: store sqlite:" before it
		}
		return nil, fmt.Errorf("history store: %w", err)
	}
	if cfg.Cluster.Enabled {
		if err := d.openCluster(octx, cfg, d.ln.Addr().String()); err != nil {
			_ = d.store.Close()
			_ = env.Pool.Close()
			return nil, err
		}
	}
	d.writer = store.NewWriter(d.store, store.WriterOptions{Logger: logger.With("component", "store"), Registerer: d.reg})
	d.eval = sla.NewEvaluator(d.store, objectives(cfg), time.Now, logger.With("component", "sla"))
	d.reg.MustRegister(d.eval)
	if err := d.newAlerting(octx, cfg); err != nil {
		d.closeCluster()
		_ = d.store.Close()
		_ = env.Pool.Close()
		return nil, err
	}
	// The hub: every result, once, to everything that cares.
	d.hub = hub.New(d.snap,
		metricsSub{d.metrics},
		history{eval: d.eval, writer: d.writer},
		d.alerts,
		hub.StatusLog(logger),
	)
	d.setMaintenance(cfg)
	var gate func(context.Context, string) (context.Context, context.CancelFunc, bool)
	if d.node != nil {
		gate = d.gate
		if err := d.startFeed(); err != nil {
			d.closeCluster()
			_ = d.store.Close()
			_ = env.Pool.Close()
			return nil, err
		}
	}
	d.sched, err = scheduler.New(scheduler.Options{
		Env: env, Publish: d.publish, Logger: logger.With("component", "scheduler"), Registerer: d.reg,
		Gate: gate,
	})
	if err != nil {
		d.closeCluster()
		_ = d.store.Close()
		_ = env.Pool.Close()
		return nil, err
	}
	d.srv.SetHistory(d.store, d.eval)
	d.srv.SetReloader(func(ctx context.Context, actor string) (server.ReloadResult, error) {
		return d.reloadAs(ctx, alerting.Actor(actor), "POST /-/reload")
	})
	d.startDemo(cfg, env)
	ok = true
	return d, nil
}

// startDemo (re)starts the demo pipeline on cfg's demo database, stopping
// the one running before.
func (d *daemon) startDemo(cfg *config.Config, env *probes.Env) {
	if d.demoCancel != nil {
		d.demoCancel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.demoCancel = cancel
	if err := startDemo(ctx, cfg, env, d.logger, true); err != nil {
		d.logger.Warn("demo pipeline not started", "err", err)
	}
}

func (d *daemon) serve(ctx context.Context) int {
	httpSrv := &http.Server{
		Handler:           d.srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.logger.Handler(), slog.LevelWarn),
	}
	// Signals are caught before anything can be seen to be up, so that a
	// SIGHUP right after /readyz answers reloads instead of killing us.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)

	if err := d.sched.Apply(d.cfg.Checks); err != nil {
		d.logger.Error("schedule failed", "err", err)
		return exitFail
	}
	if d.node != nil {
		// A first round before the first runs: the checks this replica
		// owns run from the start rather than after a round's interval.
		rctx, cancel := context.WithTimeout(ctx, d.cfg.Cluster.LeaseTTL)
		_ = d.node.Round(rctx)
		cancel()
	}
	if err := d.sched.Start(); err != nil {
		d.logger.Error("schedule failed", "err", err)
		return exitFail
	}
	d.startBackground()
	d.srv.SetReady(true)
	trim := time.AfterFunc(trimAfter, func() { trimStartup(d.logger) })
	defer trim.Stop()

	// Read before serving: POST /-/reload may swap d.cfg from then on.
	started := []any{"version", version, "listen", d.ln.Addr().String(), "config", d.path, "checks", len(d.cfg.Checks)}
	serveErr := make(chan error, 1)
	go func() { serveErr <- serveHTTP(d.ln, httpSrv, d.webConfig, d.logger.With("component", "http")) }()
	if d.webConfig != "" {
		// The toolkit's "TLS is enabled" is at debug: say here that the
		// listener is not plain HTTP.
		started = append(started, "web_config", d.webConfig)
	}
	d.logger.Info("monitor started", started...)

	code := exitOK
loop:
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				d.reload()
				continue
			}
			d.logger.Info("shutting down", "signal", sig.String())
			break loop
		case <-ctx.Done():
			break loop
		case err := <-serveErr:
			d.logger.Error("http server stopped", "err", err)
			code = exitFail
			break loop
		}
	}
	d.shutdown(httpSrv)
	return code
}

func (d *daemon) shutdown(httpSrv *http.Server) {
	d.srv.SetReady(false)
	// A reload running finishes first; none starts after.
	d.reloadSem <- struct{}{}
	d.stopping = true
	<-d.reloadSem
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := d.sched.Shutdown(ctx); err != nil {
		d.logger.Warn("checks still running at shutdown", "err", err)
	}
	d.demoCancel()
	d.stopBackground()
	d.closeCluster()
	hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer hcancel()
	if err := httpSrv.Shutdown(hctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		d.logger.Warn("http shutdown", "err", err)
	}
	if err := d.env.Pool.Close(); err != nil {
		d.logger.Warn("closing connections", "err", err)
	}
	if err := d.store.Close(); err != nil {
		d.logger.Warn("closing the history store", "err", err)
	}
	d.logger.Info("monitor stopped")
}

// reload is SIGHUP's: it re-reads the config and applies it all or
// nothing (see reloadAs).
func (d *daemon) reload() {
	_, _ = d.reloadAs(context.Background(), alerting.ActorConfig, "SIGHUP")
}

// reloadAs re-reads the config and applies it all or nothing, for actor
// (written to the audit trail) by way of via (SIGHUP or POST /-/reload).
// One reload runs at a time: another waits for it, or gives up when ctx
// ends first. The whole new state (config, connection pools, schedule) is
// built before anything is swapped, and when any part fails the old config
// keeps running untouched, "reload rejected" is logged and the error is a
// *server.ReloadRefused listing the problems.
func (d *daemon) reloadAs(ctx context.Context, actor alerting.Actor, via string) (server.ReloadResult, error) {
	select {
	case d.reloadSem <- struct{}{}:
	case <-ctx.Done():
		return server.ReloadResult{}, ctx.Err()
	}
	defer func() { <-d.reloadSem }()
	if d.stopping {
		return server.ReloadResult{}, server.ErrReloadUnavailable
	}
	res, err := d.reloadConfig(actor, via)
	if err != nil {
		d.reloadOK.Set(0)
		return server.ReloadResult{}, err
	}
	d.reloadOK.Set(1)
	d.reloadAt.SetToCurrentTime()
	return res, nil
}

// refused is the error of a reload refused at stage for err: the config
// file's name, then err's text without the secrets of either config.
func (d *daemon) refused(stage string, err error, cfg *config.Config) *server.ReloadRefused {
	red := check.NewRedactor(append(slices.Clone(d.cfg.Secrets), cfg.Secrets...)...)
	return &server.ReloadRefused{Stage: stage, Problems: []string{d.path + ": " + red.Redact(err.Error())}}
}

// reloadReadTimeout bounds how long a reload waits for the config file to
// be read: a path that blocks (a FIFO with no writer, a hung network file
// system) must not hold the reload lock, and with it shutdown, forever.
var reloadReadTimeout = 10 * time.Second

// loadWithin runs load(path) and gives up after timeout; the read left
// behind ends when the file answers (its result is dropped).
func loadWithin(load func(string) (*config.Config, error), path string, timeout time.Duration) (*config.Config, error) {
	type loaded struct {
		cfg *config.Config
		err error
	}
	done := make(chan loaded, 1)
	go func() {
		cfg, err := load(path)
		done <- loaded{cfg, err}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case l := <-done:
		return l.cfg, l.err
	case <-t.C:
		return nil, fmt.Errorf("reading %s took longer than %s (a FIFO without a writer, or a hung file system?)", path, timeout)
	}
}

// reloadConfig applies the config file again, all or nothing, and returns
// the number of checks now running and the settings left for a restart, or
// why it did not take effect.
func (d *daemon) reloadConfig(actor alerting.Actor, via string) (server.ReloadResult, error) {
	load := d.load
	if load == nil {
		load = config.Load
	}
	cfg, err := loadWithin(load, d.path, reloadReadTimeout)
	if err != nil {
		probs := config.Problems(err)
		for _, p := range probs {
			d.logger.Error("reload rejected: invalid config", "problem", p.Error())
		}
		if len(probs) == 0 {
			d.logger.Error("reload rejected", "err", err)
		}
		details := map[string]any{"stage": "config", "problems": len(probs)}
		if len(probs) > 0 {
			details["first"] = probs[0].Error() // config messages never carry a secret
		}
		d.auditRejected(actor, via, details)
		if len(probs) == 0 {
			return server.ReloadResult{}, d.refused("config", err, d.cfg)
		}
		r := &server.ReloadRefused{Stage: "config"}
		for _, p := range probs {
			r.Problems = append(r.Problems, p.Error())
		}
		return server.ReloadResult{}, r
	}

	if d.logRed != nil {
		d.logRed.Add(cfg.Secrets...)
	}
	if err := checkStatusPageOut(cfg); err != nil {
		d.logger.Error("reload rejected", "err", err)
		d.auditRejected(actor, via, map[string]any{"stage": "statuspage"})
		return server.ReloadResult{}, d.refused("statuspage", err, cfg)
	}
	if cfg.Cluster != d.cfg.Cluster {
		if err := fitsLease(cfg, d.cfg.Cluster); err != nil {
			d.logger.Error("reload rejected: cluster", "err", err)
			d.auditRejected(actor, via, map[string]any{"stage": "cluster"})
			return server.ReloadResult{}, d.refused("cluster", err, cfg)
		}
	}
	// Build: the receivers' senders, and new pools when the databases
	// changed (not yet used).
	applyAlerting, err := d.reloadAlerting(cfg)
	if err != nil {
		d.auditRejected(actor, via, map[string]any{"stage": "alerting"})
		return server.ReloadResult{}, d.refused("alerting", err, cfg)
	}
	env := d.env
	if !sameDatabases(cfg, d.cfg) {
		if env, err = newEnv(cfg, d.beats, d.links, d.logger); err != nil {
			d.logger.Error("reload rejected: databases", "err", err)
			d.auditRejected(actor, via, map[string]any{"stage": "databases"})
			return server.ReloadResult{}, d.refused("databases", err, cfg)
		}
		d.withLocations(env)
	}
	// Schedule: the only step that can still fail, so it goes first. It is
	// all or nothing, and swaps the env in only when every check was
	// scheduled, so no run of the new schedule sees the old pools.
	var swapEnv *probes.Env
	if env != d.env {
		swapEnv = env
	}
	if err := d.sched.Reload(cfg.Checks, swapEnv); err != nil {
		d.logger.Error("reload rejected: scheduling", "err", err)
		d.auditRejected(actor, via, map[string]any{"stage": "scheduling"})
		if swapEnv != nil {
			_ = swapEnv.Pool.Close()
		}
		return server.ReloadResult{}, d.refused("scheduling", err, cfg)
	}

	// Swap: nothing below can fail.
	// The listener and the store stay those the daemon started with: the
	// config it keeps says so, so that a later reload back to them is no
	// change, and one elsewhere is compared with what runs.
	var restart []string
	if cfg.Server.Listen != d.cfg.Server.Listen {
		restart = append(restart, "server.listen")
		d.logger.Warn("server.listen changed; it takes effect on restart",
			"listening", d.cfg.Server.Listen, "configured", cfg.Server.Listen)
		cfg.Server.Listen = d.cfg.Server.Listen
	}
	if cfg.Storage != d.cfg.Storage || historyDSN(cfg) != historyDSN(d.cfg) {
		// Also when the demo was switched on or off: its history is kept apart.
		restart = append(restart, "storage")
		d.logger.Warn("storage changed; it takes effect on restart")
		cfg.Storage = d.cfg.Storage
	}
	if cfg.Cluster != d.cfg.Cluster {
		restart = append(restart, "cluster")
		d.logger.Warn("cluster changed; it takes effect on restart")
		cfg.Cluster = d.cfg.Cluster
	}
	if swapEnv != nil {
		old, oldTimeout := d.env, maxTimeout(d.cfg)
		d.env = swapEnv
		// Runs in flight keep the old pool until their timeout at most.
		time.AfterFunc(2*oldTimeout, func() { _ = old.Pool.Close() })
	}
	d.hub.SetSpecs(cfg.Checks)
	d.setQuorumChecks(cfg)
	if d.node != nil {
		d.node.SetChecks(checkNames(cfg))
		d.feed.Resync() // results of checks just added, stored by others
	}
	d.setMaintenance(cfg)
	applyAlerting()
	d.auditReload(actor, via, cfg, restart)
	d.eval.SetObjectives(objectives(cfg))
	d.srv.SetTokens(cfg.Server.Tokens, cfg.Server.TokenNames)
	d.srv.SetRateLimits(cfg.Server.RateLimits)
	d.srv.SetLinks(d.env, d.links, cfg.Server.LinksAllowPrivate)
	if cfg.Demo != d.cfg.Demo || swapEnv != nil {
		d.startDemo(cfg, d.env)
	}
	d.cfg = cfg
	d.live.Store(cfg)
	d.logger.Info("config reloaded", "config", d.path, "checks", len(cfg.Checks), "by", string(actor), "via", via)
	return server.ReloadResult{Checks: len(cfg.Checks), RestartNeeded: restart}, nil
}

// compactEvery is how often finished hours are rolled up and old history
// deleted.
const compactEvery = 5 * time.Minute

// startBackground runs the history writer, the SLO evaluator and the
// compaction loop.
func (d *daemon) startBackground() {
	ctx, cancel := context.WithCancel(context.Background())
	d.bg = cancel
	d.bgDone.Go(func() { d.lazy.Run(ctx, time.Second, 30*time.Second) })
	d.bgDone.Go(func() { d.runBeats(ctx) })
	d.bgDone.Go(func() { d.writer.Run(ctx) })
	d.bgDone.Go(func() { d.eval.Run(ctx, 30*time.Second) })
	d.bgDone.Go(func() { d.alerts.Run(ctx) })
	if d.node == nil {
		d.bgDone.Go(func() { d.outbox.Run(ctx) })
	} else {
		d.bgDone.Go(func() { _ = d.node.Run(ctx) })
		d.bgDone.Go(func() { d.runLeadership(ctx) })
		d.bgDone.Go(func() { d.syncBeats(ctx) })
	}
	d.bgDone.Go(func() { d.runStatusPage(ctx) })
	d.bgDone.Go(func() {
		t := time.NewTicker(compactEvery)
		defer t.Stop()
		for {
			// In cluster mode the leader compacts the shared history.
			if d.leads() {
				if err := d.store.Compact(ctx, time.Now()); err != nil && ctx.Err() == nil {
					d.logger.Warn("history compaction failed", "err", err)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

// stopBackground writes every queued result, then stops the loops.
func (d *daemon) stopBackground() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.writer.Close(ctx); err != nil {
		d.logger.Error("results not written to history at shutdown", "err", err, "queued", d.writer.Len())
	}
	d.bg()
	d.bgDone.Wait()
}

// maxTimeout is the longest a run of cfg's checks may take (a link check's
// run is bounded by its interval, not its per-link timeout).
func maxTimeout(cfg *config.Config) time.Duration {
	m := 10 * time.Second
	for _, sp := range cfg.Checks {
		m = max(m, sp.RunTimeout())
	}
	return m
}
