package probes

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// maxSourceLinks bounds how many rows a link source may return.
const maxSourceLinks = 100_000

var defaultLinkClients = sync.OnceValue(func() *LinkClients { return NewLinkClients(Guard{}) })

func (e *Env) linkClients() *LinkClients {
	if e != nil && e.Links != nil {
		return e.Links
	}
	return defaultLinkClients()
}

// KindLink is the kind link: links answering HTTP.
const KindLink check.Kind = "link"

// linkKind is the kind link: a set of links, each bounded by the timeout
// (default 4s); a whole run is bounded by the interval.
var linkKind = Kind{
	Name: KindLink,
	Keys: []string{"urls", "source", "method", "concurrency", "per_host", "fail_ratio", "valid_status_codes",
		"allow_private", "per_link_metrics", "quorum"},
	DefaultTimeout: 4 * time.Second,
	Decode:         decodeLink,
	Probe:          ProbeLink,
	Behaviour:      check.Behaviour{TimeoutStatus: check.Fail, ComponentType: "component", Items: true},
}

// LinkConfig is the configuration of a link check (check.Spec.Config). The
// links are URLs, or rows (handle, slug, destination_url) of Source.Query
// on Source.Database.
//
// The yaml tags name the check's keys (docs/config.md is generated from
// them and from these comments).
type LinkConfig struct {
	// URLs are the links to check: absolute http(s) URLs. urls or source
	// is required, not both.
	URLs []string `yaml:"urls"`
	// Source reads the links from SQL: {database, query}, the query
	// returning rows (handle, slug, destination_url).
	Source SQLSource `yaml:"source"`
	// Method is HEAD (GET fallback when HEAD answers 405/501, breaks or
	// hangs, and GET again for another 5xx) or GET.
	Method string `yaml:"method" ref:"HEAD | GET"`
	// Concurrency is how many links this check requests at once; > 0.
	Concurrency int `yaml:"concurrency"`
	// PerHost is how many links it requests at once per host (politeness);
	// > 0.
	PerHost int `yaml:"per_host"`
	// FailRatio FAILs the check when the share of failing links exceeds
	// it; 0 to 1 (0.01 = 1 %; 0 = any failing link).
	FailRatio float64 `yaml:"fail_ratio"`
	// ValidCodes are the final status codes (100 to 599) that count as
	// PASS; empty means any 2xx or 3xx.
	ValidCodes []int `yaml:"valid_status_codes"`
	// AllowPrivate lifts the SSRF guard for this check's links (loopback,
	// private and metadata addresses).
	AllowPrivate bool `yaml:"allow_private"`
	// PerLinkMetrics exports one series per link (opt-in: unbounded).
	PerLinkMetrics bool `yaml:"per_link_metrics"`
	// Quorum is how many locations must see a link fail before it is FAIL
	// (like synthetic monitoring confirming failures from several
	// regions); default 1. Above 1 it needs cluster mode: the check then
	// runs in every location that has a live replica (cluster.location),
	// and is UNKNOWN while fewer than quorum locations report (monitor
	// check, a one-shot run, checks from where it runs and says so).
	Quorum int `yaml:"quorum"`
}

// PerItemMetrics tells whether the check exports one series per link
// (check.Spec.PerItemMetrics).
func (c LinkConfig) PerItemMetrics() bool { return c.PerLinkMetrics }

// LinkConfigOf is spec's LinkConfig; ok is false when spec is not a link
// check.
func LinkConfigOf(spec check.Spec) (LinkConfig, bool) {
	c, ok := spec.Config.(LinkConfig)
	return c, ok
}

// MaxQuorum bounds a link check's quorum: locations that must agree.
const MaxQuorum = 16

