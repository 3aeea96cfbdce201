// Package config reads the monitor's YAML configuration: it expands ${VAR}
// references from the environment, decodes the file through yaml.Node so that
// every problem carries its line and column, applies defaults and validates
// the whole tree, reporting all problems at once.
package config

import (
	"errors"
	"fmt"
	"github.com/monitor-dev/monitor/probes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/monitor-dev/monitor/alerting"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/cluster"
)

// Config is a loaded, valid configuration with every default applied.
//
// The yaml tags of this file's types (and of the types they hold) name the
// YAML keys the decoder reads; the decoder does not use them (it walks
// yaml.Node, for line and column), but docs/config.md is generated from
// them and from the fields' comments (TestConfigReference): a field's
// comment is its documentation.
type Config struct {
	File    string  // the path it was loaded from
	Server  Server  `yaml:"server"`
	Storage Storage `yaml:"storage"`
	Cluster Cluster `yaml:"cluster"`
	// Databases are named connections, pooled and reused by every run,
	// that checks and sources refer to by name.
	Databases map[string]Database `yaml:"databases" ref:"mapping of names to databases"`
	Defaults  Defaults            `yaml:"defaults"`
	// Checks are the checks, in file order: at least one. The keys every
	// check takes are below; each kind adds its own (see the kinds).
	Checks []check.Spec `yaml:"checks"`
	// SLOs are service level objectives over the checks' results: `monitor
	// sla report`, the SLO metrics and `monitor rules` read them.
	SLOs     []SLO    `yaml:"slos"`
	Alerting Alerting `yaml:"alerting"`
	// Maintenance lists maintenance windows: while one is on, the results
	// of the checks it covers do not count against SLOs and their alerts
	// stay quiet. At most 1,000 entries.
	Maintenance []Maintenance `yaml:"maintenance"`
	Audit       Audit         `yaml:"audit"`
	Demo        Demo          `yaml:"demo"`
	StatusPage  StatusPage    `yaml:"statuspage"`
	// Incidents are the incidents written by hand: those of incidents:,
	// then one per file of incidents_dir (read at every load), by file
	// name. At most 1,000 in all.
	Incidents []Incident `yaml:"incidents"`
	// IncidentsDir is a directory holding one incident per .yaml or .yml
	// file (the keys of incidents: entries), read at every load and
	// reload; relative to the config file's directory. ${VAR} is not
	// expanded in those files.
	IncidentsDir string `yaml:"incidents_dir"`

	// Secrets holds every secret value seen after expansion: DSNs with a
	// password and their passwords, API tokens, receiver URLs, secrets,
	// routing keys and passwords. Give them to check.NewRedactor.
	Secrets []string
}

// Server is the `server:` section.
type Server struct {
	// Listen is the host:port the HTTP server (API, status page, metrics)
	// listens on.
	Listen string `yaml:"listen"`
	// PublicURL is the address users reach the monitor at, used in links,
	// feeds and alert bodies: an absolute http(s) URL (a trailing slash is
	// dropped).
	PublicURL string `yaml:"public_url"`
	// Tokens are the bearer tokens of the private endpoints (none: the
	// private API is open). An entry is a plain string (named token-1,
	// token-2, ... by its place in the list) or a mapping {name, token} or
	// {name, token_file} (a file holding the token); names are 1 to 64 of
	// [a-z0-9_.-] and unique, tokens are unique, an empty token is left
	// out. At most 100. A token's name is the actor of the audit trail.
	Tokens []string `yaml:"tokens" ref:"list of strings or {name, token | token_file} (secret)"`
	// TokenNames names the tokens for the audit trail, index by index: an
	// entry {name: ops, token: ...} is "ops"; a plain string is named by its
	// position in the list, token-1, token-2, ... (never by its value).
	TokenNames []string
	// LinksAllowPrivate lets the on-demand link API (POST
	// /v2/links/health-check) reach loopback, private and metadata
	// addresses, which the SSRF guard otherwise refuses.
	LinksAllowPrivate bool `yaml:"links_allow_private"`
	// GuardChecks puts the SSRF guard on the connections of configured
	// http, tls and tcp checks too (loopback, private and metadata
	// addresses refused at dial time); off by default, as operators
	// monitor internal services.
	GuardChecks bool       `yaml:"guard_checks"`
	RateLimits  RateLimits `yaml:"rate_limits"`
}

