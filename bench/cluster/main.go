// Command cluster measures cluster mode (issue 14) with real replicas: it
// starts 3 `monitor run` processes with `cluster: {enabled: true}` on one
// PostgreSQL store (a fresh database of its own on the test server,
// dropped at the end; with -own-db=false a fresh schema of the test
// database, chosen with search_path in the DSN), N checks of one kind,
// and measures
//
//   - PostgreSQL load at steady state: transactions/s of the database
//     (pg_stat_database; each autocommitted statement is one) and row
//     operations and scans/s by table (pg_stat_user_tables), grouped into
//     leases (cluster_*), results (results, latest, rollups, outages,
//     heartbeats) and other. pg_stat_statements needs
//     shared_preload_libraries, which a shared test server may not have;
//     these views need nothing;
//
//   - the replicas' VmRSS and CPU over the same window (/proc);
//
//   - failover after kill -9 of one replica: from the kill to the first
//     result (latest.ts in the store) of every check it held, written by
//     another replica; -kills trials, the killed replica restarted and the
//     ownership settled between trials; median of the trials;
//
//   - checks moved when a 4th replica joins: the owner of every check in
//     cluster_leases before and after.
//
//     go run ./bench/cluster -checks 10000 -kills 5
//
// See bench/cluster/README.md for the results.
package main

import (
	"bufio"
	"bytes"

	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"github.com/monitor-dev/monitor/cluster"
	"github.com/monitor-dev/monitor/internal/testenv"
)

const (
	namePrefix = "cl_"
	token      = "bench-cluster-token"
)

// params are the run's flags.
type params struct {
	checks   int
	interval time.Duration
	ttl      time.Duration
	kind     string
	steady   time.Duration
	kills    int
	bin      string
	keep     bool
	ownDB    bool
}

func main() {
	var p params
	flag.IntVar(&p.checks, "checks", 10000, "number of checks")
	flag.DurationVar(&p.interval, "interval", 10*time.Second, "interval of every check")
	flag.DurationVar(&p.ttl, "ttl", 15*time.Second, "cluster.lease_ttl")
	flag.StringVar(&p.kind, "kind", "heartbeat", "heartbeat (freshness, source {heartbeat: true}, max_age 1h, beaten once) or link (one link per check to a local server)")
	flag.DurationVar(&p.steady, "steady", 60*time.Second, "steady-state window for the PostgreSQL load, CPU and RSS")
	flag.IntVar(&p.kills, "kills", 5, "kill -9 trials")
	flag.StringVar(&p.bin, "bin", "", "monitor binary; default: build ./cmd/monitor")
	flag.BoolVar(&p.keep, "keep", false, "keep the replicas' directories (config, logs) and the database or schema")
	flag.BoolVar(&p.ownDB, "own-db", true, "create a database of its own on the server (its pg_stat_database counts the replicas alone); false: a schema of the test database (search_path), whose transaction counts include every other session's")
	flag.Parse()
	if p.kind != "heartbeat" && p.kind != "link" {
		fatalf("-kind must be heartbeat or link")
	}
	if err := run(p); err != nil {
		fatalf("%v", err)
	}
}

// bench is one run: the schema, the replicas and the store's connection.
type bench struct {
	p        params
	db       *sql.DB
	dsn      string
	dir      string
	target   *http.Server
	replicas []*replica
	client   *http.Client
}

// replica is one `monitor run` process (restarted in place).
type replica struct {
	name, dir, listen string
	cmd               *exec.Cmd
	exited            chan error
}

