# lib.sh - sourced by test/cases/*.sh.  test/run.sh runs each case with cwd a
# fresh directory and HEAPSCAN, FIXTURES and TOP in the environment.
#
# No case asserts how long anything takes: the machine may be loaded (load 100
# on 2 CPUs).  Every wait is for a condition, bounded by HANG seconds (default
# 120, env HEAPSCAN_TEST_HANG_SECS), a bound that only catches hangs.
#
#   start_fixture NAME [ARGS]   start $FIXTURES/NAME with a ready file in cwd and
#                               wait for it (HANG s max, polled every 10 ms); sets
#                               FIXTURE_PID and READY.  Every fixture started is
#                               SIGCONTed, SIGTERMed then SIGKILLed on exit.
#   start_py_fixture PY SCRIPT [ARGS]  the same for fixtures/SCRIPT run by PY
#   proc_state PID              field 3 of /proc/PID/stat ("" if gone)
#   wait_state PID STATES SECS  until PID's state is one of the letters STATES
#   assert_running PID          no thread stopped (T/t), the main one alive, and
#                               the main thread answers a SIGUSR1 ping (HANG s)
#   assert_stopped PID          every thread in group-stop (T), waited for (HANG s)
#   stop_fixture PID            SIGTERM it now and reap it (it must exit 0)
#   fail MSG / skip MSG         exit 1 / exit 77 ("SKIP: MSG")
#   need_heapscan               fail unless $HEAPSCAN is an executable
#   wait_pid_for PID SECS       wait for our child PID, at most SECS; sets
#                               WAIT_RC (its exit status), returns 1 on timeout
#   wait_for SECS CMD...        until CMD succeeds (polled every 10 ms); 1 on timeout
#   our_guards                  pids of --cow guard processes (hs-cow-guard) of this
#                               $HEAPSCAN, not another checkout's running beside us
#   no_guard_left               true when our_guards lists none

set -u

: "${TOP:?TOP not set: run through test/run.sh}"
: "${HEAPSCAN:=$TOP/heapscan}"
: "${FIXTURES:=$TOP/build/fixtures}"
PYTHON=${PYTHON:-python3}
HANG=${HEAPSCAN_TEST_HANG_SECS:-120}

our_guards() {
	local p exe me
	me=$(readlink -f "$HEAPSCAN")
	for p in $(pgrep -x hs-cow-guard); do
		exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
		[ "${exe% (deleted)}" = "$me" ] && echo "$p"
	done
	return 0
}

no_guard_left() {
	[ -z "$(our_guards)" ]
}

wait_for() {
	local secs=$1 i n
	shift
	n=$((secs * 100))
	for ((i = 0; i <= n; i++)); do
		"$@" && return 0
		sleep 0.01
	done
	return 1
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: $*"
	exit 77
}

need_heapscan() {
	[ -x "$HEAPSCAN" ] || fail "$HEAPSCAN does not exist (not built?)"
}

# Fixtures this shell started, and each one's ready file (for pings).
declare -a _FIXTURE_PIDS=()
declare -A _FIXTURE_READY=()
_LIB_TRAPPED=0

_lib_cleanup() {
	local pid i
	for pid in "${_FIXTURE_PIDS[@]}"; do
		[ -d "/proc/$pid" ] || continue
		kill -CONT "$pid" 2>/dev/null
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${_FIXTURE_PIDS[@]}"; do
		for ((i = 0; i < 200; i++)); do
			[ "$(proc_state "$pid")" = "" ] || [ "$(proc_state "$pid")" = Z ] && break
			sleep 0.01
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	return 0
}

_lib_trap() {
	[ "$_LIB_TRAPPED" = 1 ] && return
	_LIB_TRAPPED=1
	trap _lib_cleanup EXIT
	# A fatal signal must still run the EXIT trap (and leave no fixture behind).
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

proc_state() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }   # comm may hold spaces and parentheses
	echo "${stat%% *}"
}

