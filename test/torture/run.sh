#!/bin/bash
# torture/run.sh - what `make torture` runs: every torture part with its full
# count, each in a fresh directory, then the heap fuzzer.  Prints each part's
# figure line ("torture PART: runs N, failures F, OUTCOME N, ...") and a last
# line "torture: N parts failed"; exits 1 if any part failed.
#
#   bash test/torture/run.sh [PART...]     parts: kill churn malloc corrupt
#                                          corrupt_top perms secrets fuzz
#                                          (default: all)
#
# Counts: TORTURE_KILL_RUNS (1000), TORTURE_CHURN_RUNS (500),
# TORTURE_MALLOC_RUNS (1000), TORTURE_CORRUPT_RUNS (20), TORTURE_PERMS_RUNS
# (5), TORTURE_SECRETS_RUNS (5), TORTURE_FUZZ_SECONDS (600).  HEAPSCAN=PATH
# tortures another build (an ASan one: crashes then include sanitizer reports).
# Logs stay in $TORTURE_LOGS (default build/torture/).  The short versions
# that `make test` runs are test/cases/torture_*.sh.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
export TOP HEAPSCAN=${HEAPSCAN:-$TOP/heapscan} FIXTURES=$TOP/build/fixtures
LOGS=${TORTURE_LOGS:-$TOP/build/torture}
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(kill churn malloc corrupt corrupt_top perms secrets fuzz)
failed=0

declare -A RUNS=([kill]=${TORTURE_KILL_RUNS:-1000} [churn]=${TORTURE_CHURN_RUNS:-500}
	[malloc]=${TORTURE_MALLOC_RUNS:-1000} [corrupt]=${TORTURE_CORRUPT_RUNS:-20}
	[corrupt_top]=${TORTURE_CORRUPT_RUNS:-20}
	[perms]=${TORTURE_PERMS_RUNS:-5} [secrets]=${TORTURE_SECRETS_RUNS:-5})

run_fuzz() {
	local secs=${TORTURE_FUZZ_SECONDS:-600} log=$TOP/build/fuzz/fuzz-heap.log rc t0
	t0=$(date +%s)
	make -s -C "$TOP" fuzz FUZZ_TARGET=heap FUZZ_SECONDS="$secs" \
		FUZZ_FLAGS="${FUZZ_FLAGS:-}" >"$LOGS/fuzz.out" 2>&1
	rc=$?
	local execs cov ft crashes
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{ s += $2 } END { print s + 0 }')
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | awk '{ print $2 }')
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | awk '{ print $2 }')
	crashes=$(grep -c 'Test unit written to' "$log")
	# -fork mode (FUZZ_FLAGS=-fork=1 -ignore_crashes=1) counts them on its status lines
	local forked
	forked=$(grep -o 'oom/timeout/crash: [0-9/]*' "$log" | tail -n 1 | awk -F'[ /]' '{ print $4 + $5 + $6 }')
	[ -n "$forked" ] && [ "$forked" -gt "$crashes" ] && crashes=$forked
	echo "torture fuzz: seconds $(($(date +%s) - t0)), failures $crashes, executions $execs, coverage (edges) ${cov:-?}, features ${ft:-?} (log: $log)"
	[ "$rc" = 0 ] && [ "$crashes" = 0 ]
}

mkdir -p "$LOGS"
# A private copy: a long run must not meet a half-linked ./heapscan when
# someone rebuilds in the same tree.
cp "$HEAPSCAN" "$LOGS/heapscan.torture" || exit 1
HEAPSCAN=$LOGS/heapscan.torture
for p in "${parts[@]}"; do
	if [ "$p" = fuzz ]; then
		run_fuzz || failed=$((failed + 1))
		continue
	fi
	[ -f "$TOP/test/torture/$p.sh" ] || { echo "torture: no part '$p'" >&2; exit 2; }
	dir=$(mktemp -d "$LOGS/$p.XXXXXX")
	(cd "$dir" && TORTURE_RUNS=${RUNS[$p]} exec bash "$TOP/test/torture/$p.sh") >"$dir/log" 2>&1 </dev/null
	rc=$?
	if grep -q '^torture ' "$dir/log"; then
		sed -n '/^torture /,$p' "$dir/log"
	else
		tail -n 5 "$dir/log"
	fi
	case $rc in
	0) ;;
	77) echo "torture $p: skipped: $(sed -n 's/^SKIP: //p' "$dir/log" | tail -n 1)" ;;
	*) echo "torture $p: FAILED (exit $rc; log $dir/log)"; failed=$((failed + 1)) ;;
	esac
done
echo "torture: $failed parts failed"
[ "$failed" = 0 ]
