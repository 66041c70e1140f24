#!/usr/bin/env bash
# bench/bounded.sh - --max-memory beside the whole copy, on bench/gen.c's heap
# (what `make bench` runs after bench.sh).
#
#   BOUNDED_RUNS=3 BOUNDED_SIZES="1000000 10000000" BOUNDED_THREADS=4 \
#   BOUNDED_MAX=1G BOUNDED_WHOLE=1 bash bench/bounded.sh
#
# For each size (chunks) gen.c builds its heap (awake: it wakes every ms, as
# a server does), then, RUNS times, in each mode - whole (the copy;
# --cow for the stop window beside the bounded mode's fork) and bounded
# (--max-memory BOUNDED_MAX, default a third of the copy, so the heap is at
# least 3x what heapscan may hold):
#   report   heapscan --json under bench/stopwatch -p: wall, peak RSS, the
#            stop window seen from outside
#   vtables  heapscan --vtables: wall, peak RSS
#   leaks    heapscan --leaks --json: wall, peak RSS
#   stop     heapscan --json again, without the poller: its pause_ms (the
#            poller takes one of the two CPUs, and the fork it stops for is
#            timed without one)
# (the stop window as heapscan's own pause_ms, and as bench/stopwatch's poller
# sees it: the poller needs a free CPU) and checks that the two modes say the same (the --json summary less its
# timings, the --vtables lines, the --leaks counts).  Beside them, in every
# run (interleaved, so that the machine's load weighs on both alike): the
# median time of 5 plain fork()s of a process that built the same heap (the
# floor of the fork's stop window; bench/cow.sh's forktime); the table has
# the median over the runs and the load average at the start and at the
# end.  BOUNDED_WHOLE=0 skips
# the whole mode (when the machine has no room for the copy).
# Prints a table of medians and puts it in bench/results.md, between the
# "bounded" markers (kept by bench.sh, which rewrites the part above).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${BOUNDED_RUNS:-3}
SIZES=${BOUNDED_SIZES:-"1000000 10000000"}
THREADS=${BOUNDED_THREADS:-4}
MAX=${BOUNDED_MAX:-}
WHOLE=${BOUNDED_WHOLE:-1}
OUT=${BENCH_OUT:-bench/results.md}
BB=build/bench
for t in ./heapscan $BB/stopwatch; do
	[ -x "$t" ] || { echo "bounded: $t is not built (run make bench)" >&2; exit 1; }
done
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
W=$(mktemp -d "${TMPDIR:-/tmp}/heapscan-bounded.XXXXXX")
cp ./heapscan "$W/heapscan"
HS=$W/heapscan
gen=
trap '[ -n "$gen" ] && kill "$gen" 2>/dev/null; rm -rf "$W"' EXIT
cc -O2 -pthread -o "$W/gen" bench/gen.c
# the plain fork timer, as bench/cow.sh has it
sed -n "/^cat >\"\$out\/forktime.c\" <<'C'\$/,/^C\$/p" bench/cow.sh | sed '1d;$d' >"$W/forktime.c"
cc -O2 -pthread -o "$W/forktime" "$W/forktime.c"

field() { awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$1"; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "" }'; }
med() { [ -f "$1" ] && field "$1" "$2" | median || echo ""; }
nots() { sed -E 's/"[a-z_]+_ms": ?[0-9.]+,? ?//g'; }
FAILED=""
# sw NAME [-p PID] -- CMD...: under the stopwatch; stdout to NAME.out
sw() {
	local name=$1
	shift
	if ! $BB/stopwatch "$@" >"$W/$name.out" 2>"$W/$name.err"; then
		echo "bounded: $name failed:" >&2
		tail -n 5 "$W/$name.err" >&2
		FAILED="$FAILED $name"
		return 1
	fi
	grep '^stopwatch: ' "$W/$name.err" | tail -n 1 | sed 's/^stopwatch: //' >>"$W/$name.sw"
}

declare -A R
run_size() {
	local n=$1 i mode opts max same=yes
	rm -f "$W"/*.sw "$W"/*.vals "$W/ready"
	"$W/gen" "$W/ready" "$n" "$THREADS" 1000 & gen=$!
	for _ in $(seq 6000); do [ -e "$W/ready" ] && break; sleep 0.1; done
	[ -e "$W/ready" ] || { echo "bounded: gen of $n chunks did not start" >&2; exit 1; }
	"$HS" --max-memory 64M --json "$gen" >"$W/probe.json" 2>/dev/null
	read -r copied chunks < <(python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))["summary"]
print(s["copied_bytes"], s["in_use_chunks"] + s["free_chunks"] + s["mmapped_chunks"])' "$W/probe.json")
	max=${MAX:-$(( copied / 3 >> 20 ))M}
	R[$n,copied]=$copied R[$n,chunks]=$chunks R[$n,max]=$max
	echo "== $n chunks: gen pid $gen, $((copied >> 20)) MiB, --max-memory $max" >&2
	for i in $(seq "$RUNS"); do
		echo "   run $i/$RUNS" >&2
		"$W/forktime" "$n" "$THREADS" 5 >>"$W/fork.vals"
		for mode in whole bounded; do
			[ $mode = whole ] && [ "$WHOLE" = 0 ] && continue
			opts=(--cow)
			[ $mode = bounded ] && opts=(--max-memory "$max")
			sw $mode.report -p "$gen" -- "$HS" "${opts[@]}" --json "$gen" &&
				python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["summary"]["pause_ms"])' \
					"$W/$mode.report.out" >>"$W/$mode.pause.vals" || true
			"$HS" "${opts[@]}" --json "$gen" 2>/dev/null |
				python3 -c 'import json, sys; print(json.load(sys.stdin)["summary"]["pause_ms"])' \
					>>"$W/$mode.pausenp.vals" || true
			sw $mode.vtables -- "$HS" "${opts[@]}" --vtables "$gen" || true
			sw $mode.leaks -- "$HS" "${opts[@]}" --leaks --json "$gen" || true
		done
		if [ "$WHOLE" != 0 ]; then
			for k in report vtables leaks; do
				cmp -s <(nots <"$W/whole.$k.out") <(nots <"$W/bounded.$k.out") ||
					{ same=no; echo "bounded: $k differs from the whole copy's" >&2; }
			done
		fi
	done
	R[$n,same]=$([ "$WHOLE" = 0 ] && echo "not compared" || echo $same)
	R[$n,fork]=$(median <"$W/fork.vals")
	for mode in whole bounded; do
		for k in report vtables leaks; do
			R[$n,$mode.$k.wall]=$(med "$W/$mode.$k.sw" wall_ms)
			R[$n,$mode.$k.rss]=$(med "$W/$mode.$k.sw" maxrss_kb)
		done
		R[$n,$mode.stop]=$(med "$W/$mode.report.sw" stop_ms)
		R[$n,$mode.pause]=$([ -f "$W/$mode.pause.vals" ] && median <"$W/$mode.pause.vals" || echo "")
		R[$n,$mode.pausenp]=$([ -f "$W/$mode.pausenp.vals" ] && median <"$W/$mode.pausenp.vals" || echo "")
	done
	kill "$gen"; wait "$gen" 2>/dev/null || true; gen=
}

for n in $SIZES; do run_size "$n"; done

fmt() { [ -n "$1" ] && printf '%.*f\n' "${2:-0}" "$1" || echo 'n/a'; }
mib() { [ -n "$1" ] && python3 -c "print(f'{$1 / 1024:.0f}')" || echo 'n/a'; }
size_b() { python3 -c 'import sys; s = sys.argv[1]; u = "KMGT".find(s[-1].upper()); print(int(s[:-1]) << 10 * (u + 1) if u >= 0 else int(s))' "$1"; }
# the issue's bound: SIZE + 16 B a chunk + 64 MiB, in MiB, and RSS / bound
bound() { python3 -c "print(f'{($(size_b "${R[$1,max]}") + 16 * ${R[$1,chunks]} + (64 << 20)) / 1048576:.0f}')"; }
per_chunk() { [ -n "$1" ] && python3 -c "print(f'{($1 * 1024 - $(size_b "${R[$2,max]}")) / ${R[$2,chunks]}:.1f}')" || echo n/a; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && python3 -c "print(f'{$1 / $2:.2f}')" || echo n/a; }
row() { local l=$1; shift; printf '| %s |' "$l"; for v in "$@"; do printf ' %s |' "$v"; done; printf '\n'; }
table() {
	local n h=() sep=()
	for n in $SIZES; do h+=("$n chunks"); sep+=("---:"); done
	row "median of $RUNS runs" "${h[@]}"
	row "---" "${sep[@]}"
	row "chunks walked" $(for n in $SIZES; do echo "${R[$n,chunks]}"; done)
	row "copied (whole) MiB" $(for n in $SIZES; do echo $((R[$n,copied] >> 20)); done)
	row "--max-memory" $(for n in $SIZES; do echo "${R[$n,max]}"; done)
	row "**same counts, classes and leaks as the whole copy**" $(for n in $SIZES; do echo "${R[$n,same]// /_}"; done)
	for k in report vtables leaks; do
		local what=$k
		[ $k = report ] && what="report (--json)"
		[ $k = leaks ] && what="--leaks --json"
		[ $k = vtables ] && what="--vtables"
		row "$what wall, ms: whole / bounded" $(for n in $SIZES; do
			echo "$(fmt "${R[$n,whole.$k.wall]}")&nbsp;/&nbsp;$(fmt "${R[$n,bounded.$k.wall]}")"; done)
		row "$what peak RSS, MiB: whole / bounded" $(for n in $SIZES; do
			echo "$(mib "${R[$n,whole.$k.rss]}")&nbsp;/&nbsp;$(mib "${R[$n,bounded.$k.rss]}")"; done)
	done
	row "bound SIZE + 16 B/chunk + 64 MiB, MiB" $(for n in $SIZES; do bound "$n"; done)
	row "**bounded report RSS ÷ bound** (target ≤ 1)" $(for n in $SIZES; do
		ratio "$(mib "${R[$n,bounded.report.rss]}")" "$(bound "$n")"; done)
	row "**bounded --leaks RSS ÷ bound** (target ≤ 1)" $(for n in $SIZES; do
		ratio "$(mib "${R[$n,bounded.leaks.rss]}")" "$(bound "$n")"; done)
	row "bounded: (RSS - SIZE) ÷ chunks, bytes (report / --leaks)" $(for n in $SIZES; do
		echo "$(per_chunk "${R[$n,bounded.report.rss]}" "$n")&nbsp;/&nbsp;$(per_chunk "${R[$n,bounded.leaks.rss]}" "$n")"; done)
	row "stop window (heapscan's pause_ms, poller running), ms: whole (--cow) / bounded" $(for n in $SIZES; do
		echo "$(fmt "${R[$n,whole.pause]}" 1)&nbsp;/&nbsp;$(fmt "${R[$n,bounded.pause]}" 1)"; done)
	row "stop window (heapscan's pause_ms, no poller), ms: whole (--cow) / bounded" $(for n in $SIZES; do
		echo "$(fmt "${R[$n,whole.pausenp]}" 1)&nbsp;/&nbsp;$(fmt "${R[$n,bounded.pausenp]}" 1)"; done)
	row "stop window seen from outside (poller), ms: whole (--cow) / bounded" $(for n in $SIZES; do
		echo "$(fmt "${R[$n,whole.stop]}" 1)&nbsp;/&nbsp;$(fmt "${R[$n,bounded.stop]}" 1)"; done)
	row "plain fork() of the same heap (median of 5, in each run), ms" $(for n in $SIZES; do fmt "${R[$n,fork]}" 1; done)
	row "**bounded pause_ms (no poller) ÷ plain fork** (target ≤ 1.5; both unpolled)" $(for n in $SIZES; do
		ratio "${R[$n,bounded.pausenp]}" "${R[$n,fork]}"; done)
	row "bounded pause_ms (poller running) ÷ plain fork" $(for n in $SIZES; do
		ratio "${R[$n,bounded.pause]}" "${R[$n,fork]}"; done)
	[ -n "$FAILED" ] && row "failed runs" "$FAILED"
	return 0
}

{
	echo "<!-- bounded: written by bench/bounded.sh -->"
	echo "## Bounded mode (--max-memory), bench/bounded.sh"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB;" \
		"load at start $LOAD0, at end $(cut -d' ' -f1-3 /proc/loadavg); heapscan $(git rev-parse --short HEAD 2>/dev/null)"
	echo "- workload: bench/gen.c, $THREADS threads, awake (wakes every ms); whole = \`--cow\` (a copy of"
	echo "  the fork), bounded = \`--max-memory\` (windows of the fork, pager.h)"
	echo
	table
	echo "<!-- /bounded -->"
} >"$W/bounded.md"
cat "$W/bounded.md"
if [ -f "$OUT" ]; then
	python3 - "$OUT" "$W/bounded.md" <<'PY'
import re, sys
out, new = sys.argv[1], open(sys.argv[2]).read()
t = open(out).read()
t = re.sub(r"\n?<!-- bounded:.*?<!-- /bounded -->\n", "\n", t, flags=re.S)
if "<!-- history" in t:  # below the marker: bench.sh keeps it
    i = t.index("\n", t.index("<!-- history")) + 1
    t = t[:i] + "\n" + new + t[i:]
else:
    t += "\n" + new
open(out, "w").write(t)
PY
fi
