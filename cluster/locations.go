package cluster

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
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
	names = sortedSet(names)
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

// MaxLocationLinksBytes bounds the JSON of one location's link results of
// one check, stored by PutLinks and read by LinkReports: 64 MiB, room for
// the 100,000 links a link source may return (about 400 bytes each),
// while a row written there by anything else cannot make the combining
// replica read an unbounded text.
const MaxLocationLinksBytes = 64 << 20

// locationLinksLimit is MaxLocationLinksBytes (lowered by tests).
var locationLinksLimit = MaxLocationLinksBytes

// ErrLinksTooLarge is PutLinks' error for link results over
// MaxLocationLinksBytes.
var ErrLinksTooLarge = errors.New("link results too large to store")

// PutLinks stores the link results of the check name seen from this node's location.
func (n *Node) PutLinks(ctx context.Context, name string, links []check.LinkResult) error {
	b, err := json.Marshal(links)
	if err != nil {
		return fmt.Errorf("cluster: link results of %s: %w", name, err)
	}
	if len(b) > locationLinksLimit {
		return fmt.Errorf("cluster: link results of %s: %w (%d bytes, at most %d)", name, ErrLinksTooLarge, len(b), locationLinksLimit)
	}
	if _, err := n.dataDB().ExecContext(ctx, putLinksSQL, name, n.opts.Location, string(b)); err != nil {
		return fmt.Errorf("cluster: store link results of %s: %w", name, err)
	}
	return nil
}

// linkReportsSQL reads the rows of a check younger than $2 µs whose
// location has a live member ($3 µs: the TTL), by the server's clock: the
// location (cut past MaxLocationLength + 1 bytes, which ValidLocation
// refuses), the links' JSON only when at most $4 bytes, and its length.
const linkReportsSQL = `SELECT left(location, ` + maxLocationRead + `), CASE WHEN octet_length(t) <= $4::bigint THEN t END, octet_length(t) FROM (
	SELECT location, links::text AS t FROM link_location_results
	WHERE check_name = $1 AND checked_at > now() - $2::bigint * interval '1 microsecond'
	AND location IN (SELECT location FROM cluster_members
		WHERE heartbeat_at > now() - $3::bigint * interval '1 microsecond' AND heartbeat_at <= now())
) r`

// maxLocationRead is MaxLocationLength + 1, in SQL.
const maxLocationRead = "65"

// LinkReports returns the latest link results of the check name of every location
// that has a live member and stored them within maxAge plus the TTL (the
// time another member of a location needs to take over its runs), by
// location. A location's row that cannot be used (an invalid location,
// links over MaxLocationLinksBytes, not JSON, a status that is not one)
// is left out, as if the location had not reported, and logged once
// (until it is usable again).
func (n *Node) LinkReports(ctx context.Context, name string, maxAge time.Duration) (map[string][]check.LinkResult, error) {
	rows, err := n.dataDB().QueryContext(ctx, linkReportsSQL, name, (maxAge + n.opts.TTL).Microseconds(), n.opts.TTL.Microseconds(),
		locationLinksLimit)
	if err != nil {
		return nil, fmt.Errorf("cluster: link results of %s: %w", name, err)
	}
	defer rows.Close()
	out := map[string][]check.LinkResult{}
	for rows.Next() {
		var loc string
		var raw sql.RawBytes
		var size int64
		if err := rows.Scan(&loc, &raw, &size); err != nil {
			return nil, fmt.Errorf("cluster: link results of %s: %w", name, err)
		}
		if loc != "" && !ValidLocation(loc) {
			n.unusableReport(name, loc, "cluster: link results of an invalid location left out", "location_bytes", len(loc))
			continue
		}
		if size > int64(locationLinksLimit) {
			n.unusableReport(name, loc, "cluster: link results of a location too large: left out, as if it had not reported",
				"location", loc, "bytes", size, "max_bytes", locationLinksLimit)
			continue
		}
		links, err := decodeLocationLinks(raw)
		if err != nil {
			n.unusableReport(name, loc, "cluster: link results of a location not readable: left out, as if it had not reported",
				"location", loc, "err", err)
			continue
		}
		n.usableReport(name, loc)
		out[loc] = links
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cluster: link results of %s: %w", name, err)
	}
	return out, nil
}

// decodeLocationLinks reads a location's stored link results, trusting
// nothing: every link must have a status.
func decodeLocationLinks(raw []byte) ([]check.LinkResult, error) {
	var links []check.LinkResult
	if err := json.Unmarshal(raw, &links); err != nil {
		return nil, err
	}
	for i, l := range links {
		if !l.Status.Valid() {
			return nil, fmt.Errorf("link %d: not a status (%d bytes)", i, len(l.Status))
		}
	}
	return links, nil
}

// unusableRows remembers the location rows logged as unusable, by node,
// check and location (hashed: an invalid location may be any text), so
// that each is logged once rather than at every combination, until it is
// usable again (usableReport). At most maxUnusableRows are remembered;
// past that, rows are logged each time.
var unusableRows = struct {
	sync.Mutex
	seen map[uint64]bool
}{seen: map[uint64]bool{}}

const maxUnusableRows = 4096

func (n *Node) reportKey(name, loc string) uint64 {
	h := fnv.New64a()
	for _, s := range []string{n.ID(), name, loc} {
		_, _ = h.Write([]byte(s))
		_, _ = h.Write([]byte{0})
	}
	return h.Sum64()
}

// unusableReport logs msg with args about the row of check name from loc,
// unless it did already.
func (n *Node) unusableReport(name, loc, msg string, args ...any) {
	k := n.reportKey(name, loc)
	unusableRows.Lock()
	seen := unusableRows.seen[k]
	if !seen && len(unusableRows.seen) < maxUnusableRows {
		unusableRows.seen[k] = true
	}
	unusableRows.Unlock()
	if !seen {
		n.opts.Logger.Warn(msg, append([]any{"check", name}, args...)...)
	}
}

// usableReport forgets that the row of check name from loc was unusable.
func (n *Node) usableReport(name, loc string) {
	unusableRows.Lock()
	if len(unusableRows.seen) > 0 {
		delete(unusableRows.seen, n.reportKey(name, loc))
	}
	unusableRows.Unlock()
}

// dataDB is the pool of link results: its own when Open made the node, so
// that they never hold up a lease renewal.
func (n *Node) dataDB() *sql.DB {
	if n.data != nil {
		return n.data
	}
	return n.db
}