func run(p params) error {
	if p.bin == "" {
		dir, err := os.MkdirTemp("", "cluster-build-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		p.bin = filepath.Join(dir, "monitor")
		cmd := exec.Command("go", "build", "-o", p.bin, "./cmd/monitor")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build: %w", err)
		}
	}
	b := &bench{p: p, client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	base := testenv.Postgres()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return fmt.Errorf("open PostgreSQL: %w", err)
	}
	defer admin.Close()
	rb := make([]byte, 5)
	_, _ = rand.Read(rb)
	name := "bench_cluster_" + hex.EncodeToString(rb)
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("PostgreSQL DSN: %w", err)
	}
	if p.ownDB {
		// A database of its own: pg_stat_database then counts the
		// replicas' transactions alone, whatever else the server runs.
		if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
			return fmt.Errorf("create database: %w", err)
		}
		if !p.keep {
			defer func() {
				if _, err := admin.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
					fmt.Fprintf(os.Stderr, "drop database %s: %v\n", name, err)
				}
			}()
		}
		u.Path = "/" + name
	} else {
		if _, err := admin.Exec("CREATE SCHEMA " + name); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
		if !p.keep {
			defer func() {
				if _, err := admin.Exec("DROP SCHEMA " + name + " CASCADE"); err != nil {
					fmt.Fprintf(os.Stderr, "drop schema %s: %v\n", name, err)
				}
			}()
		}
		q := u.Query()
		q.Set("search_path", name)
		u.RawQuery = q.Encode()
	}
	b.dsn = u.String()
	if b.dir, err = os.MkdirTemp("", "cluster-run-"); err != nil {
		return err
	}
	if !p.keep {
		defer os.RemoveAll(b.dir)
	} else {
		fmt.Fprintln(os.Stderr, "keeping", b.dir, "and", name)
	}
	if p.kind == "link" {
		b.target = serveTarget()
		defer b.target.Close()
	}
	defer b.stopAll()

	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("bench/cluster: %d %s checks at %s, lease_ttl %s, 3 replicas (+1 joining), %d kills; %d CPUs, GOMAXPROCS %d; load %s; %s\n",
		p.checks, p.kind, p.interval, p.ttl, p.kills, runtime.NumCPU(), runtime.GOMAXPROCS(0),
		strings.Join(strings.Fields(string(load))[:3], " "), time.Now().UTC().Format(time.RFC3339))

	if b.db, err = sql.Open("pgx", b.dsn); err != nil {
		return err
	}
	defer b.db.Close()
	// The database's own load before the replicas, as a baseline.
	base0, err := pgDatabase(b.db)
	if err != nil {
		return err
	}
	time.Sleep(10 * time.Second)
	base1, err := pgDatabase(b.db)
	if err != nil {
		return err
	}
	baseXact := base1.rate(base0, "xact")
	fmt.Printf("baseline (no replicas, 10 s): %.1f transactions/s on database %s (other sessions)\n", baseXact, base1.name)

	t0 := time.Now()
	for _, name := range []string{"a", "b", "c"} {
		r := &replica{name: name, dir: filepath.Join(b.dir, name), listen: freeAddr()}
		if err := os.MkdirAll(r.dir, 0o755); err != nil {
			return err
		}
		b.replicas = append(b.replicas, r)
		if err := b.start(r); err != nil {
			return err
		}
	}
	for _, r := range b.replicas {
		if err := b.waitReady(r, 3*time.Minute); err != nil {
			return err
		}
	}
	fmt.Printf("3 replicas ready after %.1f s\n", time.Since(t0).Seconds())
	if p.kind == "heartbeat" {
		if err := b.beatAll(b.replicas[0]); err != nil {
			return err
		}
	}
	if err := b.settle(3); err != nil {
		return err
	}
	if err := b.waitAllResults(2 * p.interval); err != nil {
		return err
	}
	fmt.Printf("settled, every check has a result, after %.1f s\n", time.Since(t0).Seconds())
	time.Sleep(p.interval) // past the first runs' burst

	// (a) Steady state.
	if err := b.steady(baseXact); err != nil {
		return err
	}

	// (b) Failover.
	var maxs, meds []float64
	for trial := range p.kills {
		victim := b.replicas[trial%len(b.replicas)]
		first, err := b.failover(victim)
		if err != nil {
			return fmt.Errorf("trial %d: %w", trial+1, err)
		}
		slices.Sort(first)
		mx, md := first[len(first)-1], median(first)
		maxs, meds = append(maxs, mx), append(meds, md)
		fmt.Printf("failover %d: killed %s holding %d checks; every one had a new result after %.2f s (per check: median %.2f s, p90 %.2f s, first %.2f s)\n",
			trial+1, victim.name, len(first), mx, md, first[len(first)*9/10], first[0])
		if err := b.start(victim); err != nil {
			return err
		}
		if err := b.waitReady(victim, 3*time.Minute); err != nil {
			return err
		}
		if err := b.settle(3); err != nil {
			return err
		}
	}
	if len(maxs) > 0 {
		fmt.Printf("summary failover: all of the killed replica's checks re-run after median %.2f s (trials %s); per-check first result median of medians %.2f s\n",
			median(maxs), fmtList(maxs), median(meds))
	}

	// (c) A 4th replica joins.
	before, err := b.owners()
	if err != nil {
		return err
	}
	d := &replica{name: "d", dir: filepath.Join(b.dir, "d"), listen: freeAddr()}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}
	b.replicas = append(b.replicas, d)
	tj := time.Now()
	if err := b.start(d); err != nil {
		return err
	}
	if err := b.waitReady(d, 3*time.Minute); err != nil {
		return err
	}
	if err := b.settle(4); err != nil {
		return err
	}
	after, err := b.owners()
	if err != nil {
		return err
	}
	moved, toNew := 0, 0
	for name, o := range after {
		if before[name] != o {
			moved++
			if !slices.Contains(slices.Collect(mapValues(before)), o) {
				toNew++
			}
		}
	}
	fmt.Printf("summary join: %d of %d checks moved (%.1f %%; 1/4 = 25 %%), %d of them to the new replica; settled %.1f s after its start\n",
		moved, len(after), 100*float64(moved)/float64(max(len(after), 1)), toNew, time.Since(tj).Seconds())
	fmt.Printf("total time %.0f s\n", time.Since(t0).Seconds())
	return nil
}

