package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/internal/testenv"
)

// clusterConfig is one replica's config: the shared PostgreSQL store
// (through the replica's own proxy, so that it can be cut off), lease TTL
// 3s, 30 db checks at 1s on the same database, a check "flag" that fails
// while the table cluster_flag is missing, a heartbeat check, and a
// webhook receiver for flag's alerts only.
const clusterConfig = `server:
  listen: "%s"
storage:
  dsn: "%s"
cluster:
  enabled: true
  location: %s
  lease_ttl: 3s
databases:
  pg: { dsn: "%s" }
defaults: { interval: 1s, timeout: 500ms }
checks:
%s  - { name: flag, kind: db, database: pg, query: "SELECT ok FROM cluster_flag", severity: CRITICAL }
  - { name: beat, kind: freshness, source: { heartbeat: true }, max_age: 1h }
alerting:
  failure_threshold: 1
  success_threshold: 1
  receivers:
    - { name: oncall, type: webhook, url: "%s" }
  routes:
    - { match: { check: flag }, receivers: [oncall], group_wait: 0s, group_interval: 1s }
`

// clusterChecks are the names of the checks of clusterConfig.
func clusterChecks() []string {
	var names []string
	for i := range 30 {
		names = append(names, fmt.Sprintf("c%02d", i))
	}
	return append(names, "flag", "beat")
}

// webhookCounter is an on-call receiver that counts notifications by
// webhook-id (the idempotency key) and the status of each alert.
type webhookCounter struct {
	mu   sync.Mutex
	seen map[string]int // webhook-id → deliveries
	got  []string       // "<alert id> <status>" of each new webhook-id
	log  []string       // "<time> <webhook-id> <alert id> <status>" of every delivery
}

