#!/usr/bin/env bash
# Link-check benchmarks of `monitor links` and of scheduled link checks.
# See bench/links/README.md for what is measured and the results.
#
#   bench/links/run.sh                       # everything, ~10 min
#   RUNS=5 SCHED=0 bench/links/run.sh        # only the 10,000-link runs, 5 rounds
#
# Environment (defaults in brackets):
#   RUNS [3]            rounds of every 10,000-link case; medians are over them
#   N [10000] HOSTS [200] CONC [256] DELAYS ["0ms 50ms"]
#   PORT [18090]        the target's port (SPORT [18091] for the scheduled bench,
#                       MPORT [20000] … +49 for the many-hosts memory case)
#   BLACKBOX [1]        drive prometheus-blackbox-exporter (apt-get installs it
#                       when missing); BB_PORT [first free from 19115]
#   MEM [1]             the memory-flatness cases (bench/links/inproc)
#   SCHED [1]           the 1,000-scheduled-checks bench (bench/links/sched);
#                       SCHED_RUNS [3], SCHED_DURATION [60s]
#   OUT [mktemp -d]     where binaries, URL lists, raw results and the summary go
#   OLD [unset]         another monitor binary (say, built from an older commit)
#                       run as the cases old-interleaved and old-grouped in the
#                       same rounds, for a before/after side by side
#
# Every case of a round runs back to back on the same target process, so
# that the figures compared are taken side by side on the same (noisy)
# machine. Raw per-run figures: $OUT/results.tsv; summary: $OUT/summary.txt.
set -euo pipefail

RUNS=${RUNS:-3}
N=${N:-10000}
HOSTS=${HOSTS:-200}
CONC=${CONC:-256}
DELAYS=${DELAYS:-"0ms 50ms"}
PORT=${PORT:-18090}
SPORT=${SPORT:-18091}
MPORT=${MPORT:-20000}
BLACKBOX=${BLACKBOX:-1}
MEM=${MEM:-1}
SCHED=${SCHED:-1}
SCHED_RUNS=${SCHED_RUNS:-3}
SCHED_DURATION=${SCHED_DURATION:-60s}
OUT=${OUT:-$(mktemp -d /tmp/linkbench.XXXXXX)}
OLD=${OLD:-}

cd "$(dirname "$0")/../.."
mkdir -p "$OUT/bin"
BIN=$OUT/bin
RES=$OUT/results.tsv
SUM=$OUT/summary.txt
: >"$SUM"

say() { echo "$@" | tee -a "$SUM"; }
die() { echo "run.sh: $*" >&2; exit 1; }

PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
	done
}
trap cleanup EXIT

port_free() { [ -z "$(ss -Hltn "sport = :$1")" ]; }

# cpu_ticks PID: utime+stime of a process, in clock ticks (1/100 s).
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

wait_http() { # URL: until it answers (10 s)
	for _ in $(seq 100); do
		curl -fs -o /dev/null "$1" && return 0
		sleep 0.1
	done
	die "no answer from $1"
}

# median of the numbers on stdin (one a line); "-" when none.
median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# col CASE DELAY FIELD: the field of every run of a case, one a line.
col() {
	awk -F'\t' -v c="$1" -v d="$2" -v f="$3" '
		NR == 1 { for (i = 1; i <= NF; i++) idx[$i] = i; next }
		$1 == d && $2 == c { print $idx[f] }' "$RES"
}

echo "== building into $BIN"
go build -o "$BIN/monitor" ./cmd/monitor
for t in target bbdriver sched inproc; do
	go build -o "$BIN/$t" "./bench/links/$t"
done

say "# link-check benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(go version | awk '{print $3}')"
say "# N=$N URLs over HOSTS=$HOSTS loopback hosts, --concurrency $CONC, $RUNS rounds; raw: $RES"

for p in "$PORT" "$SPORT"; do port_free "$p" || die "port $p is taken (set PORT / SPORT)"; done

"$BIN/target" -urls "$N" -hosts "$HOSTS" -port "$PORT" -order interleaved >"$OUT/urls-interleaved.txt"
"$BIN/target" -urls "$N" -hosts "$HOSTS" -port "$PORT" -order grouped >"$OUT/urls-grouped.txt"