// RateLimits is `server: rate_limits:`, the limits of the private API and
// of the on-demand link checks. On by default, with the defaults below.
type RateLimits struct {
	// RequestsPerSecond is the rate each client (its bearer token, else
	// its IP address) may send to the private endpoints; 0 turns the limit
	// off; at most 1e6. Past it: 429 rate_limited with Retry-After.
	RequestsPerSecond float64 `yaml:"requests_per_second"`
	// Burst is how many requests a client may send at once above the
	// rate; 1 to 1e6.
	Burst int `yaml:"burst"`
	// FailedAuthPerMinute limits requests with a missing or wrong token,
	// per IP address: past it they get 429 before the token is compared;
	// 0 turns it off; at most 1e6.
	FailedAuthPerMinute float64 `yaml:"failed_auth_per_minute"`
	// FailedAuthBurst is the burst of failed_auth_per_minute; 1 to 1e6.
	FailedAuthBurst int `yaml:"failed_auth_burst"`
	// MaxClients is how many clients are remembered (the least recently
	// seen are forgotten first), so that a flood of addresses cannot grow
	// memory; 1 to 1,000,000.
	MaxClients int `yaml:"max_clients"`
	// LinkChecks is how many on-demand link requests are checked at once,
	// all clients together; 1 to 1000.
	LinkChecks int `yaml:"link_checks"`
	// LinkConnections is how many outbound connections those requests
	// open at once (each request gets link_connections/link_checks links
	// at once); 1 to 100,000.
	LinkConnections int `yaml:"link_connections"`
	// QueueTimeout is how long a request waits for a link-check slot
	// before it is answered 429; 0s to 1m.
	QueueTimeout time.Duration `yaml:"queue_timeout"`
}

// DefaultRateLimits are the limits when the config sets none.
var DefaultRateLimits = RateLimits{RequestsPerSecond: 20, Burst: 40, FailedAuthPerMinute: 10, FailedAuthBurst: 10,
	MaxClients: 10_000, LinkChecks: 2, LinkConnections: 32, QueueTimeout: 2 * time.Second}

// Storage is the `storage:` section: where the result history, alert
// state and outbox are kept.
type Storage struct {
	// DSN is the store: sqlite://PATH (embedded; a relative path is
	// relative to the config file's directory) or postgres://. One daemon
	// per SQLite store (a lock file beside it).
	DSN string `yaml:"dsn"`
	// Retention is how long results are kept; older ones are deleted
	// (hourly roll-ups keep the SLA figures). Must be > 0.
	Retention time.Duration `yaml:"retention"`
}

// Cluster is the `cluster:` section: several replicas of the monitor
// sharing one PostgreSQL store. Each check is run by one live replica at a
// time (rendezvous hashing over the replicas that renew their heartbeat,
// guarded by leases in the store); one replica, the leader, writes the
// alert state, sends the notifications, compacts the history and writes
// statuspage.out; every replica serves the latest results of all checks.
// Absent or `enabled: false`: one daemon, as without this section.
type Cluster struct {
	// Enabled turns replication on. It needs storage.dsn on PostgreSQL
	// (postgres:// or postgresql://), which the replicas share, and no
	// demo pipeline (its history is kept apart in SQLite).
	Enabled bool `yaml:"enabled"`
	// Location labels this replica (a region or data centre, e.g.
	// eu-west-1): up to 64 characters of letters, digits, `_`, `.` and
	// `-`. Recorded with the replica's heartbeat row; optional (empty is none).
	Location string `yaml:"location"`
	// LeaseTTL is how long a replica keeps its checks without reaching
	// PostgreSQL, and so how soon the others take over the checks of a
	// replica that died: 3s to 5m, default 15s. Leases are renewed every
	// third of it. A run goes on while its check's lease is renewed,
	// however long its timeout; a run whose lease lapses (its replica
	// lost the database) is abandoned and its result dropped, since
	// another replica runs the check by then.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
}

