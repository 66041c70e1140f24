#!/bin/bash
# badinput_perm_dumpable: a process of heapscan's own uid that made itself
# non-dumpable (prctl(PR_SET_DUMPABLE, 0), as set-uid programs are) cannot be
# read without CAP_SYS_PTRACE: refused with exit 4 (EXIT_PERM) and that cause,
# not the uid one.  Both run as nobody (uid 65534, no capabilities); the
# target, built here, is left running.
set -u
: "${HEAPSCAN:?run through test/run.sh}" "${FIXTURES:?}" "${TOP:?}"
export HEAPSCAN

# ---- the same in every badinput_*.sh, so each case stands alone ----------
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
# ---------------------------------------------------------------------------
[ -x "$HEAPSCAN" ] || fail "$HEAPSCAN does not exist (not built?)"

[ "$(id -u)" = 0 ] || skip "needs root to run heapscan and its target as another uid"
command -v setpriv >/dev/null || skip "setpriv not installed (package util-linux)"
command -v gcc >/dev/null || skip "gcc not installed"

bindir=$(mktemp -d /tmp/heapscan-perm.XXXXXX) || fail "mktemp failed"
extra_cleanup() { rm -rf "$bindir"; }
cat >"$bindir/target.c" <<'C'
/* Turns non-dumpable, announces itself (ready file, tmp + rename), waits. */
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	char tmp[4096];
	FILE *f;

	if (argc != 2 || snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]) >= (int)sizeof(tmp))
		return 2;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return 1;
	f = fopen(tmp, "w");
	if (!f || fputs("ready\n", f) < 0 || fclose(f) != 0 || rename(tmp, argv[1]) != 0)
		return 1;
	for (;;)
		pause();
}
C
gcc -O1 -o "$bindir/undumpable" "$bindir/target.c" 2>build.log || fail "gcc failed: $(head -n 3 build.log)"
cp "$HEAPSCAN" "$bindir/heapscan" || fail "cannot copy heapscan to $bindir"
# nobody writes its ready file there
chmod 777 "$bindir" && chmod 755 "$bindir/heapscan" || fail "chmod failed"

nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)
start "${nobody[@]}" "$bindir/undumpable" "$bindir/ready"
target=$PID   # setpriv execs the target: the same pid
wait_for 10 test -e "$bindir/ready" || fail "undumpable target not ready (state $(state "$target"))"
[ "$(readlink "/proc/$target/exe")" = "$bindir/undumpable" ] || fail "$target is not the target"

"${nobody[@]}" "$bindir/heapscan" "$target" >stdout.txt 2>stderr.txt </dev/null
rc=$?
expect_exact 4 "process $target is not dumpable (set-uid program or prctl(PR_SET_DUMPABLE, 0)); run heapscan as root"
assert_running "$target"
