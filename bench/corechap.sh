#!/bin/bash
# bench/corechap.sh CHAP [CHUNKS] [THREADS]: one ~1 GiB core of bench/gen.c's
# heap (default 8M chunks, 4 threads), and on that same core, in one run:
# `gcore` (making it), `heapscan --json CORE` (twice: the first reads the core
# from the page cache too), and chap (the public vmware/chap, built by hand;
# CHAP is its binary) with "count used" and "count free".  Prints the load
# (uptime) before and after, each one's wall time, CPU time (user + sys) and
# peak RSS, and both tools' counts side by side.
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
echo "uptime before: $(uptime)"
echo "gen: $CHUNKS chunks, $THREADS threads, pid $gen"

# tm FILE CMD...: CMD's wall s, CPU s (user + sys) and peak RSS (MiB) into FILE
tm() { local f=$1; shift; /usr/bin/time -f '%e %U %S %M' -o "$f" "$@"; }
show() { awk '{ printf "%.2f s wall, %.2f s CPU, peak RSS %d MiB", $1, $2 + $3, $4 / 1024 }' "$1"; }
tm "$W/g.t" gcore -o "$W/core" "$gen" >/dev/null 2>&1
kill "$gen"
wait "$gen" 2>/dev/null || true
gen=
core=$W/core.$(ls "$W" | sed -n 's/^core\.//p' | head -1)
sz=$(stat -c %s "$core")
sync

tm "$W/h.t" "$TOP/heapscan" --json "$core" >"$W/h.json"
tm "$W/h2.t" "$TOP/heapscan" --json "$core" >/dev/null
printf 'count used\ncount free\n' | tm "$W/c.t" "$CHAP" "$core" >"$W/chap.out" 2>&1 || true
echo "uptime after:  $(uptime)"

read -r hu hf hm htc < <(python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))["summary"]
print(s["in_use_chunks"], s["free_chunks"], s["mmapped_chunks"], s["tcache_chunks"])' "$W/h.json")
cu=$(awk '/allocations use/ && !u { u = $1 } END { print u }' "$W/chap.out")
cf=$(awk '/allocations use/ { n++; if (n == 2) print $1 }' "$W/chap.out")
echo "core: $((sz >> 20)) MiB"
echo "gcore (makes the core):       $(show "$W/g.t")"
echo "heapscan --json CORE:         $(show "$W/h.t")"
echo "  again (core in page cache): $(show "$W/h2.t")"
echo "chap count used, count free:  $(show "$W/c.t")"
echo "heapscan: in use $hu, mmapped $hm, free $hf (tcache $htc)"
echo "chap:     used $cu, free $cf"
echo "normalised: heapscan used $((hu + hm + htc)) vs chap $cu; free $((hf - htc)) vs chap $cf"
if [ "$((hu + hm + htc))" = "$cu" ] && [ "$((hf - htc))" = "$cf" ]; then
	echo "counts agree"
else
	echo "counts differ"
	sed -n '1,20p' "$W/chap.out"
fi
