package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/monitor-dev/monitor/alerting"
	"github.com/monitor-dev/monitor/alerting/outbox"
	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/hub"
	"github.com/monitor-dev/monitor/store"
)

// senders builds the sender of every receiver of cfg.
func senders(cfg *config.Config, logger *slog.Logger) (map[string]receiver.Sender, error) {
	out := make(map[string]receiver.Sender, len(cfg.Alerting.Receivers))
	for _, r := range cfg.Alerting.Receivers {
		s, err := newSender(r, cfg, logger)
		if err != nil {
			return nil, err
		}
		out[r.Name] = s
	}
	return out, nil
}

// newAlerting builds the alerting engine and the outbox's dispatcher on
// the daemon's store, registers their metrics and mounts their API. The
// engine reads maintenance through d.inMaintenance, which reloads swap.
func (d *daemon) newAlerting(ctx context.Context, cfg *config.Config) error {
	snd, err := senders(cfg, d.logger)
	if err != nil {
		return fmt.Errorf("alerting: %w", err)
	}
	d.outbox = outbox.New(d.store, snd, outbox.Options{
		Retry:  cfg.Alerting.Retry,
		Logger: d.logger.With("component", "outbox"),
	})
	d.alerts = alerting.New(cfg.Alerting, alerting.Options{
		Store:     d.store,
		Logger:    d.logger.With("component", "alerting"),
		PublicURL: cfg.Server.PublicURL,
		Wake:      d.outbox.Wake,
		// A replica's engine is passive until it leads (runLeadership).
		Passive: cfg.Cluster.Enabled,
		Refresh: opsRefresh(cfg),
		InMaintenance: func(check string, at time.Time) bool {
			if m := d.maint.Load(); m != nil {
				return (*m)(check, at)
			}
			return false
		},
	})
	d.alerts.SetSpecs(cfg.Checks)
	if err := d.alerts.Restore(ctx); err != nil {
		// Run retries until it succeeds; meanwhile results wait.
		d.logger.Warn("alert state not restored yet (the store is unavailable); retrying", "err", err)
	}
	d.eval.OnEvaluate(d.alerts.SLOSignals)
	d.reg.MustRegister(d.alerts.Collector(), d.outbox.Collector())
	d.metrics.SetFiring(d.alerts)
	d.srv.SetAlerting(d.alerts, d.store)
	d.srv.SetOutbox(d.outbox)
	return nil
}

// opsRefresh is how often the alerting engine reads back the silences and
// escalations the other replicas' APIs wrote (cluster mode only).
func opsRefresh(cfg *config.Config) time.Duration {
	if cfg.Cluster.Enabled {
		return 2 * time.Second
	}
	return 0
}

// setMaintenance applies cfg's maintenance windows to the hub and the
// alerting engine.
func (d *daemon) setMaintenance(cfg *config.Config) {
	m := maintenance(cfg)
	d.maint.Store(&m)
	d.hub.SetMaintenance(m)
}

// reloadAlerting applies a reloaded config's alerting section; an error
// when a receiver cannot be built (the reload is rejected before anything
// is swapped).
func (d *daemon) reloadAlerting(cfg *config.Config) (apply func(), err error) {
	snd, err := senders(cfg, d.logger)
	if err != nil {
		d.logger.Error("reload rejected: alerting", "err", err)
		return nil, err
	}
	return func() {
		d.outbox.SetSenders(snd, cfg.Alerting.Retry)
		d.alerts.SetConfig(cfg.Alerting)
	}, nil
}

// Audit actions of reloads: one that took effect, one refused (the old
// config keeps running).
const (
	actionConfigReloaded = "config.reloaded"
	actionConfigRejected = "config.reload_rejected"
)

// auditReload writes a reload that took effect to the audit trail, by
// actor (config for SIGHUP, the token's name for POST /-/reload).
func (d *daemon) auditReload(actor alerting.Actor, via string, cfg *config.Config, restartNeeded []string) {
	details := map[string]any{"checks": len(cfg.Checks), "receivers": len(cfg.Alerting.Receivers),
		"routes": len(cfg.Alerting.Routes), "via": via}
	if len(restartNeeded) > 0 {
		details["restartRequired"] = restartNeeded
	}
	d.alerts.Audit(store.AuditEvent{Actor: actor, Action: actionConfigReloaded, Target: d.path, Details: details})
}

// auditRejected writes a refused reload to the audit trail; details say
// at which stage (never an error text that could hold a DSN).
func (d *daemon) auditRejected(actor alerting.Actor, via string, details map[string]any) {
	details["via"] = via
	d.alerts.Audit(store.AuditEvent{Actor: actor, Action: actionConfigRejected, Target: d.path, Details: details})
}

var _ hub.Subscriber = (*alerting.Engine)(nil)
