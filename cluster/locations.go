package cluster

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// Multi-location checks (link checks with quorum > 1; see package probes,
// probeLinkQuorum). Such a check has, besides its own lease (held by its
// owner over all live members, which combines and publishes its result),
// one lease per location that has a live member, named LocationLease(check,
// location) and held by the location's runner: the owner by rendezvous
// hashing over that location's live members only (LocationOwner), so that
// a member joining or leaving a location moves runs within that location
// only. The runner stores its location's link results after every run in
// link_location_results (PutLinks: one row per check and location,
// replaced, stamped with the server's now()); the owner reads the fresh
// rows of the live locations (LinkReports) and combines them. Members with
// no location (cluster.location unset) form the location "".

// MaxLocationLength is the longest location (cluster.location).
const MaxLocationLength = 64

// ValidLocation reports whether s is a valid cluster.location: 1 to
// MaxLocationLength characters of A-Z, a-z, 0-9, _, . and -. Locations read
// back from the database are checked too: any process able to write there
// could otherwise put any text in the /v2/links locations and in the
// monitor_link_location_failures label.
func ValidLocation(s string) bool {
	if s == "" || len(s) > MaxLocationLength {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// LocationLease is the name of the lease of check's runner in location.
// Check names hold no "@" (config validation), so it never names a check.
func LocationLease(check, location string) string { return check + "@" + location }

// isLocationLease reports whether a lease name is a LocationLease.
func isLocationLease(name string) bool { return strings.Contains(name, "@") }

// LocationOwner returns the member of members in location that runs check
// there (Owner over those members), or "" when location has none.
func LocationOwner(check, location string, members []Member) string {
	var ids []string
	for _, m := range members {
		if m.Location == location {
			ids = append(ids, m.ID)
		}
	}
	return Owner(check, ids)
}

// Locations returns the locations of members, sorted, once each.
func Locations(members []Member) []string {
	var locs []string
	for _, m := range members {
		locs = append(locs, m.Location)
	}
	slices.Sort(locs)
	return slices.Compact(locs)
}

// Location returns the node's location (cluster.location).
func (n *Node) Location() string { return n.opts.Location }

// SetLocationChecks sets the names of the checks to run in every location
// (link checks with quorum > 1; call again on a reload), besides their
// ordinary ownership through SetChecks. The next round applies them.
func (n *Node) SetLocationChecks(names []string) {
	names = slices.Clone(names)
	slices.Sort(names)
	names = slices.Compact(names)
	n.mu.Lock()
	n.located = names
	n.mu.Unlock()
}

// RunsHere reports whether this node runs check for its location now (it
// holds the location's lease, HereLease).
func (n *Node) RunsHere(check string) bool { return n.leases.Holds(n.HereLease(check)) }

// HereLease is the name of check's lease in this node's location (for Bind).
func (n *Node) HereLease(check string) string { return LocationLease(check, n.opts.Location) }

const putLinksSQL = `INSERT INTO link_location_results (check_name, location, checked_at, links)
VALUES ($1, $2, now(), $3::jsonb)
ON CONFLICT (check_name, location) DO UPDATE SET checked_at = now(), links = EXCLUDED.links`

// PutLinks stores the link results of the check name seen from this node's location.
func (n *Node) PutLinks(ctx context.Context, name string, links []check.LinkResult) error {
	b, err := json.Marshal(links)
	if err != nil {
		return fmt.Errorf("cluster: link results of %s: %w", name, err)
	}
	if _, err := n.dataDB().ExecContext(ctx, putLinksSQL, name, n.opts.Location, string(b)); err != nil {
		return fmt.Errorf("cluster: store link results of %s: %w", name, err)
	}
	return nil
}

// linkReportsSQL reads the rows of a check younger than $2 µs whose
// location has a live member ($3 µs: the TTL), by the server's clock.
const linkReportsSQL = `SELECT location, links FROM link_location_results
WHERE check_name = $1 AND checked_at > now() - $2::bigint * interval '1 microsecond'
AND location IN (SELECT location FROM cluster_members
	WHERE heartbeat_at > now() - $3::bigint * interval '1 microsecond' AND heartbeat_at <= now())`

// LinkReports returns the latest link results of the check name of every location
// that has a live member and stored them within maxAge plus the TTL (the
// time another member of a location needs to take over its runs), by
// location.
func (n *Node) LinkReports(ctx context.Context, name string, maxAge time.Duration) (map[string][]check.LinkResult, error) {
	rows, err := n.dataDB().QueryContext(ctx, linkReportsSQL, name, (maxAge + n.opts.TTL).Microseconds(), n.opts.TTL.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("cluster: link results of %s: %w", name, err)
	}
	defer rows.Close()
	out := map[string][]check.LinkResult{}
	for rows.Next() {
		var loc, raw string
		if err := rows.Scan(&loc, &raw); err != nil {
			return nil, fmt.Errorf("cluster: link results of %s: %w", name, err)
		}
		if loc != "" && !ValidLocation(loc) {
			n.opts.Logger.Warn("cluster: link results of an invalid location left out", "check", name, "location_bytes", len(loc))
			continue
		}
		var links []check.LinkResult
		if err := json.Unmarshal([]byte(raw), &links); err != nil {
			return nil, fmt.Errorf("cluster: link results of %s from %q: %w", name, loc, err)
		}
		out[loc] = links
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cluster: link results of %s: %w", name, err)
	}
	return out, nil
}

// dataDB is the pool of link results: its own when Open made the node, so
// that they never hold up a lease renewal.
func (n *Node) dataDB() *sql.DB {
	if n.data != nil {
		return n.data
	}
	return n.db
}
