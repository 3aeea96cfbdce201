// Package cluster coordinates replicas of the monitor through PostgreSQL,
// the history store they share, and nothing else: no gossip, no consensus
// of its own (issue 14).
//
// Three tables' worth of state, all judged by the server's clock:
//
//   - Members: each replica upserts a row of cluster_members every TTL/3
//     (heartbeat_at = now()); live members are those heard from within the
//     TTL. A replica that stops cleanly deletes its row.
//   - Ownership: each check name belongs to one live member, chosen by
//     rendezvous hashing (Owner), so that a joining or leaving member moves
//     about 1/N of the names and nothing else.
//   - Leases: a member runs a check only while it holds the check's lease
//     in cluster_leases, claimed and renewed in batch by one statement per
//     round (Leases.Sync). Locally a lease counts from the monotonic time
//     the statement was sent, plus the TTL, minus a safety margin; the
//     server's timestamps are never compared with the local clock. Two
//     members therefore never hold one name at the same instant, and a
//     member that loses the database stops holding anything within the TTL.
//
// Multi-location checks (link checks with quorum > 1, see locations.go)
// have, besides their own lease, one lease per location with a live
// member, "check@location", held by that location's runner (Owner over the
// location's members); the runners store their link results in
// link_location_results (migration 7) and the check's owner combines them.
//
// The leader is whoever holds the lease named LeaderLease, which every live
// member claims by the same statement. Node ties the pieces together in a
// loop and exports the state as Prometheus metrics and a health state.
//
// The store (store.Open) creates the tables (migrations 5 and 7); this package
// only reads and writes them.
//
// A daemon uses it so: open the store, then Open a Node on the same DSN;
// SetChecks with the configured check names (again on every reload); go
// Run(ctx); before each run of a check, Bind the run to the check's lease
// (skip it when not held) and run it under the context Bind returns, which
// ends as soon as the lease lapses locally: then drop its result; run the
// leader's duties only while IsLeader;
// register the Node with the Prometheus registry; report State in health
// (State().String() is "ok", "starting" or "no database since <time>: not
// running checks", never an error text: State.Err has the redacted one,
// for logs);
// on shutdown, stop Run and the checks, then Close, so that the others
// take over at once rather than after the TTL.
package cluster