# --- blackbox_exporter ------------------------------------------------------
BB=""
BBPID=""
if [ "$BLACKBOX" = 1 ]; then
	if ! command -v prometheus-blackbox-exporter >/dev/null; then
		echo "== installing prometheus-blackbox-exporter (Debian package)"
		apt-get install -y prometheus-blackbox-exporter >/dev/null ||
			{ apt-get update >/dev/null && apt-get install -y prometheus-blackbox-exporter >/dev/null; } ||
			die "cannot install prometheus-blackbox-exporter (BLACKBOX=0 skips it)"
	fi
	BB_PORT=${BB_PORT:-19115}
	while ! port_free "$BB_PORT"; do BB_PORT=$((BB_PORT + 1)); done
	cat >"$OUT/blackbox.yml" <<-'EOF'
		modules:
		  http_head:
		    prober: http
		    timeout: 10s
		    http:
		      method: HEAD
		      preferred_ip_protocol: ip4
	EOF
	prometheus-blackbox-exporter --config.file="$OUT/blackbox.yml" \
		--web.listen-address="127.0.0.1:$BB_PORT" --log.level=warn >"$OUT/blackbox.log" 2>&1 &
	BBPID=$!
	PIDS+=("$BBPID")
	BB=http://127.0.0.1:$BB_PORT
	wait_http "$BB/"
	say "# $(prometheus-blackbox-exporter --version 2>&1 | head -1), module http_head (HEAD, ip4), on $BB"
fi

# --- the 10,000-link runs ---------------------------------------------------
printf 'delay\tcase\trun\twall_s\tcpu_s\tmaxrss_kb\texit\trequests\thead\tnew_conns\tmax_open_conns\tmax_in_flight\ttarget_cpu_s\tserver_cpu_s\tserver_rss_kb\n' >"$RES"

# one DELAY CASE RUN: runs a case once and appends a line to $RES.
one() {
	local delay=$1 case=$2 run=$3 urls cmd t0 t1 rc=0 wall cpu rss tc0 tc1 bc0=0 bc1=0 srss=""
	case $case in
	*grouped) urls=$OUT/urls-grouped.txt ;;
	*) urls=$OUT/urls-interleaved.txt ;;
	esac
	case $case in
	monitor-*) cmd=("$BIN/monitor" links --concurrency "$CONC" --allow-private --format json -) ;;
	old-*) cmd=("$OLD" links --concurrency "$CONC" --allow-private --format json -) ;;
	bare | keepalive) cmd=("$BIN/bbdriver" -mode "$case" -concurrency "$CONC") ;;
	blackbox) cmd=("$BIN/bbdriver" -mode blackbox -bb "$BB" -module http_head -concurrency "$CONC") ;;
	esac
	curl -fs -o /dev/null "http://127.0.0.1:$PORT/_stats?reset=1"
	tc0=$(cpu_ticks "$TPID")
	[ -n "$BBPID" ] && bc0=$(cpu_ticks "$BBPID")
	t0=$EPOCHREALTIME
	/usr/bin/time -v -o "$OUT/time.txt" "${cmd[@]}" <"$urls" >"$OUT/out.txt" 2>"$OUT/err.txt" || rc=$?
	t1=$EPOCHREALTIME
	tc1=$(cpu_ticks "$TPID")
	[ -n "$BBPID" ] && bc1=$(cpu_ticks "$BBPID")
	if [ "$case" = blackbox ]; then
		srss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$BBPID/status")
	fi
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$OUT/time.txt")
	rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$OUT/time.txt")
	[ "$rc" = 0 ] || { echo "  $case exited $rc: $(head -c 300 "$OUT/err.txt")" >&2; }
	curl -fs "http://127.0.0.1:$PORT/_stats" |
		jq -r --arg p "$(printf '%s\t' "$delay" "$case" "$run" "$wall" "$cpu" "$rss")$rc" \
			--arg tc "$(awk -v a="$tc0" -v b="$tc1" 'BEGIN { printf "%.2f", (b - a) / 100 }')" \
			--arg bc "$(awk -v a="$bc0" -v b="$bc1" 'BEGIN { printf "%.2f", (b - a) / 100 }')" \
			--arg bs "$srss" \
			'[$p, .requests, .head, .new_conns, .max_open_conns, .max_in_flight, $tc,
			  (if $bs == "" then "" else $bc end), $bs] | map(tostring) | join("\t")' >>"$RES"
	printf '  %-6s %-20s run %s: %6.3f s  cpu %5s s  maxrss %6s KB  exit %s\n' "$delay" "$case" "$run" "$wall" "$cpu" "$rss" "$rc"
}

