package main

import (
	"context"
	"log/slog"

	"github.com/monitor-dev/monitor/config"
	"github.com/monitor-dev/monitor/store"
)

// openStore opens the history store of cfg.
func openStore(ctx context.Context, cfg *config.Config, logger *slog.Logger) (store.Store, error) {
	return store.Open(ctx, cfg.Storage.DSN, store.Options{Retention: cfg.Storage.Retention, Logger: logger})
}
