package probes

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// lr is a link result of url seen with status code (PASS for 2xx).
func lr(url string, code int) check.LinkResult {
	if code >= 200 && code < 300 {
		return check.LinkResult{URL: url, Status: check.Pass, StatusCode: code}
	}
	return check.LinkResult{URL: url, Status: check.Fail, StatusCode: code, Error: check.ReasonHTTPStatus,
		ErrorMessage: "HTTP " + http.StatusText(code)}
}

// TestCombineLocations: a link FAILs only when quorum locations see it
// fail; below that it PASSes and says where it failed; the check follows
// its links; fewer locations than the quorum is UNKNOWN.
func TestCombineLocations(t *testing.T) {
	const a, b = "https://a.example/", "https://b.example/"
	agree := map[string][]check.LinkResult{ // b fails everywhere
		"eu": {lr(a, 200), lr(b, 500)}, "us": {lr(a, 200), lr(b, 500)}, "ap": {lr(a, 200), lr(b, 503)},
	}
	oneOff := map[string][]check.LinkResult{ // b fails in eu only
		"eu": {lr(a, 200), lr(b, 500)}, "us": {lr(a, 200), lr(b, 200)}, "ap": {lr(a, 200), lr(b, 200)},
	}
	twoOff := map[string][]check.LinkResult{ // b fails in eu and us
		"eu": {lr(a, 200), lr(b, 500)}, "us": {lr(a, 200), lr(b, 502)}, "ap": {lr(a, 200), lr(b, 200)},
	}
	for _, tc := range []struct {
		name    string
		quorum  int
		reports map[string][]check.LinkResult
		check   check.Status
		b       check.Status // link b's combined status
		bCode   int
		msg     string
	}{
		{"quorum 1, agreeing", 1, agree, check.Fail, check.Fail, 503, "1 of 2 links failing (1 http_status) in 3 locations (ap, eu, us), quorum 1"},
		{"quorum 1, one location fails", 1, oneOff, check.Fail, check.Fail, 500, "1 of 2 links failing (1 http_status) in 3 locations"},
		{"quorum 2, agreeing", 2, agree, check.Fail, check.Fail, 503, "1 of 2 links failing"},
		{"quorum 2, one location fails", 2, oneOff, check.Pass, check.Pass, 200, "0 of 2 links failing in 3 locations (ap, eu, us), quorum 2; 1 failing in fewer locations than the quorum"},
		{"quorum 2, two locations fail", 2, twoOff, check.Fail, check.Fail, 500, "1 of 2 links failing"},
		{"quorum 3, agreeing", 3, agree, check.Fail, check.Fail, 503, "1 of 2 links failing"},
		{"quorum 3, two locations fail", 3, twoOff, check.Pass, check.Pass, 200, "0 of 2 links failing in 3 locations (ap, eu, us), quorum 3; 1 failing in fewer"},
		{"quorum 3, two locations report", 3, map[string][]check.LinkResult{"eu": agree["eu"], "us": agree["us"]},
			check.Unknown, check.Pass, 500, "only 2 locations (eu, us) reported, fewer than the quorum 3: failures cannot be confirmed"},
		{"quorum 2, none report", 2, map[string][]check.LinkResult{}, check.Unknown, "", 0,
			"no location reported, fewer than the quorum 2: failures cannot be confirmed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := check.Spec{Name: "links", Kind: KindLink, Severity: check.Critical, Config: LinkConfig{Quorum: tc.quorum}}
			r := CombineLocations(spec, tc.quorum, tc.reports)
			if r.Status != tc.check || !strings.Contains(r.Message, tc.msg) {
				t.Fatalf("check: %s %q, want %s containing %q", r.Status, r.Message, tc.check, tc.msg)
			}
			if len(tc.reports) == 0 {
				if len(r.Links) != 0 {
					t.Fatalf("links %v, want none", r.Links)
				}
				return
			}
			if len(r.Links) != 2 || r.Links[0].URL != a || r.Links[1].URL != b {
				t.Fatalf("links %+v, want a and b in order", r.Links)
			}
			if r.Links[0].Status != check.Pass || r.Links[0].ErrorMessage != "" {
				t.Errorf("link a: %+v, want a quiet PASS", r.Links[0])
			}
			lb := r.Links[1]
			if lb.Status != tc.b || lb.StatusCode != tc.bCode {
				t.Errorf("link b: %s %d, want %s %d", lb.Status, lb.StatusCode, tc.b, tc.bCode)
			}
			if len(lb.Locations) != len(tc.reports) {
				t.Fatalf("link b's locations %v, want one per reporting location", lb.Locations)
			}
			for loc, rs := range tc.reports {
				want := rs[1]
				got := lb.Locations[loc]
				if got.Status != want.Status || got.StatusCode != want.StatusCode || got.Error != want.Error {
					t.Errorf("link b in %s: %+v, want %s %d %q", loc, got, want.Status, want.StatusCode, want.Error)
				}
			}
			if lb.Status == check.Pass && lb.Locations["eu"].Status == check.Fail && !strings.Contains(lb.ErrorMessage, "fewer than the quorum") {
				t.Errorf("link b PASSes against eu's failure without saying so: %q", lb.ErrorMessage)
			}
		})
	}
}

