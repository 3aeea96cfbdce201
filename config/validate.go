package config

import (
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/monitor-dev/monitor/check"
)

var (
	checkName = regexp.MustCompile(`^[a-z0-9_]+$`)
	cronField = regexp.MustCompile(`^[0-9A-Za-z*?/,\-#]+$`)

	storageSchemes  = []string{"sqlite", "postgres", "postgresql"}
	databaseSchemes = []string{"postgres", "postgresql", "mysql", "sqlite", "redis", "rediss"}
)

// positive reports key when it is set to a duration ≤ 0, and tells whether v
// is usable.
func (d *decoder) positive(f fields, key string, v time.Duration) bool {
	if v <= 0 && f.has(key) {
		d.errorf(f.at(key), "%s must be > 0%s", key, f.in())
	}
	return v > 0
}

// checkRef reports a missing or undefined check name at key.
func (d *decoder) checkRef(f fields, key, name string) bool {
	if name == "" {
		d.errorf(f.at(key), "missing %s%s", key, f.in())
		return false
	}
	if _, ok := d.checkAt[name]; !ok {
		d.errorf(f.at(key), "undefined check %q%s", name, f.in())
		return false
	}
	return true
}

// databaseRef reports a missing or undefined database name at key.
func (d *decoder) databaseRef(f fields, key, name string) (Database, bool) {
	if name == "" {
		d.errorf(f.at(key), "missing %s%s", key, f.in())
		return Database{}, false
	}
	db, ok := d.dbs[name]
	if !ok {
		d.errorf(f.at(key), "undefined database %q%s", name, f.in())
	}
	return db, ok
}

// dsn validates a connection string and records its secrets. Messages show
// the DSN only through check.RedactDSN, and only once it parses as a URL.
func (d *decoder) dsn(f fields, where, dsn string, schemes []string) {
	// A DSN that does not parse may hide a password anywhere: keep all of it
	// out of messages.
	scheme, _, ok := strings.Cut(dsn, "://")
	if !ok || !urlScheme.MatchString(scheme) {
		d.hide = append(d.hide, dsn)
		d.errorf(f.at("dsn"), "invalid DSN for %s: not a URL (want scheme://...)", where)
		return
	}
	u, err := url.Parse(dsn)
	if err != nil {
		d.hide = append(d.hide, dsn)
		d.errorf(f.at("dsn"), "invalid DSN for %s: malformed URL", where)
		return
	}
	if p, ok := u.User.Password(); ok {
		d.secret(dsn)
		d.secret(p)
	}
	if p := u.Query().Get("password"); p != "" {
		d.secret(dsn)
		d.secret(p)
	}
	switch {
	case !slices.Contains(schemes, strings.ToLower(scheme)):
		d.errorf(f.at("dsn"), "invalid DSN for %s: unsupported scheme %q in %q (want %s)",
			where, scheme, check.RedactDSN(dsn), orList(schemes))
	case strings.EqualFold(scheme, "sqlite") && u.Host+u.Path+u.Opaque == "":
		d.errorf(f.at("dsn"), "invalid DSN for %s: missing file path in %q", where, check.RedactDSN(dsn))
	}
}

var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.\-]*$`)

func validHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func validHostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	return err == nil && port != ""
}

func trimSlash(s string) string { return strings.TrimRight(s, "/") }

// validCron accepts, roughly, what the scheduler's cron parser takes: five
// fields (minute hour day month weekday) or six (with seconds first), an
// optional CRON_TZ= or TZ= prefix, and the @hourly-style descriptors.
func validCron(expr string) bool {
	fields := strings.Fields(expr)
	if len(fields) > 0 && (strings.HasPrefix(fields[0], "CRON_TZ=") || strings.HasPrefix(fields[0], "TZ=")) {
		fields = fields[1:]
	}
	if len(fields) > 0 && strings.HasPrefix(fields[0], "@") {
		switch fields[0] {
		case "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly":
			return len(fields) == 1
		case "@every":
			if len(fields) != 2 {
				return false
			}
			every, err := time.ParseDuration(fields[1])
			return err == nil && every > 0
		}
		return false
	}
	if len(fields) != 5 && len(fields) != 6 {
		return false
	}
	for _, field := range fields {
		if !cronField.MatchString(field) {
			return false
		}
	}
	return true
}

// dependencies checks every depends_on entry, then looks for cycles. Each
// cycle is reported once, at the entry that closes it.
func (d *decoder) dependencies(specs []check.Spec, deps map[string][]*yaml.Node) {
	for _, s := range specs {
		if d.checkAt[s.Name] == nil {
			continue
		}
		var ok []*yaml.Node
		seen := map[string]bool{}
		for _, n := range deps[s.Name] {
			switch _, defined := d.checkAt[n.Value]; {
			case n.Value == s.Name:
				d.errorf(n, "check %q depends on itself", s.Name)
			case !defined:
				d.errorf(n, "undefined check %q in depends_on of check %q", n.Value, s.Name)
			case seen[n.Value]:
				d.errorf(n, "duplicate check %q in depends_on of check %q", n.Value, s.Name)
			default:
				ok = append(ok, n)
			}
			seen[n.Value] = true
		}
		deps[s.Name] = ok
	}

	const (
		unseen = iota
		visiting
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(name string)
	visit = func(name string) {
		state[name] = visiting
		path = append(path, name)
		for _, n := range deps[name] {
			switch state[n.Value] {
			case unseen:
				visit(n.Value)
			case visiting:
				cycle := append(slices.Clone(path[slices.Index(path, n.Value):]), n.Value)
				d.errorf(n, "depends_on cycle: %s", strings.Join(cycle, " -> "))
			}
		}
		path = path[:len(path)-1]
		state[name] = done
	}
	for _, s := range specs {
		if state[s.Name] == unseen {
			visit(s.Name)
		}
	}
}