# All thread states of PID, one letter per thread.
thread_states() {
	local f stat out=""
	for f in /proc/"$1"/task/*/stat; do
		stat=$(cat "$f" 2>/dev/null) || continue
		stat=${stat##*) }
		out+=${stat%% *}
	done
	echo "$out"
}

wait_state() {
	local pid=$1 states=$2 secs=$3 s i n
	n=$(awk -v s="$secs" 'BEGIN { printf "%d", s * 100 }')
	for ((i = 0; i <= n; i++)); do
		s=$(proc_state "$pid")
		if [ -n "$s" ] && [[ "$states" == *"$s"* ]]; then
			return 0
		fi
		sleep 0.01
	done
	return 1
}

wait_pid_for() {
	local pid=$1 secs=$2 i n
	n=$(awk -v s="$secs" 'BEGIN { printf "%d", s * 100 }')
	for ((i = 0; i <= n; i++)); do
		if [ "$(proc_state "$pid")" = Z ] || [ ! -d "/proc/$pid" ]; then
			wait "$pid"
			WAIT_RC=$?
			return 0
		fi
		sleep 0.01
	done
	WAIT_RC=
	return 1
}

start_fixture() {
	local name=$1 n=${#_FIXTURE_PIDS[@]} i
	shift
	[ -x "$FIXTURES/$name" ] || fail "fixture $FIXTURES/$name not built"
	_lib_trap
	READY="$PWD/$name.$n.ready"
	rm -f "$READY" "$READY.tmp" "$READY.pong"
	"$FIXTURES/$name" "$READY" "$@" &
	FIXTURE_PID=$!
	_FIXTURE_PIDS+=("$FIXTURE_PID")
	_FIXTURE_READY[$FIXTURE_PID]=$READY
	# run.sh reaps anything a crashed case leaves behind.
	echo "$FIXTURE_PID" >>"$PWD/.fixture_pids"
	for ((i = 0; i < HANG * 100; i++)); do
		[ -e "$READY" ] && return 0
		if ! kill -0 "$FIXTURE_PID" 2>/dev/null || [ "$(proc_state "$FIXTURE_PID")" = Z ]; then
			wait "$FIXTURE_PID"
			fail "fixture $name exited with status $? before it was ready"
		fi
		sleep 0.01
	done
	fail "fixture $name not ready after $HANG s"
}

# start_py_fixture PYBIN SCRIPT [ARGS]: as start_fixture, for a Python
# fixture: PYBIN fixtures/SCRIPT READYFILE [ARGS].
start_py_fixture() {
	local py=$1 script=$2 n=${#_FIXTURE_PIDS[@]} i
	shift 2
	[ -r "$TOP/fixtures/$script" ] || fail "fixture $TOP/fixtures/$script does not exist"
	_lib_trap
	READY="$PWD/${script%.py}.$n.ready"
	rm -f "$READY" "$READY.tmp" "$READY.pong"
	"$py" "$TOP/fixtures/$script" "$READY" "$@" &
	FIXTURE_PID=$!
	_FIXTURE_PIDS+=("$FIXTURE_PID")
	_FIXTURE_READY[$FIXTURE_PID]=$READY
	echo "$FIXTURE_PID" >>"$PWD/.fixture_pids"
	for ((i = 0; i < 6000; i++)); do
		[ -e "$READY" ] && return 0
		if ! kill -0 "$FIXTURE_PID" 2>/dev/null || [ "$(proc_state "$FIXTURE_PID")" = Z ]; then
			wait "$FIXTURE_PID"
			fail "fixture $script ($py) exited with status $? before it was ready"
		fi
		sleep 0.01
	done
	fail "fixture $script ($py) not ready after 60 s"
}

assert_running() {
	local pid=$1 ready=${_FIXTURE_READY[$1]:-${READY:-}} states before now i
	states=$(thread_states "$pid")
	[ -n "$states" ] || fail "pid $pid is gone"
	# Other threads may be exiting (Z, X) in a churning target; none may be stopped.
	[[ "$(proc_state "$pid")" == [TtZX] || "$states" == *[Tt]* ]] &&
		fail "pid $pid not running: state $(proc_state "$pid"), thread states '$states'"
	[ -n "$ready" ] || fail "assert_running: no ready file known for pid $pid"
	before=$(cat "$ready.pong" 2>/dev/null || echo 0)
	kill -USR1 "$pid" 2>/dev/null || fail "cannot signal pid $pid"
	for ((i = 0; i < HANG * 100; i++)); do
		now=$(cat "$ready.pong" 2>/dev/null || echo 0)
		[ "$now" -gt "$before" ] && return 0
		sleep 0.01
	done
	fail "pid $pid did not answer a ping within $HANG s (state $(proc_state "$pid"), threads '$(thread_states "$pid")')"
}

stop_fixture() {
	local pid=$1
	kill -CONT "$pid" 2>/dev/null
	kill -TERM "$pid" 2>/dev/null || fail "cannot signal pid $pid"
	wait_pid_for "$pid" "$HANG" || fail "pid $pid did not exit within $HANG s of SIGTERM"
	[ "$WAIT_RC" = 0 ] || fail "pid $pid exited with status $WAIT_RC after SIGTERM"
}

# A thread the tracer let go in a group stop is woken to re-enter it: it
# shows R for a moment, so wait (under $HANG) for every thread to be T.
assert_stopped() {
	local states i n
	n=$(awk -v s="${HANG:-60}" 'BEGIN { printf "%d", s * 100 }')
	for ((i = 0; i <= n; i++)); do
		states=$(thread_states "$1")
		[[ "$states" =~ ^T+$ ]] && return 0
		sleep 0.01
	done
	fail "pid $1 should be stopped (T), thread states '$states'"
}

# check_truth TRUTH JSON: fails the case with the mismatches listed.
check_truth() {
	"$PYTHON" "$TOP/test/check_truth.py" "$1" "$2" || fail "heapscan's account of $2 differs from the truth in $1"
}

# json_field FILE KEY: summary.KEY of a heapscan --json file ("" if absent).
json_field() {
	"$PYTHON" -c 'import json, sys
v = json.load(open(sys.argv[1]))["summary"].get(sys.argv[2])
print("" if v is None else v)' "$1" "$2"
}

# check_types [--at-least] VTABLES_TXT JSON|- TRUTH: heapscan --vtables (and
# --json) against a fixture's class and type truth; see test/check_types.py.
check_types() {
	"$PYTHON" "$TOP/test/check_types.py" "$@" || fail "heapscan's types differ from the truth in ${*: -1}"
}

# run_types WHAT PID...: heapscan WHAT PID, stdout to WHAT.out (dashes
# stripped: vtables.out, json.out, text.out for ""), stderr to WHAT.err and
# shown; fails unless it exits 0.
run_types() {
	local what=$1 out rc
	shift
	out=${what#--}
	out=${out:-text}
	"$HEAPSCAN" ${what:+"$what"} "$@" >"$out.out" 2>"$out.err"
	rc=$?
	cat "$out.err" >&2
	[ "$rc" = 0 ] || fail "heapscan $what $* exited $rc"
}

# assert_vtables_sortable FILE: `sort -n FILE` orders it by count, i.e. every
# line starts with a number and a tab.
assert_vtables_sortable() {
	sort -n "$1" | awk -F'\t' 'NF < 2 || $1 !~ /^[0-9]+$/ || $1 + 0 < prev { bad = 1 } { prev = $1 + 0 } END { exit bad }' ||
		fail "$1 does not sort by count with sort -n"
}

# take_gcore PID OUT: gdb's gcore of PID written to OUT (skips without gdb).
take_gcore() {
	command -v gcore >/dev/null || skip "gcore (gdb) is not installed"
	gcore -o "$2.tmp" "$1" >gcore.log 2>&1 || fail "gcore $1 failed: $(tail -3 gcore.log)"
	mv "$2.tmp.$1" "$2" || fail "gcore wrote no $2.tmp.$1"
}

# check_core_same LIVE_JSON CORE_JSON: the same account from both.
check_core_same() {
	"$PYTHON" "$TOP/test/check_core_same.py" "$1" "$2" || fail "the core's report ($2) differs from the live one ($1)"
}