// fakeLocations is LinkLocations for one replica that runs its location
// ("here") and combines, with the other locations' reports given.
type fakeLocations struct {
	mu       sync.Mutex
	runs     bool
	combines bool
	others   map[string][]check.LinkResult
	put      []check.LinkResult
}

func (f *fakeLocations) RunsHere(string) bool { return f.runs }
func (f *fakeLocations) Combines(string) bool { return f.combines }
func (f *fakeLocations) Put(_ context.Context, _ string, links []check.LinkResult) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.put = links
	return nil
}
func (f *fakeLocations) Reports(context.Context, string, time.Duration) (map[string][]check.LinkResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]check.LinkResult{}
	for k, v := range f.others {
		out[k] = v
	}
	if f.put != nil {
		out["here"] = f.put
	}
	return out, nil
}

// TestProbeLinkQuorum: a link check with quorum 2 stores what it saw from
// here and combines it with the other location; without a cluster (a
// one-shot monitor check) it checks from here and says so.
func TestProbeLinkQuorum(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	good, bad := srv.URL+"/good", srv.URL+"/bad"
	spec := check.Spec{Name: "links", Kind: KindLink, Severity: check.Critical, Timeout: 2 * time.Second,
		Config: LinkConfig{URLs: []string{good, bad}, Method: "GET", Concurrency: 2, PerHost: 2, AllowPrivate: true, Quorum: 2}}

	// The other location sees bad answer: bad FAILs (2 of 2 locations).
	locs := &fakeLocations{runs: true, combines: true, others: map[string][]check.LinkResult{"far": {lr(good, 200), lr(bad, 200)}}}
	r := ProbeLink(context.Background(), spec, &Env{Locations: locs})
	if r.Status != check.Pass || len(locs.put) != 2 || locs.put[1].Status != check.Fail {
		t.Fatalf("bad failing here only: %s %q, stored %+v; want PASS and here's FAIL stored", r.Status, r.Message, locs.put)
	}
	if got := r.Links[1].Locations; got["here"].StatusCode != 500 || got["far"].StatusCode != 200 {
		t.Errorf("bad's locations %+v, want here 500 and far 200", got)
	}
	locs.others["far"] = []check.LinkResult{lr(good, 200), lr(bad, 502)}
	if r := ProbeLink(context.Background(), spec, &Env{Locations: locs}); r.Status != check.Fail || r.Links[1].Status != check.Fail {
		t.Fatalf("bad failing in both: %s %q, want FAIL", r.Status, r.Message)
	}
	// A replica that runs its location but does not combine only stores.
	locs = &fakeLocations{runs: true}
	ProbeLink(context.Background(), spec, &Env{Locations: locs})
	if len(locs.put) != 2 {
		t.Errorf("runner stored %d links, want 2", len(locs.put))
	}
	// No cluster (monitor check): from here only, and it says so.
	if r := ProbeLink(context.Background(), spec, &Env{}); r.Status != check.Fail ||
		r.Message != "1 of 2 links failing (1 http_status) (from this process only: quorum 2 applies across the cluster's locations)" {
		t.Errorf("without a cluster: %s %q, want FAIL from here, saying so", r.Status, r.Message)
	}
}
