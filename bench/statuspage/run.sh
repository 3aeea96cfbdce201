#!/usr/bin/env bash
# The status page benchmark: how long a build of 50 components × 90 days
# takes, and how many GET / the running daemon answers.
#
#   bench/statuspage/run.sh                 # ~2 min
#   RUNS=3 DURATION=10s bench/statuspage/run.sh
#
# 1. go test ./statuspage -run '^$' -bench Build -benchtime ${BUILDS}x -count $COUNT
#    (50 components, 90 days in a real SQLite store; cold: no cache, as
#    `monitor statuspage build` and the daemon's first build; warm: the
#    daemon's rebuilds with its cache of finished days) and the median ns/op.
# 2. The real daemon (go build ./cmd/monitor; monitor run --config) on $ADDR
#    with $COMPONENTS public heartbeat checks, one component each, all beaten
#    once so they PASS, its store and statuspage.out in a temporary
#    directory (so no history: every day bar says "No data"). Then
#      wrk -t$THREADS -c$CONNS -d$DURATION --latency [header] http://$ADDR/
#    $RUNS times each: plain, with Accept-Encoding: gzip, and with
#    If-None-Match: <the page's ETag> (curl shows the 304 first). After each
#    daemon run, the same wrk against the floor ($FLOOR_ADDR, main.go here):
#    bare net/http answering with the bytes the daemon served.
# 3. The index.html of step 1 (90 days of history) through the daemon's
#    handler (main.go -handler daemon) and the floor, gzip and 304.
#
# Printed: median req/s and latency p50/p99, bytes per response (wrk's bytes
# read ÷ requests, headers included: a few hundred bytes means every answer
# was a 304) and the server's CPU time per request (/proc/PID/stat). The
# ETag is read again after each variant; a change (the daemon refreshes the
# page at least every 5 min) is reported, since some 304s were 200s then.
#
# wrk, the servers and go share the machine's cores: the figures are lower
# bounds for a dedicated host, and the floor says what the machine allowed
# at that moment. Needs wrk (Debian: apt-get install -y wrk), curl and go.
set -euo pipefail

COMPONENTS=${COMPONENTS:-50}
COUNT=${COUNT:-5}
BUILDS=${BUILDS:-5}
RUNS=${RUNS:-1}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
DURATION=${DURATION:-6s}
ADDR=${ADDR:-127.0.0.1:18090}
FLOOR_ADDR=${FLOOR_ADDR:-127.0.0.1:18091}
HIST_ADDR=${HIST_ADDR:-127.0.0.1:18092}
HIST_FLOOR_ADDR=${HIST_FLOOR_ADDR:-127.0.0.1:18093}
URL="http://$ADDR/"
FLOOR="http://$FLOOR_ADDR/"
HIST_URL="http://$HIST_ADDR/"
HIST_FLOOR="http://$HIST_FLOOR_ADDR/"

cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk not found (apt-get install -y wrk)" >&2; exit 1; }
for u in "$URL" "$FLOOR" "$HIST_URL" "$HIST_FLOOR"; do
	if curl -s -o /dev/null --max-time 2 "$u"; then
		echo "something already answers on $u; set ADDR, FLOOR_ADDR, HIST_ADDR or HIST_FLOOR_ADDR" >&2
		exit 1
	fi
done
tmp=$(mktemp -d)
pid=""
fpid=""
hpid=""
hfpid=""
cleanup() {
	for p in $fpid $hpid $hfpid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	if [[ -n $pid ]]; then
		kill "$pid" 2>/dev/null || true
		# The daemon drains for up to 15 s; don't wait longer than that.
		for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "-"; exit} if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# a process's user+sys CPU time in clock ticks
cputicks() { awk '{print $14+$15}' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)
# a wrk latency or size ("812.00us", "3.2ms", "1.1s"; "510.61MB") in ms or bytes
ms() { awk -v v="$1" 'BEGIN {u=v; sub(/[0-9.]+/,"",u); sub(/[a-z]+$/,"",v);
	print (u=="us")?v/1000:(u=="ms")?v:(u=="s")?v*1000:(u=="m")?v*60000:v}'; }
bytes() { awk -v v="$1" 'BEGIN {u=v; sub(/[0-9.]+/,"",u); sub(/[A-Z]+$/,"",v);
	print (u=="KB")?v*1024:(u=="MB")?v*1048576:(u=="GB")?v*1073741824:(u=="B")?v:v}'; }
etag() { curl -s -o /dev/null -D - --max-time 5 "$1" | awk 'tolower($1)=="etag:" {sub(/\r$/,"",$2); print $2}'; }

