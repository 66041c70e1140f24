# cow_kill: heapscan --cow ended at any point leaves no copy alive, no child
# of the target and the target running:
#  - SIGKILL while the copy is being read (HEAPSCAN_TEST_COW_DELAY_MS) and
#    inside the stop window after the fork (HEAPSCAN_TEST_STOP_DELAY_MS): the
#    kernel kills the copy (PTRACE_O_EXITKILL) and releases the target;
#  - SIGINT, SIGTERM, SIGHUP while the copy is read: heapscan kills it;
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

# the copy: a process traced by heapscan that is not the target
find_copy() {
	local f p
	for f in $(grep -l -E "^TracerPid:[[:space:]]+$1\$" /proc/[0-9]*/status 2>/dev/null); do
		p=${f#/proc/}
		p=${p%/status}
		[ "$p" != "$target" ] && { echo "$p"; return 0; }
	done
	return 1
}

assert_clean() { # assert_clean WHAT
	local i kids
	for ((i = 0; i < 500; i++)); do
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
	HEAPSCAN_TEST_COW_DELAY_MS=10000 env --default-signal=INT,TERM,HUP \
		"$HEAPSCAN" --cow --json "$target" >out.json 2>err.txt &
	hs=$!
	copy=
	for ((i = 0; i < 1000; i++)); do
		copy=$(find_copy "$hs") && [[ "$(thread_states "$target")" != *[tT]* ]] && break
		copy=
		sleep 0.01
	done
	[ -n "$copy" ] || { cat err.txt; fail "SIG$sig: no copy of the target seen while heapscan reads it"; }
	[ "$(awk '/^PPid:/ { print $2 }' /proc/"$copy"/status)" != "$target" ] ||
		fail "SIG$sig: the copy $copy is the target's child"
	kill -"$sig" "$hs"
	wait_pid_for "$hs" 5 || { kill -KILL "$hs"; fail "SIG$sig: heapscan still running 5 s after SIG$sig"; }
	cat err.txt
	[ "$WAIT_RC" != 0 ] || fail "SIG$sig: heapscan exited 0"
	assert_clean "SIG$sig while the copy is read"
	echo "SIG$sig while the copy $copy was read: copy gone, target running"
done

# 2. SIGKILL inside the stop window, after the fork
HEAPSCAN_TEST_STOP_DELAY_MS=10000 "$HEAPSCAN" --cow --json "$target" >out.json 2>err.txt &
hs=$!
wait_state "$target" t 10 || fail "target never reached tracing stop"
for ((i = 0; i < 500; i++)); do
	find_copy "$hs" >/dev/null && break
	sleep 0.01
done
find_copy "$hs" >/dev/null || fail "no copy seen inside the stop window"
kill -KILL "$hs"
wait_pid_for "$hs" 5 || fail "heapscan survived SIGKILL"
assert_clean "SIGKILL inside the stop window"
echo "SIGKILL inside the stop window after the fork: copy gone, target running"

# 3. SIGKILL at random moments after the fork (the target released, the copy
#    alive or being read or ended).  Not covered: the moments in which the
#    forking thread runs on borrowed registers (README, --cow, limits).
for round in $(seq 30); do
	HEAPSCAN_TEST_COW_DELAY_MS=$((RANDOM % 20)) "$HEAPSCAN" --cow --json "$target" >/dev/null 2>err.txt &
	hs=$!
	for ((i = 0; i < 1000; i++)); do
		find_copy "$hs" >/dev/null && [[ "$(thread_states "$target")" != *[tT]* ]] && break
		[ -d /proc/$hs ] && [ "$(proc_state "$hs")" != Z ] || break
		sleep 0.002
	done
	sleep "0.0$((RANDOM % 3))$((RANDOM % 10))"
	kill -KILL "$hs" 2>/dev/null
	wait "$hs" 2>/dev/null
	assert_clean "round $round"
done
echo "ok: no copy left alive, no child of the target, target running"
