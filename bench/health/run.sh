#!/usr/bin/env bash
# Load-tests GET /v2/system/health of the real server.Server with wrk.
#
#   bench/health/run.sh                      # 100 and 1000 checks, static snapshot
#   CHURN=100 bench/health/run.sh            # while 100 results/s are recorded
#   CHECKS="1000 10000" RUNS=5 bench/health/run.sh
#
# For each number of checks it builds and starts bench/health, then runs
#   wrk -t$THREADS -c$CONNS -d$DURATION --latency http://$ADDR/v2/system/health
# $RUNS times without and $RUNS times with -H 'Accept: application/health+json',
# and prints the median req/s and median latency p99 of each, plus the
# server's CPU time per request. wrk and the server share the machine's
# cores. Needs wrk (Debian: apt-get install -y wrk), curl and go.
set -euo pipefail

CHECKS=${CHECKS:-"100 1000"}
RUNS=${RUNS:-3}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
DURATION=${DURATION:-10s}
ADDR=${ADDR:-127.0.0.1:18080}
CHURN=${CHURN:-0}
URL="http://$ADDR/v2/system/health"

cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk not found (apt-get install -y wrk)" >&2; exit 1; }
tmp=$(mktemp -d)
pid=""
cleanup() {
	if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/health" ./bench/health

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "-"; exit} if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# the server's user+sys CPU time in clock ticks
cputicks() { awk '{print $14+$15}' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)

echo "wrk -t$THREADS -c$CONNS -d$DURATION --latency $URL  ($RUNS runs each; churn $CHURN results/s)"
echo "$(nproc) CPUs shared by wrk and the server; load average $(cut -d" " -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%M:%SZ); $(go version | cut -d" " -f3)"
printf '\n%-7s %-22s %12s %12s %11s %12s %s\n' checks accept "req/s(med)" "p99 ms(med)" "body bytes" "srv CPU/req" "all req/s"
for n in $CHECKS; do
	"$tmp/health" -checks "$n" -listen "$ADDR" -churn "$CHURN" 2>"$tmp/server.log" &
	pid=$!
	for _ in $(seq 100); do curl -fs -o /dev/null "$URL" 2>/dev/null && break; sleep 0.1; done
	for accept in application/json application/health+json; do
		hdr=()
		[[ $accept == application/health+json ]] && hdr=(-H "Accept: $accept")
		bytes=$(curl -s "${hdr[@]}" -o /dev/null -w '%{size_download}' "$URL")
		: >"$tmp/rps"; : >"$tmp/p99"; : >"$tmp/cpu"
		for _ in $(seq "$RUNS"); do
			c0=$(cputicks "$pid")
			wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "${hdr[@]}" "$URL" >"$tmp/out"
			c1=$(cputicks "$pid")
			reqs=$(awk '/requests in/ {print $1}' "$tmp/out")
			awk '/^Requests\/sec:/ {print $2}' "$tmp/out" >>"$tmp/rps"
			awk '$1=="99%" {v=$2; u=v; sub(/[0-9.]+/,"",u); sub(/[a-z]+$/,"",v);
				m=(u=="us")?v/1000:(u=="ms")?v:(u=="s")?v*1000:(u=="m")?v*60000:v; print m}' "$tmp/out" >>"$tmp/p99"
			awk -v c="$((c1 - c0))" -v t="$tck" -v r="$reqs" 'BEGIN {printf "%.1f\n", c/t/r*1e6}' >>"$tmp/cpu"
			if grep -q 'Non-2xx\|Socket errors' "$tmp/out"; then grep 'Non-2xx\|Socket errors' "$tmp/out" | sed 's/^/    wrk: /' >&2; fi
		done
		printf '%-7s %-22s %12.0f %12.2f %11s %10s µs %s\n' "$n" "$accept" "$(median <"$tmp/rps")" \
			"$(median <"$tmp/p99")" "$bytes" "$(median <"$tmp/cpu")" "$(paste -sd' ' "$tmp/rps")"
	done
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=""
done