// Database is one entry of `databases:`, a named connection that checks
// refer to by name (pooled, reused by every run).
type Database struct {
	// DSN is the connection: postgres://, postgresql://, mysql://,
	// sqlite://, redis:// or rediss://. Parsed at load by the parser its
	// driver uses; its password is redacted everywhere.
	DSN string `yaml:"dsn"`
}

// Defaults is the `defaults:` section, the interval and timeout of checks
// that set none.
type Defaults struct {
	// Interval is how often a check without interval (or cron) runs; > 0.
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds a run of a check without timeout; > 0 and shorter
	// than interval. Link checks default to 4s per link instead.
	Timeout time.Duration `yaml:"timeout"`
}

// SLO is one entry of `slos:`.
type SLO struct {
	// Check is the name of the check the objective is about; one SLO per
	// check.
	Check string `yaml:"check"`
	// Objective is the percentage of good runs wanted over the window,
	// between 0 and 100 exclusive, like 99.9. Required.
	Objective float64 `yaml:"objective"`
	// Window is the rolling window the objective is measured over; > 0.
	Window time.Duration `yaml:"window"`
	// SLI says which runs are good: availability (PASS runs) or
	// within_sla (for freshness checks: runs that saw data younger than
	// critical_age, or max_age when the check has none).
	SLI string `yaml:"sli" ref:"availability | within_sla"`
}

// Alerting is the `alerting:` section, its receivers (each type's
// configuration is owned by its package under alerting/) and routes.
type Alerting = alerting.Config

// Receiver is one entry of `alerting: receivers:`.
type Receiver = alerting.Receiver

// Route is one entry of `alerting: routes:`.
type Route = alerting.Route

// Maintenance is one entry of `maintenance:`: the results of the checks
// it covers do not count against SLOs and their alerts stay quiet while it
// is on (sla.InMaintenance decides). It covers the checks named by Checks
// and every check of Components. At most 1,000 entries.
type Maintenance struct {
	// Checks are check names or globs (targeting_*); a name that is no
	// check or a glob that matches none is an error.
	Checks []string `yaml:"checks"`
	// Components covers every check of these status page components.
	Components []string `yaml:"components"`
	// Start is when a one-off window begins.
	Start time.Time `yaml:"start"`
	// End is when it ends (excluded); after start.
	End time.Time `yaml:"end"`
	// Cron makes the window recurring: it starts on every activation of
	// this cron expression (UTC unless it starts with CRON_TZ=Zone) and
	// lasts duration. Exclusive with start and end.
	Cron string `yaml:"cron"`
	// Duration is the length of a recurring window; at most 7d.
	Duration time.Duration `yaml:"duration"`
	// Reason is for people (status page, audit trail); at most 1000
	// characters.
	Reason string `yaml:"reason"`
}

// Bounds of maintenance windows.
const (
	MaxMaintenance         = 1000               // entries of maintenance:
	MaxMaintenanceDuration = 7 * 24 * time.Hour // duration of a recurring window
	maxReason              = 1000               // characters of a reason
)

// Audit is the `audit:` section.
type Audit struct {
	// Retention is how long audit events (escalations, silences, replays,
	// reloads, alerts) are kept; 1h to 3650d.
	Retention time.Duration `yaml:"retention"`
}

// Demo is the `demo:` section.
type Demo struct {
	// Database names a database (of databases:) the built-in demo pipeline
	// seeds and feeds with demo data (SQLite only: it switches itself off
	// on another engine); "" turns the demo off.
	Database string `yaml:"database"`
}