func (h *webhookCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var p struct {
		Alerts []struct{ ID, Status string } `json:"alerts"`
	}
	_ = json.Unmarshal(body, &p)
	id := r.Header.Get("webhook-id")
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen[id]++
	for _, a := range p.Alerts {
		h.log = append(h.log, time.Now().Format("15:04:05.000")+" "+id+" "+a.ID+" "+a.Status)
	}
	if h.seen[id] == 1 {
		for _, a := range p.Alerts {
			h.got = append(h.got, a.ID+" "+a.Status)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// count is how many distinct notifications told alert id in status.
func (h *webhookCounter) count(id, status string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(slices.DeleteFunc(slices.Clone(h.got), func(s string) bool { return s != id+" "+status }))
}

func (h *webhookCounter) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return fmt.Sprintf("%q (deliveries by webhook-id: %v; in order: %q)", h.got, h.seen, h.log)
}

// replica is one daemon of the cluster with its database proxy.
type replica struct {
	*proc
	name  string
	proxy *testenv.TCPProxy
	start func() *proc // starts it (again)
}

// metrics scrapes the replica's /metrics.
func (r *replica) metrics(t *testing.T) metricSet {
	t.Helper()
	_, b := r.do(http.MethodGet, "/metrics", nil, "")
	return parseMetrics(t, string(b))
}

// runs returns the replica's own run count of each check.
func (r *replica) runs(t *testing.T) map[string]float64 {
	out := map[string]float64{}
	for _, s := range r.metrics(t).find("monitor_check_runs_total") {
		out[s.labels["check"]] += s.value
	}
	return out
}

// eventually polls cond every 50ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, detail := cond()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("after %s still not %s: %s", timeout, what, detail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestE2EClusterReplicas runs 3 replicas on one PostgreSQL store (issue
// 14): each check runs on exactly one replica at a time and every replica
// serves all of them; a heartbeat pushed to any replica reaches the
// check's owner; kill -9 of the leader moves its checks and leadership
// within the lease TTL plus an interval, without paging a firing alert
// again, and its resolution arrives once; a replica cut off PostgreSQL
// stops running checks, says so on /readyz and in its log, and rejoins.
func TestE2EClusterReplicas(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresSchema(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	exec1(t, db, "CREATE TABLE cluster_flag (ok int); INSERT INTO cluster_flag VALUES (1)")

	hooks := &webhookCounter{seen: map[string]int{}}
	rcv := httptest.NewServer(hooks)
	t.Cleanup(rcv.Close)
	var checkLines strings.Builder
	for _, n := range clusterChecks()[:30] {
		fmt.Fprintf(&checkLines, "  - { name: %s, kind: db, database: pg, query: SELECT 1 }\n", n)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var rs []*replica
	for _, name := range []string{"a", "b", "c"} {
		dir := t.TempDir()
		proxy := testenv.StartTCPProxy(t, u.Host)
		pu := *u
		pu.Host = proxy.Addr()
		cfgPath := filepath.Join(dir, "config.yaml")
		start := func() *proc {
			return startMonitor(t, dir, func(listen string) (string, string) {
				return cfgPath, fmt.Sprintf(clusterConfig, listen, pu.String(), "zone-"+name, dsn, checkLines.String(), rcv.URL)
			}, []string{"--config", cfgPath})
		}
		rs = append(rs, &replica{proc: start(), name: name, proxy: proxy, start: start})
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("webhook receiver: %s", hooks)
		}
	})
	all := clusterChecks()

	// Every replica lists every check with a result, its own or fed.
	for _, r := range rs {
		r.waitHealth(15*time.Second, "every check run, on "+r.name, allRan(all[:31]...))
	}
	// Ownership settles: every check held by one replica, one leader.
	leaderOf := func(live []*replica) (*replica, string) {
		var leaders []*replica
		owned := 0.0
		for _, r := range live {
			m := r.metrics(t)
			if m.get(t, "monitor_cluster_leader") == 1 {
				leaders = append(leaders, r)
			}
			owned += m.get(t, "monitor_cluster_owned_checks")
		}
		if len(leaders) != 1 || owned != float64(len(all)) {
			return nil, fmt.Sprintf("%d leaders, %v checks owned in all (want 1 and %d)", len(leaders), owned, len(all))
		}
		return leaders[0], ""
	}
	var leader *replica
	eventually(t, 10*time.Second, "one leader and every check owned once", func() (bool, string) {
		var why string
		leader, why = leaderOf(rs)
		return leader != nil, why
	})

	// Exactly one replica runs each check: over 2.5 s, each check's runs
	// grew on one replica only.
	owners := func(live []*replica, window time.Duration) map[string][]string {
		before := make([]map[string]float64, len(live))
		for i, r := range live {
			before[i] = r.runs(t)
		}
		time.Sleep(window)
		out := map[string][]string{}
		for i, r := range live {
			for name, n := range r.runs(t) {
				if n > before[i][name] {
					out[name] = append(out[name], r.name)
				}
			}
		}
		return out
	}
	own := owners(rs, 2500*time.Millisecond)
	for _, name := range all[:31] {
		if len(own[name]) != 1 {
			t.Errorf("check %s ran on %v in 2.5s, want exactly one replica", name, own[name])
		}
	}
	// A replica's /metrics exports the state of the checks it owns only.
	exported := 0
	for _, r := range rs {
		exported += len(r.metrics(t).find("monitor_check_status", "status", "PASS"))
	}
	if exported < len(all)-2 || exported > len(all)+2 {
		t.Errorf("monitor_check_status exported for %d checks across replicas, want about %d (each by its owner)", exported, len(all))
	}

	// A heartbeat pushed to a replica that does not own the check reaches
	// the owner, and every replica shows it.
	var pushTo *replica
	for _, r := range rs {
		if !slices.Contains(own["beat"], r.name) && r.metrics(t).find("monitor_check_status", "check", "beat") == nil {
			pushTo = r
			break
		}
	}
	if resp, b := pushTo.do(http.MethodPost, "/v2/heartbeats/beat", nil, ""); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v2/heartbeats/beat on %s = %d %s", pushTo.name, resp.StatusCode, b)
	}
	for _, r := range rs {
		r.waitHealth(5*time.Second, "beat PASS on "+r.name, func(h healthBody) bool {
			c, ok := h.find("beat")
			return ok && c.Status == "PASS"
		})
	}

	// flag fails: one page.
	exec1(t, db, "DROP TABLE cluster_flag")
	eventually(t, 10*time.Second, "flag paged", func() (bool, string) {
		return hooks.count("check:flag", "firing") == 1, hooks.String()
	})

	// kill -9 the leader: its checks and the leadership move within the
	// TTL plus an interval.
	var dead *replica
	var live []*replica
	for _, r := range rs {
		if r == leader {
			dead = r
		} else {
			live = append(live, r)
		}
	}
	var deadChecks []string
	for name, o := range own {
		if slices.Equal(o, []string{dead.name}) {
			deadChecks = append(deadChecks, name)
		}
	}
	slices.Sort(deadChecks)
	// A page the receiver has but the killed replica had not recorded yet
	// is sent again, with the same webhook-id, once its claim lapses: at
	// least once across a crash, by design. What this test holds to
	// "once" is the failover and the rolling restart, so the kill waits
	// until every delivery is recorded.
	eventually(t, 10*time.Second, "the page recorded as sent", func() (bool, string) {
		var pending int
		if err := db.QueryRow("SELECT count(*) FROM deliveries WHERE state <> 'sent'").Scan(&pending); err != nil {
			return false, err.Error()
		}
		return pending == 0, fmt.Sprintf("%d deliveries not recorded as sent", pending)
	})
	t.Logf("kill -9 of the leader %s at %s", dead.name, time.Now().Format("15:04:05.000"))
	killed := time.Now()
	dead.signal(syscall.SIGKILL)
	<-dead.exit.done
	before := make([]map[string]float64, len(live))
	for i, r := range live {
		before[i] = r.runs(t)
	}
	takeover := eventually(t, 10*time.Second, "the dead leader's checks run elsewhere", func() (bool, string) {
		now := make([]map[string]float64, len(live))
		for i, r := range live {
			now[i] = r.runs(t) // one scrape per replica per look
		}
		var missing []string
		for _, name := range deadChecks {
			ran := false
			for i := range live {
				if now[i][name] > before[i][name] {
					ran = true
				}
			}
			if !ran {
				missing = append(missing, name)
			}
		}
		return len(missing) == 0, fmt.Sprintf("not run since the kill: %v", missing)
	})
	t.Logf("takeover: the %d checks of the killed leader ran again %s after kill -9 (TTL 3s, rounds 1s, interval 1s)",
		len(deadChecks), takeover.Round(10*time.Millisecond))
	// The dead member's leases expire at most TTL after the kill; a
	// survivor's next round (TTL/3) claims them; the check's next due time
	// (its interval) runs it.
	if limit := 3*time.Second + time.Second + time.Second + time.Second; takeover > limit {
		t.Errorf("takeover took %s, want within TTL + a round + the interval (+1s slack) = %s", takeover, limit)
	}
	// The survivors run the dead replica's overdue checks at once on
	// taking them over, not at their next due time.
	tookOver := false
	for _, r := range live {
		if strings.Contains(r.stderr.String(), "cluster: took over checks whose last run is older than their interval") {
			tookOver = true
		}
	}
	if !tookOver {
		t.Errorf("no survivor said it ran the taken-over checks at once; logs:\n%s\n%s", live[0].stderr, live[1].stderr)
	}
	eventually(t, 10*time.Second, "a new leader", func() (bool, string) {
		var why string
		leader, why = leaderOf(live)
		return leader != nil, why
	})
	t.Logf("new leader after %s", time.Since(killed).Round(10*time.Millisecond))

	// The firing alert is not paged again by the new leader; its
	// resolution arrives once.
	time.Sleep(1500 * time.Millisecond)
	if n := hooks.count("check:flag", "firing"); n != 1 {
		t.Fatalf("flag paged %d times across the failover, want 1: %s", n, hooks)
	}
	exec1(t, db, "CREATE TABLE cluster_flag (ok int); INSERT INTO cluster_flag VALUES (1)")
	eventually(t, 10*time.Second, "flag's resolution told", func() (bool, string) {
		return hooks.count("check:flag", "resolved") == 1, hooks.String()
	})
	time.Sleep(time.Second)
	if f, r := hooks.count("check:flag", "firing"), hooks.count("check:flag", "resolved"); f != 1 || r != 1 {
		t.Fatalf("flag told firing %d, resolved %d times, want once each: %s", f, r, hooks)
	}

	// Cut one survivor off PostgreSQL: it stops running checks and says
	// so; the other runs them all; healed, it rejoins.
	cut, other := live[0], live[1]
	cut.proxy.Hang()
	eventually(t, 5*time.Second, "/readyz 503 on the replica cut off", func() (bool, string) {
		resp, b := cut.do(http.MethodGet, "/readyz", nil, "")
		return resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(b), "cluster: no database since"),
			fmt.Sprintf("%d %s", resp.StatusCode, b)
	})
	// /readyz is public: it never names the database (the driver's error
	// carries its user, host and name).
	time.Sleep(time.Second) // a round or two with errors
	if _, b := cut.do(http.MethodGet, "/readyz", nil, ""); !strings.Contains(string(b), "not running checks") ||
		strings.Contains(string(b), u.Hostname()) || strings.Contains(string(b), u.User.Username()) ||
		strings.Contains(string(b), "user=") || strings.Contains(string(b), "database=") || strings.Contains(string(b), "(") {
		t.Errorf("/readyz of the replica cut off says %q: want the state only, no error text", b)
	}
	cut.waitLog(time.Second, "cluster: lost the database")
	time.Sleep(2500 * time.Millisecond) // the leases lapse locally within TTL − margin
	ownBoth := owners([]*replica{cut, other}, 2*time.Second)
	for _, name := range all[:31] {
		if !slices.Equal(ownBoth[name], []string{other.name}) {
			t.Errorf("with %s cut off, %s ran on %v, want only %s", cut.name, name, ownBoth[name], other.name)
		}
	}
	cut.proxy.Heal()
	eventually(t, 10*time.Second, "the replica cut off back in", func() (bool, string) {
		resp, b := cut.do(http.MethodGet, "/readyz", nil, "")
		m := cut.metrics(t)
		return resp.StatusCode == http.StatusOK && m.get(t, "monitor_cluster_owned_checks") > 0,
			fmt.Sprintf("readyz %d %s, owned %v", resp.StatusCode, b, m.get(t, "monitor_cluster_owned_checks"))
	})

	// Rolling restart: the killed replica comes back, then each one in
	// turn stops (SIGTERM: its leases are released) and starts again,
	// while flag fails: it is paged once and resolved once.
	exec1(t, db, "DROP TABLE cluster_flag")
	eventually(t, 10*time.Second, "flag paged again", func() (bool, string) {
		return hooks.count("check:flag", "firing") == 2, hooks.String()
	})
	owning := func(r *replica) {
		t.Helper()
		eventually(t, 10*time.Second, r.name+" owning checks", func() (bool, string) {
			n := r.metrics(t).get(t, "monitor_cluster_owned_checks")
			return n > 0, fmt.Sprintf("owns %v", n)
		})
	}
	dead.proc = dead.start()
	owning(dead)
	for _, r := range rs {
		var others []*replica
		for _, o := range rs {
			if o != r {
				others = append(others, o)
			}
		}
		var mine []string
		for _, s := range r.metrics(t).find("monitor_check_status") {
			if !slices.Contains(mine, s.labels["check"]) {
				mine = append(mine, s.labels["check"])
			}
		}
		before := make([]map[string]float64, len(others))
		for i, o := range others {
			before[i] = o.runs(t)
		}
		r.stop()
		handover := eventually(t, 10*time.Second, "checks of "+r.name+" run elsewhere", func() (bool, string) {
			var missing []string
			now := make([]map[string]float64, len(others))
			for i, o := range others {
				now[i] = o.runs(t)
			}
			for _, name := range mine {
				ran := false
				for i := range others {
					ran = ran || now[i][name] > before[i][name]
				}
				if !ran {
					missing = append(missing, name)
				}
			}
			return len(missing) == 0, fmt.Sprintf("not run since %s stopped: %v", r.name, missing)
		})
		t.Logf("rolling restart: %d checks of %s ran elsewhere %s after its SIGTERM", len(mine), r.name, handover.Round(10*time.Millisecond))
		r.proc = r.start()
		owning(r)
	}
	eventually(t, 10*time.Second, "one leader after the rolling restart", func() (bool, string) {
		l, why := leaderOf(rs)
		return l != nil, why
	})
	exec1(t, db, "CREATE TABLE cluster_flag (ok int); INSERT INTO cluster_flag VALUES (1)")
	eventually(t, 10*time.Second, "flag resolved again", func() (bool, string) {
		return hooks.count("check:flag", "resolved") == 2, hooks.String()
	})
	time.Sleep(time.Second)
	if f, r := hooks.count("check:flag", "firing"), hooks.count("check:flag", "resolved"); f != 2 || r != 2 {
		t.Fatalf("after the rolling restart flag was told firing %d, resolved %d times, want 2 each: %s", f, r, hooks)
	}
	hooks.mu.Lock()
	for id, n := range hooks.seen {
		if n != 1 {
			t.Errorf("webhook-id %s delivered %d times, want once", id, n)
		}
	}
	hooks.mu.Unlock()
	for _, r := range rs {
		r.stop()
	}
}
