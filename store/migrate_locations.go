package store

import (
	"cmp"
	"slices"
)

// locationsMigration is version 7, the link results of each location of a
// multi-location link check (quorum > 1; package cluster's LinkResults):
// one row per check and location, replaced by each run of the location's
// runner and read by the replica that combines them. Unused (and
// harmless) on SQLite, which never runs a cluster. Added from init, like
// claimsMigration, so that it merges with other new versions in any order.
var locationsMigration = migration{7, "link location results", []string{
	`CREATE TABLE link_location_results (
		check_name TEXT NOT NULL,
		location TEXT NOT NULL,
		checked_at TIMESTAMPTZ NOT NULL,
		links JSONB NOT NULL,
		PRIMARY KEY (check_name, location)
	)`,
}}

func init() {
	migrations = append(migrations, locationsMigration)
	slices.SortStableFunc(migrations, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
}
