#!/usr/bin/env bash
# The real daemon at 10,000 heartbeat checks (freshness, source {heartbeat:
# true}, max_age 1h, interval 10s, SQLite store in a temp dir), before and
# after, side by side: the binary of BASE (default f876c08, built from a
# detached worktree) and of the working tree, RUNS rounds alternating.
# Per daemon: start, wait for /readyz, WARMUP seconds (every check has run),
# one warm-up scrape, then 5 scrapes: median time_total, bytes (plain and
# gzip), VmRSS before the warm-up scrape, before and after the 5 scrapes.
#
#   bench/metrics/daemon.sh              # CHECKS=10000 RUNS=3 WARMUP=30
set -euo pipefail
CHECKS=${CHECKS:-10000}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-30}
BASE=${BASE:-f876c08}
PORT=${PORT:-18913}
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
pid=""
cleanup() {
	if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	git worktree remove --force "$tmp/base" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
git worktree add --detach "$tmp/base" "$BASE" >/dev/null 2>&1
(cd "$tmp/base" && go build -o "$tmp/monitor-before" ./cmd/monitor)
go build -o "$tmp/monitor-after" ./cmd/monitor

{
	echo "server: { listen: 127.0.0.1:$PORT }"
	echo "storage: { dsn: \"sqlite://$tmp/store/monitor.db\" }"
	echo "defaults: { interval: 10s, timeout: 5s }"
	echo "checks:"
	for i in $(seq -f %05g 0 $((CHECKS - 1))); do
		echo "  - { name: hb_$i, kind: freshness, source: { heartbeat: true }, max_age: 1h }"
	done
} >"$tmp/config.yaml"

rss() { awk '/^VmRSS:/ {printf "%.1f", $2/1024}' "/proc/$pid/status"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
url="http://127.0.0.1:$PORT/metrics"
accept='Accept: application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2'

printf '%-7s %-3s %10s %10s %10s %9s %9s %9s %9s\n' which run "scrape_ms" "bytes" "gzip_B" "rss_idle" "rss_warm" "rss_5" "growth5"
for run in $(seq "$RUNS"); do
	for which in before after; do
		rm -rf "$tmp/store"; mkdir -p "$tmp/store"
		"$tmp/monitor-$which" run --config "$tmp/config.yaml" >"$tmp/$which.log" 2>&1 &
		pid=$!
		for _ in $(seq 600); do
			curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz" && break
			sleep 0.1
		done
		sleep "$WARMUP"
		idle=$(rss)
		curl -s -o /dev/null -H "$accept" "$url" # warm-up
		warm=$(rss)
		times=""
		for _ in 1 2 3 4 5; do
			times+="$(curl -s -o /dev/null -w '%{time_total}' -H "$accept" "$url")"$'\n'
		done
		after5=$(rss)
		ms=$(echo -n "$times" | median | awk '{printf "%.0f", $1*1000}')
		bytes=$(curl -s -o /dev/null -w '%{size_download}' -H "$accept" "$url")
		gz=$(curl -s -o /dev/null -w '%{size_download}' -H "$accept" -H 'Accept-Encoding: gzip' "$url")
		growth=$(awk -v a="$after5" -v b="$warm" 'BEGIN {printf "%.1f", a-b}')
		printf '%-7s %-3s %10s %10s %10s %9s %9s %9s %9s\n' "$which" "$run" "$ms" "$bytes" "$gz" "$idle" "$warm" "$after5" "$growth"
		kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
	done
done