echo "$(nproc) CPUs shared by go test, wrk and the daemon; load average $(cut -d" " -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%M:%SZ); $(go version | cut -d" " -f3); $(git log -1 --format=%h)"

# The daemon first: its first build and the heartbeats' rebuild happen
# while the build benchmark compiles.
go build -o "$tmp/monitor" ./cmd/monitor
go build -o "$tmp/floor" ./bench/statuspage
{
	cat <<EOF
server:
  listen: $ADDR
  public_url: http://$ADDR
storage:
  dsn: sqlite://$tmp/monitor.db
defaults: { interval: 60s, timeout: 5s }
statuspage:
  title: Bench status
  out: $tmp/site
checks:
EOF
	for i in $(seq -w "$COMPONENTS"); do
		cat <<EOF
  - name: beat_$i
    kind: freshness
    source: { heartbeat: true }
    max_age: 1h
    severity: CRITICAL
    component: Component $i
EOF
	done
} >"$tmp/config.yaml"
"$tmp/monitor" run --config "$tmp/config.yaml" >"$tmp/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 300); do
	curl -fs -o /dev/null --max-time 2 "$URL" && break
	kill -0 "$pid" 2>/dev/null || { echo "the daemon exited:" >&2; tail -20 "$tmp/daemon.log" >&2; exit 1; }
	sleep 0.1
done
curl -fs -o /dev/null --max-time 2 "$URL" || { echo "the daemon does not answer on $URL after 30 s" >&2; exit 1; }
for i in $(seq -w "$COMPONENTS"); do
	curl -fs -o /dev/null --max-time 5 -X POST "http://$ADDR/v2/heartbeats/beat_$i"
done

echo
echo "== build: go test ./statuspage -run '^\$' -bench Build -benchtime ${BUILDS}x -count $COUNT"
# Compiled first (minutes on an empty build cache), so that only the
# benchmark itself is bounded.
go test -c -o "$tmp/statuspage.test" ./statuspage
(cd statuspage && STATUSPAGE_BENCH_SITE=$tmp/hist timeout 300 "$tmp/statuspage.test" -test.run '^$' -test.bench Build \
	-test.benchtime "${BUILDS}x" -test.count "$COUNT") | tee "$tmp/build" | grep '^Benchmark' || true
grep -q '^PASS' "$tmp/build" || { echo "the build benchmark failed:" >&2; cat "$tmp/build" >&2; exit 1; }
for v in cold warm; do
	grep "^BenchmarkBuild/$v" "$tmp/build" | awk '{print $3/1e6}' >"$tmp/b"
	printf 'build %-4s median %7.1f ms per build  (%s ms; target < 200 ms)\n' "$v" "$(median <"$tmp/b")" "$(paste -sd' ' "$tmp/b")"
done

# The heartbeats made every check PASS; the daemon looked (every 10 s)
# while the build benchmark ran.
curl -fs -D "$tmp/hdr" -o "$tmp/page" --max-time 5 "$URL"
tag=$(awk 'tolower($1)=="etag:" {sub(/\r$/,"",$2); print $2}' "$tmp/hdr")
"$tmp/floor" -body "$tmp/page" -listen "$FLOOR_ADDR" 2>"$tmp/floor.log" &
fpid=$!
for _ in $(seq 100); do curl -fs -o /dev/null --max-time 2 "$FLOOR" && break; sleep 0.1; done
grep -q "ETag $tag" "$tmp/floor.log" || { echo "the floor's ETag differs from the daemon's:" >&2; cat "$tmp/floor.log" >&2; exit 1; }