// ErrNoChecks is the problem of a configuration without checks: the daemon
// would run nothing and report healthy.
var ErrNoChecks = errors.New("no checks configured")

// Defaults of the sections.
var (
	defaultServer   = Server{Listen: "127.0.0.1:8080", RateLimits: DefaultRateLimits}
	defaultCluster  = Cluster{LeaseTTL: 15 * time.Second}
	defaultStorage  = Storage{DSN: "sqlite://data/monitor.db", Retention: 90 * 24 * time.Hour}
	defaultDefaults = Defaults{Interval: 60 * time.Second, Timeout: 10 * time.Second}
	defaultSLO      = SLO{Window: 30 * 24 * time.Hour}
	defaultAudit    = Audit{Retention: 90 * 24 * time.Hour}
)

// Bounds of audit.retention.
const (
	MinAuditRetention = time.Hour
	MaxAuditRetention = 3650 * 24 * time.Hour
)

// Load reads the configuration file at path, expanding ${VAR} references
// from the process environment. Relative sqlite:// paths are resolved
// against the file's directory (see resolvePaths).
func Load(path string) (*Config, error) {
	data, err := readConfig(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(path, data, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	resolvePaths(cfg, filepath.Dir(path))
	return cfg, nil
}

// MaxFileSize bounds the configuration file: a config of 1,000 checks is
// well under 1 MiB, and a file named by mistake (a log, a database, a
// device) must not take the daemon's memory, at start or on reload.
const MaxFileSize = 16 << 20

// readConfig reads the file at path, at most MaxFileSize bytes of it.
func readConfig(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	switch {
	case err != nil:
		return nil, err
	case len(data) > MaxFileSize:
		return nil, fmt.Errorf("%s is larger than %d MiB: not a config file", path, MaxFileSize>>20)
	}
	return data, nil
}

// Parse reads a configuration from data; file names it in errors and in
// Config.File. lookup resolves ${VAR} references (os.LookupEnv in Load).
//
// On failure the error joins one *Error per problem (see Problems), and no
// message holds a secret value.
func Parse(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	text, pos, errs := expand(file, string(data), lookup)

	dec := yaml.NewDecoder(strings.NewReader(text))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		// Nothing but comments: the daemon would run nothing.
		errs = append(errs, &Error{File: file, Msg: ErrNoChecks.Error() + " (the file is empty)"})
		return nil, joinProblems(errs)
	case err != nil:
		errs = append(errs, syntaxError(file, text, err))
		return nil, joinProblems(errs)
	}

	d := &decoder{file: file, pos: pos}
	// One document only: a second one would be ignored silently.
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		errs = append(errs, syntaxError(file, text, err))
		return nil, joinProblems(errs)
	case !isNull(&next):
		d.errorf(&next, "a second YAML document is not read (want one document: remove this --- and merge what follows into the first)")
	}
	cfg := d.config(&doc)

	// A problem on a line whose expansion failed is most likely caused by
	// that failure; report only the failure.
	type line struct {
		file string
		n    int
	}
	badLines := map[line]bool{}
	for _, e := range errs {
		badLines[line{e.File, e.Line}] = true
	}
	for _, e := range d.errs {
		if !badLines[line{e.File, e.Line}] {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		redactor := check.NewRedactor(append(d.secrets, d.hide...)...)
		for _, e := range errs {
			e.Msg = redactor.Redact(e.Msg)
		}
		return nil, joinProblems(dedupe(errs))
	}
	cfg.Secrets = d.secrets
	slices.Sort(cfg.Secrets)
	cfg.Secrets = slices.Compact(cfg.Secrets)
	return cfg, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a YAML syntax error into an *Error. YAML reports only a
// line, and for "did not find expected ..." it is the 0-based line of the
// list or mapping being parsed, so one is added.
func syntaxError(file, text string, err error) *Error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		if strings.HasPrefix(m[2], "did not find expected") {
			line++
		}
		msg := "invalid YAML: " + m[2]
		if lines := strings.Split(text, "\n"); strings.Contains(m[2], "cannot start any token") &&
			line >= 1 && line <= len(lines) && strings.HasPrefix(strings.TrimLeft(lines[line-1], " "), "\t") {
			msg += " (a tab: YAML indents with spaces only)"
		}
		return &Error{File: file, Line: line, Msg: msg}
	}
	return &Error{File: file, Msg: "invalid YAML: " + err.Error()}
}