// mapValues yields the values of m.
func mapValues(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

// configYAML is a replica's config.
func (b *bench) configYAML(r *replica) string {
	var s strings.Builder
	fmt.Fprintf(&s, "server:\n  listen: %q\n  tokens: [%q]\n  rate_limits: { requests_per_second: 0 }\n", r.listen, token)
	fmt.Fprintf(&s, "storage:\n  dsn: %q\n", b.dsn)
	fmt.Fprintf(&s, "cluster:\n  enabled: true\n  location: zone-%s\n  lease_ttl: %s\n", r.name, b.p.ttl)
	fmt.Fprintf(&s, "defaults: { interval: %s, timeout: 1s }\nchecks:\n", b.p.interval)
	for i := range b.p.checks {
		if b.p.kind == "link" {
			fmt.Fprintf(&s, "  - { name: %s%06d, kind: link, allow_private: true, urls: [\"http://%s/l/%d\"] }\n", namePrefix, i, b.target.Addr, i)
		} else {
			fmt.Fprintf(&s, "  - { name: %s%06d, kind: freshness, source: { heartbeat: true }, max_age: 1h }\n", namePrefix, i)
		}
	}
	return s.String()
}

// start starts r's process (again).
func (b *bench) start(r *replica) error {
	cfg := filepath.Join(r.dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(b.configYAML(r)), 0o644); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(r.dir, "monitor.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	r.cmd = exec.Command(b.p.bin, "run", "--config", cfg, "--log-level", "warn")
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start replica %s: %w", r.name, err)
	}
	r.exited = make(chan error, 1)
	go func() { r.exited <- r.cmd.Wait(); logf.Close() }()
	return nil
}

// stopAll stops every running replica with SIGTERM (SIGKILL after 30 s).
func (b *bench) stopAll() {
	var wg sync.WaitGroup
	for _, r := range b.replicas {
		if r.cmd == nil || r.cmd.ProcessState != nil {
			continue
		}
		wg.Go(func() {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-r.exited:
			case <-time.After(30 * time.Second):
				_ = r.cmd.Process.Kill()
				<-r.exited
			}
		})
	}
	wg.Wait()
}

// waitReady waits for r's /readyz to answer 200.
func (b *bench) waitReady(r *replica, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-r.exited:
			log, _ := os.ReadFile(filepath.Join(r.dir, "monitor.log"))
			return fmt.Errorf("replica %s exited before ready: %v\n%s", r.name, err, tail(log))
		default:
		}
		resp, err := b.client.Get("http://" + r.listen + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("replica %s not ready in %s", r.name, timeout)
}

