#!/usr/bin/env bash
# bench/bench.sh - what `make bench` runs: heapscan on a generated heap,
# beside the physical limit (a raw process_vm_readv copy of the same memory
# into a pre-faulted buffer) and beside gcore, with medians of several runs.
#
#   BENCH_RUNS=5 BENCH_SIZES="1000000 10000000" BENCH_THREADS=4 BENCH_CLASSES=64 bash bench/bench.sh
#
# For each size (chunks), bench/workload.cc builds its heap in THREADS
# threads (C++ objects, strings, list nodes, random buffers, some freed);
# then, RUNS times:
#   stop      heapscan --json under bench/stopwatch -p: the stop window as
#             seen from outside (threads in state t/T), and heapscan's own
#             pause_ms
#   text      the text report: the whole job's wall time (also --vtables,
#             --json below), the figure to hold under a second
#   report    heapscan --json again, without the poller (it takes a core):
#             wall time, walk_ms + analyze_ms (the report after the copy),
#             peak RSS, and pause_ms again: the stop window beside the raw
#             copy, which also runs without a poller
#   raw       the target stopped with SIGSTOP, bench/rawcopy.c on as many
#             threads as heapscan's jobs (its copy is cut in that many
#             parts), and on one thread
#   vtables, leaks (when heapscan has it), snapshot, diff (this run's
#   snapshot against the one before), cow (when heapscan has it: its stop
#   window from outside)
#   gcore     its wall time and its stop window from outside
# then the same heap with CLASSES C++ classes (workload's 4th argument; 0:
# not run): the whole job's wall for the text report, --vtables and --json.
# and prints a table of medians with the ratios, also written to
# BENCH_OUT (bench/results.md) with a description of the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-5}
SIZES=${BENCH_SIZES:-"1000000 10000000"}
THREADS=${BENCH_THREADS:-4}
CLASSES=${BENCH_CLASSES:-64}
OUT=${BENCH_OUT:-bench/results.md}
BB=build/bench
for t in ./heapscan $BB/workload $BB/stopwatch $BB/rawcopy; do
	[ -x "$t" ] || { echo "bench: $t is not built (run make bench)" >&2; exit 1; }
done
JOBS=$( (HEAPSCAN_TEST_SAY_JOBS=1 ./heapscan --diff /nonexistent /nonexistent 2>&1 || true) |
	sed -n 's/^heapscan: \([0-9]*\) jobs .*/\1/p')
JOBS=${JOBS:-1}