// dedupe drops repeated problems (a merged anchor reports its own problems
// once for each place it is merged into).
func dedupe(errs []*Error) []*Error {
	seen := map[Error]bool{}
	var out []*Error
	for _, e := range errs {
		if !seen[*e] {
			seen[*e] = true
			out = append(out, e)
		}
	}
	return out
}

// config decodes the document. Sections are read in dependency order, not
// file order: checks refer to databases, SLOs and routes to checks.
func (d *decoder) config(doc *yaml.Node) *Config {
	top := d.mapping(doc, "", "server", "storage", "cluster", "databases", "defaults",
		"checks", "slos", "alerting", "maintenance", "audit", "demo", "statuspage", "incidents", "incidents_dir")
	cfg := &Config{File: d.file}
	cfg.Server = d.server(top)
	cfg.Storage = d.storage(top)
	cfg.Cluster = d.cluster(top, cfg.Storage)
	cfg.Databases = d.databases(top)
	cfg.Defaults = d.defaults(top)
	cfg.Checks = d.checks(top, cfg)
	for i := range cfg.Checks {
		cfg.Checks[i].Guarded = cfg.Server.GuardChecks
	}
	if top.ok && (!top.has("checks") || len(cfg.Checks) == 0 && resolve(top.vals["checks"]).Kind == yaml.SequenceNode) {
		d.errorf(top.at("checks"), "%s (want at least one entry under checks:)", ErrNoChecks)
	}
	cfg.SLOs = d.slos(top)
	cfg.Alerting = d.alerting(top)
	cfg.Maintenance = d.maintenance(top, cfg.Checks)
	cfg.Audit = d.audit(top)
	cfg.Demo = d.demo(top)
	d.components = publicComponents(cfg.Checks)
	cfg.StatusPage = d.statusPage(top)
	cfg.Incidents, cfg.IncidentsDir = d.incidents(top)
	return cfg
}

func (d *decoder) server(top fields) Server {
	f := d.mapping(top.vals["server"], "server", "listen", "public_url", "tokens", "links_allow_private", "guard_checks", "rate_limits")
	s := defaultServer
	if f.has("listen") {
		s.Listen = d.str(f, "listen")
		if !validHostPort(s.Listen) {
			d.errorf(f.at("listen"), "invalid listen %q in server (want host:port, like 127.0.0.1:8080)", s.Listen)
		}
	}
	if f.has("public_url") {
		s.PublicURL = trimSlash(d.str(f, "public_url"))
		if !probes.ValidHTTPURL(s.PublicURL) {
			d.errorf(f.at("public_url"), "invalid public_url %q in server (want an absolute http(s) URL)", s.PublicURL)
		}
	}
	s.Tokens, s.TokenNames = d.tokens(f)
	s.LinksAllowPrivate = d.boolean(f, "links_allow_private")
	s.GuardChecks = d.boolean(f, "guard_checks")
	s.RateLimits = d.rateLimits(f)
	return s
}

