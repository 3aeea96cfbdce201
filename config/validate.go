package config

import (
	"errors"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/dsn"
	"github.com/monitor-dev/monitor/scheduler/cronspec"
)

var (
	checkName = regexp.MustCompile(`^[a-z0-9_]+$`)

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
// the DSN only through dsn.Redact, and only once it parses as a URL.
func (d *decoder) dsn(f fields, where, raw string, schemes []string) {
	// A DSN that does not parse may hide a password anywhere: keep all of it
	// out of messages.
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok || !urlScheme.MatchString(scheme) {
		d.hide = append(d.hide, raw)
		d.errorf(f.at("dsn"), "invalid DSN for %s: not a URL (want scheme://...)", where)
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		d.hide = append(d.hide, raw)
		// Only a port problem is shown: other parse errors may quote a
		// piece of the password.
		var ue *url.Error
		if errors.As(err, &ue) && strings.HasPrefix(ue.Err.Error(), "invalid port") {
			d.errorf(f.at("dsn"), "invalid DSN for %s: %s (want a port from 1 to 65535)", where, ue.Err)
		} else {
			d.errorf(f.at("dsn"), "invalid DSN for %s: malformed URL", where)
		}
		return
	}
	if secrets := dsn.Secrets(raw); len(secrets) > 0 {
		d.secret(raw)
		for _, s := range secrets {
			d.secret(s)
		}
	}
	switch {
	case !slices.Contains(schemes, strings.ToLower(scheme)):
		d.errorf(f.at("dsn"), "invalid DSN for %s: unsupported scheme %q in %q (want %s)",
			where, scheme, dsn.Redact(raw), orList(schemes))
	case strings.EqualFold(scheme, "sqlite") && u.Host+u.Path+u.Opaque == "":
		d.errorf(f.at("dsn"), "invalid DSN for %s: missing file path in %q", where, dsn.Redact(raw))
	case !strings.EqualFold(scheme, "sqlite") && !validPort(u.Port()):
		d.errorf(f.at("dsn"), "invalid DSN for %s: invalid port %q in %q (want 1 to 65535)", where, u.Port(), dsn.Redact(raw))
	default:
		// The parser the daemon opens it with: what it refuses at start,
		// validate refuses here.
		if err := dsn.Check(raw); err != nil {
			d.errorf(f.at("dsn"), "invalid DSN for %s: %s in %q", where, err, dsn.Redact(raw))
		}
	}
}

func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.\-]*$`)

func validHostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	return err == nil && port != ""
}

func trimSlash(s string) string { return strings.TrimRight(s, "/") }

// cron parses expr with the scheduler's own parser (its time zone is UTC),
// so that every expression the config accepts can be scheduled: out of
// range fields, a step of 0, an unknown CRON_TZ zone and a date that never
// comes (February 30th) are refused here.
func (d *decoder) cron(f fields, expr string) {
	_, err := cronspec.Parse(expr, time.UTC, time.Now())
	switch {
	case errors.Is(err, cronspec.ErrNeverFires):
		d.errorf(f.at("cron"), "cron %q%s %s", expr, f.in(), err)
	case err != nil && strings.HasPrefix(err.Error(), "expected "):
		d.errorf(f.at("cron"), "invalid cron %q%s: %s (want 5 fields, or 6 with seconds first, like \"*/5 * * * *\")",
			expr, f.in(), err)
	case err != nil:
		d.errorf(f.at("cron"), "invalid cron %q%s: %s", expr, f.in(), err)
	}
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
