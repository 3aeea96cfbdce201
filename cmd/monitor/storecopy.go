package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/store"
)

// cmdStore runs `monitor store copy`: every table of one history store
// into another, empty one (SQLite to PostgreSQL, or back).
func cmdStore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if code, done := groupUsage("store", args, stdout, stderr); done {
		return code
	}
	fs := newCommand("store copy")
	from := fs.String("from", "", "the `DSN` of the store to copy: sqlite://path/monitor.db or postgres://... (a relative sqlite path is relative to the working directory)")
	to := fs.String("to", "", "the `DSN` of the empty store to fill: postgres://... or sqlite://...")
	var lf logFlags
	lf.register(fs)
	rest, code, ok := parse(fs, "store copy", args[1:], stdout, stderr)
	if !ok {
		return code
	}
	if !lf.check("store copy", stderr) {
		return exitConfig
	}
	switch {
	case len(rest) > 0:
		fmt.Fprintf(stderr, "monitor store copy: unexpected argument %q\n", rest[0])
		return exitConfig
	case *from == "" || *to == "":
		fmt.Fprintln(stderr, "monitor store copy: --from and --to are required\nRun 'monitor store copy --help' for usage.")
		return exitConfig
	case *from == *to:
		fmt.Fprintln(stderr, "monitor store copy: --from and --to name the same store")
		return exitConfig
	}
	redact := check.NewRedactor(*from, *to)
	// Ctrl-C or SIGTERM stops the copy between two statements, so that it
	// can say what it leaves behind instead of dying silently.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	stats, err := store.Copy(ctx, *from, *to, nil)
	stop()
	if errors.Is(err, store.ErrSameStore) {
		fmt.Fprintf(stderr, "monitor store copy: %s\n", err)
		return exitConfig
	}
	if len(stats.Tables) > 0 {
		w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "TABLE\tROWS")
		for i, t := range stats.Tables {
			fmt.Fprintf(w, "%s\t%d\n", t, stats.Rows[i])
		}
		_ = w.Flush()
	}
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			err = errors.New("interrupted")
		}
		fmt.Fprintf(stderr, "monitor store copy: %s\n", check.RedactText(redact.Redact(err.Error())))
		var copied int64
		for _, n := range stats.Rows {
			copied += n
		}
		if copied > 0 {
			fmt.Fprintf(stderr, "monitor store copy: the target holds a partial copy (%d rows written): it is not a usable store, "+
				"do not point storage.dsn at it; delete it (the SQLite file, or DROP SCHEMA ... CASCADE) and copy again\n", copied)
		}
		return exitFail
	}
	fmt.Fprintln(stdout, "copied; point storage.dsn at the new store and start the daemon")
	return exitOK
}
