# live_race_phases: an exec or an exit in each phase of a live scan gives the
# documented exit code, 6 (target changed, retry) or 3 (exited), with one line
# on stderr - never 5 ("main_arena ... is not in the copied memory") nor two
# lines.  heapscan's test hook (HEAPSCAN_TEST_PAUSE_AT/FILE, src/source/
# scan.c) holds it at a phase: "probed" (the target probed, its maps not yet
# read), "located" (libc located, before the stop), "released" (after the
# stop, before the read-only modules are copied).  While it waits, the target
# (a bash that execs sleep on SIGUSR1) execs or is SIGKILLed, and the test
# lets heapscan go on only once the exec is done (comm is "sleep") or the
# target is a zombie or gone.  Without the hook (no pause) the same target scans to
# exit 0, so the codes are the races'.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan

execd() { [ "$(cat "/proc/$1/comm" 2>/dev/null)" = sleep ]; }
dead() { case $(proc_state "$1") in Z | X | "") return 0 ;; esac; return 1; }

start_target() {
	bash -c 'trap "exec sleep 600" USR1; while :; do sleep 0.02; done' &
	target=$!
	wait_state "$target" S 10 || fail "the target did not start"
}

start_target
"$HEAPSCAN" --json "$target" >plain.json 2>plain.err || fail "a plain scan of the target: exit $?: $(cat plain.err)"
kill -KILL "$target"; wait "$target" 2>/dev/null

for phase in probed located released; do
	for race in exec exit; do
		start_target
		rm -f pause.reached pause.go
		HEAPSCAN_TEST_PAUSE_AT=$phase HEAPSCAN_TEST_PAUSE_FILE=$PWD/pause \
			"$HEAPSCAN" --json "$target" >out.json 2>err.txt &
		hs=$!
		wait_for "$HANG" test -e pause.reached ||
			{ kill -KILL "$hs"; fail "$phase: heapscan never reached the phase"; }
		if [ "$race" = exec ]; then
			kill -USR1 "$target"
			wait_for "$HANG" execd "$target" || fail "$phase: the target did not exec"
			want=6 regex="executed a new program during the scan; target changed, retry"
		else
			kill -KILL "$target"
			# a zombie, or reaped by bash already
			wait_for "$HANG" dead "$target" || fail "$phase: the target did not die"
			want=3 regex="exited during the scan"
		fi
		touch pause.go
		wait_pid_for "$hs" 30 || { kill -KILL "$hs"; fail "$phase/$race: heapscan did not finish"; }
		rc=$WAIT_RC
		[ "$rc" = "$want" ] || fail "$phase/$race: exit $rc, expected $want: $(cat err.txt)"
		[ "$(wc -l <err.txt)" = 1 ] || fail "$phase/$race: expected one line on stderr: $(cat err.txt)"
		grep -Eq "^heapscan: process $target $regex\$" err.txt ||
			fail "$phase/$race: unexpected message: $(cat err.txt)"
		[ -s out.json ] && fail "$phase/$race: a report was written"
		echo "ok: $race while $phase: exit $rc, $(cat err.txt)"
		kill -KILL "$target" 2>/dev/null   # bash reaps it
	done
done
echo "ok: every race gave its exit code and one line"