echo
echo "== live: wrk -t$THREADS -c$CONNS -d$DURATION --latency [header] $URL  ($RUNS run(s) each, $COMPONENTS components)"
echo "curl -H 'If-None-Match: $tag' $URL:"
curl -s -o /dev/null -D - --max-time 5 -H "If-None-Match: $tag" "$URL" | tr -d '\r' | grep -iv '^date:\|^x-request-id:' | grep . | sed 's/^/    /'
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "If-None-Match: $tag" "$URL")
[[ $code == 304 ]] || { echo "revalidation answered $code, not 304" >&2; exit 1; }
# compare LABEL A_NAME A_URL A_PID B_NAME B_URL B_PID VARIANT...: wrk on A
# then B, $RUNS times per variant (plain, gzip, 304), one line per server.
compare() {
	local label=$1 an=$2 au=$3 ap=$4 bn=$5 bu=$6 bp=$7 tag variant s u p hdr body reqs c0 c1 now
	shift 7
	tag=$(etag "$au")
	for variant in "$@"; do
		hdr=()
		case $variant in
		gzip) hdr=(-H "Accept-Encoding: gzip") ;;
		304) hdr=(-H "If-None-Match: $tag") ;;
		esac
		for s in a b; do : >"$tmp/rps.$s"; : >"$tmp/p50.$s"; : >"$tmp/p99.$s"; : >"$tmp/cpu.$s"; : >"$tmp/bpr.$s"; done
		for _ in $(seq "$RUNS"); do
			for s in a b; do
				if [[ $s == a ]]; then u=$au p=$ap; else u=$bu p=$bp; fi
				c0=$(cputicks "$p")
				timeout 120 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "${hdr[@]}" "$u" >"$tmp/out"
				c1=$(cputicks "$p")
				reqs=$(awk '/requests in/ {print $1}' "$tmp/out")
				awk '/^Requests\/sec:/ {print $2}' "$tmp/out" >>"$tmp/rps.$s"
				ms "$(awk '$1=="50%" {print $2}' "$tmp/out")" >>"$tmp/p50.$s"
				ms "$(awk '$1=="99%" {print $2}' "$tmp/out")" >>"$tmp/p99.$s"
				awk -v b="$(bytes "$(awk '/requests in/ {print $5}' "$tmp/out" | tr -d ,)")" -v r="$reqs" 'BEGIN {printf "%.0f\n", b/r}' >>"$tmp/bpr.$s"
				awk -v c="$((c1 - c0))" -v t="$tck" -v r="$reqs" 'BEGIN {printf "%.1f\n", c/t/r*1e6}' >>"$tmp/cpu.$s"
				if grep -q 'Non-2xx\|Socket errors' "$tmp/out"; then grep 'Non-2xx\|Socket errors' "$tmp/out" | sed "s/^/    wrk ($u): /" >&2; fi
			done
		done
		for s in a b; do
			if [[ $s == a ]]; then u=$au n=$an; else u=$bu n=$bn; fi
			body=$(curl -s -o /dev/null -w '%{size_download}' --max-time 5 "${hdr[@]}" "$u")
			printf '%-9s %-7s %-7s %7s %10.0f %8.2f %8.2f %10s %8s µs %s\n' "$label" "$variant" "$n" "$body" "$(median <"$tmp/rps.$s")" \
				"$(median <"$tmp/p50.$s")" "$(median <"$tmp/p99.$s")" "$(median <"$tmp/bpr.$s")" "$(median <"$tmp/cpu.$s")" "$(paste -sd' ' "$tmp/rps.$s")"
		done
		now=$(etag "$au")
		[[ $now == "$tag" ]] || { echo "    note: the page changed during this variant (ETag $tag → $now); the floor kept the old one" >&2; tag=$now; }
	done
}

printf '\n%-9s %-7s %-7s %7s %10s %8s %8s %10s %11s %s\n' page variant server body "req/s(med)" "p50 ms" "p99 ms" bytes/resp "CPU/req" "all req/s"
compare live daemon "$URL" "$pid" floor "$FLOOR" "$fpid" plain gzip 304

# The page of the build benchmark (50 components, 90 days of history),
# through the daemon's handler and the floor; plain is left out: browsers
# ask for gzip, and ~0.5 MB per answer measures loopback bandwidth.
if [[ -f $tmp/hist/index.html ]]; then
	"$tmp/floor" -handler daemon -body "$tmp/hist/index.html" -listen "$HIST_ADDR" 2>"$tmp/hist.log" &
	hpid=$!
	"$tmp/floor" -body "$tmp/hist/index.html" -listen "$HIST_FLOOR_ADDR" 2>"$tmp/histfloor.log" &
	hfpid=$!
	for u in "$HIST_URL" "$HIST_FLOOR"; do
		for _ in $(seq 100); do curl -fs -o /dev/null --max-time 2 "$u" && break; sleep 0.1; done
	done
	compare history handler "$HIST_URL" "$hpid" floor "$HIST_FLOOR" "$hfpid" gzip 304
	echo "history page: $(wc -c <"$tmp/hist/index.html") bytes, $(curl -s -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: gzip' "$HIST_URL") gzip"
fi
echo
echo "index.html $(wc -c <"$tmp/site/index.html" 2>/dev/null || echo '?') bytes, $(find "$tmp/site" -type f 2>/dev/null | wc -l) files in statuspage.out; load average $(cut -d" " -f1-3 /proc/loadavg)"