CASES="monitor-interleaved monitor-grouped bare keepalive"
if [ -n "$OLD" ]; then
	[ -x "$OLD" ] || die "OLD=$OLD is not an executable"
	CASES="old-interleaved old-grouped $CASES"
	say "# OLD: $OLD as old-interleaved, old-grouped"
fi
MCASES=${CASES%% bare*} # the monitor links cases
[ -n "$BB" ] && CASES="$CASES blackbox"
for delay in $DELAYS; do
	echo "== delay $delay: target on 127.0.0.1-127.0.0.$HOSTS:$PORT"
	"$BIN/target" -hosts "$HOSTS" -port "$PORT" -delay "$delay" 2>>"$OUT/target.log" &
	TPID=$!
	PIDS+=("$TPID")
	wait_http "http://127.0.0.1:$PORT/_stats"
	# One warm-up pass (page cache, binaries), not recorded.
	"$BIN/monitor" links --concurrency "$CONC" --allow-private --format json - <"$OUT/urls-interleaved.txt" >/dev/null || true
	[ -z "$OLD" ] || "$OLD" links --concurrency "$CONC" --allow-private --format json - <"$OUT/urls-interleaved.txt" >/dev/null || true
	for run in $(seq "$RUNS"); do
		for c in $CASES; do one "$delay" "$c" "$run"; done
	done
	kill "$TPID"
	wait "$TPID" 2>/dev/null || true
done

# --- summary of the 10,000-link runs -----------------------------------------
# seconds DURATION: 50ms → 0.05, 2s → 2.
seconds() { awk -v d="$1" 'BEGIN { if (sub(/ms$/, "", d)) print d / 1000; else { sub(/s$/, "", d); print d + 0 } }'; }
say ""
say "## $N links, --concurrency $CONC: medians of $RUNS runs"
say "$(printf '%-7s %-20s %8s %8s %10s %9s %9s %9s %8s %9s %8s' delay case wall_s cpu_s maxrss_MB new_conns max_open max_infl tgt_cpu bb_cpu_s bb_hwm)"
for delay in $DELAYS; do
	for c in $CASES; do
		w=$(col "$c" "$delay" wall_s | median)
		cpu=$(col "$c" "$delay" cpu_s | median)
		rss=$(col "$c" "$delay" maxrss_kb | median)
		nc=$(col "$c" "$delay" new_conns | median)
		mo=$(col "$c" "$delay" max_open_conns | median)
		mi=$(col "$c" "$delay" max_in_flight | median)
		tc=$(col "$c" "$delay" target_cpu_s | median)
		sc=$(col "$c" "$delay" server_cpu_s | grep . | median || true)
		sr=$(col "$c" "$delay" server_rss_kb | grep . | median || true)
		say "$(printf '%-7s %-20s %8s %8s %10.1f %9s %9s %9s %8s %9s %8s' "$delay" "$c" "$w" "$cpu" \
			"$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$nc" "$mo" "$mi" "$tc" "${sc:--}" \
			"$( [ -n "$sr" ] && [ "$sr" != - ] && awk -v k="$sr" 'BEGIN { printf "%.0fMB", k / 1024 }' || echo -)")"
	done
done
bad=$(awk -F'\t' 'NR > 1 && ($7 != 0 || $8 != '"$N"') { n++ } END { print n + 0 }' "$RES")
say "runs with a failure or a request count other than $N: $bad"

