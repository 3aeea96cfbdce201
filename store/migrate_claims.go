package store

import (
	"cmp"
	"slices"
)

// claimsMigration is version 6, the outbox's delivery claims (see
// outbox_claims.go): the dispatcher that holds a pending delivery, and
// until when (unix ms, the store's clock); both NULL when nobody does.
//
// It is added here rather than in the list of migrate.go so that it merges
// with other new versions (5, the cluster's tables) in any order: the list
// is kept sorted by version, and each version is applied by itself, so a
// database may hold 6 before 5.
var claimsMigration = migration{6, "delivery claims", []string{
	`ALTER TABLE deliveries ADD COLUMN claimed_by TEXT`,
	`ALTER TABLE deliveries ADD COLUMN claimed_until BIGINT`,
}}

func init() {
	migrations = append(migrations, claimsMigration)
	slices.SortStableFunc(migrations, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
}

// latestVersion is the newest migration this monitor knows (migrations
// may be added to the list out of order, from init functions).
func latestVersion() int {
	v := 0
	for _, m := range migrations {
		v = max(v, m.version)
	}
	return v
}
