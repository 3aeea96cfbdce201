package probes

import (
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// CheckDSN parses dsn with the parser its engine's pool uses when it
// opens (pgx for postgres://, the MySQL driver after the URL conversion,
// the SQLite path and pragma rules, go-redis for redis://), without
// connecting or touching the file system, so that `monitor validate`
// refuses every DSN the daemon would refuse at start. The error is the
// driver's own text, which may quote the DSN: redact it before showing it.
func CheckDSN(dsn string) error {
	scheme, _, ok := strings.Cut(dsn, "://")
	if !ok {
		return ErrUnsupportedScheme
	}
	var err error
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		_, err = pgx.ParseConfig(dsn)
	case "mysql":
		_, err = mysqlConfig(dsn)
	case "sqlite":
		_, _, _, err = sqliteDSN(dsn)
	case "redis", "rediss":
		_, err = redis.ParseURL(dsn)
	default:
		return ErrUnsupportedScheme
	}
	return err
}
