package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"time"

	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/demo"
	"github.com/monitor-dev/monitor/probes"
)

// dsns extracts the named connections of cfg.
func dsns(cfg *config.Config) map[string]string {
	m := make(map[string]string, len(cfg.Databases))
	for name, db := range cfg.Databases {
		m[name] = db.DSN
	}
	return m
}

// newEnv opens the pool of cfg's databases and builds what probes share.
func newEnv(cfg *config.Config, beats probes.Heartbeats, links *probes.LinkClients, logger *slog.Logger) (*probes.Env, error) {
	pool, err := probes.NewPool(dsns(cfg), logger)
	if err != nil {
		return nil, err
	}
	return &probes.Env{
		Pool:       pool,
		Heartbeats: beats,
		HTTP:       newHTTPClient(),
		Links:      links,
		Now:        time.Now,
		Logger:     logger,
	}, nil
}

// newHTTPClient is the client of HTTP freshness sources: no client-wide
// timeout (each probe's context bounds it), bounded idle connections.
func newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4
	tr.ResponseHeaderTimeout = 30 * time.Second
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Transport: tr}
}

// sameDatabases reports whether two configs name the same connections.
func sameDatabases(a, b *config.Config) bool { return maps.Equal(dsns(a), dsns(b)) }

// startDemo seeds the demo tables and, when run is true, keeps feeding them
// until ctx ends. It refuses any database that is not SQLite: the demo must
// never write into a real platform's database.
func startDemo(ctx context.Context, cfg *config.Config, env *probes.Env, logger *slog.Logger, run bool) error {
	if cfg.Demo.Database == "" {
		return nil
	}
	db, engine, err := env.Pool.SQL(cfg.Demo.Database)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if engine != "sqlite" {
		logger.Info("demo pipeline off: database is not SQLite", "database", cfg.Demo.Database, "engine", engine)
		return nil
	}
	p := &demo.Pipeline{DB: db, Logger: logger.With("component", "demo"), Beat: demoBeat(cfg, env)}
	if err := p.Seed(ctx); err != nil {
		return err
	}
	if run {
		logger.Info("demo pipeline feeding the demo database", "database", cfg.Demo.Database)
		go func() { _ = p.Run(ctx) }()
	}
	return nil
}

// demoBeat is how the demo pipeline pushes its heartbeat check, when cfg
// has it: in-process, the same record a POST /v2/heartbeats/{check} makes.
func demoBeat(cfg *config.Config, env *probes.Env) func(time.Time) {
	b, ok := env.Heartbeats.(interface{ Beat(string, time.Time) })
	if !ok {
		return nil
	}
	for _, sp := range cfg.Checks {
		if sp.Name == demo.HeartbeatCheck && sp.TakesHeartbeats() {
			return func(at time.Time) { b.Beat(demo.HeartbeatCheck, at) }
		}
	}
	return nil
}