func (d *decoder) rateLimits(server fields) RateLimits {
	f := d.mapping(server.vals["rate_limits"], "server.rate_limits", "requests_per_second", "burst",
		"failed_auth_per_minute", "failed_auth_burst", "max_clients", "link_checks", "link_connections", "queue_timeout")
	rl := DefaultRateLimits
	rate := func(key string, v *float64, max float64) {
		*v = d.float(f, key, *v)
		if *v < 0 || *v > max {
			d.errorf(f.at(key), "%s must be between 0 (off) and %g%s", key, max, f.in())
		}
	}
	count := func(key string, v *int, max int) {
		*v = d.integer(f, key, *v)
		if *v < 1 || *v > max {
			d.errorf(f.at(key), "%s must be between 1 and %d%s", key, max, f.in())
		}
	}
	rate("requests_per_second", &rl.RequestsPerSecond, 1e6)
	count("burst", &rl.Burst, 1e6)
	rate("failed_auth_per_minute", &rl.FailedAuthPerMinute, 1e6)
	count("failed_auth_burst", &rl.FailedAuthBurst, 1e6)
	count("max_clients", &rl.MaxClients, 1_000_000)
	count("link_checks", &rl.LinkChecks, 1000)
	count("link_connections", &rl.LinkConnections, 100_000)
	rl.QueueTimeout = d.duration(f, "queue_timeout", rl.QueueTimeout)
	if rl.QueueTimeout < 0 || rl.QueueTimeout > time.Minute {
		d.errorf(f.at("queue_timeout"), "queue_timeout must be between 0s and 1m%s", f.in())
	}
	return rl
}

func (d *decoder) storage(top fields) Storage {
	f := d.mapping(top.vals["storage"], "storage", "dsn", "retention")
	s := defaultStorage
	if f.has("dsn") {
		s.DSN = d.str(f, "dsn")
		d.dsn(f, "storage", s.DSN, storageSchemes)
	}
	s.Retention = d.duration(f, "retention", s.Retention)
	d.positive(f, "retention", s.Retention)
	return s
}

// Bounds of the cluster: section.
const (
	MinLeaseTTL       = 3 * time.Second
	MaxLeaseTTL       = 5 * time.Minute
	MaxLocationLength = cluster.MaxLocationLength
)

// ErrClusterNeedsPostgres is the error of `cluster: {enabled: true}` on a
// store other than PostgreSQL.
var ErrClusterNeedsPostgres = errors.New("cluster.enabled needs storage.dsn on PostgreSQL (postgres://...): the replicas share the store and coordinate through it")

func (d *decoder) cluster(top fields, st Storage) Cluster {
	f := d.mapping(top.vals["cluster"], "cluster", "enabled", "location", "lease_ttl")
	c := defaultCluster
	c.Enabled = d.boolean(f, "enabled")
	d.clusterOn = c.Enabled
	if f.has("location") {
		c.Location = d.str(f, "location")
		// Empty is no location, as when the key is absent: so that
		// `location: "${MONITOR_LOCATION:-}"` works on replicas without one.
		if c.Location != "" && !validLocation(c.Location) {
			d.errorf(f.at("location"), "invalid location %q in cluster (want up to %d characters of A-Z, a-z, 0-9, _, . and -)",
				c.Location, MaxLocationLength)
		}
	}
	d.clusterLoc = c.Location
	c.LeaseTTL = d.duration(f, "lease_ttl", c.LeaseTTL)
	d.between(f, "lease_ttl", c.LeaseTTL, MinLeaseTTL, MaxLeaseTTL)
	if c.Enabled {
		scheme, _, _ := strings.Cut(st.DSN, "://")
		if !strings.EqualFold(scheme, "postgres") && !strings.EqualFold(scheme, "postgresql") {
			d.errorf(f.at("enabled"), "%s; storage.dsn is %s://", ErrClusterNeedsPostgres, strings.ToLower(scheme))
		}
	}
	return c
}

// validLocation reports whether s is a valid cluster.location.
func validLocation(s string) bool { return cluster.ValidLocation(s) }

