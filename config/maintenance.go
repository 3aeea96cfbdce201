package config

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/monitor-dev/monitor/check"
)

// isGlob reports a check pattern (targeting_*) rather than a name.
func isGlob(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// maintenance reads `maintenance:`. Each entry names checks (names or
// globs) and/or components, and is either one-off (start and end) or
// recurring (cron and duration). A name that is no check, a glob that
// matches none (most likely a typo) and a component no check has are
// errors.
func (d *decoder) maintenance(top fields, checks []check.Spec) []Maintenance {
	items := d.items(top, "maintenance")
	if len(items) > MaxMaintenance {
		d.errorf(top.at("maintenance"), "more than %d entries in maintenance", MaxMaintenance)
		return nil
	}
	components := map[string]bool{}
	for _, sp := range checks {
		if sp.Component != "" {
			components[sp.Component] = true
		}
	}
	var out []Maintenance
	for i, item := range items {
		where := fmt.Sprintf("maintenance #%d", i+1)
		f := d.mapping(item, where, "checks", "components", "start", "end", "cron", "duration", "reason")
		if !f.ok {
			continue
		}
		var m Maintenance
		for _, n := range d.list(f, "checks") {
			switch {
			case !isGlob(n.Value):
				if _, ok := d.checkAt[n.Value]; !ok {
					d.errorf(n, "undefined check %q in %s", n.Value, where)
				}
			case !validPattern(n.Value):
				d.errorf(n, "invalid pattern %q in %s (want a check name or a glob like targeting_*)", n.Value, where)
			case !slices.ContainsFunc(checks, func(sp check.Spec) bool { ok, _ := path.Match(n.Value, sp.Name); return ok }):
				d.errorf(n, "pattern %q in %s matches no check", n.Value, where)
			}
			m.Checks = append(m.Checks, n.Value)
		}
		for _, n := range d.list(f, "components") {
			if !components[n.Value] {
				d.errorf(n, "unknown component %q in %s (no check has it)", n.Value, where)
			}
			m.Components = append(m.Components, n.Value)
		}
		if len(m.Checks) == 0 && len(m.Components) == 0 {
			d.errorf(f.node, "missing checks or components in %s", where)
		}

		oneOff := f.has("start") || f.has("end")
		recurring := f.has("cron") || f.has("duration")
		switch {
		case oneOff && recurring:
			first, second := "start", "cron"
			if !f.has("start") {
				first = "end"
			}
			if !f.has("cron") {
				second = "duration"
			}
			d.errorf(f.keys[second], "%s and %s are both set in %s (want start and end for one window, or cron and duration for a recurring one)",
				first, second, where)
		case oneOff:
			m.Start, m.End = d.timestamp(f, "start"), d.timestamp(f, "end")
			switch {
			case !f.has("start"):
				d.errorf(f.node, "missing start in %s", where)
			case !f.has("end"):
				d.errorf(f.node, "missing end in %s", where)
			case !m.Start.IsZero() && !m.End.IsZero() && !m.End.After(m.Start):
				d.errorf(f.at("end"), "end is not after start in %s", where)
			}
		case recurring:
			m.Cron = d.str(f, "cron")
			switch {
			case !f.has("cron"):
				d.errorf(f.node, "missing cron in %s", where)
			case strings.Contains(m.Cron, "@every"):
				d.errorf(f.at("cron"), "cron %q in %s has no fixed start time (want a cron expression like \"0 3 * * SUN\")", m.Cron, where)
			default:
				d.cron(f, m.Cron)
			}
			before := len(d.errs)
			m.Duration = d.duration(f, "duration", 0)
			switch {
			case !f.has("duration"):
				d.errorf(f.node, "missing duration in %s", where)
			case len(d.errs) == before: // it parsed
				d.between(f, "duration", m.Duration, time.Second, MaxMaintenanceDuration)
			}
		default:
			d.errorf(f.node, "missing start and end, or cron and duration, in %s", where)
		}
		m.Reason = d.str(f, "reason")
		if utf8.RuneCountInString(m.Reason) > maxReason {
			d.errorf(f.at("reason"), "reason is longer than %d characters in %s", maxReason, where)
		}
		out = append(out, m)
	}
	return out
}

// validPattern reports a glob path.Match can use.
func validPattern(p string) bool {
	_, err := path.Match(p, "")
	return err == nil
}

func (d *decoder) audit(top fields) Audit {
	f := d.mapping(top.vals["audit"], "audit", "retention")
	a := defaultAudit
	a.Retention = d.duration(f, "retention", a.Retention)
	d.between(f, "retention", a.Retention, MinAuditRetention, MaxAuditRetention)
	return a
}
