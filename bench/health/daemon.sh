#!/usr/bin/env bash
# GET /v2/system/health of the real daemon at 10,000 heartbeat checks, the
# commit you started from (BASE) side by side with this tree, in one run.
#
#   bench/health/daemon.sh                          # BASE=main, ~10 min
#   BASE=f876c08 CHECKS=10000 RUNS=3 DURATION=10s bench/health/daemon.sh
#
# Both binaries are built (BASE in a detached worktree, removed after) and
# run one after the other with the same config: $CHECKS freshness checks
# with `source: { heartbeat: true }`, interval $INTERVAL, a SQLite store in a
# temporary directory, rate limits off. Every tenth check (i%10==3) has
# max_age 1s and is beaten once (it FAILs, WARN), every tenth (i%10==7) is
# never beaten (UNKNOWN), the others are beaten once with max_age 1h (PASS):
# the answer is 200 and ~10 % of the checks FAIL. The daemon records
# $CHECKS/$INTERVAL results a second while wrk runs, so the body changes
# continuously, as in production. After $WARMUP, for each daemon:
#
#   wrk -t$THREADS -c$CONNS -d$DURATION --latency [variant] $URL
#
# $RUNS times per variant, alternating the daemons run by run:
#   plain   no Accept-Encoding
#   gzip    -H 'Accept-Encoding: gzip'
#   304     Accept-Encoding: gzip and If-None-Match: the last ETag this wrk
#           connection saw (a Lua script): what a polling client does. The
#           body changes whenever new results are rendered (at most every
#           100 ms to 1 s), so some answers are 200s: the script counts them.
#   FAIL    ?status=FAIL with Accept-Encoding: gzip
#
# Printed per daemon and variant: body bytes (curl), median req/s, median
# latency p99, bytes per response (wrk), the daemon's CPU time per request,
# and for 304 the share of 304s. Needs wrk, curl and go. wrk and the daemon
# share the machine's cores.
set -euo pipefail

BASE=${BASE:-main}
CHECKS=${CHECKS:-10000}
INTERVAL=${INTERVAL:-10s}
RUNS=${RUNS:-3}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-20}
ADDR=${ADDR:-127.0.0.1:18081}
VARIANTS=${VARIANTS:-"plain gzip 304 FAIL"}
URL="http://$ADDR/v2/system/health"

cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk not found (apt-get install -y wrk)" >&2; exit 1; }
if curl -s -o /dev/null --max-time 2 "$URL"; then echo "something already answers on $URL; set ADDR" >&2; exit 1; fi
tmp=$(mktemp -d)
pid=""
stop_daemon() {
	[[ -n $pid ]] || return 0
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=""
}
cleanup() {
	stop_daemon
	git worktree remove --force "$tmp/base-src" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

base=$(git rev-parse --short "$BASE")
git worktree add -q --detach "$tmp/base-src" "$base"
(cd "$tmp/base-src" && go build -o "$tmp/monitor-base" ./cmd/monitor)
git worktree remove --force "$tmp/base-src"
go build -o "$tmp/monitor-new" ./cmd/monitor
new="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo +dirty)"

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "-"; exit} if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
cputicks() { awk '{print $14+$15}' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)
ms() { awk -v v="$1" 'BEGIN {u=v; sub(/[0-9.]+/,"",u); sub(/[a-z]+$/,"",v);
	print (u=="us")?v/1000:(u=="ms")?v:(u=="s")?v*1000:(u=="m")?v*60000:v}'; }
bytes() { awk -v v="$1" 'BEGIN {u=v; sub(/[0-9.]+/,"",u); sub(/[A-Z]+$/,"",v);
	print (u=="KB")?v*1024:(u=="MB")?v*1048576:(u=="GB")?v*1073741824:(u=="B")?v:v}'; }

cat >"$tmp/revalidate.lua" <<'EOF'
-- Revalidates with the last ETag this connection's thread saw; counts 304s.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) etag = nil; n304 = 0; nother = 0 end
function request()
	local h = {["Accept-Encoding"] = "gzip"}
	if etag then h["If-None-Match"] = etag end
	return wrk.format("GET", nil, h)
end
function response(status, headers, body)
	local t = headers["Etag"] or headers["ETag"]
	if t then etag = t end
	if status == 304 then n304 = n304 + 1 else nother = nother + 1 end
end
function done(summary, latency, requests)
	local a, b = 0, 0
	for _, t in ipairs(threads) do a = a + t:get("n304"); b = b + t:get("nother") end
	io.write(string.format("revalidated: %d 304, %d other\n", a, b))
end
EOF

