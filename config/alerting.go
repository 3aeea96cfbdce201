package config

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/mail"
	"slices"
	"strings"

	"github.com/monitor-dev/monitor/check"
)

// receiverKeys lists, per receiver type, the keys it takes besides name and
// type. A new receiver is one entry here (and its required keys below).
var receiverKeys = map[string][]string{
	"webhook":      {"url", "secret"},
	"slack":        {"url", "channel"},
	"pagerduty":    {"routing_key", "url"},
	"email":        {"to", "from", "smtp", "username", "password"},
	"alertmanager": {"url"},
}

// receiverRequired lists, per receiver type, the keys it cannot do without.
var receiverRequired = map[string][]string{
	"webhook":      {"url"},
	"slack":        {"url"},
	"pagerduty":    {"routing_key"},
	"email":        {"to", "from", "smtp"},
	"alertmanager": {"url"},
}

// matchKeys are the labels a route can match on.
var matchKeys = []string{"check", "kind", "severity", "component"}

func (d *decoder) alerting(top fields) Alerting {
	f := d.mapping(top.vals["alerting"], "alerting", "receivers", "routes",
		"failure_threshold", "success_threshold", "repeat_interval")
	a := defaultAlerting
	a.Receivers = d.receivers(f)
	a.Routes = d.routes(f, a.Receivers)
	a.FailureThreshold = d.integer(f, "failure_threshold", a.FailureThreshold)
	if a.FailureThreshold < 1 {
		d.errorf(f.at("failure_threshold"), "failure_threshold must be > 0 in alerting")
	}
	a.SuccessThreshold = d.integer(f, "success_threshold", a.SuccessThreshold)
	if a.SuccessThreshold < 1 {
		d.errorf(f.at("success_threshold"), "success_threshold must be > 0 in alerting")
	}
	a.RepeatInterval = d.duration(f, "repeat_interval", a.RepeatInterval)
	d.positive(f, "repeat_interval", a.RepeatInterval)
	return a
}

func (d *decoder) receivers(alerting fields) []Receiver {
	allKeys := []string{"name", "type"}
	for _, typ := range slices.Sorted(maps.Keys(receiverKeys)) {
		for _, k := range receiverKeys[typ] {
			if !slices.Contains(allKeys, k) {
				allKeys = append(allKeys, k)
			}
		}
	}
	var out []Receiver
	first := map[string]int{}
	for i, item := range d.items(alerting, "receivers") {
		f := d.mapping(item, describe("receiver", peek(item, "name"), i), allKeys...)
		if !f.ok {
			continue
		}
		r := Receiver{
			Name:       d.str(f, "name"),
			Type:       d.str(f, "type"),
			URL:        d.str(f, "url"),
			Secret:     d.str(f, "secret"),
			RoutingKey: d.str(f, "routing_key"),
			Channel:    d.str(f, "channel"),
			To:         d.str(f, "to"),
			From:       d.str(f, "from"),
			SMTP:       d.str(f, "smtp"),
			Username:   d.str(f, "username"),
			Password:   d.str(f, "password"),
		}
		for _, s := range []string{r.URL, r.Secret, r.RoutingKey, r.Password} {
			d.secret(s)
		}
		if r.Name == "" {
			d.errorf(f.at("name"), "missing name%s", f.in())
		} else if line, dup := first[r.Name]; dup {
			d.errorf(f.at("name"), "duplicate receiver name %q (first at line %d)", r.Name, line)
		} else {
			first[r.Name] = f.at("name").Line
		}

		keys, known := receiverKeys[r.Type]
		switch {
		case r.Type == "":
			d.errorf(f.at("type"), "missing type%s", f.in())
			out = append(out, r)
			continue
		case !known:
			d.errorf(f.at("type"), "unknown type %q%s (want %s)", r.Type, f.in(),
				orList([]string{"webhook", "slack", "pagerduty", "email", "alertmanager"}))
			out = append(out, r)
			continue
		}
		d.only(f, fmt.Sprintf("type %q", r.Type), append([]string{"name", "type"}, keys...))
		values := map[string]string{"url": r.URL, "routing_key": r.RoutingKey,
			"to": r.To, "from": r.From, "smtp": r.SMTP}
		for _, key := range receiverRequired[r.Type] {
			if values[key] == "" {
				d.errorf(f.at(key), "missing %s%s", key, f.in())
			}
		}
		// Values are not printed: urls, secrets and keys may hold tokens.
		if r.URL != "" && !validHTTPURL(r.URL) {
			d.errorf(f.at("url"), "invalid url%s (want an absolute http(s) URL)", f.in())
		}
		if r.Secret != "" && !validWebhookSecret(r.Secret) {
			d.errorf(f.at("secret"), "invalid secret%s (want whsec_ followed by base64)", f.in())
		}
		if r.SMTP != "" && !validHostPort(r.SMTP) {
			d.errorf(f.at("smtp"), "invalid smtp %q%s (want host:port)", r.SMTP, f.in())
		}
		if _, err := mail.ParseAddressList(r.To); r.To != "" && err != nil {
			d.errorf(f.at("to"), "invalid to %q%s (want email addresses)", r.To, f.in())
		}
		if _, err := mail.ParseAddress(r.From); r.From != "" && err != nil {
			d.errorf(f.at("from"), "invalid from %q%s (want an email address)", r.From, f.in())
		}
		out = append(out, r)
	}
	return out
}

// validWebhookSecret accepts the Standard Webhooks form, whsec_<base64>.
func validWebhookSecret(s string) bool {
	key, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(key)
	return err == nil && len(b) > 0
}

func (d *decoder) routes(alerting fields, receivers []Receiver) []Route {
	var out []Route
	for i, item := range d.items(alerting, "routes") {
		where := fmt.Sprintf("route #%d", i+1)
		f := d.mapping(item, where, "match", "receivers")
		if !f.ok {
			continue
		}
		route := Route{Match: map[string]string{}}

		m := d.mapping(f.vals["match"], "match of "+where, matchKeys...)
		for _, key := range matchKeys {
			if !m.has(key) {
				continue
			}
			v := d.str(m, key)
			switch key {
			case "check":
				d.checkRef(m, key, v)
			case "kind":
				if _, ok := kindKeys[check.Kind(v)]; !ok {
					d.errorf(m.at(key), "unknown kind %q%s", v, m.in())
				}
			case "severity":
				sev, err := check.ParseSeverity(v)
				if err != nil {
					d.errorf(m.at(key), "invalid severity %q%s (want INFO, WARN or CRITICAL)", v, m.in())
				}
				v = string(sev)
			}
			route.Match[key] = v
		}

		for _, n := range d.list(f, "receivers") {
			if !slices.ContainsFunc(receivers, func(r Receiver) bool { return r.Name == n.Value }) {
				d.errorf(n, "undefined receiver %q in %s", n.Value, where)
			}
			route.Receivers = append(route.Receivers, n.Value)
		}
		if len(route.Receivers) == 0 {
			d.errorf(f.at("receivers"), "missing receivers in %s", where)
		}
		out = append(out, route)
	}
	return out
}
