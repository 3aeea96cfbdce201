#!/usr/bin/env bash
# Runs bench/scheduler $RUNS times per configuration, each in a fresh process,
# and prints the median of every summary field.
#
#   bench/scheduler/run.sh                         # 10000 and 1000 checks, heartbeat and db, 3 runs of 60s
#   CONFIGS="10000:heartbeat" RUNS=5 bench/scheduler/run.sh
#
# Full outputs are kept in $OUT (default: a new temporary directory).
set -euo pipefail

CONFIGS=${CONFIGS:-"10000:heartbeat 10000:db 1000:heartbeat 1000:db"}
RUNS=${RUNS:-3}
INTERVAL=${INTERVAL:-10s}
DURATION=${DURATION:-60s}
OUT=${OUT:-$(mktemp -d)}

cd "$(dirname "$0")/../.."
mkdir -p "$OUT"
go build -o "$OUT/scheduler" ./bench/scheduler
echo "bench/scheduler: interval $INTERVAL, duration $DURATION, $RUNS runs per configuration; $(nproc) CPUs; load average $(cut -d" " -f1-3 /proc/loadavg);" \
	"$(date -u +%Y-%m-%dT%H:%M:%SZ); full outputs in $OUT"
{
	echo -e "runs\t$("$OUT/scheduler" -summary-header)"
	for cfg in $CONFIGS; do
		n=${cfg%%:*} kind=${cfg##*:}
		for i in $(seq "$RUNS"); do
			"$OUT/scheduler" -checks "$n" -kind "$kind" -interval "$INTERVAL" -duration "$DURATION" \
				>"$OUT/$n-$kind-$i.txt" 2>&1 || echo "run $n $kind #$i failed: see $OUT/$n-$kind-$i.txt" >&2
		done
		# median of every numeric column over the runs' summary lines
		cat "$OUT/$n-$kind"-*.txt | awk -F'\t' '
			$1 == "summary" { rows++; for (i = 2; i <= NF; i++) v[i, rows] = $i; nf = NF }
			END {
				if (!rows) exit
				line = rows
				for (i = 2; i <= nf; i++) {
					n = 0; split("", a)
					for (r = 1; r <= rows; r++) a[++n] = v[i, r]
					if (i == 3) { line = line "\t" a[1]; continue }
					for (x = 2; x <= n; x++) for (y = x; y > 1 && a[y - 1] + 0 > a[y] + 0; y--) { t = a[y]; a[y] = a[y - 1]; a[y - 1] = t }
					m = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
					line = line "\t" m
				}
				print line
			}'
	done
} | column -t -s $'\t'
