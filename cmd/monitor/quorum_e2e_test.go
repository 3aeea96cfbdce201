package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/internal/testenv"
)

// quorumConfig is one replica's config for TestE2ELinkQuorum: location
// %s, link checks on the target %s.
const quorumConfig = `server:
  listen: "%s"
storage:
  dsn: "%s"
cluster:
  enabled: true
  location: %s
  lease_ttl: 3s
defaults: { interval: 1s, timeout: 500ms }
checks:
  - { name: links, kind: link, urls: ["%[4]s/ok", "%[4]s/flaky"], quorum: 2, method: GET, allow_private: true }
  - { name: broken, kind: link, urls: ["%[4]s/ok", "%[4]s/down"], quorum: 2, method: GET, allow_private: true }
  - { name: strict, kind: link, urls: ["%[4]s/ok"], quorum: 3, method: GET, allow_private: true }
  - { name: plain, kind: link, urls: ["%[4]s/down?token=s3cret", "%[4]s/ok"], method: GET, allow_private: true }
`

// pidOfPeer returns which of pids holds the client end of a loopback
// connection whose client address is remote (Linux: the socket's inode in
// /proc/net/tcp, then the processes' fds), or 0.
func pidOfPeer(remote string, pids []int) int {
	_, port, err := net.SplitHostPort(remote)
	if err != nil {
		return 0
	}
	p, _ := strconv.Atoi(port)
	want := fmt.Sprintf("0100007F:%04X", p)
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return 0
	}
	defer f.Close()
	inode := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 9 && fs[1] == want {
			inode = fs[9]
		}
	}
	if inode == "" {
		return 0
	}
	link := "socket:[" + inode + "]"
	for _, pid := range pids {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if l, _ := os.Readlink(filepath.Join(dir, e.Name())); l == link {
				return pid
			}
		}
	}
	return 0
}

// quorumLink is one link of GET /v2/links, with its per-location results.
type quorumLink struct {
	URL          string `json:"url"`
	Status       string `json:"status"`
	StatusCode   int    `json:"statusCode"`
	Check        string `json:"check"`
	ErrorMessage string `json:"errorMessage"`
	Locations    map[string]struct {
		Status     string `json:"status"`
		StatusCode int    `json:"statusCode"`
		Error      string `json:"error"`
	} `json:"locations"`
}

// linksBody is GET /v2/links's answer.
type linksBody struct {
	Results []quorumLink `json:"results"`
}