{
	cat <<EOF
server:
  listen: $ADDR
  rate_limits: { requests_per_second: 0 }
storage:
  dsn: sqlite://$tmp/data/monitor.db
defaults: { interval: $INTERVAL, timeout: 5s }
checks:
EOF
	for i in $(seq 0 $((CHECKS - 1))); do
		age=1h
		[[ $((i % 10)) == 3 ]] && age=1s
		printf '  - { name: beat_%05d, kind: freshness, source: { heartbeat: true }, max_age: %s, severity: WARN }\n' "$i" "$age"
	done
} >"$tmp/config.yaml"
for i in $(seq 0 $((CHECKS - 1))); do
	[[ $((i % 10)) == 7 ]] || printf 'url = "http://%s/v2/heartbeats/beat_%05d"\n-X POST\n-o /dev/null\n' "$ADDR" "$i"
done >"$tmp/beats.curl"

start_daemon() { # binary
	rm -rf "$tmp/data"; mkdir -p "$tmp/data"
	"$1" run --config "$tmp/config.yaml" >"$tmp/daemon.log" 2>&1 &
	pid=$!
	for _ in $(seq 600); do
		curl -fs -o /dev/null --max-time 2 "http://$ADDR/readyz" && break
		kill -0 "$pid" 2>/dev/null || { echo "the daemon exited:" >&2; tail -20 "$tmp/daemon.log" >&2; exit 1; }
		sleep 0.1
	done
	curl -s --max-time 120 -K "$tmp/beats.curl"
	sleep "$WARMUP"
}

echo "BASE $base vs $new: $CHECKS heartbeat checks at $INTERVAL; wrk -t$THREADS -c$CONNS -d$DURATION --latency, $RUNS runs per variant"
echo "$(nproc) CPUs shared by wrk and the daemon; load average $(cut -d" " -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%M:%SZ); $(go version | cut -d" " -f3)"

hdrs() { # variant → curl/wrk arguments
	case $1 in
	plain) ;;
	gzip) printf '%s\n' -H "Accept-Encoding: gzip" ;;
	304) printf '%s\n' -s "$tmp/revalidate.lua" ;;
	FAIL) printf '%s\n' -H "Accept-Encoding: gzip" ;;
	esac
}
url() { if [[ $1 == FAIL ]]; then echo "$URL?status=FAIL"; else echo "$URL"; fi; }

for run in $(seq "$RUNS"); do
	for which in base new; do
		start_daemon "$tmp/monitor-$which"
		for v in $VARIANTS; do
			mapfile -t h < <(hdrs "$v")
			u=$(url "$v")
			if [[ $run == 1 ]]; then
				ch=(); [[ $v != plain ]] && ch=(-H "Accept-Encoding: gzip")
				curl -s "${ch[@]}" -o /dev/null -w '%{http_code} %{size_download}\n' "$u" >"$tmp/size.$which.$v"
			fi
			c0=$(cputicks "$pid")
			timeout 120 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "${h[@]}" "$u" >"$tmp/out"
			c1=$(cputicks "$pid")
			reqs=$(awk '/requests in/ {print $1}' "$tmp/out")
			awk '/^Requests\/sec:/ {print $2}' "$tmp/out" >>"$tmp/rps.$which.$v"
			ms "$(awk '$1=="99%" {print $2}' "$tmp/out")" >>"$tmp/p99.$which.$v"
			awk -v b="$(bytes "$(awk '/requests in/ {print $5}' "$tmp/out" | tr -d ,)")" -v r="$reqs" 'BEGIN {printf "%.0f\n", b/r}' >>"$tmp/bpr.$which.$v"
			awk -v c="$((c1 - c0))" -v t="$tck" -v r="$reqs" 'BEGIN {printf "%.1f\n", c/t/r*1e6}' >>"$tmp/cpu.$which.$v"
			awk '/^revalidated:/ {a=$2; b=$4; printf "%.1f\n", (a+b)?100*a/(a+b):0}' "$tmp/out" >>"$tmp/r304.$which.$v"
			grep 'Non-2xx\|Socket errors' "$tmp/out" | sed "s/^/    $which $v run $run: wrk: /" >&2 || true
		done
		stop_daemon
	done
done

printf '\n%-5s %-6s %-16s %11s %9s %11s %10s %8s  %s\n' daemon variant "curl: code bytes" "req/s(med)" "p99 ms" "bytes/resp" "CPU/req µs" "304 %" "all req/s"
for v in $VARIANTS; do
	for which in base new; do
		printf '%-5s %-6s %-16s %11.0f %9.2f %11s %10s %8s  %s\n' "$which" "$v" "$(cat "$tmp/size.$which.$v")" \
			"$(median <"$tmp/rps.$which.$v")" "$(median <"$tmp/p99.$which.$v")" "$(median <"$tmp/bpr.$which.$v")" \
			"$(median <"$tmp/cpu.$which.$v")" "$(median <"$tmp/r304.$which.$v")" "$(paste -sd' ' "$tmp/rps.$which.$v")"
	done
done
