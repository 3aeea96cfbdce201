package dsn

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

// hard is a password with every character that has a meaning in a URL or
// in a driver's DSN syntax.
const hard = `p@ss:w/rd?#%&=+ '"*;`

// hardEsc is hard escaped for a URL's userinfo.
var hardEsc = strings.TrimPrefix(url.UserPassword("u", hard).String(), "u:")

func TestEngineOf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Engine
		err  error
	}{
		{"postgres://h/db", Postgres, nil},
		{"PostgreSQL://h/db", Postgres, nil},
		{"mysql://h/db", MySQL, nil},
		{"sqlite://a.db", SQLite, nil},
		{"redis://h", Redis, nil},
		{"rediss://h", Redis, nil},
		{"mongodb://h", "", ErrUnsupportedScheme},
		{"monitor.db", "", ErrUnsupportedScheme},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := EngineOf(tc.in)
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("EngineOf(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestParse(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		cfg, err := ParsePostgres("postgres://app:"+hardEsc+"@db.example:5433/shop?sslmode=disable&search_path=s1", "monitor")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.User != "app" || cfg.Password != hard || cfg.Host != "db.example" || cfg.Port != 5433 || cfg.Database != "shop" {
			t.Errorf("parsed %s:%q@%s:%d/%s", cfg.User, cfg.Password, cfg.Host, cfg.Port, cfg.Database)
		}
		if cfg.ConnectTimeout != ConnectTimeout || cfg.RuntimeParams["application_name"] != "monitor" ||
			cfg.RuntimeParams["search_path"] != "s1" {
			t.Errorf("timeout %s, params %v", cfg.ConnectTimeout, cfg.RuntimeParams)
		}
		cfg, err = ParsePostgres("postgresql://h/db?connect_timeout=3&application_name=mine", "monitor")
		if err != nil || cfg.ConnectTimeout != 3*time.Second || cfg.RuntimeParams["application_name"] != "mine" {
			t.Errorf("a DSN's own settings were overridden: %v %v", cfg, err)
		}
	})
	t.Run("mysql", func(t *testing.T) {
		cfg, err := ParseMySQL("mysql://app:" + hardEsc + "@db.example:3307/shop?charset=utf8mb4,utf8&tls=skip-verify")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.User != "app" || cfg.Passwd != hard || cfg.Addr != "db.example:3307" || cfg.DBName != "shop" {
			t.Errorf("parsed %s:%q@%s/%s", cfg.User, cfg.Passwd, cfg.Addr, cfg.DBName)
		}
		if !cfg.ParseTime || cfg.Timeout != ConnectTimeout || cfg.Params["time_zone"] != "'+00:00'" {
			t.Errorf("parseTime %v, timeout %s, params %v", cfg.ParseTime, cfg.Timeout, cfg.Params)
		}
		cfg, err = ParseMySQL("mysql://root@h/db")
		if err != nil || cfg.Addr != "h:3306" || cfg.Passwd != "" {
			t.Errorf("default port: %v %v", cfg, err)
		}
	})
	t.Run("redis", func(t *testing.T) {
		opt, err := ParseRedis("redis://:" + hardEsc + "@cache:6380/2")
		if err != nil {
			t.Fatal(err)
		}
		if opt.Password != hard || opt.Addr != "cache:6380" || opt.DB != 2 {
			t.Errorf("parsed %q@%s/%d", opt.Password, opt.Addr, opt.DB)
		}
	})
	t.Run("sqlite", func(t *testing.T) {
		for _, tc := range []struct {
			in, path, file, dir string
			memory              bool
		}{
			{"sqlite://data/app.db", "data/app.db", "data/app.db", "data", false},
			{"sqlite:///var/lib/m.db?_pragma=busy_timeout(1)", "/var/lib/m.db", "/var/lib/m.db", "/var/lib", false},
			{"sqlite://app.db", "app.db", "app.db", "", false},
			{"sqlite://:memory:", ":memory:", ":memory:", "", true},
			{"sqlite://file::memory:?cache=shared", "file::memory:", ":memory:", "", true},
			{"sqlite://file:x/a.db?mode=memory", "file:x/a.db", "x/a.db", "", true},
		} {
			s, err := ParseSQLite(tc.in)
			if err != nil {
				t.Errorf("%s: %v", tc.in, err)
				continue
			}
			if s.Path != tc.path || s.File != tc.file || s.Dir() != tc.dir || s.Memory != tc.memory {
				t.Errorf("%s: path %q file %q dir %q memory %v", tc.in, s.Path, s.File, s.Dir(), s.Memory)
			}
		}
		s, _ := ParseSQLite("sqlite://a.db?_pragma=Busy_Timeout(9)&_journal_mode=WAL")
		if !s.HasPragma("busy_timeout") || !s.HasPragma("journal_mode") || s.HasPragma("synchronous") {
			t.Error("HasPragma misread the query")
		}
	})
}

