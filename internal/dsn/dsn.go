// Package dsn is the one parser and redactor of connection strings, for
// every engine the monitor talks to: postgres://, mysql://, sqlite:// and
// redis://. The probes' pool, the store and `monitor validate` all parse
// through it, so what validate accepts is what the daemon opens. Errors
// never carry the DSN's password.
package dsn

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// Engine is the kind of database a DSN names.
type Engine string

// The engines.
const (
	Postgres Engine = "postgres"
	MySQL    Engine = "mysql"
	SQLite   Engine = "sqlite"
	Redis    Engine = "redis"
)

// Errors. Messages never carry a DSN.
var (
	ErrUnsupportedScheme = errors.New("unsupported DSN scheme (want postgres://, postgresql://, mysql://, sqlite://, redis:// or rediss://)")
	ErrInvalid           = errors.New("invalid DSN")
)

// ConnectTimeout is the dial timeout a postgres or mysql DSN gets when it
// sets none.
const ConnectTimeout = 10 * time.Second

// EngineOf names the engine of dsn from its scheme: postgres and
// postgresql, mysql, sqlite, redis and rediss.
func EngineOf(dsn string) (Engine, error) {
	scheme, _, ok := strings.Cut(dsn, "://")
	if !ok {
		return "", ErrUnsupportedScheme
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		return Postgres, nil
	case "mysql":
		return MySQL, nil
	case "sqlite":
		return SQLite, nil
	case "redis", "rediss":
		return Redis, nil
	}
	return "", ErrUnsupportedScheme
}

// Check parses dsn with the parser its engine opens it with, without
// connecting or touching the file system.
func Check(dsn string) error {
	e, err := EngineOf(dsn)
	if err != nil {
		return err
	}
	switch e {
	case Postgres:
		_, err = ParsePostgres(dsn, "")
	case MySQL:
		_, err = ParseMySQL(dsn)
	case SQLite:
		_, err = ParseSQLite(dsn)
	case Redis:
		_, err = ParseRedis(dsn)
	}
	return err
}

// Error is a DSN the driver's parser refused. Its message is the parser's
// own words without the DSN it may quote and without the password; it
// matches ErrInvalid with errors.Is.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return ErrInvalid }

// pgxPrefix is how pgx starts its parse errors: with the whole DSN.
var pgxPrefix = regexp.MustCompile("^cannot parse `[^`]*`: ")

// invalid turns a parser's error into an *Error free of dsn's secrets.
func invalid(dsn string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // quotes the URL
	}
	msg := pgxPrefix.ReplaceAllString(err.Error(), "")
	msg = strings.TrimPrefix(msg, "redis: ")
	if v, ok := strings.CutPrefix(msg, "invalid value / unknown config name: "); ok {
		msg = fmt.Sprintf("invalid or unknown parameter value %q", v)
	}
	for _, s := range Secrets(dsn) {
		msg = strings.ReplaceAll(msg, s, "***")
	}
	msg = strings.ReplaceAll(msg, dsn, Redact(dsn))
	return &Error{msg: msg}
}

