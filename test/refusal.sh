# refusal.sh - sourced by test/cases/badinput_*.sh: start and clean up targets,
# run heapscan, and check a refusal (exit code, one "heapscan: " line on stderr,
# nothing on stdout) and that the target was left running.
PIDS=()   # processes this case started; stopped on exit, newest first
extra_cleanup() { :; }   # a case may redefine it
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
state() {   # field 3 of /proc/PID/stat, "" when gone (comm may hold ") ")
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	echo "${s%% *}"
}
cleanup() {
	local i j p
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		p=${PIDS[i]}
		kill -CONT "$p" 2>/dev/null
		kill -TERM "$p" 2>/dev/null
		for ((j = 0; j < 300; j++)); do
			case "$(state "$p")" in "" | Z) break ;; esac
			sleep 0.01
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	extra_cleanup
	return 0
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP
start() {   # start CMD... in the background; sets PID
	"$@" </dev/null &
	PID=$!
	PIDS+=("$PID")
	echo "$PID" >>.fixture_pids
}
wait_for() {   # wait_for SECS CMD...: poll CMD every 10 ms until it succeeds
	local n=$(($1 * 100)) i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.01
	done
	return 1
}
run_heapscan() {
	"$HEAPSCAN" "$@" >stdout.txt 2>stderr.txt </dev/null
	rc=$?
}
# Exit CODE, nothing on stdout, exactly one stderr line, "heapscan: ..."
check_refusal() {
	local lines
	[ "$rc" = "$1" ] || fail "expected exit status $1, got $rc; stderr: $(cat stderr.txt)"
	[ -s stdout.txt ] && fail "expected nothing on stdout, got: $(cat stdout.txt)"
	lines=$(wc -l <stderr.txt)
	[ "$lines" = 1 ] || fail "expected one line on stderr, got $lines: $(cat stderr.txt)"
	grep -q '^heapscan: ' stderr.txt || fail "expected 'heapscan: ...' on stderr, got: $(cat stderr.txt)"
}
expect_exact() {   # expect_exact CODE MESSAGE: stderr is "heapscan: MESSAGE"
	check_refusal "$1"
	[ "$(cat stderr.txt)" = "heapscan: $2" ] ||
		fail "expected stderr 'heapscan: $2', got '$(cat stderr.txt)'"
	echo "ok: exit $rc, $(cat stderr.txt)"
}
assert_running() {   # PID exists and is not stopped (T/t) nor dead
	local s
	s=$(state "$1")
	case "$s" in
	"") fail "process $1 is gone" ;;
	T | t | Z | X) fail "process $1 should still run, its state is $s" ;;
	esac
}
# PID has exec'd PROG, loaded its libraries (libc.so.6 or LIB) and sleeps.
settled() {   # settled PID PROG [LIB]
	[ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$2" ] &&
		grep -q "${3:-libc.so.6}" "/proc/$1/maps" 2>/dev/null &&
		[ "$(state "$1")" = S ]
}
