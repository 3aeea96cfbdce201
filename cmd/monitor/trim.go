package main

import (
	"log/slog"
	"runtime/debug"
	"time"
)

// trimAfter is how long after the daemon is ready it trims its start-up
// memory: past the first status page build and the checks' start jitter
// (5 s by default), so that the first round of every check has run too.
const trimAfter = 10 * time.Second

// trimStartup gives back what starting the daemon needed and running it
// does not: the garbage of reading the config, migrating the store and
// parsing the templates (debug.FreeOSMemory), and the pages of the
// binary's code and read-only data that only start-up touched (the YAML
// decoder, migrations, template and Markdown parsers; see pageOutBinary).
// At 1,000 link checks the binary's resident pages go from ~23 to ~17 MiB
// (bench/scale); pages that later runs need come back from the page cache
// on first touch (minor faults, no I/O).
func trimStartup(log *slog.Logger) {
	debug.FreeOSMemory()
	n, err := pageOutBinary()
	if err != nil {
		log.Debug("start-up memory not trimmed", "err", err)
		return
	}
	log.Debug("start-up memory trimmed", "binary_bytes_advised", n)
}
