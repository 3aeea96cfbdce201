package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/probes"
	"github.com/monitor-dev/monitor/scheduler"
	"github.com/monitor-dev/monitor/store"
)

// demoActive reports whether the demo pipeline feeds cfg's demo database:
// it does only on SQLite (see startDemo).
func demoActive(cfg *config.Config) bool {
	if cfg.Demo.Database == "" {
		return false
	}
	scheme, _, _ := strings.Cut(cfg.Databases[cfg.Demo.Database].DSN, "://")
	return strings.EqualFold(scheme, "sqlite")
}

// historyDSN is the history store of cfg. While the demo pipeline runs,
// the demo's results go to a store of their own, so that pointing the
// config at the real platform later starts from a clean history instead of
// restoring demo results and counting demo runs in SLA figures: beside a
// SQLite store, the same name with "-demo" (data/monitor-demo.db); with
// any other store, data/monitor-demo.db beside the config file.
func historyDSN(cfg *config.Config) string {
	dsn := cfg.Storage.DSN
	if !demoActive(cfg) {
		return dsn
	}
	scheme, rest, _ := strings.Cut(dsn, "://")
	path, query, hasQuery := strings.Cut(rest, "?")
	if !strings.EqualFold(scheme, "sqlite") || path == "" || strings.Contains(path, ":memory:") {
		return "sqlite://" + filepath.Join(filepath.Dir(cfg.File), "data", "monitor-demo.db")
	}
	ext := filepath.Ext(path)
	out := scheme + "://" + strings.TrimSuffix(path, ext) + "-demo" + ext
	if hasQuery {
		out += "?" + query
	}
	return out
}

// storeOptions are the store options of cfg. In cluster mode the store
// shares the link checks' per-link results (store.Options.ShareLinks), so
// that GET /v2/links answers on every replica.
func storeOptions(cfg *config.Config, logger *slog.Logger) store.Options {
	return store.Options{Retention: cfg.Storage.Retention, AuditRetention: cfg.Audit.Retention, Logger: logger,
		ShareLinks: cfg.Cluster.Enabled}
}

// openStore opens the history store of cfg for reading (sla report): it
// takes no lock, so it works beside a running daemon.
func openStore(ctx context.Context, cfg *config.Config, logger *slog.Logger) (store.Store, error) {
	return store.Open(ctx, historyDSN(cfg), storeOptions(cfg, logger))
}

// openHistory opens the daemon's history store, taking it for this daemon
// (listen names it to a second one), and restores the latest results and
// heartbeats it holds. A PostgreSQL store that cannot be reached is not
// fatal: the daemon starts without it, and startBackground keeps trying
// (restoring once it is up). A store held by another daemon, a schema too
// new, a bad DSN and any SQLite failure are fatal.
func (d *daemon) openHistory(ctx context.Context, listen string) error {
	dsn := historyDSN(d.cfg)
	if dsn != d.cfg.Storage.DSN {
		d.logger.Info("demo pipeline on: its history is kept apart from the configured store", "store", dsn)
	}
	opts := storeOptions(d.cfg, d.logger.With("component", "store"))
	if !d.cfg.Cluster.Enabled {
		// One daemon per store; in cluster mode the replicas share it
		// (cluster.Node coordinates them; migrations take an advisory
		// lock).
		opts.Owner = &store.Owner{Listen: listen}
	}
	lazy := store.NewLazy(dsn, opts, d.restoreHistory)
	d.store, d.lazy = lazy, lazy
	d.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "monitor_store_up",
		Help: "Whether the history store is open (1) or unavailable (0, results are queued meanwhile).",
	}, func() float64 {
		if lazy.Up() {
			return 1
		}
		return 0
	}))
	d.srv.SetDegraded(d.storeDegraded)
	err := lazy.Open(ctx)
	if err == nil {
		return nil
	}
	scheme, _, _ := strings.Cut(dsn, "://")
	if d.cfg.Cluster.Enabled {
		// A replica coordinates through the store: it cannot start without it.
		return fmt.Errorf("cluster mode needs the store at start: %w", err)
	}
	if strings.EqualFold(scheme, "sqlite") || errors.Is(err, store.ErrLocked) || errors.Is(err, store.ErrSchemaTooNew) ||
		errors.Is(err, store.ErrInvalidDSN) || errors.Is(err, store.ErrUnsupportedScheme) {
		return err
	}
	d.logger.Warn("history store unavailable: starting without it; results are queued and it is retried in the background", "err", err)
	return nil
}

// restoreHistory puts what st holds back in memory: the latest results
// (where no newer one is known) and the last heartbeats.
func (d *daemon) restoreHistory(ctx context.Context, st store.Store) {
	if latest, err := st.Latest(ctx); err != nil {
		d.logger.Warn("could not restore the latest results", "err", err)
	} else {
		d.snap.Restore(latest)
		d.logger.Info("restored the latest results", "checks", len(latest))
	}
	if beats, err := st.Beats(ctx); err != nil {
		d.logger.Warn("could not restore the heartbeats", "err", err)
	} else {
		d.beats.Restore(beats)
	}
}

// storeDegraded says, for /readyz, what is wrong with the history store
// ("" when nothing).
func (d *daemon) storeDegraded() string {
	why := d.lazy.Err()
	if why == "" {
		return ""
	}
	return fmt.Sprintf("history store unavailable (results queued: %d; retrying): %s", d.writer.Len(), why)
}

// beatRetry is how often heartbeats that could not be stored are tried again.
const beatRetry = 5 * time.Second

// runBeats handles the heartbeats pushed to the API: each is evaluated at
// once (the check's result changes now, not at its next scheduled run) and
// stored, so that a restart keeps it; those the store refused are tried
// again until they are stored or superseded.
func (d *daemon) runBeats(ctx context.Context) {
	unsaved := map[string]time.Time{}
	t := time.NewTicker(beatRetry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			maps.Copy(unsaved, d.beats.TakePending())
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			d.saveBeats(sctx, unsaved)
			cancel()
			return
		case <-d.beats.Pushed():
		case <-t.C:
			if len(unsaved) == 0 {
				continue
			}
		}
		for name, at := range d.beats.TakePending() {
			d.evaluateNow(ctx, name)
			unsaved[name] = at
		}
		d.saveBeats(ctx, unsaved)
	}
}

// evaluateNow runs a heartbeat check once, outside its schedule, and
// publishes its result. It reads only the heartbeats in memory.
func (d *daemon) evaluateNow(ctx context.Context, name string) {
	sp, ok := d.snap.Spec(name)
	if !ok || !sp.TakesHeartbeats() {
		return
	}
	rctx, stop, ok := d.bind(ctx, name)
	if !ok {
		return // in cluster mode, the owner reads the stored beat (syncBeats)
	}
	defer stop()
	if r, ok := scheduler.Run(rctx, sp, &probes.Env{Heartbeats: d.beats, Logger: d.logger}); ok && rctx.Err() == nil {
		d.hub.Publish(r)
	}
}

// saveBeats stores the heartbeats of unsaved, removing those stored.
func (d *daemon) saveBeats(ctx context.Context, unsaved map[string]time.Time) {
	for name, at := range unsaved {
		if err := d.store.Beat(ctx, name, at); err != nil {
			if ctx.Err() == nil && !errors.Is(err, store.ErrUnavailable) {
				d.logger.Warn("heartbeat not stored yet; retrying", "check", name, "err", err)
			}
			continue
		}
		delete(unsaved, name)
	}
}