// TestE2ELinkQuorum runs 3 replicas in 3 locations (eu, us, ap) on one
// PostgreSQL store against a loopback target whose /flaky fails for the
// eu replica only and whose /down fails for all: with quorum 2, /flaky
// stays PASS (eu's failure visible in GET /v2/links and in
// monitor_link_location_failures) and /down FAILs; every replica serves
// every check's per-link results in GET /v2/links (the results feed
// carries them), a plain link check's too, its URLs redacted; a quorum 3
// check goes UNKNOWN when a location dies, rather than passing
// unconfirmed.
func TestE2ELinkQuorum(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresSchema(t)
	var (
		mu     sync.Mutex
		euPID  int
		pids   []int
		flakyN = map[string]int{} // requests of /flaky by outcome
	)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/flaky":
			mu.Lock()
			eu, all := euPID, pids
			mu.Unlock()
			if pid := pidOfPeer(r.RemoteAddr, all); pid != 0 && pid == eu {
				w.WriteHeader(http.StatusInternalServerError)
				mu.Lock()
				flakyN["eu 500"]++
				mu.Unlock()
				return
			}
			mu.Lock()
			flakyN["other 200"]++
			mu.Unlock()
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(target.Close)

	var rs []*replica
	for _, loc := range []string{"eu", "us", "ap"} {
		dir := t.TempDir()
		cfgPath := filepath.Join(dir, "config.yaml")
		p := startMonitor(t, dir, func(listen string) (string, string) {
			return cfgPath, fmt.Sprintf(quorumConfig, listen, dsn, loc, target.URL)
		}, []string{"--config", cfgPath})
		mu.Lock()
		pids = append(pids, p.cmd.Process.Pid)
		if loc == "eu" {
			euPID = p.cmd.Process.Pid
		}
		mu.Unlock()
		rs = append(rs, &replica{proc: p, name: loc})
	}

	links := func(r *replica) linksBody {
		t.Helper()
		resp, b := r.do(http.MethodGet, "/v2/links", nil, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v2/links on %s: %d %s", r.name, resp.StatusCode, b)
		}
		var lb linksBody
		if err := json.Unmarshal(b, &lb); err != nil {
			t.Fatalf("GET /v2/links on %s: %v: %s", r.name, err, b)
		}
		return lb
	}
	// Every replica serves the combined statuses and every check's
	// per-link results, with all three locations: the holder's own, the
	// others' through the results feed (store.Options.ShareLinks). Waited
	// for on all of them at once: eu's 500 on /flaky relies on telling
	// eu's requests apart (pidOfPeer), which a loaded machine may miss in
	// a run.
	flakyOK := func(l quorumLink) bool {
		return l.Status == "PASS" && l.Locations["eu"].Status == "FAIL" && l.Locations["eu"].StatusCode == 500 &&
			l.Locations["us"].Status == "PASS" && l.Locations["ap"].StatusCode == 200 &&
			strings.Contains(l.ErrorMessage, "failing in 1 of 3 locations (eu), fewer than the quorum 2")
	}
	var byURL map[string]quorumLink
	eventually(t, 20*time.Second, "combined results of 3 locations", func() (bool, string) {
		for _, r := range rs {
			h, _, _ := r.health()
			lk, _ := h.find("links")
			br, _ := h.find("broken")
			st, _ := h.find("strict")
			if lk.Status != "PASS" || br.Status != "FAIL" || st.Status != "PASS" || !strings.Contains(lk.Message, "in 3 locations (ap, eu, us), quorum 2") {
				return false, fmt.Sprintf("on %s: links %s %q, broken %s %q, strict %s %q", r.name, lk.Status, lk.Message, br.Status, br.Message, st.Status, st.Message)
			}
		}
		for _, r := range rs {
			byURL = map[string]quorumLink{}
			for _, l := range links(r).Results {
				if l.Check != "plain" && len(l.Locations) != 3 {
					return false, fmt.Sprintf("%s %s on %s: locations %v", l.Check, l.URL, r.name, l.Locations)
				}
				byURL[l.Check+" "+strings.TrimPrefix(l.URL, target.URL)] = l
			}
			if len(byURL) != 7 {
				return false, fmt.Sprintf("links served on %s: %d, want 7 (%v)", r.name, len(byURL), slices.Collect(maps.Keys(byURL)))
			}
			if down := byURL["plain /down?token=***"]; down.Status != "FAIL" || down.StatusCode != 503 {
				return false, fmt.Sprintf("plain /down on %s: %+v, want FAIL 503, its token redacted (%v)", r.name, down, slices.Collect(maps.Keys(byURL)))
			}
			if flaky := byURL["links /flaky"]; !flakyOK(flaky) {
				return false, fmt.Sprintf("/flaky on %s: %+v, want PASS with eu's 500 visible", r.name, flaky)
			}
		}
		return true, ""
	})
	down := byURL["broken /down"]
	if down.Status != "FAIL" || down.StatusCode != 503 || len(down.Locations) != 3 {
		t.Errorf("/down: %+v, want FAIL 503 from all 3 locations", down)
	}
	mu.Lock()
	t.Logf("/flaky requests: %v", flakyN)
	if flakyN["eu 500"] == 0 || flakyN["other 200"] == 0 {
		t.Errorf("/flaky requests %v: want both eu's and the others'", flakyN)
	}
	mu.Unlock()

	// Metrics: the holder of links says eu sees 1 failing link, us and ap 0.
	eventually(t, 5*time.Second, "monitor_link_location_failures of links on its holder", func() (bool, string) {
		var got []string
		for _, r := range rs {
			for _, s := range r.metrics(t).find("monitor_link_location_failures") {
				if s.labels["check"] == "links" {
					got = append(got, fmt.Sprintf("%s:%s=%v", r.name, s.labels["location"], s.value))
				}
			}
		}
		// One replica exports all three locations.
		want := 0
		for _, g := range got {
			if strings.HasSuffix(g, ":eu=1") || strings.HasSuffix(g, ":us=0") || strings.HasSuffix(g, ":ap=0") {
				want++
			}
		}
		return len(got) == 3 && want == 3, strings.Join(got, " ")
	})

	// ap dies (kill -9): strict (quorum 3) cannot be confirmed any more.
	rs[2].kill()
	eventually(t, 15*time.Second, "strict UNKNOWN with 2 locations left", func() (bool, string) {
		h, _, _ := rs[0].health()
		st, _ := h.find("strict")
		lk, _ := h.find("links")
		return st.Status == "UNKNOWN" && strings.Contains(st.Message, "only 2 locations (eu, us) reported, fewer than the quorum 3") &&
			lk.Status == "PASS", fmt.Sprintf("strict %s %q, links %s %q", st.Status, st.Message, lk.Status, lk.Message)
	})
}