// beatAll POSTs one heartbeat per check to r, 8 at a time.
func (b *bench) beatAll(r *replica) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for w := range errs {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= b.p.checks {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://%s/v2/heartbeats/%s%06d", r.listen, namePrefix, i), nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := b.client.Do(req)
				if err != nil {
					errs[w] = err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					errs[w] = fmt.Errorf("heartbeat %d: %s", i, resp.Status)
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// live is the running replicas.
func (b *bench) live() []*replica {
	return slices.DeleteFunc(slices.Clone(b.replicas), func(r *replica) bool {
		return r.cmd == nil || r.cmd.ProcessState != nil || len(r.exited) > 0
	})
}

// clusterMetrics scrapes r's monitor_cluster_* figures.
func (b *bench) clusterMetrics(r *replica) (members, owned, leader float64, err error) {
	resp, err := b.client.Get("http://" + r.listen + "/metrics")
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "monitor_cluster_") {
			continue
		}
		name, val, _ := strings.Cut(line, " ")
		v, _ := strconv.ParseFloat(val, 64)
		switch name {
		case "monitor_cluster_members":
			members = v
		case "monitor_cluster_owned_checks":
			owned = v
		case "monitor_cluster_leader":
			leader = v
		}
	}
	return members, owned, leader, sc.Err()
}

// settle waits until n replicas run, each sees n members, their owned
// checks add up to every check, one leads, and the split held for two
// lease rounds (TTL/3 each).
func (b *bench) settle(n int) error {
	deadline := time.Now().Add(3*b.p.ttl + 2*time.Minute)
	var last string
	stableSince := time.Time{}
	for time.Now().Before(deadline) {
		live := b.live()
		var split []string
		var sum, leaders float64
		ok := len(live) == n
		for _, r := range live {
			m, o, l, err := b.clusterMetrics(r)
			if err != nil || m != float64(n) || o == 0 {
				ok = false
			}
			sum += o
			leaders += l
			split = append(split, fmt.Sprintf("%s=%.0f", r.name, o))
		}
		cur := strings.Join(split, " ")
		if ok && sum == float64(b.p.checks) && leaders == 1 {
			if cur != last || stableSince.IsZero() {
				stableSince = time.Now()
			} else if time.Since(stableSince) >= 2*b.p.ttl/3 {
				return nil
			}
		} else {
			stableSince = time.Time{}
		}
		last = cur
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("ownership did not settle on %d replicas: owned %s", n, last)
}

// waitAllResults waits until every check has a row in latest.
func (b *bench) waitAllResults(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var n int
		err := b.db.QueryRow("SELECT count(*) FROM latest").Scan(&n)
		if err == nil && n >= b.p.checks {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d checks have a result after %s (%v)", n, b.p.checks, timeout, err)
		}
		time.Sleep(time.Second)
	}
}

// owners is each check's lease owner (cluster member id), leader excluded.
func (b *bench) owners() (map[string]string, error) {
	rows, err := b.db.Query("SELECT name, owner FROM cluster_leases WHERE expires_at > now() AND name <> $1", cluster.LeaderLease)
	if err != nil {
		return nil, fmt.Errorf("read cluster_leases: %w", err)
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var n, o string
		if err := rows.Scan(&n, &o); err != nil {
			return nil, err
		}
		m[n] = o
	}
	return m, rows.Err()
}

// memberID is the cluster member id of r's current process.
func (b *bench) memberID(r *replica) (string, error) {
	var id string
	err := b.db.QueryRow("SELECT id FROM cluster_members WHERE pid = $1 ORDER BY started_at DESC LIMIT 1", r.cmd.Process.Pid).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("member of replica %s (pid %d): %w", r.name, r.cmd.Process.Pid, err)
	}
	return id, nil
}

