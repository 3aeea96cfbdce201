package probes

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewPoolDoesNotConnect(t *testing.T) {
	t.Parallel()
	// Nothing listens on these; opening must still succeed.
	addr := closedAddr(t)
	p := newPool(t, map[string]string{
		"pg":    "postgres://u:pw@" + addr + "/db",
		"pg2":   "postgresql://u@" + addr + "/db?sslmode=disable",
		"my":    "mysql://u:pw@" + addr + "/db",
		"cache": "redis://" + addr + "/0",
		"tls":   "rediss://:pw@" + addr + "/1",
		"lite":  "sqlite://:memory:",
	})
	for name, engine := range map[string]string{"pg": EnginePostgres, "pg2": EnginePostgres, "my": EngineMySQL,
		"cache": EngineRedis, "tls": EngineRedis, "lite": EngineSQLite} {
		got, err := p.Engine(name)
		if err != nil || got != engine {
			t.Errorf("Engine(%q) = %q, %v; want %q", name, got, err, engine)
		}
	}
	if db1, _, _ := p.SQL("pg"); db1 == nil {
		t.Fatal("SQL(pg) = nil")
	} else if db2, _, _ := p.SQL("pg"); db1 != db2 {
		t.Error("SQL returns a new *sql.DB per call; want one per name")
	}
	if c1, _ := p.Redis("cache"); c1 == nil {
		t.Fatal("Redis(cache) = nil")
	} else if c2, _ := p.Redis("cache"); c1 != c2 {
		t.Error("Redis returns a new client per call; want one per name")
	}
	if _, _, err := p.SQL("cache"); !errors.Is(err, ErrWrongEngine) {
		t.Errorf("SQL(redis db) error = %v, want ErrWrongEngine", err)
	}
	if _, err := p.Redis("pg"); !errors.Is(err, ErrWrongEngine) {
		t.Errorf("Redis(sql db) error = %v, want ErrWrongEngine", err)
	}
	if _, _, err := p.SQL("nope"); !errors.Is(err, ErrUnknownDatabase) {
		t.Errorf("SQL(unknown) error = %v, want ErrUnknownDatabase", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, _, err := p.SQL("pg"); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("SQL after Close: %v, want ErrPoolClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNewPoolRejectsBadDSNs(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-PaSS"
	_, err := NewPool(map[string]string{
		"ftp":      "ftp://u:" + secret + "@host/x",
		"noscheme": "host:5432",
		"pgport":   "postgres://u:" + secret + "@host:notaport/db",
		"myparam":  "mysql://u:" + secret + "@host/db?parseTime=maybe",
		"redisdb":  "redis://:" + secret + "@host/notanumber",
		"good":     "sqlite://:memory:",
	}, nil)
	if err == nil {
		t.Fatal("NewPool accepted bad DSNs")
	}
	msg := err.Error()
	for _, name := range []string{`"ftp"`, `"noscheme"`, `"pgport"`, `"myparam"`, `"redisdb"`} {
		if !strings.Contains(msg, name) {
			t.Errorf("error does not name database %s:\n%s", name, msg)
		}
	}
	if strings.Contains(msg, `"good"`) {
		t.Errorf("error names a good database:\n%s", msg)
	}
	if !errors.Is(err, ErrUnsupportedScheme) || !errors.Is(err, ErrInvalidDSN) {
		t.Errorf("error %v is not ErrUnsupportedScheme and ErrInvalidDSN", err)
	}
	assertNoSecret(t, msg, secret)
}

func TestMySQLConfig(t *testing.T) {
	t.Parallel()
	cfg, err := mysqlConfig("mysql://app:p%40ss%3Aw%2Frd@db.example:3307/shop?charset=utf8mb4,utf8&readTimeout=5s&tls=skip-verify&sql_mode=%27ANSI%27")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != "app" || cfg.Passwd != "p@ss:w/rd" || cfg.Addr != "db.example:3307" || cfg.DBName != "shop" || cfg.Net != "tcp" {
		t.Errorf("user=%q pass=%q addr=%q db=%q net=%q", cfg.User, cfg.Passwd, cfg.Addr, cfg.DBName, cfg.Net)
	}
	if !cfg.ParseTime || cfg.ReadTimeout != 5*time.Second || cfg.Timeout != dialTimeout || cfg.WriteTimeout != ioTimeout {
		t.Errorf("parseTime=%v readTimeout=%v timeout=%v writeTimeout=%v", cfg.ParseTime, cfg.ReadTimeout, cfg.Timeout, cfg.WriteTimeout)
	}
	if cfg.TLSConfig != "skip-verify" || cfg.Params["sql_mode"] != "'ANSI'" || cfg.Params["time_zone"] != "'+00:00'" {
		t.Errorf("tls=%q params=%v", cfg.TLSConfig, cfg.Params)
	}
	if dsn := cfg.FormatDSN(); !strings.Contains(dsn, "charset=utf8mb4,utf8") {
		t.Errorf("charset lost: %s", dsn)
	}

	cfg, err = mysqlConfig("mysql://root@[::1]/test?time_zone=%27Europe%2FParis%27")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "[::1]:3306" || cfg.User != "root" || cfg.Passwd != "" || cfg.Params["time_zone"] != "'Europe/Paris'" {
		t.Errorf("addr=%q user=%q params=%v", cfg.Addr, cfg.User, cfg.Params)
	}
}

func TestSQLiteDSN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, dsn, dir string
		memory       bool
	}{
		{"sqlite://data/app.db", "data/app.db?_pragma=busy_timeout(5000)", "data", false},
		{"sqlite:///var/lib/monitor/app.db", "/var/lib/monitor/app.db?_pragma=busy_timeout(5000)", "/var/lib/monitor", false},
		{"sqlite://app.db?_pragma=foreign_keys(1)", "app.db?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)", "", false},
		{"sqlite://app.db?_pragma=busy_timeout(100)&_pragma=journal_mode(DELETE)", "app.db?_pragma=busy_timeout(100)&_pragma=journal_mode(DELETE)", "", false},
		{"sqlite://:memory:", ":memory:?_pragma=busy_timeout(5000)", "", true},
		{"sqlite://file::memory:?cache=shared", "file::memory:?_pragma=busy_timeout(5000)&cache=shared", "", true},
		{"sqlite://file:data/ro.db?mode=ro", "file:data/ro.db?_pragma=busy_timeout(5000)&mode=ro", "data", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			dsn, dir, memory, err := sqliteDSN(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if dsn != tc.dsn || dir != tc.dir || memory != tc.memory {
				t.Errorf("got (%q, %q, %v), want (%q, %q, %v)", dsn, dir, memory, tc.dsn, tc.dir, tc.memory)
			}
		})
	}
	if _, _, _, err := sqliteDSN("sqlite://"); err == nil {
		t.Error("empty sqlite path accepted")
	}
}

func TestSQLiteCreatesDirectory(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "deep", "er", "app.db")
	p := newPool(t, map[string]string{"lite": "sqlite://" + path})
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		t.Fatalf("directory not created: %v", err)
	}
	db, _ := sqlOf(t, p, "lite")
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not created: %v", err)
	}
}

// TestSQLiteMemoryKeepsData: a private :memory: database must survive
// between runs, so the pool keeps its single connection.
func TestSQLiteMemoryKeepsData(t *testing.T) {
	t.Parallel()
	p := newPool(t, map[string]string{"mem": "sqlite://:memory:"})
	db, _ := sqlOf(t, p, "mem")
	mustExec(t, db, "CREATE TABLE t (x int)")
	mustExec(t, db, "INSERT INTO t VALUES (1)")
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("count = %d, %v", n, err)
	}
}
