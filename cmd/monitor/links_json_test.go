package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// appendLinkJSON writes what json.MarshalIndent writes, for every field of
// check.LinkResult (a field added to it and not to appendLinkJSON fails
// the "every field" case) and for strings and numbers that need escaping or
// the exponent form.
func TestLinksJSONMatchesEncodingJSON(t *testing.T) {
	// Every field set, by reflection: strings, ints, floats, slices, maps, times.
	var all check.LinkResult
	fill(t, reflect.ValueOf(&all).Elem(), "x")
	when := time.Date(2026, 11, 30, 4, 5, 6, 789000000, time.UTC)
	cases := map[string]check.LinkResult{
		"zero":        {},
		"every field": all,
		"pass": {URL: "https://example.com/a?b=c", Status: check.Pass, StatusCode: 200, Method: "HEAD",
			FinalURL: "https://example.com/a?b=c", DurationMs: 12.345},
		"fail": {URL: "http://127.0.0.1:1/", Status: check.Fail, Method: "HEAD", FinalURL: "http://127.0.0.1:1/",
			DurationMs: 0.001, Error: check.LinkErrConnect, ErrorMessage: "connect: connection refused"},
		"redirects": {URL: "http://a/", Status: check.Pass, StatusCode: 200, Method: "GET", FinalURL: "http://c/",
			DurationMs: 1, Redirects: []check.Hop{{URL: "http://a/", StatusCode: 301}, {URL: "http://b/", StatusCode: 308}},
			Check: "site_links", Handle: "h", Slug: "s", CheckedAt: when},
		"escapes": {URL: "http://h/<a>&\"q\"\\", ErrorMessage: "tab\there\nnl \x01 \x7f \u2028 \u2029 é \xff\xfe end",
			FinalURL: "http://h/%3Cb%3E", Handle: "ünïcode", Slug: "</script>"},
		"float -0":    {DurationMs: math.Copysign(0, -1)},
		"float tiny":  {DurationMs: 1e-7},
		"float 1e-6":  {DurationMs: 1e-6},
		"float big":   {DurationMs: 1e21},
		"float large": {DurationMs: 123456789012.5},
		"other time":  {CheckedAt: when.In(time.FixedZone("X", 3600))},
	}
	for name, r := range cases {
		want, wantErr := json.MarshalIndent(r, "    ", "  ")
		got, err := appendLinkJSON([]byte("prefix"), r)
		if err != nil || wantErr != nil {
			t.Errorf("%s: error %v, encoding/json %v", name, err, wantErr)
			continue
		}
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("%s:\ngot  %s\nwant prefix%s", name, got, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1)} {
		if _, err := appendLinkJSON(nil, check.LinkResult{DurationMs: f}); err == nil {
			t.Errorf("durationMs %v: no error (encoding/json refuses it)", f)
		}
	}
}

// fill sets every field of v to a non-zero value.
func fill(t *testing.T, v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s + "-" + v.Type().Name())
	case reflect.Int, reflect.Int64:
		v.SetInt(301)
	case reflect.Float64:
		v.SetFloat(2.5)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(t, v.Index(i), fmt.Sprintf("%s%d", s, i))
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for i := range 2 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(t, k, fmt.Sprintf("%s%d", s, i))
			fill(t, e, fmt.Sprintf("%s%d", s, i))
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)))
			return
		}
		for i := range v.NumField() {
			fill(t, v.Field(i), s+v.Type().Field(i).Name)
		}
	default:
		t.Fatalf("fill: a field of kind %s: teach fill and appendLinkJSON about it", v.Kind())
	}
}

// monitor links --format json writes, in input order, the document
// encoding/json writes for its results, while they come in.
func TestLinksJSONOutput(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/slow"):
			time.Sleep(30 * time.Millisecond) // answers come in over several ticks, out of order
		case r.URL.Path == "/moved":
			http.Redirect(w, r, "/", http.StatusMovedPermanently)
			return
		case r.URL.Path == "/missing":
			http.NotFound(w, r)
			return
		}
	}))
	t.Cleanup(srv.Close)
	var in strings.Builder
	var urls []string
	for i := range 60 {
		u := fmt.Sprintf("%s/%d", srv.URL, i)
		switch i % 4 {
		case 1:
			u = fmt.Sprintf("%s/slow/%d", srv.URL, i)
		case 2:
			u = srv.URL + "/moved"
		case 3:
			u = srv.URL + "/missing"
		}
		urls = append(urls, u)
		fmt.Fprintln(&in, u)
	}
	in.WriteString("http://127.0.0.1:1/<refused>&\n")
	urls = append(urls, "http://127.0.0.1:1/<refused>&")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := Main(ctx, []string{"links", "--allow-private", "--format", "json", "--concurrency", "8", "-"},
		strings.NewReader(in.String()), &out, &errOut)
	if code != exitFail {
		t.Fatalf("exit %d, want %d (some links fail): %s", code, exitFail, errOut.String())
	}
	var doc struct {
		Results []check.LinkResult `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if len(doc.Results) != len(urls) {
		t.Fatalf("%d results for %d links", len(doc.Results), len(urls))
	}
	for i, r := range doc.Results {
		if r.URL != urls[i] {
			t.Fatalf("result %d is for %s, want %s (input order)", i, r.URL, urls[i])
		}
		wantStatus := check.Pass
		if strings.Contains(r.URL, "missing") || strings.Contains(r.URL, "refused") {
			wantStatus = check.Fail
		}
		if r.Status != wantStatus || strings.HasSuffix(r.URL, "/moved") && len(r.Redirects) != 1 {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		t.Errorf("output differs from encoding/json's:\n%s\nwant:\n%s", out.String(), want.String())
	}

	// No link at all: an empty list.
	out.Reset()
	if code := Main(ctx, []string{"links", "--format", "json", "-"}, strings.NewReader(""), &out, &errOut); code != exitOK ||
		out.String() != "{\n  \"results\": []\n}\n" {
		t.Errorf("no links: exit %d, output %q", code, out.String())
	}
}