// failover kills victim with SIGKILL and returns, for every check it held,
// the seconds from the kill to that check's first result after it.
func (b *bench) failover(victim *replica) ([]float64, error) {
	id, err := b.memberID(victim)
	if err != nil {
		return nil, err
	}
	own, err := b.owners()
	if err != nil {
		return nil, err
	}
	var held []string
	for n, o := range own {
		if o == id {
			held = append(held, n)
		}
	}
	if len(held) == 0 {
		return nil, fmt.Errorf("replica %s holds no check", victim.name)
	}
	kill := time.Now()
	if err := victim.cmd.Process.Kill(); err != nil {
		return nil, err
	}
	<-victim.exited
	killMs := kill.UnixMilli()
	deadline := kill.Add(b.p.ttl + 3*b.p.interval + time.Minute)
	for {
		time.Sleep(250 * time.Millisecond)
		rows, err := b.db.Query(`SELECT l.ts FROM latest l JOIN checks c ON c.id = l.check_id
			WHERE c.name = ANY($1) AND l.ts > $2`, held, killMs)
		if err != nil {
			return nil, fmt.Errorf("read latest: %w", err)
		}
		var first []float64
		for rows.Next() {
			var ts int64
			if err := rows.Scan(&ts); err != nil {
				rows.Close()
				return nil, err
			}
			first = append(first, float64(ts-killMs)/1000)
		}
		rows.Close()
		if len(first) == len(held) {
			// latest keeps the newest result: a check that already ran
			// twice since the kill shows its second run. Read the first
			// from results if that table holds the history, else accept
			// the newest (an overestimate by at most one interval).
			return b.firstResults(held, killMs, first)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("after %s only %d of %d checks of %s have a new result", time.Since(kill).Round(time.Second), len(first), len(held), victim.name)
		}
	}
}

// firstResults reads, per check of names, its earliest result after
// killMs from the results history; fallback is returned when that table
// has no such rows (results only written on a change, for instance).
func (b *bench) firstResults(names []string, killMs int64, fallback []float64) ([]float64, error) {
	rows, err := b.db.Query(`SELECT min(r.ts) FROM results r JOIN checks c ON c.id = r.check_id
		WHERE c.name = ANY($1) AND r.ts > $2 GROUP BY c.name`, names, killMs)
	if err != nil {
		return fallback, nil
	}
	defer rows.Close()
	var first []float64
	for rows.Next() {
		var ts int64
		if err := rows.Scan(&ts); err != nil {
			return fallback, nil
		}
		first = append(first, float64(ts-killMs)/1000)
	}
	if rows.Err() != nil || len(first) != len(names) {
		return fallback, nil
	}
	return first, nil
}

// steady measures the steady state over -steady: PostgreSQL load, CPU, RSS.
func (b *bench) steady(baseXact float64) error {
	live := b.live()
	d0, err := pgDatabase(b.db)
	if err != nil {
		return err
	}
	t0, err := pgTables(b.db)
	if err != nil {
		return err
	}
	cpu0 := map[*replica]float64{}
	for _, r := range live {
		cpu0[r] = procCPU(r.cmd.Process.Pid)
	}
	start := time.Now()
	rss := map[*replica][]float64{}
	for time.Since(start) < b.p.steady {
		for _, r := range live {
			if v, err := procStatus(r.cmd.Process.Pid, "VmRSS"); err == nil {
				rss[r] = append(rss[r], v)
			}
		}
		time.Sleep(b.p.steady / 10)
	}
	secs := time.Since(start).Seconds()
	d1, err := pgDatabase(b.db)
	if err != nil {
		return err
	}
	t1, err := pgTables(b.db)
	if err != nil {
		return err
	}
	xact := d1.rate(d0, "xact") * 1 // already per second
	fmt.Printf("steady %.0f s: database %s: %.1f transactions/s (commits %.1f/s, rollbacks %.1f/s), of which ≈ %.1f/s from the replicas (minus the %.1f/s baseline); rows returned %.0f/s, fetched %.0f/s, inserted %.0f/s, updated %.0f/s, deleted %.0f/s\n",
		secs, d1.name, xact, d1.rate(d0, "commit"), d1.rate(d0, "rollback"), xact-baseXact, baseXact,
		d1.rate(d0, "returned"), d1.rate(d0, "fetched"), d1.rate(d0, "inserted"), d1.rate(d0, "updated"), d1.rate(d0, "deleted"))
	groups := map[string]*[5]float64{}
	for name, v1 := range t1 {
		v0 := t0[name]
		g := group(name)
		if groups[g] == nil {
			groups[g] = &[5]float64{}
		}
		var row [5]float64
		for i := range row {
			row[i] = (v1[i] - v0[i]) / secs
			groups[g][i] += row[i]
		}
		if row != [5]float64{} {
			fmt.Printf("  table %-18s ins %8.1f/s  upd %8.1f/s  del %8.1f/s  seq scans %6.2f/s  index scans %8.1f/s\n", name, row[0], row[1], row[2], row[3], row[4])
		}
	}
	for _, g := range []string{"leases", "results", "other"} {
		if v := groups[g]; v != nil {
			fmt.Printf("summary pg %-8s rows ins %.1f/s, upd %.1f/s, del %.1f/s; scans seq %.2f/s, index %.1f/s\n", g, v[0], v[1], v[2], v[3], v[4])
		}
	}
	var cpuTotal float64
	for _, r := range live {
		cpu := (procCPU(r.cmd.Process.Pid) - cpu0[r]) / secs * 100
		cpuTotal += cpu
		_, owned, leader, _ := b.clusterMetrics(r)
		fmt.Printf("summary replica %s: owned %.0f, leader %.0f, CPU %.1f %% of one core, VmRSS median %.1f MiB\n", r.name, owned, leader, cpu, median(rss[r])/1024)
	}
	fmt.Printf("summary replicas CPU total %.1f %% of one core\n", cpuTotal)
	return nil
}