// Every parse error is ErrInvalid, says what is wrong, and never holds the
// password, however the driver quotes the DSN.
func TestParseErrorsHideThePassword(t *testing.T) {
	for _, tc := range []struct{ dsn, want string }{
		{"postgres://monitor:" + hardEsc + "@db.internal/monitor?sslmode=bogus", "failed to configure TLS (sslmode is invalid)"},
		{"postgres://monitor:" + hardEsc + "@db.internal/app?connect_timeout=soon", "invalid connect_timeout"},
		{"postgres://monitor:s3cr3t-pa55@db.internal/app?sslmode=%zz", "invalid percent-encoded token"},
		{"postgres://monitor:s3cr3t-pa55@db.internal/app?password=" + hardEsc + "&sslmode=x", "sslmode is invalid"},
		{"mysql://monitor:" + hardEsc + "@db.internal:3306/app?tls=bogus", `invalid or unknown parameter value "bogus"`},
		{"mysql://monitor:" + hardEsc + "@db.internal/app?timeout=zz", `time: invalid duration "zz"`},
		{"mysql://monitor:" + hardEsc + "@db.internal/a/b", "contains a slash"},
		{"mysql://monitor:s3cr3t-pa55@/app", "want mysql://"},
		{"redis://:" + hardEsc + "@cache.internal:6379/abc", `invalid database number: "abc"`},
		{"rediss://:s3cr3t-pa55@cache.internal:6379/0?dial_timeout=xx", `invalid dial_timeout duration`},
		{"sqlite://data/app.db?%zz", `invalid URL escape "%zz"`},
		{"sqlite://?password=s3cr3t-pa55", "path is empty"},
	} {
		t.Run(tc.dsn, func(t *testing.T) {
			err := Check(tc.dsn)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Check = %v, want ErrInvalid", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
			for _, secret := range []string{hard, hardEsc, "s3cr3t-pa55", "p@ss", "w/rd", "w%2Frd"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q holds the password %q", msg, secret)
				}
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://app:s3cr3t@db:5432/x?sslmode=disable", "postgres://app:***@db:5432/x?sslmode=disable"},
		{"postgres://app:" + hardEsc + "@db/x", "postgres://app:***@db/x"},
		{"mysql://root@127.0.0.1:3306/test", "mysql://root@127.0.0.1:3306/test"},
		{"redis://:pa55word@cache:6379/0", "redis://:***@cache:6379/0"},
		{"rediss://user:" + hardEsc + "@cache:6379/0", "rediss://user:***@cache:6379/0"},
		{"sqlite://data/app.db", "sqlite://data/app.db"},
		{"sqlite:///abs/app.db?_pragma=busy_timeout(1)", "sqlite:///abs/app.db?_pragma=busy_timeout(1)"},
		// A user without a password, and the password in the query: the
		// query's password is hidden too (it used to be shown).
		{"postgres://app@db/x?password=s3cr3t&sslmode=disable", "postgres://app@db/x?password=***&sslmode=disable"},
		{"postgres://db/x?PWD=s3cr3t", "postgres://db/x?PWD=***"},
		{"host=db user=app password=s3cr3t dbname=x", Redacted},
		{"postgres://app:s3cr3t@db:99999999999/%zz", Redacted},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := Redact(tc.in); got != tc.want {
				t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	got := Secrets("postgres://app:" + hardEsc + "@db/x?password=two-2222&x=" + url.QueryEscape(hard))
	for _, want := range []string{hard, hardEsc, "two-2222"} {
		found := false
		for _, s := range got {
			found = found || s == want
		}
		if !found {
			t.Errorf("Secrets lacks %q: %q", want, got)
		}
	}
	if s := Secrets("sqlite://a.db"); len(s) != 0 {
		t.Errorf("Secrets of a DSN without password = %q", s)
	}
}

func TestResolveSQLite(t *testing.T) {
	for in, want := range map[string]string{
		"sqlite://data/m.db":          "sqlite:///etc/m/data/m.db",
		"sqlite://file:data/m.db?x=1": "sqlite://file:/etc/m/data/m.db?x=1",
		"sqlite:///abs/m.db":          "sqlite:///abs/m.db",
		"sqlite://:memory:":           "sqlite://:memory:",
		"postgres://h/db":             "postgres://h/db",
	} {
		if got := ResolveSQLite(in, "/etc/m"); got != want {
			t.Errorf("ResolveSQLite(%q) = %q, want %q", in, got, want)
		}
	}
}
