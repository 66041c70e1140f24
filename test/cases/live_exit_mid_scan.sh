# live_exit_mid_scan: the target is SIGKILLed while heapscan holds it stopped:
# heapscan exits 3 (EXIT_NOPROC) with one clear line on stderr, no crash.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture arenas

HEAPSCAN_TEST_STOP_DELAY_MS=3000 "$HEAPSCAN" --json "$FIXTURE_PID" >out.json 2>err.txt &
hs=$!
wait_state "$FIXTURE_PID" t "$HANG" || { cat err.txt; fail "target never reached tracing stop"; }
kill -KILL "$FIXTURE_PID"
wait_pid_for "$hs" "$HANG" || { kill -KILL "$hs"; fail "heapscan still running $HANG s after its target died"; }
echo "heapscan exit status $WAIT_RC; stderr:"
cat err.txt
[ "$WAIT_RC" -lt 128 ] || fail "heapscan died of signal $((WAIT_RC - 128))"
[ "$WAIT_RC" = 3 ] || fail "heapscan exit status $WAIT_RC, expected 3 (no such process)"
lines=$(grep -c . err.txt)
[ "$lines" = 1 ] || fail "expected one line on stderr, got $lines"
grep -q '^heapscan: ' err.txt || fail "stderr line lacks the 'heapscan: ' prefix"
echo "ok: exit 3 with one line"
