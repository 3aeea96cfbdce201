package probes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// HTTPSource is a URL answering JSON; JSONPath picks the timestamp (the
// newest, when it matches several).
type HTTPSource struct {
	// URL is an absolute http(s) URL answering JSON.
	URL string `yaml:"http"`
	// JSONPath picks the timestamp in the answer ($.lastEventAt); with a
	// wildcard the newest value matched.
	JSONPath string `yaml:"json_path"`
}

var httpSourceType = sourceType{
	Zero: HTTPSource{},
	Keys: []string{"http", "json_path"},
	Want: "http",
	Decode: func(src check.Fields) Source {
		s := HTTPSource{URL: src.Str("http"), JSONPath: src.Str("json_path")}
		if !ValidHTTPURL(s.URL) {
			src.Errorf("http", "invalid http URL%s (want an absolute http(s) URL)", src.In())
		}
		if urlHasPassword(s.URL) {
			src.Secret(s.URL)
		}
		if src.Has("json_path") && !strings.HasPrefix(s.JSONPath, "$") {
			src.Errorf("json_path", "invalid json_path %q%s (want a JSONPath like $.lastEventAt)", s.JSONPath, src.In())
		}
		return s
	},
}

// Subject implements Source.
func (HTTPSource) Subject() string { return "newest record" }

// Newest implements Source.
func (src HTTPSource) Newest(ctx context.Context, _ check.Spec, env *Env, timeout time.Duration) (time.Time, check.Reason, string) {
	steps, err := parseJSONPath(src.JSONPath)
	if err != nil {
		return time.Time{}, check.ReasonError, err.Error()
	}
	client := http.DefaultClient
	if env != nil && env.HTTP != nil {
		client = env.HTTP
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.URL, nil)
	if err != nil {
		return noTime(describe(ctx, "http", err, timeout))
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return noTime(describe(ctx, "http", err, timeout))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return time.Time{}, check.ReasonHTTPStatus, "http: status " + resp.Status
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return noTime(describe(ctx, "http: read body", err, timeout))
	}
	if len(body) > maxBody {
		return time.Time{}, check.ReasonError, "http: response larger than 1 MiB"
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return time.Time{}, check.ReasonNoData, "http: invalid JSON: " + err.Error()
	}
	vals, err := evalJSONPath(doc, steps)
	if err != nil {
		return time.Time{}, check.ReasonNoData, fmt.Sprintf("json_path %s: %v", src.JSONPath, err)
	}
	var newest time.Time
	for _, v := range vals {
		if v == nil {
			continue // a null among several matches; all null is reported below
		}
		t, err := timeFromValue(v)
		if err != nil {
			return time.Time{}, check.ReasonNoData, fmt.Sprintf("json_path %s: %v", src.JSONPath, err)
		}
		if t.After(newest) {
			newest = t
		}
	}
	if newest.IsZero() {
		return time.Time{}, check.ReasonNoData, fmt.Sprintf("json_path %s: value is null", src.JSONPath)
	}
	return newest, "", ""
}
