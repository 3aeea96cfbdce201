package cluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/dsn"
)

// DefaultTTL is the lease and membership TTL when Options.TTL is zero.
const DefaultTTL = 15 * time.Second

// Options configure a Node. The zero value gives the defaults.
type Options struct {
	// ID is the member id (default NewID()).
	ID string
	// Location and Listen are registered with the member.
	Location, Listen string
	// TTL is how long a member stays live without a heartbeat and how
	// long a lease lasts without renewal (default DefaultTTL).
	TTL time.Duration
	// Interval is the time between rounds, and a round's time limit
	// (default TTL/3; so is a value not below TTL − Margin, with which
	// leases would lapse between rounds).
	Interval time.Duration
	// Margin is taken off every lease locally (default TTL/5; so is a
	// value not below TTL/2): the time a run cancelled at its lease's
	// local end (Bind) has to stop before another member may claim the
	// lease, and room for the two clocks' rates.
	Margin time.Duration
	// Logger gets state changes (default: discarded).
	Logger *slog.Logger
	// OnAcquire, if set, is called after a round with the checks whose
	// lease this node gained in it (not held in the round before: taken
	// over from a member that died or left, or new), each name once; a
	// location runner's lease (LocationLease) counts as its check's name.
	// It runs in the round's loop: it must not block.
	OnAcquire func(checks []string)
}

// State is a Node's health: whether its last round reached the database.
type State struct {
	// OK is true while the last round succeeded.
	OK bool
	// Since is when the state began: the first failed round's start, or
	// the first successful round's end (zero before the first round).
	Since time.Time
	// Err is the last round's error (redacted), when not OK: for logs
	// only, since even redacted it may name the database's user, host and
	// name.
	Err string
}

// String returns "starting", "ok", or "no database since <time>: not
// running checks": what /readyz may show anyone, so never the error.
func (s State) String() string {
	if s.OK {
		return "ok"
	}
	if s.Since.IsZero() {
		return "starting"
	}
	return fmt.Sprintf("no database since %s: not running checks", s.Since.UTC().Format(time.RFC3339))
}

// Node is one member of the cluster: every Interval its Run loop renews
// its heartbeat, lists the live members, computes the checks it owns by
// rendezvous hashing over them, and syncs its leases on those and on the
// leader's lease. It is a prometheus.Collector.
type Node struct {
	db      *sql.DB
	data    *sql.DB // link results' pool (Open), or nil: db
	ownDB   bool
	opts    Options
	members *Members
	leases  *Leases
	redact  func(string) string

	mu     sync.Mutex
	checks []string
	// located are the checks run once per location (SetLocationChecks).
	located []string
	live    []Member
	state   State
	rounds  int

	syncErrors atomic.Uint64

	descMembers, descOwned, descLeader, descErrors *prometheus.Desc
}

// Open connects to the PostgreSQL database named by d (a postgres:// URL,
// the store's) with a pool of its own, so that lease renewals never queue
// behind the store's writes, and returns a Node on it. The store must have
// been opened (and so migrated) first. Errors never carry the password.
func Open(ctx context.Context, d string, opts Options) (*Node, error) {
	secrets := check.NewRedactor(append(dsn.Secrets(d), d)...)
	if e, err := dsn.EngineOf(d); err != nil || e != dsn.Postgres {
		return nil, errors.New("cluster: the storage DSN must be postgres:// or postgresql://")
	}
	cfg, err := dsn.ParsePostgres(d, "monitor-cluster")
	if err != nil {
		return nil, fmt.Errorf("cluster: %s", secrets.Redact(err.Error()))
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("cluster: connect: %s", secrets.Redact(err.Error()))
	}
	n := newNode(db, opts, secrets.Redact)
	n.ownDB = true
	n.data = stdlib.OpenDB(*cfg)
	n.data.SetMaxOpenConns(2)
	n.data.SetMaxIdleConns(2)
	n.data.SetConnMaxIdleTime(5 * time.Minute)
	return n, nil
}

// New returns a Node on db, a pool of the PostgreSQL database holding the
// store's schema; Close leaves db open.
func New(db *sql.DB, opts Options) *Node {
	return newNode(db, opts, check.RedactText)
}

