package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/testenv"
)

// TestLocationOwner: each location's runner is the rendezvous owner over
// that location's members only; a location without members has none.
func TestLocationOwner(t *testing.T) {
	ms := []Member{{ID: "a", Location: "eu"}, {ID: "b", Location: "eu"}, {ID: "c", Location: "us"}, {ID: "d", Location: "eu"}}
	eu := LocationOwner("links", "eu", ms)
	if want := Owner("links", []string{"a", "b", "d"}); eu != want {
		t.Errorf("eu's runner %q, want %q (Owner over eu's members)", eu, want)
	}
	if got := LocationOwner("links", "us", ms); got != "c" {
		t.Errorf("us's runner %q, want c", got)
	}
	if got := LocationOwner("links", "ap", ms); got != "" {
		t.Errorf("ap's runner %q, want none", got)
	}
	if got := Locations(ms); !slices.Equal(got, []string{"eu", "us"}) {
		t.Errorf("Locations = %v", got)
	}
	if LocationLease("links", "eu") != "links@eu" || !isLocationLease("links@eu") || isLocationLease("links") {
		t.Error("LocationLease names")
	}
}

// TestNodeLocationRunners: on PostgreSQL, 4 members in 3 locations: a
// quorum check gets one runner per location (and one owner overall, which
// counts it among its owned checks, unlike the runners' leases); the link
// results each runner stores are read back for live, fresh locations only.
func TestNodeLocationRunners(t *testing.T) {
	t.Parallel()
	d := schema(t)
	db := openDB(t, d, "", nil)
	var nodes []*Node
	for _, m := range []struct{ name, loc string }{{"eu1", "eu"}, {"eu2", "eu"}, {"us1", "us"}, {"ap1", "ap"}} {
		n := New(db, Options{ID: m.name, Location: m.loc, TTL: testTTL})
		n.SetChecks([]string{"links", "other"})
		n.SetLocationChecks([]string{"links"})
		nodes = append(nodes, n)
		t.Cleanup(func() { _ = n.Close(context.Background()) })
	}
	ctx := context.Background()
	settled := func() (bool, string) {
		runners := map[string][]string{}
		var owners []string
		live := nodes[len(nodes)-1].Members() // the last to round saw everyone
		for _, n := range nodes {
			if n.RunsHere("links") != (n.ID() == LocationOwner("links", n.Location(), live)) {
				return false, fmt.Sprintf("%s runs links: %v, its location's runner is %s", n.ID(), n.RunsHere("links"), LocationOwner("links", n.Location(), live))
			}
			if n.RunsHere("links") {
				runners[n.Location()] = append(runners[n.Location()], n.ID())
			}
			if n.Holds("links") {
				owners = append(owners, n.ID())
			}
		}
		ok := len(owners) == 1 && len(runners) == 3
		for _, ids := range runners {
			ok = ok && len(ids) == 1
		}
		return ok, fmt.Sprintf("runners %v, owners %v", runners, owners)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, n := range nodes {
			_ = n.Round(ctx)
		}
		ok, why := settled()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled: %s", why)
		}
		time.Sleep(50 * time.Millisecond)
	}
	held := 0
	for _, n := range nodes {
		for _, h := range n.Held() {
			if isLocationLease(h) {
				t.Errorf("%s counts the runner's lease %q among its checks", n.ID(), h)
			}
		}
		held += len(n.Held())
	}
	if held != 2 {
		t.Errorf("checks held in all: %d, want 2 (links and other, once each)", held)
	}

	put := func(n *Node, code int) {
		t.Helper()
		st := check.Pass
		if code >= 400 {
			st = check.Fail
		}
		if err := n.PutLinks(ctx, "links", []check.LinkResult{{URL: "https://x.example/", Status: st, StatusCode: code}}); err != nil {
			t.Fatal(err)
		}
	}
	put(nodes[0], 200)
	put(nodes[2], 500)
	put(nodes[3], 200)
	put(nodes[2], 503) // replaces us's row
	got, err := nodes[1].LinkReports(ctx, "links", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got["us"][0].StatusCode != 503 || got["eu"][0].StatusCode != 200 || got["ap"][0].Status != check.Pass {
		t.Fatalf("reports %+v, want eu 200, us 503, ap 200", got)
	}
	// ap leaves: its row no longer counts. eu's row goes stale: neither.
	if err := nodes[3].Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE link_location_results SET checked_at = now() - interval '1 hour' WHERE location = 'eu'`); err != nil {
		t.Fatal(err)
	}
	got, err = nodes[1].LinkReports(ctx, "links", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["us"] == nil {
		t.Fatalf("reports %+v, want us only (ap left, eu stale)", got)
	}
}

// TestLinkReportsInvalidLocation: a member row and link results written
// into the database by some other process, under a location no replica
// could have (a label-breaking text), are left out of the reports: they
// would otherwise reach /v2/links and the location label of
// monitor_link_location_failures.
func TestLinkReportsInvalidLocation(t *testing.T) {
	t.Parallel()
	d := schema(t)
	db := openDB(t, d, "", nil)
	ctx := context.Background()
	n := New(db, Options{ID: "eu1", Location: "eu", TTL: testTTL})
	t.Cleanup(func() { _ = n.Close(ctx) })
	if err := n.Round(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.PutLinks(ctx, "links", []check.LinkResult{{URL: "https://x.example/", Status: check.Pass, StatusCode: 200}}); err != nil {
		t.Fatal(err)
	}
	bad := "eu\"} 1\nevil{x=\"" + strings.Repeat("y", 100)
	if _, err := db.ExecContext(ctx, `INSERT INTO cluster_members (id, location, listen, host, pid, started_at, heartbeat_at)
		VALUES ('intruder', $1, '', '', 0, now(), now() + interval '1 hour')`, bad); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO link_location_results (check_name, location, checked_at, links)
		VALUES ('links', $1, now(), '[{"url":"https://x.example/","status":"FAIL"}]'::jsonb)`, bad); err != nil {
		t.Fatal(err)
	}
	got, err := n.LinkReports(ctx, "links", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["eu"] == nil {
		t.Fatalf("reports of %d locations (%v), want eu only", len(got), slices.Collect(maps.Keys(got)))
	}
}

