#!/bin/bash
# run.sh - heapscan's test runner (what `make test` calls, cwd = repo root).
#
#   bash test/run.sh [FILTER]
#
# Runs build/test_unit (each "PASS unit/x" / "FAIL unit/x" line is a test) and
# every test/cases/*.sh whose name contains FILTER.  Each case runs under
# `timeout 1800` (only a hang gets there) in its own fresh directory, with HEAPSCAN, FIXTURES and TOP in
# its environment and its output in a log.  Exit status 0 is a pass, 77 a skip
# (the case prints "SKIP: reason"), anything else - a timeout too - a failure,
# shown with the last 30 lines of its log.
#
# The last line is "N passed, N failed, N skipped".  Exit 1 if any test failed
# or none ran.  TEST_TIMEOUT=SECS overrides the 1800 s limit.

set -u

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
FILTER=${1:-}
TIMEOUT=${TEST_TIMEOUT:-1800}
export TOP HEAPSCAN="$TOP/heapscan" FIXTURES="$TOP/build/fixtures"

passed=0 failed=0 skipped=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/heapscan-test.XXXXXX") || exit 1
CHILD=
trap 'rm -rf "$WORK"' EXIT
# timeout(1) puts itself in its own process group, so a Ctrl-C does not reach
# the running case: pass it on (timeout relays it to the case's group).
trap 'interrupted INT 130' INT
trap 'interrupted TERM 143' TERM
trap 'interrupted HUP 129' HUP

interrupted() {
	[ -n "$CHILD" ] && kill -"$1" "$CHILD" 2>/dev/null && wait "$CHILD"
	exit "$2"
}

# run_timed DIR LOG CMD...: CMD under timeout in DIR, output to LOG; sets RC.
run_timed() {
	local dir=$1 log=$2
	shift 2
	(cd "$dir" && exec timeout -k 5 "$TIMEOUT" "$@") >"$log" 2>&1 </dev/null &
	CHILD=$!
	wait "$CHILD"
	RC=$?
	CHILD=
}

matches() {
	[ -z "$FILTER" ] || [[ "$1" == *"$FILTER"* ]]
}

show_tail() {
	tail -n 30 "$1" | sed 's/^/    /'
}

# A case that died without its EXIT trap may leave a fixture running.
reap_fixtures() {
	local dir=$1 pid
	[ -f "$dir/.fixture_pids" ] || return 0
	while read -r pid; do
		[ -n "$pid" ] && [ -d "/proc/$pid" ] || continue
		# Only our own fixture binaries, never a recycled pid.
		case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in
		"$FIXTURES"/*) kill -CONT "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null ;;
		esac
	done <"$dir/.fixture_pids"
}

run_unit() {
	local log="$WORK/unit.log" rc line name pre
	local -a lines=()
	if [ ! -x "$TOP/build/test_unit" ]; then
		matches unit || return
		echo "FAIL unit: build/test_unit does not exist"
		failed=$((failed + 1))
		return
	fi
	# Line-buffered stdout keeps each test's CHECK messages (stderr) before
	# its FAIL line.
	# Names print as "unit/NAME" but test_unit filters on NAME: hand it the
	# filter only when that cannot change what matches.
	local -a arg=()
	if [ -n "$FILTER" ] && [[ "unit/" != *"$FILTER"* ]]; then
		arg=("$FILTER")
		for pre in / t/ it/ nit/ unit/; do
			[[ "$FILTER" == "$pre"* ]] && arg=()
		done
	fi
	run_timed "$TOP" "$log" stdbuf -oL build/test_unit "${arg[@]}"
	rc=$RC
	local start=1 n=0
	while IFS= read -r line; do
		n=$((n + 1))
		case "$line" in
		"PASS unit/"* | "FAIL unit/"*)
			name=${line#* }
			if matches "$name"; then
				echo "$line"
				if [[ "$line" == FAIL* ]]; then
					failed=$((failed + 1))
					sed -n "${start},$((n - 1))p" "$log" | tail -n 30 | sed 's/^/    /'
				else
					passed=$((passed + 1))
				fi
			fi
			start=$((n + 1))
			;;
		esac
	done <"$log"
	# A crash, a timeout or an exit 1 with no FAIL line is a failure of its own.
	if [ "$rc" != 0 ] && ! grep -q '^FAIL unit/' "$log" && matches unit; then
		if [ "$rc" = 124 ]; then
			echo "FAIL unit: build/test_unit timed out after $TIMEOUT s"
		else
			echo "FAIL unit: build/test_unit exited with status $rc"
		fi
		show_tail "$log"
		failed=$((failed + 1))
	fi
}

run_case() {
	local script=$1 name dir rc reason
	name=$(basename "$script" .sh)
	matches "$name" || return
	dir=$(mktemp -d "$WORK/$name.XXXXXX")
	run_timed "$dir" "$dir/log" bash "$script"
	rc=$RC
	reap_fixtures "$dir"
	case "$rc" in
	0)
		echo "PASS $name"
		passed=$((passed + 1))
		;;
	77)
		reason=$(sed -n 's/^SKIP: //p' "$dir/log" | tail -n 1)
		echo "SKIP $name: ${reason:-no reason given}"
		skipped=$((skipped + 1))
		;;
	*)
		if [ "$rc" = 124 ]; then
			echo "FAIL $name (timed out after $TIMEOUT s)"
		elif [ "$rc" = 137 ]; then
			echo "FAIL $name (killed: timed out after $TIMEOUT s and ignored SIGTERM?)"
		else
			echo "FAIL $name (exit status $rc)"
		fi
		show_tail "$dir/log"
		failed=$((failed + 1))
		;;
	esac
}

run_unit
for script in "$TOP"/test/cases/*.sh; do
	[ -e "$script" ] || continue
	run_case "$script"
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] && [ $((passed + failed + skipped)) -gt 0 ]
