package store

import (
	"cmp"
	"slices"
)

// linksMigration is version 8, the latest per-link results of each link
// check (cluster mode, Options.ShareLinks; see links.go): one row per
// check, written by the replica that ran it in the transaction of its
// result, and read by every replica's results feed, so that GET /v2/links
// answers on any replica. links is the JSON of sharedLinks (TEXT, not
// JSONB: it is only ever read back whole, and TEXT keeps an escaped NUL).
// Unused (and harmless) on SQLite, which never runs a cluster. Added from
// init, like claimsMigration, so that it merges with other new versions in
// any order.
var linksMigration = migration{8, "latest per-link results", []string{
	`CREATE TABLE latest_links (
		check_id INTEGER PRIMARY KEY,
		ts BIGINT NOT NULL,
		links TEXT NOT NULL
	)`,
}}

func init() {
	migrations = append(migrations, linksMigration)
	slices.SortStableFunc(migrations, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
}
