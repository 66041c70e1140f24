#!/bin/bash
# bench/corechap.sh CHAP [CHUNKS] [THREADS]: one ~1 GiB core of bench/gen.c's
# heap (default 8M chunks, 4 threads), and on that same core, in one run:
# `gcore` (making it), `heapscan --json CORE` (twice: the first reads the core
# from the page cache too), and chap (the public vmware/chap, built by hand;
# CHAP is its binary) with "count used" and "count free".  Prints the load
# (uptime) before and after, the times, and both tools' counts side by side.
# Not part of make test; times vary with the machine's load, the ratios of
# one run are what count.
#
# chap's counts, normalised (see /work/shared/ORACLES.md and README "Checked
# against"): chap counts tcache chunks as used, and the arenas' top chunks as
# free allocations; so chap used = heapscan in use + mmapped + tcache, and
# chap free = heapscan free - tcache.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
CHAP=${1:?usage: bench/corechap.sh CHAP [CHUNKS] [THREADS]}
CHUNKS=${2:-8000000}
THREADS=${3:-4}
[ -x "$CHAP" ] || { echo "corechap: $CHAP is not an executable" >&2; exit 2; }
W=$(mktemp -d /tmp/heapscan-corechap.XXXXXX)
gen=
trap '[ -n "$gen" ] && kill "$gen" 2>/dev/null; rm -rf "$W"' EXIT
gcc -O2 -pthread -o "$W/gen" "$TOP/bench/gen.c"
"$W/gen" "$W/ready" "$CHUNKS" "$THREADS" & gen=$!
while [ ! -e "$W/ready" ]; do sleep 0.1; done
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
echo "uptime before: $(uptime)"
echo "gen: $CHUNKS chunks, $THREADS threads, pid $gen"

t0=$(date +%s%N)
gcore -o "$W/core" "$gen" >/dev/null 2>&1
g=$(ms "$t0")
kill "$gen"
wait "$gen" 2>/dev/null || true
gen=
core=$W/core.$(ls "$W" | sed -n 's/^core\.//p' | head -1)
sz=$(stat -c %s "$core")
sync

t0=$(date +%s%N)
"$TOP/heapscan" --json "$core" >"$W/h.json"
h=$(ms "$t0")
t0=$(date +%s%N)
"$TOP/heapscan" --json "$core" >/dev/null
h2=$(ms "$t0")

t0=$(date +%s%N)
printf 'count used\ncount free\n' | /usr/bin/time -f '%M' -o "$W/chap.rss" "$CHAP" "$core" >"$W/chap.out" 2>&1 || true
c=$(ms "$t0")
echo "uptime after:  $(uptime)"

read -r hu hf hm htc < <(python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))["summary"]
print(s["in_use_chunks"], s["free_chunks"], s["mmapped_chunks"], s["tcache_chunks"])' "$W/h.json")
cu=$(awk '/allocations use/ && !u { u = $1 } END { print u }' "$W/chap.out")
cf=$(awk '/allocations use/ { n++; if (n == 2) print $1 }' "$W/chap.out")
echo "core: $((sz >> 20)) MiB"
echo "gcore (makes the core):      $g ms"
echo "heapscan --json CORE:        $h ms (again: $h2 ms)"
echo "chap count used + count free: $c ms, peak RSS $(( $(cat "$W/chap.rss") / 1024 )) MiB"
echo "heapscan: in use $hu, mmapped $hm, free $hf (tcache $htc)"
echo "chap:     used $cu, free $cf"
echo "normalised: heapscan used $((hu + hm + htc)) vs chap $cu; free $((hf - htc)) vs chap $cf"
if [ "$((hu + hm + htc))" = "$cu" ] && [ "$((hf - htc))" = "$cf" ]; then
	echo "counts agree"
else
	echo "counts differ"
	sed -n '1,20p' "$W/chap.out"
fi
