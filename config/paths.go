package config

import (
	"path/filepath"
	"strings"
)

// resolvePaths makes the relative file paths of SQLite DSNs (storage.dsn
// and databases.*.dsn) relative to dir, the config file's directory, as
// Prometheus resolves rule files: the same config means the same files
// whatever the working directory. Absolute paths (sqlite:///abs.db) and
// in-memory databases are left alone; a config in the working directory
// (dir ".") changes nothing.
func resolvePaths(cfg *Config, dir string) {
	if dir == "" || dir == "." {
		return
	}
	cfg.Storage.DSN = resolveSQLite(cfg.Storage.DSN, dir)
	for name, db := range cfg.Databases {
		db.DSN = resolveSQLite(db.DSN, dir)
		cfg.Databases[name] = db
	}
}

// resolveSQLite returns dsn with its file path joined to dir when it is a
// relative sqlite:// path; any other DSN is returned as is.
func resolveSQLite(dsn, dir string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok || !strings.EqualFold(scheme, "sqlite") {
		return dsn
	}
	path, query, hasQuery := strings.Cut(rest, "?")
	prefix := ""
	if p, ok := strings.CutPrefix(path, "file:"); ok {
		prefix, path = "file:", p
	}
	if path == "" || strings.HasPrefix(path, ":memory:") || filepath.IsAbs(path) {
		return dsn
	}
	out := scheme + "://" + prefix + filepath.Join(dir, path)
	if hasQuery {
		out += "?" + query
	}
	return out
}
