// Command rss measures scrapes of one variant in a fresh process: VmRSS and
// HeapInuse before the first and after the last of N scrapes, the peak RSS
// and the median time per scrape.
//
//	go run ./bench/metrics/rss -variant text -checks 10000 -scrapes 5
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/debug"

	benchmetrics "github.com/monitor-dev/monitor/bench/metrics"
	"github.com/monitor-dev/monitor/bench/metrics/fixture"
)

func main() {
	variant := flag.String("variant", "text", "before, cached or text")
	checks := flag.Int("checks", 10000, "heartbeat checks")
	scrapes := flag.Int("scrapes", 5, "scrapes")
	gz := flag.Bool("gzip", false, "ask for gzip")
	flag.Parse()
	mk, ok := benchmetrics.Variants[*variant]
	if !ok {
		fmt.Fprintln(os.Stderr, "unknown variant", *variant)
		os.Exit(2)
	}
	f := fixture.New(*checks)
	h := mk(f)
	debug.FreeOSMemory()
	fmt.Println(fixture.Measure(*variant, *checks, h, *scrapes, *gz))
}
