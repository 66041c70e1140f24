# torture/kill.sh - heapscan SIGKILLed at random points of a scan of a busy
# target (fixtures/busy: four threads in malloc/free all the time).
#
# Each round starts one scan and SIGKILLs it after a random delay between 0
# and 1.3 times a scan's measured wall time, so kills land before the seize,
# inside the stop window, during detaching and during the walk.  Rounds take
# turns: --json; --json with HEAPSCAN_TEST_STOP_DELAY_MS=1..40 (a wider stop
# window, more kills inside it); --snapshot FILE (--contents every other
# time); and --cow when `heapscan --help` lists it (else the text report).
# After each round the target must be clean (no thread T or t, TracerPid 0,
# no child: target_clean), still making progress (CPU time advancing, main
# thread answering a ping), and a snapshot file, if the killed scan left one,
# must be whole (renamed into place only when complete).  Outcomes: where the
# kill landed (inside the stop: the target was in tracing stop, t, when the
# signal was sent), or that the scan had already finished; --cow rounds are
# counted apart (-cow).  A target that dies is a failure (target-died-MODE),
# and the rounds go on against a fresh one.
#
#   TORTURE_RUNS=N (default 1000); TORTURE_SECONDS=S: stop after S seconds
#   with the rounds run so far (a loaded machine; the make test case uses it)
. "${TOP:?run through test/torture/run.sh or test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/torture/lib.sh" || exit 1
need_heapscan
RUNS=${TORTURE_RUNS:-1000}
start_fixture busy
pid=$FIXTURE_PID
# TORTURE_COW=0 leaves --cow out.
cow=0
[ "${TORTURE_COW:-1}" = 1 ] && has_cow && cow=1

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# this round's --cow guard processes (its heapscan's environment carries the
# round's tag): a global `pgrep hs-cow-guard` saw other engineers' scans
our_guards() {
	local g
	for g in $(pgrep -x hs-cow-guard); do
		tr '\0' '\n' <"/proc/$g/environ" 2>/dev/null | grep -qx "HS_TORTURE_TAG=$tag" && echo "$g"
	done
}
t0=$(now_ms)
for i in 1 2 3; do
	"$HEAPSCAN" --json "$pid" >/dev/null 2>&1 || fail "a plain scan of busy exited $?"
done
scan_ms=$((($(now_ms) - t0) / 3))
echo "a scan of busy takes about $scan_ms ms; --cow: $([ $cow = 1 ] && echo yes || echo 'not in --help')"

for ((r = 1; r <= RUNS; r++)); do
	if [ "${TORTURE_SECONDS:-0}" -gt 0 ] && [ "$SECONDS" -ge "$TORTURE_SECONDS" ]; then
		echo "time budget of $TORTURE_SECONDS s spent: $((r - 1)) of $RUNS rounds run"
		RUNS=$((r - 1))
		break
	fi
	delay_env=() args=(--json) stop_ms=0 what=json
	rm -f out.snap
	case $((r % 4)) in
	1)
		stop_ms=$(rand_ms 1 40)
		delay_env=(env HEAPSCAN_TEST_STOP_DELAY_MS="$stop_ms")
		what="json+stop${stop_ms}ms"
		;;
	2)
		args=(--snapshot out.snap)
		[ $((r % 8)) = 2 ] && args+=(--contents)
		what="snapshot${args[2]:+ --contents}"
		;;
	3)
		if [ $cow = 1 ]; then args=(--cow) what=cow; else args=() what=text; fi
		;;
	esac
	cowtag=
	[ "$what" = cow ] && cowtag=-cow
	kill_ms=$(rand_ms 0 $((scan_ms * 13 / 10 + stop_ms)))
	# the tag tells this round's guard from other heapscans' on a shared machine
	tag="kill-$$-$r"
	env HS_TORTURE_TAG="$tag" "${delay_env[@]}" "$HEAPSCAN" "${args[@]}" "$pid" >out.txt 2>err.txt &
	hs=$!
	[ "$kill_ms" -gt 0 ] && sleep_ms "$kill_ms"
	state=$(proc_state "$pid")
	kill -KILL "$hs" 2>/dev/null
	wait "$hs"
	rc=$?
	case "$rc" in
	137) [ "$state" = t ] && outcome "killed-in-stop${cowtag}" || outcome "killed-outside-stop${cowtag}" ;;
	0) outcome "finished-first${cowtag}" ;;
	*)
		if [ "$rc" -gt 128 ]; then
			bad "round $r ($what, kill at $kill_ms ms): heapscan died of signal $((rc - 128)): $(head -c 300 err.txt)"
		else
			outcome "exit-$rc"
			echo "round $r ($what): exit $rc: $(head -n 1 err.txt)"
		fi
		;;
	esac
	# a killed --cow scan's guard process finishes the stop on its own
	wait_for "$HANG" no_guard_left ||
		bad "round $r ($what): a guard process ($(our_guards)) is still there $HANG s after the kill"
	sleep 0.05 # a target that crashes on resuming has done so by now
	if [ -d "/proc/$pid" ] && [ "$(proc_state "$pid")" != Z ]; then
		target_clean "$pid" || bad "round $r ($what, kill at $kill_ms ms, state at kill $state): $BAD_WHY"
		assert_progress "$pid" || bad "round $r ($what, kill at $kill_ms ms): target not progressing: $BAD_WHY"
	fi
	if [ ! -d "/proc/$pid" ] || [ "$(proc_state "$pid")" = Z ]; then
		# the worst outcome: count it, and go on with a fresh target
		wait "$pid"
		bad "round $r ($what, kill at $kill_ms ms, state at kill $state): the target died (status $?)"
		outcome "target-died-$what"
		start_fixture busy
		pid=$FIXTURE_PID
		continue
	fi
	if [ -e out.snap ] && ! "$HEAPSCAN" --json out.snap >/dev/null 2>snap.err; then
		bad "round $r ($what, kill at $kill_ms ms): the snapshot left behind does not read: $(cat snap.err)"
	fi
	[ $((r % 100)) = 0 ] && echo "round $r: $FAILURES failures so far"
done
# temporary files a SIGKILL left are not failures (nothing can remove them),
# but say how many
echo "temporary snapshot files left by killed scans: $(find . -maxdepth 1 -name '.out.snap*' | wc -l)"
stop_fixture "$pid"
figure kill "$RUNS"
