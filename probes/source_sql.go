package probes

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// SQLSource is a query on a named database returning one timestamp or
// epoch seconds. Link checks read their links from one too.
type SQLSource struct {
	// Database is the name of a database under databases:.
	Database string `yaml:"database"`
	// Query is the SQL run at every check: for a freshness check it returns
	// one value, the newest timestamp (a timestamp, RFC 3339 text,
	// YYYY-MM-DD hh:mm:ss[.fff] taken as UTC, or epoch seconds or
	// milliseconds); no row or NULL is UNKNOWN.
	Query string `yaml:"query"`
}

var sqlSourceType = sourceType{
	Zero: SQLSource{},
	Keys: []string{"database", "query"},
	Want: "database and query",
	Decode: func(src check.Fields) Source {
		return decodeSQLSource(src)
	},
}

func decodeSQLSource(src check.Fields) SQLSource {
	s := SQLSource{Database: src.Str("database"), Query: src.Str("query")}
	src.DatabaseRef("database", s.Database)
	if s.Query == "" {
		src.Errorf("query", "missing query%s", src.In())
	}
	return s
}

// Subject implements Source.
func (SQLSource) Subject() string { return "newest row" }

// Newest implements Source.
func (s SQLSource) Newest(ctx context.Context, _ check.Spec, env *Env, timeout time.Duration) (time.Time, check.Reason, string) {
	if strings.TrimSpace(s.Query) == "" {
		return time.Time{}, check.ReasonError, "no query configured"
	}
	if env == nil || env.Pool == nil {
		return time.Time{}, check.ReasonError, "no database pool configured"
	}
	db, _, err := env.Pool.SQL(s.Database)
	if err != nil {
		return time.Time{}, check.ReasonError, err.Error()
	}
	vals, err := firstRow(ctx, db, s.Query)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, check.ReasonNoData, "query returned no rows"
	}
	if err != nil {
		return noTime(describe(ctx, "query", err, timeout))
	}
	if len(vals) == 0 || vals[0] == nil {
		return time.Time{}, check.ReasonNoData, "query returned NULL"
	}
	t, err := timeFromValue(vals[0])
	if err != nil {
		return time.Time{}, check.ReasonNoData, "query result: " + err.Error()
	}
	return t, "", ""
}