func (d *decoder) databases(top fields) map[string]Database {
	dbs := map[string]Database{}
	d.dbs = dbs
	n := resolve(top.vals["databases"])
	if isNull(n) {
		return dbs
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "databases must be a mapping of names to databases")
		return dbs
	}
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := k.Value
		if prev, dup := first[name]; dup {
			d.errorf(k, "duplicate database %q (first at line %d)", name, prev.Line)
			continue
		}
		first[name] = k
		where := fmt.Sprintf("database %q", name)
		f := d.mapping(v, where, "dsn")
		if !f.ok {
			dbs[name] = Database{} // defined, if broken: no "undefined" errors
			continue
		}
		db := Database{DSN: d.str(f, "dsn")}
		if db.DSN == "" {
			d.errorf(f.at("dsn"), "missing dsn in %s", where)
		} else {
			d.dsn(f, where, db.DSN, databaseSchemes)
		}
		dbs[name] = db
	}
	return dbs
}

func (d *decoder) defaults(top fields) Defaults {
	f := d.mapping(top.vals["defaults"], "defaults", "interval", "timeout")
	def := defaultDefaults
	def.Interval = d.duration(f, "interval", def.Interval)
	def.Timeout = d.duration(f, "timeout", def.Timeout)
	if d.positive(f, "interval", def.Interval) && d.positive(f, "timeout", def.Timeout) &&
		def.Timeout >= def.Interval {
		d.errorf(f.at("timeout"), "timeout %s ≥ interval %s in defaults",
			check.FormatDuration(def.Timeout), check.FormatDuration(def.Interval))
	}
	return def
}

func (d *decoder) slos(top fields) []SLO {
	var slos []SLO
	first := map[string]*yaml.Node{}
	for i, item := range d.items(top, "slos") {
		where := fmt.Sprintf("slo #%d", i+1)
		f := d.mapping(item, where, "check", "objective", "window", "sli")
		if !f.ok {
			continue
		}
		slo := defaultSLO
		slo.Check = d.str(f, "check")
		if d.checkRef(f, "check", slo.Check) {
			if prev, dup := first[slo.Check]; dup {
				d.errorf(f.at("check"), "duplicate slo for check %q (first at line %d)", slo.Check, prev.Line)
			}
			first[slo.Check] = f.at("check")
		}
		slo.Objective = d.float(f, "objective", 0)
		if !f.has("objective") {
			d.errorf(f.node, "missing objective in %s", where)
		} else if slo.Objective <= 0 || slo.Objective >= 100 {
			d.errorf(f.at("objective"), "invalid objective %s in %s (want a percentage between 0 and 100, like 99.9)",
				f.at("objective").Value, where)
		}
		slo.Window = d.duration(f, "window", slo.Window)
		d.positive(f, "window", slo.Window)
		slo.SLI = d.str(f, "sli")
		switch slo.SLI {
		case "":
			slo.SLI = "availability"
		case "availability":
		case "within_sla":
			if kind := d.kindOf(slo.Check); kind != "" && kind.Behaviour().Within == nil {
				d.errorf(f.at("sli"), "sli within_sla in %s needs a %s check, and %q is of kind %s",
					where, withinKinds(), slo.Check, kind)
			}
		default:
			d.errorf(f.at("sli"), "invalid sli %q in %s (want availability or within_sla)", slo.SLI, where)
		}
		slos = append(slos, slo)
	}
	return slos
}

func (d *decoder) demo(top fields) Demo {
	f := d.mapping(top.vals["demo"], "demo", "database")
	demo := Demo{Database: d.str(f, "database")}
	if demo.Database != "" {
		d.databaseRef(f, "database", demo.Database)
		scheme, _, _ := strings.Cut(d.dbs[demo.Database].DSN, "://")
		if d.clusterOn && strings.EqualFold(scheme, "sqlite") {
			d.errorf(f.at("database"), "demo.database cannot be used with cluster.enabled (the demo keeps its history apart, in SQLite)")
		}
	}
	return demo
}

// withinKinds names the kinds with a within-SLA rule of their own (an SLI
// within_sla needs one): "freshness".
func withinKinds() string {
	var names []string
	for _, k := range probes.Kinds() {
		if k.Behaviour.Within != nil {
			names = append(names, string(k.Name))
		}
	}
	return strings.Join(names, " or ")
}