// group is the load group of a table of the store.
func group(table string) string {
	switch {
	case strings.HasPrefix(table, "cluster_"):
		return "leases"
	case table == "results" || table == "latest" || table == "rollups_hourly" || table == "outages" || table == "heartbeats":
		return "results"
	}
	return "other"
}

// dbStats is one reading of pg_stat_database for the current database.
type dbStats struct {
	name string
	at   time.Time
	v    map[string]float64
}

// rate is the per-second change of field since s0.
func (s dbStats) rate(s0 dbStats, field string) float64 {
	if field == "xact" {
		return s.rate(s0, "commit") + s.rate(s0, "rollback")
	}
	return (s.v[field] - s0.v[field]) / s.at.Sub(s0.at).Seconds()
}

// pgDatabase reads pg_stat_database of the connection's database.
func pgDatabase(db *sql.DB) (dbStats, error) {
	s := dbStats{v: map[string]float64{}}
	var c, r, ret, f, i, u, d float64
	err := db.QueryRow(`SELECT datname, xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted
		FROM pg_stat_database WHERE datname = current_database()`).Scan(&s.name, &c, &r, &ret, &f, &i, &u, &d)
	if err != nil {
		return s, fmt.Errorf("read pg_stat_database: %w", err)
	}
	s.at = time.Now()
	s.v["commit"], s.v["rollback"], s.v["returned"], s.v["fetched"] = c, r, ret, f
	s.v["inserted"], s.v["updated"], s.v["deleted"] = i, u, d
	return s, nil
}

// pgTables reads pg_stat_user_tables of the current schema: ins, upd,
// del, seq scans, index scans per table. The statistics reach the view
// from each backend at most once a second (or at the end of a
// transaction when idle), so windows of tens of seconds are needed.
func pgTables(db *sql.DB) (map[string][5]float64, error) {
	if _, err := db.Exec("SELECT pg_stat_clear_snapshot()"); err != nil {
		return nil, fmt.Errorf("clear stats snapshot: %w", err)
	}
	rows, err := db.Query(`SELECT relname, n_tup_ins, n_tup_upd, n_tup_del, seq_scan, coalesce(idx_scan, 0)
		FROM pg_stat_user_tables WHERE schemaname = current_schema()`)
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_user_tables: %w", err)
	}
	defer rows.Close()
	m := map[string][5]float64{}
	for rows.Next() {
		var n string
		var v [5]float64
		if err := rows.Scan(&n, &v[0], &v[1], &v[2], &v[3], &v[4]); err != nil {
			return nil, err
		}
		m[n] = v
	}
	return m, rows.Err()
}

// serveTarget answers every link with 200 on a loopback port.
func serveTarget() *http.Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("%v", err)
	}
	srv := &http.Server{Addr: ln.Addr().String(), Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv
}

// procStatus reads field (in kB) of /proc/pid/status.
func procStatus(pid int, field string) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseFloat(f[0], 64)
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// procCPU is the user and system CPU time of pid so far, in seconds.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// freeAddr is a free loopback address.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("%v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// median of v (0 when empty).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// fmtList formats seconds as "1.2 / 3.4 / …".
func fmtList(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, strconv.FormatFloat(x, 'f', 2, 64))
	}
	return strings.Join(s, " / ")
}

// tail is the last 2 KiB of a log.
func tail(b []byte) string {
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return string(b)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench/cluster: "+format+"\n", args...)
	os.Exit(1)
}
