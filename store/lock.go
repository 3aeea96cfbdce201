package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// ErrLocked means another monitor holds the store: two daemons writing one
// history would interleave their results.
var ErrLocked = errors.New("history store in use by another monitor")

// Owner names the daemon taking a store for itself (Options.Owner): its
// process id and host are added, and all three are named in the ErrLocked
// of a second daemon.
type Owner struct {
	Listen string // the HTTP listen address
}

// holder describes a process holding a store.
type holder struct {
	pid    int
	host   string
	listen string
	since  time.Time
}

func (h holder) String() string {
	var parts []string
	if h.pid > 0 {
		parts = append(parts, "pid "+strconv.Itoa(h.pid))
	}
	if h.host != "" {
		parts = append(parts, "host "+h.host)
	}
	if h.listen != "" {
		parts = append(parts, "listening on "+h.listen)
	}
	if !h.since.IsZero() {
		parts = append(parts, "since "+h.since.UTC().Format(time.RFC3339))
	}
	return strings.Join(parts, ", ")
}

func self(o *Owner) holder {
	host, _ := os.Hostname()
	return holder{pid: os.Getpid(), host: host, listen: o.Listen, since: time.Now()}
}

// LockedError is the ErrLocked of a store another monitor holds, naming
// that monitor; its message is whole, to be shown without prefixes.
type LockedError struct {
	msg  string
	held holder
}

// ours tells whether this process holds the lock (a second Open of a store
// it has open, under another spelling of its DSN).
func (e *LockedError) ours() bool {
	host, _ := os.Hostname()
	return e.held.pid == os.Getpid() && e.held.host == host
}

func (e *LockedError) Error() string { return e.msg }

// Is makes errors.Is(err, ErrLocked) hold.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

func lockedErr(h holder) error {
	who := ""
	if s := h.String(); s != "" {
		who = " (" + s + ")"
	}
	return &LockedError{msg: ErrLocked.Error() + who + "; stop that one first, or give this one another storage.dsn", held: h}
}

// lockFile takes the exclusive lock on path (the SQLite database's
// path + ".lock") and writes the holder into it. A lock held by another
// process fails at once with ErrLocked naming that process.
func lockFile(path string, o *Owner) (*flock.Flock, error) {
	fl := flock.New(path, flock.SetPermissions(0o640))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		return nil, lockedErr(parseHolder(path))
	}
	me := self(o)
	// The lock is on the file, not on its content: written through another
	// descriptor, the content only informs the next one to try.
	_ = os.WriteFile(path, fmt.Appendf(nil, "pid=%d\nhost=%s\nlisten=%s\nsince=%s\n",
		me.pid, me.host, me.listen, me.since.UTC().Format(time.RFC3339)), 0o640)
	return fl, nil
}

// parseHolder reads the holder a lock file names.
func parseHolder(path string) holder {
	var h holder
	b, err := os.ReadFile(path)
	if err != nil {
		return h
	}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "pid":
			h.pid, _ = strconv.Atoi(v)
		case "host":
			h.host = v
		case "listen":
			h.listen = v
		case "since":
			h.since, _ = time.Parse(time.RFC3339, v)
		}
	}
	return h
}

// lockPostgres takes the store's session advisory lock on a connection of
// its own, kept until Close, and records the holder in the owner table. A
// lock held by another session fails at once with ErrLocked naming the
// holder it recorded.
func lockPostgres(ctx context.Context, db *sql.DB, o *Owner) (*sql.Conn, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var ok bool
	if err := conn.QueryRowContext(ctx,
		"SELECT pg_try_advisory_lock($1, hashtext(coalesce(current_schema(), '')))", lockOwner).Scan(&ok); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("lock: %w", err)
	}
	if !ok {
		_ = conn.Close()
		var h holder
		var since int64
		err := db.QueryRowContext(ctx, "SELECT pid, host, listen, since FROM owner WHERE id = 1").Scan(&h.pid, &h.host, &h.listen, &since)
		if err == nil {
			h.since = time.UnixMilli(since)
		}
		return nil, lockedErr(h)
	}
	me := self(o)
	if _, err := conn.ExecContext(ctx, `INSERT INTO owner (id, pid, host, listen, since) VALUES (1, $1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host, listen = excluded.listen, since = excluded.since`,
		me.pid, me.host, me.listen, me.since.UnixMilli()); err != nil {
		unlockPostgres(conn)
		return nil, fmt.Errorf("record owner: %w", err)
	}
	return conn, nil
}

// unlockPostgres releases the session lock and hands the connection back.
func unlockPostgres(conn *sql.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1, hashtext(coalesce(current_schema(), '')))", lockOwner)
	_ = conn.Close()
}
