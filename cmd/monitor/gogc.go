package main

import (
	"os"
	"runtime/debug"
)

// defaultGOGC is the daemon's garbage collection target when $GOGC is not
// set: the heap may grow 50 % past what the last collection kept, instead
// of Go's 100 %. Most of the daemon's heap is long-lived per-check state
// (series, latest results, alert state), so Go's default mostly holds
// garbage: at 10,000 checks this takes ~2.5 KiB of resident memory per
// check off for ~10 % more CPU (bench/scale). Prometheus made the same
// choice (75 since v2.53). $GOGC, when set, wins (GOGC=100 is Go's default).
const defaultGOGC = 50

// setGCPercent applies defaultGOGC unless the environment sets GOGC; it
// returns the percentage in effect when it set one, and false when it left
// the runtime's alone.
func setGCPercent() (int, bool) {
	if _, set := os.LookupEnv("GOGC"); set {
		return 0, false
	}
	debug.SetGCPercent(defaultGOGC)
	return defaultGOGC, true
}
