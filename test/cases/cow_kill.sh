# cow_kill: heapscan --cow ended at any point leaves no copy alive, no child
# of the target and the target running:
#  - SIGKILL while the copy is being read (HEAPSCAN_TEST_COW_DELAY_MS) and
#    inside the stop window after the fork (HEAPSCAN_TEST_STOP_DELAY_MS): the
#    kernel kills the copy (PTRACE_O_EXITKILL) and releases the target;
#  - SIGINT, SIGTERM, SIGHUP while the copy is read: heapscan kills it;
#    (held 600 s, so only the signal can end heapscan first);
#  - SIGKILL at 30 random moments after the fork.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture arenas
target=$FIXTURE_PID

# live processes started as the target was (the target, copies, helpers):
# the command line holds this case's own ready file
count_live() {
	local p n=0 s
	for p in $(pgrep -f -- "$READY"); do
		s=$(proc_state "$p")
		[ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ] && n=$((n + 1))
	done
	echo "$n"
}

# wait_gone PID SECS: PID has exited (a zombie counts: its parent reaps it)
wait_gone() {
	local i n=$(($2 * 100)) st
	for ((i = 0; i <= n; i++)); do
		st=$(proc_state "$1")
		[ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ] && return 0
		sleep 0.01
	done
	return 1
}

# the guard: heapscan's child that makes the fork and holds the copy
find_guard() {
	local g
	g=$(cat /proc/"$1"/task/*/children 2>/dev/null | awk '{ print $1 }')
	[ -n "$g" ] && echo "$g"
}

# the copy: a process traced by heapscan's guard that is not the target
find_copy() {
	local f p g
	g=$(find_guard "$1") || return 1
	for f in $(grep -l -E "^TracerPid:[[:space:]]+$g\$" /proc/[0-9]*/status 2>/dev/null); do
		p=${f#/proc/}
		p=${p%/status}
		[ "$p" != "$target" ] && { echo "$p"; return 0; }
	done
	return 1
}

assert_clean() { # assert_clean WHAT [GUARD]
	local i kids
	if [ -n "${2:-}" ]; then
		wait_gone "$2" "$HANG" || fail "$1: the guard process $2 is still there $HANG s later"
	fi
	sleep 0.05 # a target that crashes on resuming has done so by now
	[ -d /proc/"$target" ] && [ "$(proc_state "$target")" != Z ] || fail "$1: the target died"
	for ((i = 0; i < HANG * 100; i++)); do
		[ "$(count_live)" = 1 ] && break
		sleep 0.01
	done
	[ "$(count_live)" = 1 ] || fail "$1: $(($(count_live) - 1)) copy/helper process(es) still alive"
	kids=$(cat /proc/"$target"/task/*/children 2>/dev/null | wc -w)
	[ "$kids" = 0 ] || fail "$1: the target has children: $(cat /proc/"$target"/task/*/children)"
	assert_running "$target"
}

# 1. held while the copy is read
for sig in KILL INT TERM HUP; do
	HEAPSCAN_TEST_COW_DELAY_MS=600000 env --default-signal=INT,TERM,HUP \
		"$HEAPSCAN" --cow --json "$target" >out.json 2>err.txt &
	hs=$!
	copy=
	for ((i = 0; i < HANG * 100; i++)); do
		copy=$(find_copy "$hs") && [[ "$(thread_states "$target")" != *[tT]* ]] && break
		copy=
		sleep 0.01
	done
	guard=$(find_guard "$hs")
	[ -n "$copy" ] || { cat err.txt; fail "SIG$sig: no copy of the target seen while heapscan reads it"; }
	[ "$(awk '/^PPid:/ { print $2 }' /proc/"$copy"/status)" != "$target" ] ||
		fail "SIG$sig: the copy $copy is the target's child"
	kill -"$sig" "$hs"
	wait_pid_for "$hs" "$HANG" || { kill -KILL "$hs"; fail "SIG$sig: heapscan still running $HANG s after SIG$sig"; }
	cat err.txt
	[ "$WAIT_RC" != 0 ] || fail "SIG$sig: heapscan exited 0"
	assert_clean "SIG$sig while the copy is read" "$guard"
	echo "SIG$sig while the copy $copy was read: copy gone, target running"
done

# 2. SIGKILL inside the stop window, after the fork
HEAPSCAN_TEST_STOP_DELAY_MS=600000 "$HEAPSCAN" --cow --json "$target" >out.json 2>err.txt &
hs=$!
wait_state "$target" t "$HANG" || fail "target never reached tracing stop"
for ((i = 0; i < HANG * 100; i++)); do
	find_copy "$hs" >/dev/null && break
	sleep 0.01
done
find_copy "$hs" >/dev/null || fail "no copy seen inside the stop window"
guard=$(find_guard "$hs")
kill -KILL "$hs"
wait_pid_for "$hs" "$HANG" || fail "heapscan survived SIGKILL"
assert_clean "SIGKILL inside the stop window" "$guard"
echo "SIGKILL inside the stop window after the fork: the guard ended it at once; copy gone, target running"

# 3. SIGKILL while a target thread runs on borrowed registers: the injected
#    clone has returned (the helper is the target's child) and the guard
#    sleeps (HEAPSCAN_TEST_COW_BORROW_MS) before it puts the registers back.
#    Had heapscan itself been the tracer, the kernel would now let the thread
#    go on heapscan's registers and the target would crash.  The guard must
#    finish: registers back, helper reaped, copy killed, target running.
HEAPSCAN_TEST_COW_BORROW_MS=8000 "$HEAPSCAN" --cow --json "$target" >out.json 2>err.txt &
hs=$!
for ((i = 0; i < HANG * 100; i++)); do
	[ -n "$(cat /proc/"$target"/task/*/children 2>/dev/null)" ] && break
	sleep 0.005
done
[ -n "$(cat /proc/"$target"/task/*/children 2>/dev/null)" ] ||
	{ cat err.txt; fail "the helper never appeared as the target's child"; }
guard=$(find_guard "$hs")
[ -n "$guard" ] || fail "no guard process seen"
[[ "$(thread_states "$target")" == *t* ]] || fail "the target is not stopped while its thread runs for heapscan"
kill -KILL "$hs"
wait_pid_for "$hs" "$HANG" || fail "heapscan survived SIGKILL"
[ "$(proc_state "$guard")" != "" ] || fail "the guard ended with heapscan"
assert_clean "SIGKILL on borrowed registers" "$guard"
echo "SIGKILL while a target thread ran on borrowed registers: the guard put them back; target running"

# 4. SIGKILL at random moments of a whole --cow scan: before the stop, while
#    a target thread runs the injected clone or wait4 on borrowed registers
#    (the guard finishes that and puts the registers back), while the copy is
#    read, after.  Every guard must be gone too.
t0=$(date +%s%N)
"$HEAPSCAN" --cow --json "$target" >/dev/null 2>err.txt || { cat err.txt; fail "a --cow scan failed"; }
scan_us=$((($(date +%s%N) - t0) / 1000))
echo "a --cow scan of the fixture takes $((scan_us / 1000)) ms"
for round in $(seq 40); do
	kill_us=$((RANDOM * 32768 + RANDOM))
	kill_us=$((kill_us % (scan_us * 3 / 2 + 1)))
	"$HEAPSCAN" --cow --json "$target" >/dev/null 2>err.txt &
	hs=$!
	sleep "$(printf '%d.%06d' $((kill_us / 1000000)) $((kill_us % 1000000)))"
	kill -KILL "$hs" 2>/dev/null
	wait "$hs" 2>/dev/null
	wait_for "$HANG" no_guard_left || fail "round $round (kill at $kill_us us): a guard is still there $HANG s later"
	assert_clean "round $round (kill at $kill_us us)"
done
echo "ok: no copy left alive, no guard, no child of the target, target running"
