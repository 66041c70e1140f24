#!/bin/bash
# bench/corebench.sh [CHUNKS] [THREADS] [RUNS]: heapscan --json on a gcore of
# bench/gen.c's heap (default 8M chunks, about 1 GiB), beside gcore itself
# and the live scan of the same process.  Not part of make test.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
CHUNKS=${1:-8000000}
THREADS=${2:-4}
RUNS=${3:-3}
W=$(mktemp -d /tmp/heapscan-corebench.XXXXXX)
gen=
trap '[ -n "$gen" ] && kill "$gen" 2>/dev/null; rm -rf "$W"' EXIT
gcc -O2 -pthread -o "$W/gen" "$TOP/bench/gen.c"
"$W/gen" "$W/ready" "$CHUNKS" "$THREADS" & gen=$!
while [ ! -e "$W/ready" ]; do sleep 0.1; done
t() { local t0=$(date +%s%N); "$@" >/dev/null; echo $((($(date +%s%N) - t0) / 1000000)); }
echo "gen: $CHUNKS chunks, $THREADS threads, pid $gen; load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$RUNS"); do
	rm -f "$W/core".*
	g=$(t gcore -o "$W/core" "$gen")
	sz=$(stat -c %s "$W/core.$gen")
	sync; h=$(t "$TOP/heapscan" --json "$W/core.$gen")
	h2=$(t "$TOP/heapscan" --json "$W/core.$gen")
	l=$(t "$TOP/heapscan" --json "$gen")
	echo "run $r: core $((sz >> 20)) MiB; gcore ${g} ms; heapscan --json CORE ${h} ms (again ${h2} ms); live heapscan --json ${l} ms"
done