func newNode(db *sql.DB, opts Options, redact func(string) string) *Node {
	if opts.ID == "" {
		opts.ID = NewID()
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Margin <= 0 || opts.Margin >= opts.TTL/2 {
		opts.Margin = opts.TTL / 5
	}
	if opts.Interval <= 0 || opts.Interval >= opts.TTL-opts.Margin {
		opts.Interval = opts.TTL / 3
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{
		db: db, opts: opts, redact: redact,
		members: NewMembers(db, Member{ID: opts.ID, Location: opts.Location, Listen: opts.Listen}, opts.TTL),
		leases:  NewLeases(db, opts.ID, opts.TTL, opts.Margin, opts.Interval),
		descMembers: prometheus.NewDesc("monitor_cluster_members",
			"Live members of the cluster as this replica saw them in its last round; 0 while it cannot reach the database.", nil, nil),
		descOwned: prometheus.NewDesc("monitor_cluster_owned_checks",
			"Checks whose lease this replica holds now.", nil, nil),
		descLeader: prometheus.NewDesc("monitor_cluster_leader",
			"1 while this replica holds the leader's lease, else 0.", nil, nil),
		descErrors: prometheus.NewDesc("monitor_cluster_sync_errors_total",
			"Rounds that failed to reach the database (heartbeat or lease sync).", nil, nil),
	}
	return n
}

// ID returns the node's member id.
func (n *Node) ID() string { return n.opts.ID }

// SetChecks sets the names of the checks to share out (the configured
// checks; call again on a reload). The next round applies them.
func (n *Node) SetChecks(names []string) {
	names = sortedSet(names)
	n.mu.Lock()
	n.checks = names
	n.mu.Unlock()
}

// Run runs a round now and then every Interval until ctx ends. It returns
// nil then, without leaving the cluster (Close does): a Node whose Run
// stopped looks to the others like a killed process. Failed rounds are
// reported by State, the metrics and the log; the loop goes on.
func (n *Node) Run(ctx context.Context) error {
	t := time.NewTicker(n.opts.Interval)
	defer t.Stop()
	for {
		_ = n.Round(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Round runs one round, bounded by Interval: heartbeat and list the live
// members (one statement), then sync the leases of the owned checks and
// of the leader (one statement, plus one when leases are to be released).
// Run calls it; call it directly only where no Run loop goes on.
func (n *Node) Round(ctx context.Context) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, n.opts.Interval)
	defer cancel()
	live, err := n.members.Heartbeat(ctx)
	if err == nil {
		ids := make([]string, len(live))
		for i, m := range live {
			ids[i] = m.ID
		}
		n.mu.Lock()
		checks, located := n.checks, n.located
		n.mu.Unlock()
		want := make([]string, 0, len(checks)/max(len(ids), 1)+8)
		for _, c := range checks {
			if Owner(c, ids) == n.opts.ID {
				want = append(want, c)
			}
		}
		for _, c := range located {
			if LocationOwner(c, n.opts.Location, live) == n.opts.ID {
				want = append(want, LocationLease(c, n.opts.Location))
			}
		}
		want = append(want, LeaderLease)
		if err = n.leases.Sync(ctx, want); err == nil {
			n.mu.Lock()
			n.live = live
			n.mu.Unlock()
		}
	}
	if err == nil && n.IsLeader() {
		// Housekeeping: a failure here holds no lease back, so it is only
		// logged (the next rounds reach the database or say so).
		if perr := n.prune(ctx); perr != nil {
			n.opts.Logger.Warn("cluster: prune failed", "member", n.opts.ID, "err", n.redact(perr.Error()))
		}
	}
	n.setState(start, err)
	if got := n.leases.TakeAcquired(); len(got) > 0 && n.opts.OnAcquire != nil {
		checks := make([]string, 0, len(got))
		for _, name := range got {
			if name == LeaderLease {
				continue
			}
			if i := strings.LastIndexByte(name, '@'); i >= 0 {
				name = name[:i] // check@location
			}
			checks = append(checks, name)
		}
		slices.Sort(checks)
		if checks = slices.Compact(checks); len(checks) > 0 {
			n.opts.OnAcquire(checks)
		}
	}
	return err
}

// prune deletes, every 30 rounds of the leader, the rows of members gone
// for 10 TTLs and the leases expired for as long (no one claims them:
// their checks were removed). It skips rows locked by a claim.
func (n *Node) prune(ctx context.Context) error {
	n.mu.Lock()
	n.rounds++
	due := n.rounds%30 == 1
	n.mu.Unlock()
	if !due {
		return nil
	}
	old := (10 * n.opts.TTL).Microseconds()
	if _, err := n.db.ExecContext(ctx, `DELETE FROM cluster_members
		WHERE heartbeat_at < now() - $1::bigint * interval '1 microsecond'`, old); err != nil {
		return fmt.Errorf("cluster prune: %w", err)
	}
	if _, err := n.db.ExecContext(ctx, `DELETE FROM cluster_leases WHERE name IN (
		SELECT name FROM cluster_leases WHERE expires_at < now() - $1::bigint * interval '1 microsecond'
		FOR UPDATE SKIP LOCKED)`, old); err != nil {
		return fmt.Errorf("cluster prune: %w", err)
	}
	// Link results of checks no longer run in several locations (rows of
	// gone locations are few, and LinkReports skips them).
	n.mu.Lock()
	located := append([]string{}, n.located...) // never NULL
	n.mu.Unlock()
	if _, err := n.db.ExecContext(ctx, `DELETE FROM link_location_results
		WHERE NOT (check_name = ANY($1::text[])) AND checked_at < now() - $2::bigint * interval '1 microsecond'`,
		located, old); err != nil {
		return fmt.Errorf("cluster prune: %w", err)
	}
	return nil
}

func (n *Node) setState(start time.Time, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	was := n.state
	if err == nil {
		if !was.OK {
			n.state = State{OK: true, Since: time.Now()}
			if !was.Since.IsZero() {
				n.opts.Logger.Info("cluster: database reached again: running owned checks",
					"member", n.opts.ID, "down_since", was.Since)
			}
		}
		return
	}
	n.syncErrors.Add(1)
	msg := n.redact(err.Error())
	if was.OK || was.Since.IsZero() {
		n.state = State{Since: start, Err: msg}
		n.opts.Logger.Warn("cluster: lost the database: not running checks once the leases lapse",
			"member", n.opts.ID, "ttl", n.opts.TTL, "err", msg)
		return
	}
	n.state.Err = msg
	n.opts.Logger.Debug("cluster: round failed", "member", n.opts.ID, "err", msg)
}

// State returns the node's health.
func (n *Node) State() State {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state
}

// Holds reports whether this node holds check's lease now.
func (n *Node) Holds(check string) bool { return n.leases.Holds(check) }

// Bind returns a context for a run under the leases named (a check's
// name, and LocationLease for a location's runner), derived from parent
// and cancelled with the cause ErrLeaseLapsed as soon as this node's lease
// on any of them lapses locally: not renewed in time (the database is
// gone), lost to another member, or given up by Close. ok is false unless
// every lease is held now; then skip the run. Call stop when the run
// ends. A run whose context ended so must be abandoned (its result neither
// stored nor published): another replica may be running the check. A run
// whose leases are renewed is never cut short, whatever its timeout.
func (n *Node) Bind(parent context.Context, leases ...string) (ctx context.Context, stop context.CancelFunc, ok bool) {
	return n.leases.Bind(parent, leases...)
}

// Held returns the check names whose lease this node holds now, sorted
// (not the leases of location runners: see LocationLease).
func (n *Node) Held() []string {
	return slices.DeleteFunc(n.leases.Held(), func(s string) bool { return s == LeaderLease || isLocationLease(s) })
}

// IsLeader reports whether this node holds the leader's lease now.
func (n *Node) IsLeader() bool { return n.leases.Holds(LeaderLease) }

// Members returns the live members as seen by the last successful round.
func (n *Node) Members() []Member {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.live)
}

// Close leaves the cluster: it releases every lease and deletes the
// member's row, so that the others take over at their next round instead
// of after the TTL, then closes the pool when Open made it. Stop Run and
// the checks first.
func (n *Node) Close(ctx context.Context) error {
	err := errors.Join(n.leases.Release(ctx), n.members.Close(ctx))
	if n.ownDB {
		err = errors.Join(err, n.db.Close(), n.data.Close())
	}
	if err != nil {
		return errors.New(n.redact(err.Error()))
	}
	return nil
}

// Describe sends the metrics' descriptions.
func (n *Node) Describe(ch chan<- *prometheus.Desc) {
	ch <- n.descMembers
	ch <- n.descOwned
	ch <- n.descLeader
	ch <- n.descErrors
}

// Collect sends the metrics: members as last seen, leases held now (not
// counting the leader's), leadership now, and failed rounds.
func (n *Node) Collect(ch chan<- prometheus.Metric) {
	n.mu.Lock()
	members := len(n.live)
	if !n.state.OK {
		members = 0
	}
	n.mu.Unlock()
	leader := 0.0
	if n.IsLeader() {
		leader = 1
	}
	owned := len(n.Held())
	ch <- prometheus.MustNewConstMetric(n.descMembers, prometheus.GaugeValue, float64(members))
	ch <- prometheus.MustNewConstMetric(n.descOwned, prometheus.GaugeValue, float64(owned))
	ch <- prometheus.MustNewConstMetric(n.descLeader, prometheus.GaugeValue, leader)
	ch <- prometheus.MustNewConstMetric(n.descErrors, prometheus.CounterValue, float64(n.syncErrors.Load()))
}