func decodeLink(f check.Fields) any {
	method := f.Str("method")
	c := LinkConfig{
		Method:         strings.ToUpper(method),
		Concurrency:    f.Int("concurrency", DefaultLinkConcurrency),
		PerHost:        f.Int("per_host", DefaultLinkPerHost),
		FailRatio:      f.Float("fail_ratio", 0),
		AllowPrivate:   f.Bool("allow_private"),
		PerLinkMetrics: f.Bool("per_link_metrics"),
		Quorum:         f.Int("quorum", 1),
	}
	clustered, location := f.Cluster()
	switch {
	case c.Quorum < 1:
		f.Errorf("quorum", "quorum must be ≥ 1%s", f.In())
	case c.Quorum > MaxQuorum:
		f.Errorf("quorum", "quorum %d%s is more than %d locations", c.Quorum, f.In(), MaxQuorum)
	case c.Quorum > 1 && !clustered:
		f.Errorf("quorum", "quorum %d%s needs cluster mode (cluster.enabled: true, replicas in at least %d locations); without it, use 1",
			c.Quorum, f.In(), c.Quorum)
	case c.Quorum > 1 && location == "":
		f.Errorf("quorum", "quorum %d%s needs cluster.location on this replica (the quorum counts locations)", c.Quorum, f.In())
	}
	for i, u := range f.List("urls") {
		if !ValidHTTPURL(u) {
			f.ErrorfItem("urls", i, "invalid URL %q%s (want an absolute http(s) URL)", shownURL(u), f.In())
		}
		c.URLs = append(c.URLs, u)
	}
	for i, v := range f.List("valid_status_codes") {
		code, err := strconv.Atoi(v)
		if err != nil || code < 100 || code > 599 {
			f.ErrorfItem("valid_status_codes", i, "invalid status code %q%s (want 100 to 599)", v, f.In())
			continue
		}
		c.ValidCodes = append(c.ValidCodes, code)
	}
	switch {
	case f.Has("urls") && f.Has("source"):
		f.Errorf("source", "urls and source%s exclude each other (want one)", f.In())
	case f.Has("source"):
		src, ok := f.Map("source", "source of "+f.Where(), "database", "query")
		if !ok {
			break
		}
		c.Source = decodeSQLSource(src)
	case len(c.URLs) == 0:
		f.Errorf("urls", "missing urls or source%s", f.In())
	}
	switch c.Method {
	case "":
		c.Method = "HEAD"
	case "HEAD", "GET":
	default:
		f.Errorf("method", "invalid method %q%s (want HEAD or GET)", method, f.In())
	}
	if c.Concurrency < 1 {
		f.Errorf("concurrency", "concurrency must be > 0%s", f.In())
	}
	if c.PerHost < 1 {
		f.Errorf("per_host", "per_host must be > 0%s", f.In())
	}
	if c.FailRatio < 0 || c.FailRatio > 1 {
		f.Errorf("fail_ratio", "invalid fail_ratio %s%s (want a number from 0 to 1)", f.Raw("fail_ratio"), f.In())
	}
	return c
}

// ProbeLink checks a set of links (kind: link): the check's urls, or the
// rows of its SQL source. It is PASS while the failing share is at most
// fail_ratio; the observed value is the number of failing links, and every
// link's own result travels in Result.Links.
func ProbeLink(ctx context.Context, spec check.Spec, env *Env) check.Result {
	if c, _ := LinkConfigOf(spec); c.Quorum > 1 {
		return probeLinkQuorum(ctx, spec, env, c.Quorum)
	}
	return probeLinkHere(ctx, spec, env)
}

// probeLinkHere checks the links from this process.
func probeLinkHere(ctx context.Context, spec check.Spec, env *Env) check.Result {
	targets, err := LinkTargets(ctx, spec, env)
	if err != nil {
		return failed(spec.UnknownResult("link source: "+env.redact(err.Error())), check.ReasonQuery)
	}
	if len(targets) == 0 {
		r := spec.PassResult("no links to check")
		r.ObservedValue, r.ObservedUnit = check.Value(0), "links"
		return r
	}
	c, _ := LinkConfigOf(spec)
	checker := env.linkClients().Checker(c.AllowPrivate, LinkOptions{
		Timeout: spec.Timeout, Concurrency: c.Concurrency, PerHost: c.PerHost,
		Method: c.Method, ValidCodes: c.ValidCodes,
		AllowHint: "set allow_private: true on check " + spec.Name + " to allow it",
	})
	now := env.now()
	results := make([]check.LinkResult, len(targets))
	checker.Check(ctx, targets, func(i int, r check.LinkResult) {
		r.Check, r.CheckedAt = spec.Name, now
		results[i] = r
	})
	return SummarizeLinks(spec, results)
}