// TestValidLocation: the charset and length of cluster.location.
func TestValidLocation(t *testing.T) {
	for s, want := range map[string]bool{"eu-1": true, "us_east.2": true, "": false, "a b": false, "é": false,
		strings.Repeat("a", MaxLocationLength): true, strings.Repeat("a", MaxLocationLength+1): false} {
		if ValidLocation(s) != want {
			t.Errorf("ValidLocation(%q) = %v, want %v", s, !want, want)
		}
	}
}

// TestLinkReportsUnusableRows: a location whose stored link results cannot
// be used (not link results, a status that is not one, over the size
// bound) counts as not reporting, while the others still combine; each
// is logged once, not at every read, and again only after it was usable
// in between. PutLinks refuses results over the bound. Not parallel: it
// lowers the bound.
func TestLinkReportsUnusableRows(t *testing.T) {
	defer func(v int) { locationLinksLimit = v }(locationLinksLimit)
	locationLinksLimit = 4096
	d := schema(t)
	db := openDB(t, d, "", nil)
	ctx := context.Background()
	logs := &testenv.SyncBuffer{}
	n := New(db, Options{ID: "eu1", Location: "eu", TTL: testTTL, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	t.Cleanup(func() { _ = n.Close(ctx) })
	if err := n.Round(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.PutLinks(ctx, "links", []check.LinkResult{{URL: "https://x.example/", Status: check.Pass, StatusCode: 200}}); err != nil {
		t.Fatal(err)
	}
	big := make([]check.LinkResult, 100)
	for i := range big {
		big[i] = check.LinkResult{URL: fmt.Sprintf("https://x.example/%s/%d", strings.Repeat("p", 50), i), Status: check.Pass}
	}
	if err := n.PutLinks(ctx, "links", big); !errors.Is(err, ErrLinksTooLarge) {
		t.Errorf("PutLinks of %d links over the bound: %v, want ErrLinksTooLarge", len(big), err)
	}
	bigJSON, _ := json.Marshal(big)
	rows := map[string]string{
		"us": `{"url": "not a list"}`,
		"ap": `[{"url": "https://x.example/", "status": "<b>FAIL</b>"}]`,
		"sa": string(bigJSON), // written by something else than PutLinks
	}
	for loc, js := range rows {
		if _, err := db.ExecContext(ctx, `INSERT INTO cluster_members (id, location, listen, host, pid, started_at, heartbeat_at)
			VALUES ($1, $2, '', '', 0, now(), now())`, loc+"1", loc); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO link_location_results (check_name, location, checked_at, links)
			VALUES ('links', $1, now(), $2::jsonb)`, loc, js); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		got, err := n.LinkReports(ctx, "links", time.Minute)
		if err != nil {
			t.Fatalf("LinkReports: %v, want the usable locations", err)
		}
		if len(got) != 1 || len(got["eu"]) != 1 || got["eu"][0].StatusCode != 200 {
			t.Fatalf("reports of %v, want eu's only", slices.Collect(maps.Keys(got)))
		}
	}
	out := logs.String()
	for _, loc := range []string{"us", "ap", "sa"} {
		if c := strings.Count(out, "location="+loc+" "); c != 1 {
			t.Errorf("location %s logged %d times over 3 reads, want once:\n%s", loc, c, out)
		}
	}
	if !strings.Contains(out, "too large") || !strings.Contains(out, "not readable") {
		t.Errorf("log does not say why:\n%s", out)
	}

	// us repaired, then broken again: logged a second time.
	if _, err := db.ExecContext(ctx, `UPDATE link_location_results SET links = '[{"url": "https://x.example/", "status": "FAIL"}]' WHERE location = 'us'`); err != nil {
		t.Fatal(err)
	}
	if got, err := n.LinkReports(ctx, "links", time.Minute); err != nil || len(got) != 2 || got["us"][0].Status != check.Fail {
		t.Fatalf("after repair: %v, %v; want eu and us", got, err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE link_location_results SET links = '7' WHERE location = 'us'`); err != nil {
		t.Fatal(err)
	}
	if _, err := n.LinkReports(ctx, "links", time.Minute); err != nil {
		t.Fatal(err)
	}
	if c := strings.Count(logs.String(), "location=us "); c != 2 {
		t.Errorf("us logged %d times, want twice (broken, repaired, broken again)", c)
	}
}
