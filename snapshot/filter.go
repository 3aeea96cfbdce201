package snapshot

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/monitor-dev/monitor/check"
)

// gzipLevel is the level of the health bodies' gzip copies, chosen by
// measurement (bench/health BenchmarkGzipLevels, in bench/README.md): on
// the 2.2 MB body of 10,000 checks, level 2 compresses 20× in ~5 ms, faster
// than level 1 (19.5×, ~8 ms) and a third of the default level's time
// (23×, ~15 ms); level 9 takes ~48 ms for 25×.
const gzipLevel = 2

var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzipLevel)
	return zw
}}

// Gzip returns the gzip copy of r.Body and its strong ETag (r.ETag with
// "-gzip": another representation, another tag), compressed once per body;
// nil when compression would not make it smaller.
func (r *Rendered) Gzip() ([]byte, string) {
	if r.noGzip {
		return nil, ""
	}
	r.gzOnce.Do(func() {
		var b bytes.Buffer
		b.Grow(len(r.Body)/8 + 64)
		zw := gzipWriters.Get().(*gzip.Writer)
		zw.Reset(&b)
		_, _ = zw.Write(r.Body)
		err := zw.Close()
		zw.Reset(nil)
		gzipWriters.Put(zw)
		if err == nil && b.Len() < len(r.Body) {
			r.gz = b.Bytes()
			r.gzETag = strings.TrimSuffix(r.ETag, `"`) + `-gzip"`
		}
	})
	return r.gz, r.gzETag
}

// etag is the strong ETag of a body answered with code: the code and a
// hash of the bytes, so that the same bytes under another status never
// share a tag.
func etag(code int, body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + strconv.Itoa(code) + "-" + hex.EncodeToString(sum[:12]) + `"`
}

// Filter picks checks of a health body. Within a field any value matches;
// fields combine with AND; an empty field does not filter.
type Filter struct {
	Statuses   []check.Status
	Components []string
	// Checks are names or path.Match patterns ("orders_*").
	Checks []string
}

// IsZero reports whether f filters nothing out.
func (f Filter) IsZero() bool {
	return len(f.Statuses) == 0 && len(f.Components) == 0 && len(f.Checks) == 0
}

// key identifies the filter's meaning: values sorted, without duplicates,
// each with its length so that no value can pass for two.
func (f Filter) key() string {
	var b strings.Builder
	for i, vals := range [][]string{statusStrings(f.Statuses), f.Components, f.Checks} {
		vals = slices.Compact(slices.Sorted(slices.Values(vals)))
		fmt.Fprintf(&b, "%d:%d;", i, len(vals))
		for _, v := range vals {
			fmt.Fprintf(&b, "%d:%s", len(v), v)
		}
	}
	return b.String()
}

func statusStrings(st []check.Status) []string {
	out := make([]string, len(st))
	for i, s := range st {
		out[i] = string(s)
	}
	return out
}

// HasComponent reports whether a check of r feeds the component name.
func (r *Rendered) HasComponent(name string) bool {
	for _, e := range r.entries {
		if e.component == name {
			return true
		}
	}
	return false
}

// NoMatchError is a filter value that names nothing configured: a
// component no check feeds, or a check name (not a pattern) no check has.
// A filter that matches no check because of statuses or patterns is no
// error: its answer lists no check.
type NoMatchError struct {
	Param, Value string
}

func (e *NoMatchError) Error() string {
	if e.Param == "component" {
		return "no check feeds component " + strconv.Quote(e.Value)
	}
	return "no check named " + strconv.Quote(e.Value)
}

// maxCachedFilters bounds the filtered answers kept per rendered body, and
// their bytes together at most the body's own size; past either, answers
// are built per request and served without a gzip copy, so that a client
// cycling through filters costs neither memory nor compression.
const maxCachedFilters = 32

type filterCache struct {
	mu    sync.Mutex
	m     map[string]*Rendered
	bytes int
}

// Filter returns the body with only the checks f picks, in name order, in
// the same envelope: the top-level status and severity, and the answer's
// code, stay the whole platform's, so that a filtered poll never hides a
// failure elsewhere. It is built from r's own bytes (no rendering), with
// its own ETag, and kept with r for the next request with the same
// filter. Patterns must be valid path.Match patterns.
func (r *Rendered) Filter(f Filter) (*Rendered, error) {
	if f.IsZero() {
		return r, nil
	}
	if r.filtered {
		return nil, errors.New("snapshot: a filtered answer cannot be filtered again")
	}
	key := f.key()
	r.filters.mu.Lock()
	out, ok := r.filters.m[key]
	r.filters.mu.Unlock()
	if ok {
		return out, nil
	}
	out, err := r.filter(f)
	if err != nil {
		return nil, err
	}
	r.filters.mu.Lock()
	defer r.filters.mu.Unlock()
	if prev, ok := r.filters.m[key]; ok {
		return prev, nil // built meanwhile: one answer, one ETag
	}
	if len(r.filters.m) >= maxCachedFilters || r.filters.bytes+len(out.Body) > len(r.Body) {
		out.noGzip = true
		return out, nil
	}
	if r.filters.m == nil {
		r.filters.m = make(map[string]*Rendered)
	}
	r.filters.m[key] = out
	r.filters.bytes += len(out.Body)
	return out, nil
}

func (r *Rendered) filter(f Filter) (*Rendered, error) {
	for _, p := range f.Checks {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("check %q: %w", p, err)
		}
	}
	seenComp := make([]bool, len(f.Components))
	seenName := make([]bool, len(f.Checks))
	picked := make([]int, 0, 64)
	size := r.head + len(r.Body) - r.tail
	for i, e := range r.entries {
		ok := true
		if len(f.Components) > 0 {
			// Every equal value is seen: a repeated component is no
			// component no check feeds.
			match := false
			for j, c := range f.Components {
				if c == e.component {
					seenComp[j], match = true, true
				}
			}
			ok = match
		}
		if len(f.Checks) > 0 {
			match := false
			for j, p := range f.Checks {
				if p == e.name {
					seenName[j] = true
				}
				if m, _ := path.Match(p, e.name); m {
					match = true
				}
			}
			ok = ok && match
		}
		if ok && (len(f.Statuses) == 0 || slices.Contains(f.Statuses, e.status)) {
			picked = append(picked, i)
			size += int(e.end-e.start) + 1
		}
	}
	for j, seen := range seenComp {
		if !seen {
			return nil, &NoMatchError{Param: "component", Value: f.Components[j]}
		}
	}
	for j, seen := range seenName {
		if !seen && !strings.ContainsAny(f.Checks[j], `*?[\`) {
			return nil, &NoMatchError{Param: "check", Value: f.Checks[j]}
		}
	}
	body := make([]byte, 0, size)
	body = append(body, r.Body[:r.head]...)
	for n, i := range picked {
		if n > 0 {
			body = append(body, ',')
		}
		e := r.entries[i]
		body = append(body, r.Body[e.start:e.end]...)
	}
	body = append(body, r.Body[r.tail:]...)
	return &Rendered{Body: body, Code: r.Code, ETag: etag(r.Code, body), filtered: true,
		version: r.version, builtAt: r.builtAt}, nil
}