W=$(mktemp -d "${TMPDIR:-/tmp}/heapscan-bench.XXXXXX")
# a copy of its own: a rebuild of ./heapscan during the run must not break it
cp ./heapscan "$W/heapscan"
HS=$W/heapscan
have() { "$HS" --help 2>&1 | grep -q -- "$1"; }
HAVE_LEAKS=0 HAVE_COW=0 HAVE_GCORE=0
have --leaks && HAVE_LEAKS=1
have --cow && HAVE_COW=1
command -v gcore >/dev/null && HAVE_GCORE=1
gen=
cleanup() {
	[ -n "$gen" ] && { kill -CONT "$gen" 2>/dev/null; kill "$gen" 2>/dev/null; wait "$gen" 2>/dev/null; }
	[ -n "${BENCH_KEEP:-}" ] && echo "bench: kept $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

load() { cut -d' ' -f1-3 /proc/loadavg; }
LOAD_START=$(load)
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')

# sw NAME [-p PID] -- CMD...: run under stopwatch; CMD's stdout to $W/NAME.out,
# its stderr to $W/NAME.err; the stopwatch fields appended to $W/NAME.sw.  A
# failure is said on stderr and listed in the table (FAILED); the
# benchmark goes on.
FAILED=""
sw() {
	local name=$1
	shift
	if ! $BB/stopwatch "$@" >"$W/$name.out" 2>"$W/$name.err"; then
		echo "bench: $name failed:" >&2
		tail -n 5 "$W/$name.err" >&2
		FAILED="$FAILED $name"
		return 1
	fi
	tail -n 1 "$W/$name.err" | sed 's/^stopwatch: //' >>"$W/$name.sw"
}
# field FILE KEY: the values of KEY from stopwatch lines, one per line
field() { awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$1"; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "" }'; }
med() { [ -f "$1" ] && field "$1" "$2" | median || echo ""; }
# spread FILE KEY: "min-max" of KEY, whole numbers (the machine's noise beside the median)
spread() { [ -f "$1" ] && field "$1" "$2" | sort -g | awk '{ a[NR] = $1 } END { if (NR) printf "%.0f-%.0f\n", a[1], a[NR] }' || echo ""; }
# jget FILE KEY...: fields of a heapscan --json report's summary (or top level)
jget() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
s = d.get("summary", d)
print(" ".join(str(s.get(k, "")) for k in sys.argv[2:]))' "$@"
}
stop_target() { # SIGSTOP and wait until every thread is in T
	kill -STOP "$1"
	for _ in $(seq 1000); do
		! grep -qv '^T' <(for f in /proc/"$1"/task/*/stat; do
			sed 's/.*) //' "$f" | cut -c1; done) && return 0
	done
}
# ratio A B [DIGITS]
ratio() { python3 -c 'import sys
a, b = sys.argv[1], sys.argv[2]
print(f"{float(a) / float(b):.{int(sys.argv[3])}f}" if a and b and float(b) else "n/a")' "$1" "$2" "${3:-2}"; }

declare -A R # R[size,key] = median
run_size() {
	local n=$1 i
	rm -f "$W"/*.sw "$W"/*.vals "$W"/*.snap "$W/ready"
	"$BB/workload" "$W/ready" "$n" "$THREADS" & gen=$!
	for _ in $(seq 6000); do [ -e "$W/ready" ] && break; sleep 0.1; done
	[ -e "$W/ready" ] || { echo "bench: workload of $n chunks did not start" >&2; exit 1; }
	echo "== $n chunks, $THREADS threads: workload pid $gen" >&2
	sw snap "$HS" --snapshot "$W/s0.snap" "$gen" || exit 1
	rm -f "$W/snap.sw"
	for i in $(seq "$RUNS"); do
		echo "   run $i/$RUNS" >&2
		sw stop -p "$gen" -- "$HS" --json "$gen" && jget "$W/stop.out" pause_ms >>"$W/pause.vals"
		sw text -- "$HS" "$gen" || true
		sw report -- "$HS" --json "$gen" || continue
		read -r walk analyze chunks copied < <(jget "$W/report.out" walk_ms analyze_ms \
			in_use_chunks copied_bytes)
		chunks=$((chunks + $(jget "$W/report.out" free_chunks) + $(jget "$W/report.out" mmapped_chunks)))
		jget "$W/report.out" pause_ms >>"$W/pausenp.vals"
		echo "$walk" >>"$W/walk.vals"
		echo "$analyze" >>"$W/analyze.vals"
		python3 -c "print($walk + $analyze)" >>"$W/after.vals"
		stop_target "$gen"
		"$BB/rawcopy" "$gen" "$JOBS" | cut -d' ' -f1 >>"$W/raw.vals"
		"$BB/rawcopy" "$gen" 1 | cut -d' ' -f1 >>"$W/raw1.vals"
		kill -CONT "$gen"
		sw vtables -- "$HS" --vtables "$gen" || true
		if [ $HAVE_LEAKS = 1 ]; then
			sw leaks -- "$HS" --leaks --json "$gen" &&
				jget "$W/leaks.out" reach_ms >>"$W/reach.vals"
		fi
		if sw snap -- "$HS" --snapshot "$W/s$i.snap" "$gen"; then
			stat -c %s "$W/s$i.snap" >>"$W/snapsize.vals"
			[ -f "$W/s$((i - 1)).snap" ] &&
				{ sw diff -- "$HS" --diff "$W/s$((i - 1)).snap" "$W/s$i.snap" || true; }
		else
			cp "$W/s$((i - 1)).snap" "$W/s$i.snap" 2>/dev/null || true
		fi
		rm -f "$W/s$((i - 1)).snap"
		if [ $HAVE_COW = 1 ]; then
			sw cow -p "$gen" -- "$HS" --cow --json "$gen" &&
				jget "$W/cow.out" pause_ms >>"$W/cowpause.vals"
		fi
		if [ $HAVE_GCORE = 1 ]; then
			sw gcore -p "$gen" -- gcore -o "$W/core" "$gen" || true
			rm -f "$W"/core*
		fi
	done
	R[$n,chunks]=$chunks
	R[$n,copied]=$copied
	for k in pause pausenp walk analyze after raw raw1 snapsize cowpause reach; do
		R[$n,$k]=$( [ -f "$W/$k.vals" ] && median <"$W/$k.vals" || echo "")
	done
	R[$n,stop]=$(med "$W/stop.sw" stop_ms)
	R[$n,stops]=$(med "$W/stop.sw" stops)
	for k in text report vtables leaks snap diff cow gcore; do
		R[$n,$k.wall]=$(med "$W/$k.sw" wall_ms)
		R[$n,$k.spread]=$(spread "$W/$k.sw" wall_ms)
		R[$n,$k.cpu]=$(med "$W/$k.sw" cpu_ms)
		R[$n,$k.sys]=$(spread "$W/$k.sw" sys_ms)
		R[$n,$k.rss]=$(med "$W/$k.sw" maxrss_kb)
	done
	R[$n,cow.stop]=$(med "$W/cow.sw" stop_ms)
	R[$n,gcore.stop]=$(med "$W/gcore.sw" stop_ms)
	kill "$gen"; wait "$gen" 2>/dev/null || true; gen=
	[ "$CLASSES" -gt 0 ] || return 0
	rm -f "$W/ready" "$W"/cx*.sw
	"$BB/workload" "$W/ready" "$n" "$THREADS" "$CLASSES" & gen=$!
	for _ in $(seq 6000); do [ -e "$W/ready" ] && break; sleep 0.1; done
	[ -e "$W/ready" ] || { echo "bench: workload of $n chunks, $CLASSES classes did not start" >&2; exit 1; }
	echo "== $n chunks, $CLASSES classes: workload pid $gen" >&2
	for i in $(seq "$RUNS"); do
		sw cxtext -- "$HS" "$gen" || true
		sw cxvtables -- "$HS" --vtables "$gen" || true
		sw cxjson -- "$HS" --json "$gen" || true
	done
	R[$n,cxclasses]=$(wc -l <"$W/cxvtables.out" 2>/dev/null || echo "")
	for k in cxtext cxvtables cxjson; do
		R[$n,$k.wall]=$(med "$W/$k.sw" wall_ms)
		R[$n,$k.spread]=$(spread "$W/$k.sw" wall_ms)
		R[$n,$k.cpu]=$(med "$W/$k.sw" cpu_ms)
		R[$n,$k.sys]=$(spread "$W/$k.sw" sys_ms)
	done
	kill "$gen"; wait "$gen" 2>/dev/null || true; gen=
}

for n in $SIZES; do run_size "$n"; done
LOAD_END=$(load)

# ---- the table ---------------------------------------------------------------
fmt() { [ -n "$1" ] && printf '%.*f\n' "${2:-0}" "$1" || echo 'n/a'; }
mib() { [ -n "$1" ] && python3 -c "print(f'{$1 / 1048576:.0f}')" || echo 'n/a'; }
kmib() { [ -n "$1" ] && python3 -c "print(f'{$1 / 1024:.0f}')" || echo 'n/a'; }
floor() { python3 -c "print($1 + 16 * $2)"; } # copied bytes + 16 B a chunk
rss_ratio() { [ -n "$1" ] && ratio "$(( $1 * 1024 ))" "$(floor "${R[$2,copied]}" "${R[$2,chunks]}")" || echo n/a; }
row() { # LABEL then one value per size
	local label=$1
	shift
	printf '| %s |' "$label"
	for v in "$@"; do printf ' %s |' "$v"; done
	printf '\n'
}
table() {
	local n h=() sep=()
	for n in $SIZES; do h+=("$n chunks"); sep+=("---:"); done
	row "median of $RUNS runs" "${h[@]}"
	row "---" "${sep[@]}"
	row "chunks walked (in use + free + mmapped)" $(for n in $SIZES; do echo "${R[$n,chunks]}"; done)
	row "copied MiB" $(for n in $SIZES; do mib "${R[$n,copied]}"; done)
	row "raw process_vm_readv copy on $JOBS threads, ms (the limit)" $(for n in $SIZES; do fmt "${R[$n,raw]}" 1; done)
	row "raw copy on one thread, ms" $(for n in $SIZES; do fmt "${R[$n,raw1]}" 1; done)
	row "**stop window seen from outside, ms**" $(for n in $SIZES; do fmt "${R[$n,stop]}" 1; done)
	row "**stop window ÷ raw copy** (target ≤ 1.1)" $(for n in $SIZES; do ratio "${R[$n,stop]}" "${R[$n,raw]}"; done)
	row "heapscan's own pause_ms" $(for n in $SIZES; do fmt "${R[$n,pause]}" 1; done)
	row "pause_ms ÷ raw copy" $(for n in $SIZES; do ratio "${R[$n,pause]}" "${R[$n,raw]}"; done)
	row "pause_ms without the poller, ms" $(for n in $SIZES; do fmt "${R[$n,pausenp]}" 1; done)
	row "**pause_ms without the poller ÷ raw copy** (both unpolled)" \
		$(for n in $SIZES; do ratio "${R[$n,pausenp]}" "${R[$n,raw]}"; done)
	row "walk_ms" $(for n in $SIZES; do fmt "${R[$n,walk]}" 0; done)
	row "analyze_ms (types, classes, clusters)" $(for n in $SIZES; do fmt "${R[$n,analyze]}" 0; done)
	row "**report after the copy: walk + analyze, ms** (target ≤ 1000)" $(for n in $SIZES; do fmt "${R[$n,after]}" 0; done)
	row "**whole job, text report: wall ms** (target < 1000)" $(for n in $SIZES; do fmt "${R[$n,text.wall]}" 0; done)
	row "whole job, text report: fastest-slowest run, ms" $(for n in $SIZES; do echo "${R[$n,text.spread]:-n/a}"; done)
	row "whole job, text report: CPU ms (user + system, both CPUs)" $(for n in $SIZES; do fmt "${R[$n,text.cpu]}" 0; done)
	row "whole job, --json: CPU ms" $(for n in $SIZES; do fmt "${R[$n,report.cpu]}" 0; done)
	row "system CPU ms, least-most of the runs, text/--json/--vtables" $(for n in $SIZES; do echo "${R[$n,text.sys]:-n/a}/${R[$n,report.sys]:-n/a}/${R[$n,vtables.sys]:-n/a}"; done)
	row "report (--json) wall, ms" $(for n in $SIZES; do fmt "${R[$n,report.wall]}" 0; done)
	row "report (--json): fastest-slowest run, ms" $(for n in $SIZES; do echo "${R[$n,report.spread]:-n/a}"; done)
	row "report peak RSS, MiB" $(for n in $SIZES; do kmib "${R[$n,report.rss]}"; done)
	row "**RSS ÷ (copied + 16 B/chunk)** (target ≤ 1.1)" $(for n in $SIZES; do rss_ratio "${R[$n,report.rss]}" "$n"; done)
	row "--vtables wall, ms" $(for n in $SIZES; do fmt "${R[$n,vtables.wall]}" 0; done)
	row "--vtables: fastest-slowest run, ms" $(for n in $SIZES; do echo "${R[$n,vtables.spread]:-n/a}"; done)
	row "--vtables CPU ms" $(for n in $SIZES; do fmt "${R[$n,vtables.cpu]}" 0; done)
	row "--vtables RSS ÷ (copied + 16 B/chunk)" $(for n in $SIZES; do rss_ratio "${R[$n,vtables.rss]}" "$n"; done)
	if [ $HAVE_LEAKS = 1 ]; then
		row "--leaks wall, ms" $(for n in $SIZES; do fmt "${R[$n,leaks.wall]}" 0; done)
		row "--leaks reach_ms (its own figure)" $(for n in $SIZES; do fmt "${R[$n,reach]}" 0; done)
		row "**--leaks after the copy: walk_ms + reach_ms** (+ typing the leaked chunks; target ≤ 2000)" $(for n in $SIZES; do
			[ -n "${R[$n,reach]}" ] && [ -n "${R[$n,walk]}" ] && fmt "$(python3 -c "print(${R[$n,walk]} + ${R[$n,reach]})")" 0 || echo n/a; done)
		row "--leaks RSS ÷ (copied + 16 B/chunk)" $(for n in $SIZES; do rss_ratio "${R[$n,leaks.rss]}" "$n"; done)
	else
		row "--leaks (not in this heapscan)" $(for n in $SIZES; do echo "-"; done)
	fi
	row "--snapshot wall, ms" $(for n in $SIZES; do fmt "${R[$n,snap.wall]}" 0; done)
	row "--snapshot RSS ÷ (copied + 16 B/chunk)" $(for n in $SIZES; do rss_ratio "${R[$n,snap.rss]}" "$n"; done)
	row "snapshot file, KiB" $(for n in $SIZES; do kmib "${R[$n,snapsize]}"; done)
	row "**snapshot bytes ÷ chunk** (target ≤ 16)" $(for n in $SIZES; do ratio "${R[$n,snapsize]}" "${R[$n,chunks]}"; done)
	row "--diff of two snapshots wall, ms" $(for n in $SIZES; do fmt "${R[$n,diff.wall]}" 0; done)
	row "--diff peak RSS, MiB" $(for n in $SIZES; do kmib "${R[$n,diff.rss]}"; done)
	if [ $HAVE_COW = 1 ]; then
		row "--cow stop window seen from outside, ms" $(for n in $SIZES; do fmt "${R[$n,cow.stop]}" 1; done)
		row "--cow stop window ÷ raw copy" $(for n in $SIZES; do ratio "${R[$n,cow.stop]}" "${R[$n,raw]}"; done)
		row "--cow wall, ms" $(for n in $SIZES; do fmt "${R[$n,cow.wall]}" 0; done)
	else
		row "--cow (not in this heapscan)" $(for n in $SIZES; do echo "-"; done)
	fi
	if [ "$CLASSES" -gt 0 ]; then
		row "C++ heap of $CLASSES classes (classes --vtables found)" $(for n in $SIZES; do echo "${R[$n,cxclasses]:-n/a}"; done)
		row "**$CLASSES classes: whole job, text report, wall ms**" $(for n in $SIZES; do fmt "${R[$n,cxtext.wall]}" 0; done)
		row "**$CLASSES classes: whole job, --vtables, wall ms**" $(for n in $SIZES; do fmt "${R[$n,cxvtables.wall]}" 0; done)
		row "**$CLASSES classes: whole job, --json, wall ms**" $(for n in $SIZES; do fmt "${R[$n,cxjson.wall]}" 0; done)
		row "$CLASSES classes: fastest-slowest run, ms, text/--vtables/--json" $(for n in $SIZES; do echo "${R[$n,cxtext.spread]:-n/a}/${R[$n,cxvtables.spread]:-n/a}/${R[$n,cxjson.spread]:-n/a}"; done)
		row "$CLASSES classes: CPU ms, text/--vtables/--json" $(for n in $SIZES; do echo "$(fmt "${R[$n,cxtext.cpu]}" 0)/$(fmt "${R[$n,cxvtables.cpu]}" 0)/$(fmt "${R[$n,cxjson.cpu]}" 0)"; done)
		row "$CLASSES classes: system CPU ms, least-most, text/--vtables/--json" $(for n in $SIZES; do echo "${R[$n,cxtext.sys]:-n/a}/${R[$n,cxvtables.sys]:-n/a}/${R[$n,cxjson.sys]:-n/a}"; done)
	fi
	if [ -n "$FAILED" ]; then
		row "failed runs (left out of the medians)" "$(echo $FAILED | tr ' ' '\n' | sort | uniq -c | awk '{printf "%s %s×; ", $2, $1}')"
	fi
	if [ $HAVE_GCORE = 1 ]; then
		row "gcore wall, ms" $(for n in $SIZES; do fmt "${R[$n,gcore.wall]}" 0; done)
		row "gcore stop window seen from outside, ms" $(for n in $SIZES; do fmt "${R[$n,gcore.stop]}" 1; done)
		row "**heapscan stop window ÷ gcore's**" $(for n in $SIZES; do ratio "${R[$n,stop]}" "${R[$n,gcore.stop]}" 3; done)
		row "**heapscan report wall ÷ gcore wall** (gcore gives no report)" $(for n in $SIZES; do ratio "${R[$n,report.wall]}" "${R[$n,gcore.wall]}"; done)
	fi
}

machine() {
	echo "- date: $DATE"
	echo "- machine: $(nproc) CPUs ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)), $(free -g | awk '/^Mem:/ {print $2}') GiB memory"
	echo "- kernel: $(uname -r); $(ldd --version 2>/dev/null | head -1)"
	echo "- transparent huge pages: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"
	echo "- heapscan: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- src include 2>/dev/null || echo ' + uncommitted changes')"
	echo "- load average (1, 5, 15 min) at start: $LOAD_START; at end: $LOAD_END"
	echo "- workload: bench/workload.cc, $THREADS threads; $RUNS runs per size; then $CLASSES C++ classes"
	echo "- heapscan's jobs (threads): $(HEAPSCAN_TEST_SAY_JOBS=1 "$HS" --diff /nonexistent /nonexistent 2>&1 | sed -n 's/^heapscan: \(.* jobs (.*)\)$/\1/p')"
}

{
	echo "# heapscan benchmark (make bench)"
	echo
	machine
	echo
	echo "This machine is shared and noisy: other builds and tests run beside the benchmark, so times"
	echo "vary from run to run. Ratios taken within one run are what count. The stop window"
	echo "\"seen from outside\" is bench/stopwatch.c polling the target's threads' state in"
	echo "/proc/PID/task/*/stat; heapscan's own pause_ms is its clock around the same window."
	echo "The poller takes one of the two CPUs while it runs; the raw copy runs without it, and so"
	echo "does the report run, whose pause_ms is the like-for-like figure."
	echo "Peak RSS is wait4's ru_maxrss of the heapscan process. System CPU time is mostly the"
	echo "kernel faulting in heapscan's memory: on this VM, memory freed a few seconds before may"
	echo "have been handed back to the host, and faulting it in again costs 1-2 ms a MiB, so the"
	echo "runs with the most system time are the slow ones (a warm run's is 0.33-0.37 s)."
	echo
	table
} >"$W/results.md"
# the history below the marker (figures from earlier rounds) is kept
if [ -f "$OUT" ] && grep -q '^<!-- history' "$OUT"; then
	echo >>"$W/results.md"
	sed -n '/^<!-- history/,$p' "$OUT" >>"$W/results.md"
fi
cp "$W/results.md" "$OUT"
cat "$OUT"