// SummarizeLinks folds link results into the check's result.
func SummarizeLinks(spec check.Spec, results []check.LinkResult) check.Result {
	kinds := map[check.Reason]int{}
	failing := 0
	for _, r := range results {
		if r.Status != check.Pass {
			failing++
			kinds[r.Error]++
		}
	}
	noun := "links"
	if len(results) == 1 {
		noun = "link"
	}
	msg := fmt.Sprintf("%s of %s %s failing", thousands(failing), thousands(len(results)), noun)
	var top check.Reason // the commonest reason links fail for
	if failing > 0 {
		names := make([]check.Reason, 0, len(kinds))
		for k := range kinds {
			names = append(names, k)
		}
		slices.SortFunc(names, func(a, b check.Reason) int {
			if kinds[a] != kinds[b] {
				return kinds[b] - kinds[a]
			}
			return strings.Compare(string(a), string(b))
		})
		parts := make([]string, len(names))
		for i, k := range names {
			parts[i] = fmt.Sprintf("%s %s", thousands(kinds[k]), k)
		}
		msg += " (" + strings.Join(parts, ", ") + ")"
		top = names[0]
	}
	var r check.Result
	c, _ := LinkConfigOf(spec)
	if float64(failing) > c.FailRatio*float64(len(results)) {
		r = failed(spec.FailResult(msg), top)
	} else {
		r = spec.PassResult(msg)
	}
	r.ObservedValue, r.ObservedUnit = check.Value(float64(failing)), "links"
	r.Links = results
	return r
}

// LinkTargets lists a link check's links: its urls, or the rows of its SQL
// source, as (handle, slug, destination_url) or a single URL column.
func LinkTargets(ctx context.Context, spec check.Spec, env *Env) ([]LinkTarget, error) {
	c, _ := LinkConfigOf(spec)
	if len(c.URLs) > 0 {
		out := make([]LinkTarget, len(c.URLs))
		for i, u := range c.URLs {
			out[i] = LinkTarget{URL: u}
		}
		return out, nil
	}
	if c.Source.Query == "" {
		return nil, nil
	}
	if env == nil || env.Pool == nil {
		return nil, fmt.Errorf("no database pool configured")
	}
	db, _, err := env.Pool.SQL(c.Source.Database)
	if err != nil {
		return nil, err
	}
	return queryLinks(ctx, db, c.Source.Query)
}

func queryLinks(ctx context.Context, db *sql.DB, query string) ([]LinkTarget, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if len(cols) != 1 && len(cols) != 3 {
		return nil, fmt.Errorf("query returns %d columns, want (handle, slug, destination_url) or (url)", len(cols))
	}
	var out []LinkTarget
	for rows.Next() {
		if len(out) == maxSourceLinks {
			return nil, fmt.Errorf("query returns more than %s links", thousands(maxSourceLinks))
		}
		var t LinkTarget
		var handle, slug, u sql.NullString
		if len(cols) == 3 {
			err = rows.Scan(&handle, &slug, &u)
		} else {
			err = rows.Scan(&u)
		}
		if err != nil {
			return nil, err
		}
		if !u.Valid || strings.TrimSpace(u.String) == "" {
			continue
		}
		t.URL, t.Handle, t.Slug = strings.TrimSpace(u.String), handle.String, slug.String
		out = append(out, t)
	}
	return out, rows.Err()
}

// thousands writes n with comma separators: 1,204.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
