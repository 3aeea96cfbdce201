#!/usr/bin/env bash
# Side-by-side comparison of the /metrics variants at 1,000 and 10,000
# heartbeat checks (see README.md): Go benchmarks with -benchmem, then each
# variant scraped N times in a fresh process, RUNS times.
#
#   bench/metrics/run.sh                 # RUNS=3 SCRAPES=5
set -euo pipefail
RUNS=${RUNS:-3}
SCRAPES=${SCRAPES:-5}
cd "$(dirname "$0")/../.."
echo "== go test -bench (count $RUNS)"
go test -run '^$' -bench 'Scrape' -benchmem -count "$RUNS" ./bench/metrics/
(cd bench/metrics/vm && go test -run '^$' -bench Scrape -benchmem -count "$RUNS" .)
echo "== fresh process, $SCRAPES scrapes"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/rss" ./bench/metrics/rss
(cd bench/metrics/vm && go build -o "$tmp/rss-vm" ./rss)
for n in 1000 10000; do
	for run in $(seq "$RUNS"); do
		for v in before cached text; do
			"$tmp/rss" -variant "$v" -checks "$n" -scrapes "$SCRAPES"
		done
		"$tmp/rss" -variant text -checks "$n" -scrapes "$SCRAPES" -gzip | sed 's/^text    /text+gz /'
		"$tmp/rss-vm" -checks "$n" -scrapes "$SCRAPES"
	done
done
