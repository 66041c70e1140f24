# live_kill_in_stop: heapscan SIGKILLed while every target thread is stopped
# (HEAPSCAN_TEST_STOP_DELAY_MS holds it in the stop window): the kernel
# detaches, the target runs on and answers a ping.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture arenas

HEAPSCAN_TEST_STOP_DELAY_MS=600000 "$HEAPSCAN" --json "$FIXTURE_PID" >out.json 2>err.txt &
hs=$!
if ! wait_state "$FIXTURE_PID" t "$HANG"; then
	cat err.txt
	fail "target never reached tracing stop (state $(proc_state "$FIXTURE_PID"))"
fi
[ -d "/proc/$hs" ] && [ "$(proc_state "$hs")" != Z ] || fail "heapscan exited inside the stop window"
kill -KILL "$hs"
wait_pid_for "$hs" "$HANG" || fail "heapscan survived SIGKILL for $HANG s"
cat err.txt
[ "$WAIT_RC" = 137 ] || fail "heapscan exit status $WAIT_RC, expected 137 (SIGKILL)"
assert_running "$FIXTURE_PID"
echo "ok: target runs after its scanner was killed mid-stop"
