// Command rss is bench/metrics/rss for the VictoriaMetrics variant.
//
//	cd bench/metrics/vm && go run ./rss -checks 10000 -scrapes 5
package main

import (
	"flag"
	"fmt"
	"runtime/debug"

	"github.com/monitor-dev/monitor/bench/metrics/fixture"
	"github.com/monitor-dev/monitor/bench/metrics/vm"
)

func main() {
	checks := flag.Int("checks", 10000, "heartbeat checks")
	scrapes := flag.Int("scrapes", 5, "scrapes")
	flag.Parse()
	f := fixture.New(*checks)
	h := vm.Handler(f)
	debug.FreeOSMemory()
	fmt.Println(fixture.Measure("vm", *checks, h, *scrapes, false))
}
