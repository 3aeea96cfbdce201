package config

import "github.com/monitor-dev/monitor/internal/dsn"

// resolvePaths makes the relative file paths of SQLite DSNs (storage.dsn
// and databases.*.dsn), statuspage.out and incidents_dir relative to dir,
// the config file's directory, as Prometheus resolves rule files: the same
// config means the same files whatever the working directory. Absolute
// paths (sqlite:///abs.db) and in-memory databases are left alone; a config
// in the working directory (dir ".") changes nothing.
func resolvePaths(cfg *Config, dir string) {
	if dir == "" || dir == "." {
		return
	}
	if cfg.StatusPage.Out != "" {
		cfg.StatusPage.Out = relTo(dir, cfg.StatusPage.Out)
	}
	if cfg.IncidentsDir != "" {
		cfg.IncidentsDir = relTo(dir, cfg.IncidentsDir)
	}
	cfg.Storage.DSN = resolveSQLite(cfg.Storage.DSN, dir)
	for name, db := range cfg.Databases {
		db.DSN = resolveSQLite(db.DSN, dir)
		cfg.Databases[name] = db
	}
}

// resolveSQLite is dsn.ResolveSQLite: the sqlite path rules live with the
// DSN parser.
func resolveSQLite(d, dir string) string { return dsn.ResolveSQLite(d, dir) }