# paired DELAY A B: median over rounds of wall(A)/wall(B), same round.
paired() {
	awk -F'\t' -v d="$1" -v a="$2" -v b="$3" '
		NR > 1 && $1 == d && $2 == a { wa[$3] = $4 }
		NR > 1 && $1 == d && $2 == b { wb[$3] = $4 }
		END { for (r in wa) if (r in wb && wa[r] > 0) print wb[r] / wa[r] }' "$RES" | median
}
say ""
say "## ratios (median over rounds of the per-round ratio)"
for delay in $DELAYS; do
	for m in $MCASES; do
		w=$(col "$m" "$delay" wall_s | median)
		if [ -n "$BB" ]; then
			note=""
			[ "$(seconds "$delay")" = 0 ] && note="   (target: >= 3x)"
			say "$(printf '%-6s %-20s blackbox/monitor = %5.2fx%s' "$delay" "$m" "$(paired "$delay" "$m" blackbox)" "$note")"
		fi
		say "$(printf '%-6s %-20s monitor/bare     = %5.2f    monitor/keepalive = %5.2f' "$delay" "$m" \
			"$(paired "$delay" bare "$m")" "$(paired "$delay" keepalive "$m")")"
		d=$(seconds "$delay")
		if awk -v d="$d" 'BEGIN { exit !(d > 0) }'; then
			bound=$(awk -v n="$N" -v d="$d" -v c="$CONC" 'BEGIN { printf "%.3f", n * d / c }')
			say "$(printf '%-6s %-20s wall/bound       = %5.3f   (bound N*delay/CONC = %s s; target <= 1.15)' "$delay" "$m" \
				"$(awk -v w="$w" -v b="$bound" 'BEGIN { printf "%.3f", w / b }')" "$bound")"
		fi
	done
	if [ -n "$OLD" ]; then
		for o in interleaved grouped; do
			say "$(printf '%-6s %-20s old/monitor      = %5.3f' "$delay" "$o" "$(paired "$delay" "monitor-$o" "old-$o")")"
		done
	fi
done

# --- memory flatness -------------------------------------------------------
if [ "$MEM" = 1 ]; then
	# The many-keys case needs 50×HOSTS listeners in the target plus up to
	# ~4,400 connections (Go raises its own soft limit to the hard one).
	[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge $((HOSTS * 50 + 5000)) ] ||
		die "the memory cases need ulimit -Hn >= $((HOSTS * 50 + 5000)) (MEM=0 skips them)"
	for p in $(seq "$MPORT" $((MPORT + 49))); do port_free "$p" || die "port $p is taken (set MPORT)"; done
	say ""
	say "## memory: the checker in-process (bench/links/inproc, results dropped), 0 ms, --concurrency $CONC, medians of $RUNS runs"
	"$BIN/target" -hosts "$HOSTS" -port "$MPORT" -ports 50 2>>"$OUT/target.log" &
	TPID=$!
	PIDS+=("$TPID")
	wait_http "http://127.0.0.1:$MPORT/_stats"
	"$BIN/target" -urls $((N * 10)) -hosts "$HOSTS" -port "$MPORT" >"$OUT/urls-10x.txt"
	"$BIN/target" -urls "$N" -hosts "$HOSTS" -port "$MPORT" >"$OUT/urls-mem.txt"
	"$BIN/target" -urls "$N" -hosts "$HOSTS" -port "$MPORT" -ports 50 >"$OUT/urls-keys.txt"
	: >"$OUT/mem.txt"
	for run in $(seq "$RUNS"); do
		for c in "mem $N links, $HOSTS keys" "10x $((N * 10)) links, $HOSTS keys" "keys $N links, $((HOSTS * 50)) host:port keys"; do
			f=${c%% *}
			curl -fs -o /dev/null "http://127.0.0.1:$MPORT/_stats?reset=1"
			line=$("$BIN/inproc" -concurrency "$CONC" <"$OUT/urls-$f.txt")
			mo=$(curl -fs "http://127.0.0.1:$MPORT/_stats" | jq .max_open_conns)
			echo "${c#* }|$line max_open_conns=$mo" | tee -a "$OUT/mem.txt"
		done
		# The CLI itself at N and 10×N, JSON and table output.
		for f in mem 10x; do
			for fmt in json table; do
				/usr/bin/time -v -o "$OUT/time.txt" "$BIN/monitor" links --concurrency "$CONC" --allow-private --format "$fmt" - \
					<"$OUT/urls-$f.txt" >/dev/null || true
				echo "cli-$f-$fmt|maxrss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$OUT/time.txt")" | tee -a "$OUT/mem.txt"
			done
		done
	done
	kill "$TPID"
	wait "$TPID" 2>/dev/null || true
	field() { awk -F'|' -v c="$1" '$1 == c { print $2 }' "$OUT/mem.txt" | grep -o "$2=[0-9.]*" | cut -d= -f2 | median; }
	say "$(printf '%-38s %12s %10s %12s %10s %10s %14s' case peak_gorout max_conns peak_heap_MB hwm_MB wall_s alloc_B/link)"
	for c in "$N links, $HOSTS keys" "$((N * 10)) links, $HOSTS keys" "$N links, $((HOSTS * 50)) host:port keys"; do
		say "$(printf '%-38s %12s %10s %12s %10s %10s %14s' "$c" "$(field "$c" peak_goroutines)" "$(field "$c" max_open_conns)" \
			"$(field "$c" peak_heap_MB)" "$(field "$c" hwm_MB)" "$(field "$c" wall_s)" "$(field "$c" alloc_B_per_link)")"
	done
	for fmt in json table; do
		say "$(printf 'monitor links CLI max RSS, --format %-5s: %6s links %6.1f MB, %6s links %6.1f MB' "$fmt" "$N" \
			"$(awk -v k="$(field "cli-mem-$fmt" maxrss_kb)" 'BEGIN { print k / 1024 }')" $((N * 10)) \
			"$(awk -v k="$(field "cli-10x-$fmt" maxrss_kb)" 'BEGIN { print k / 1024 }')")"
	done