// ParsePostgres parses a postgres:// or postgresql:// URL with libpq's
// parameters (pgx). A DSN without connect_timeout gets ConnectTimeout;
// one without application_name gets app, when app is not empty.
func ParsePostgres(dsn, app string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, invalid(dsn, err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = ConnectTimeout
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok && app != "" {
		cfg.RuntimeParams["application_name"] = app
	}
	return cfg, nil
}

// ParseMySQL turns mysql://user:pass@host:port/db?params into the driver's
// configuration. Query parameters keep the driver's meaning (timeout, tls,
// charset, and any server variable); parseTime is always on, and times are
// UTC unless loc or time_zone say otherwise. Credentials go into the Config
// directly, so no character of a password can confuse the driver's syntax.
// A DSN without timeout gets ConnectTimeout.
func ParseMySQL(dsn string) (*mysql.Config, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, invalid(dsn, err)
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, &Error{msg: "want mysql://user:password@host:port/database"}
	}
	port := u.Port()
	if port == "" {
		port = "3306"
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	dbName := strings.TrimPrefix(u.Path, "/")
	if strings.Contains(dbName, "/") {
		return nil, &Error{msg: fmt.Sprintf("database name %q contains a slash", dbName)}
	}
	// The driver parses the query part itself, with its own escaping rules
	// (charset=a,b stays as written), so the raw query is passed on as is.
	query := u.RawQuery
	q := u.Query()
	if !q.Has("time_zone") && !q.Has("loc") {
		if query != "" {
			query += "&"
		}
		query += "time_zone=" + url.QueryEscape("'+00:00'")
	}
	cfg, err := mysql.ParseDSN("tcp(" + addr + ")/" + dbName + "?" + query)
	if err != nil {
		return nil, invalid(dsn, err)
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	cfg.ParseTime = true
	if cfg.Timeout == 0 {
		cfg.Timeout = ConnectTimeout
	}
	return cfg, nil
}

// ParseRedis parses redis:// and rediss:// URLs (go-redis).
func ParseRedis(dsn string) (*redis.Options, error) {
	opt, err := redis.ParseURL(dsn)
	if err != nil {
		return nil, invalid(dsn, err)
	}
	return opt, nil
}

// SQLiteDSN is a parsed sqlite:// DSN: sqlite://relative/path.db,
// sqlite:///abs/path.db, sqlite://:memory: or sqlite://file::memory:?cache=shared.
type SQLiteDSN struct {
	Path     string     // what the driver opens, file: prefix kept
	File     string     // the file path; ":memory:..." for memory databases
	RawQuery string     // the query as written
	Query    url.Values // the query, parsed
	Memory   bool       // the database lives in memory
}

// ParseSQLite parses a sqlite:// DSN.
func ParseSQLite(dsn string) (SQLiteDSN, error) {
	_, rest, _ := strings.Cut(dsn, "://")
	path, rawQuery, _ := strings.Cut(rest, "?")
	if path == "" {
		return SQLiteDSN{}, &Error{msg: "want sqlite://path/to/file.db or sqlite://:memory: (path is empty)"}
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return SQLiteDSN{}, invalid(dsn, err)
	}
	file := strings.TrimPrefix(path, "file:")
	return SQLiteDSN{Path: path, File: file, RawQuery: rawQuery, Query: q,
		Memory: strings.HasPrefix(file, ":memory:") || q.Get("mode") == "memory"}, nil
}

// Dir is the directory the database file lives in, to create before
// opening; "" for memory databases and files in the working directory.
func (s SQLiteDSN) Dir() string {
	if s.Memory {
		return ""
	}
	if d := filepath.Dir(s.File); d != "." && d != "" {
		return d
	}
	return ""
}

// HasPragma reports whether the DSN sets the pragma name, as
// _pragma=name(...) or the driver's older _name=... form.
func (s SQLiteDSN) HasPragma(name string) bool {
	for _, v := range s.Query["_pragma"] {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), name) {
			return true
		}
	}
	return s.Query.Has("_" + name)
}

// ResolveSQLite returns dsn with its file path joined to dir when it is a
// relative sqlite:// path; any other DSN (absolute sqlite:///abs.db,
// in-memory, other engines) is returned as is.
func ResolveSQLite(dsn, dir string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok || !strings.EqualFold(scheme, "sqlite") || dir == "" || dir == "." {
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

// Secrets lists the secrets of dsn: its userinfo password and any password
// query parameter, raw and as escaped in the DSN.
func Secrets(dsn string) []string {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil
	}
	var out []string
	add := func(p string) {
		if p != "" {
			out = append(out, p, url.QueryEscape(p), url.PathEscape(p))
		}
	}
	if p, ok := u.User.Password(); ok {
		add(p)
		add(rawPassword(dsn)) // as written, which may escape other characters
	}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if key, err := url.QueryUnescape(k); err == nil && isPasswordKey(key) {
			p, _ := url.QueryUnescape(v)
			add(p)
			add(v)
		}
	}
	return out
}

// rawPassword is the password of a URL's userinfo as written, escapes and
// all; the authority is found the way net/url finds it.
func rawPassword(dsn string) string {
	s, _, _ := strings.Cut(dsn, "#")
	s, _, _ = strings.Cut(s, "?")
	_, s, _ = strings.Cut(s, "//")
	s, _, _ = strings.Cut(s, "/")
	i := strings.LastIndex(s, "@")
	if i < 0 {
		return ""
	}
	_, p, _ := strings.Cut(s[:i], ":")
	return p
}

// passwordKeys are the query parameters that carry a password.
var passwordKeys = []string{"password", "passwd", "pwd"}

// Redacted is what Redact shows of a DSN that does not parse as a URL: a
// password may hide anywhere in it.
const Redacted = "<unparsable DSN>"

// Redact is how a DSN leaves the process (messages, logs, the API): the
// userinfo password and password query parameters become ***. A DSN that
// does not parse as a URL is shown as Redacted.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return Redacted
	}
	changed, userinfo := false, false
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), placeholder)
		changed, userinfo = true, true
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			k, _, _ := strings.Cut(p, "=")
			if key, err := url.QueryUnescape(k); err == nil && isPasswordKey(key) {
				parts[i] = k + "=***"
				changed = true
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	if !changed {
		return dsn
	}
	out := u.String()
	if userinfo {
		// url.URL escapes * in userinfo: put the stars in by hand.
		out = strings.Replace(out, ":"+placeholder+"@", ":***@", 1)
	}
	return out
}

// placeholder stands in for a password until the URL is printed.
const placeholder = "REDACTEDPASSWORD"

func isPasswordKey(k string) bool {
	for _, p := range passwordKeys {
		if strings.EqualFold(k, p) {
			return true
		}
	}
	return false
}