fi

# --- 1,000 scheduled link checks ---------------------------------------------
if [ "$SCHED" = 1 ]; then
	[ -n "$BBPID" ] && { kill "$BBPID"; wait "$BBPID" 2>/dev/null || true; BBPID=""; }
	say ""
	say "## 1,000 scheduled link checks, one URL each, interval 10s, $SCHED_DURATION per run, medians of $SCHED_RUNS runs"
	"$BIN/target" -hosts "$HOSTS" -port "$SPORT" 2>>"$OUT/target.log" &
	TPID=$!
	PIDS+=("$TPID")
	wait_http "http://127.0.0.1:$SPORT/_stats"
	for run in $(seq "$SCHED_RUNS"); do
		for mode in inproc daemon bare; do
			echo "== sched $mode run $run ($SCHED_DURATION)"
			"$BIN/sched" -mode "$mode" -monitor "$BIN/monitor" -checks 1000 -interval 10s -duration "$SCHED_DURATION" \
				-hosts "$HOSTS" -port "$SPORT" -target-stats "http://127.0.0.1:$SPORT/_stats" \
				-json "$OUT/sched-$mode-$run.json" | sed 's/^/  /'
		done
	done
	kill "$TPID"
	wait "$TPID" 2>/dev/null || true
	sf() { for r in $(seq "$SCHED_RUNS"); do jq -r ".$2" "$OUT/sched-$1-$r.json"; done | median; }
	say "$(printf '%-7s %8s %8s %12s %10s %8s %10s %8s %10s %10s %9s' mode rss_MB hwm_MB cpu_ms/run heap_MB stack_MB goroutines runs tw_end tw_new new_conns)"
	for mode in inproc daemon bare; do
		say "$(printf '%-7s %8.1f %8.1f %12.3f %10.1f %8.1f %10s %8s %10s %10s %9s' "$mode" "$(sf "$mode" rss_mb)" "$(sf "$mode" rss_peak_mb)" \
			"$(sf "$mode" cpu_ms_per_run)" "$(sf "$mode" heap_inuse_mb)" "$(sf "$mode" stack_inuse_mb)" "$(sf "$mode" goroutines)" \
			"$(sf "$mode" window_runs)" "$(sf "$mode" time_wait_target_port)" "$(sf "$mode" time_wait_target_port_new)" \
			"$(sf "$mode" target_new_conns)")"
	done
	say "(runs: in the steady window; tw_end/tw_new: sockets to the target in TIME-WAIT at the end / of them, not there at start-up;"
	say " bare: no scheduler, no probe, a goroutine+ticker per check and a keep-alive net/http client, the floor)"
	say "targets (half of Gatus): RSS <= 35 MB (Gatus ~70 MB), CPU per check <= 0.15-0.25 ms (Gatus 0.3-0.5 ms)"
fi

say ""
say "# summary: $SUM"
