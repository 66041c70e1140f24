# live_stopped: a target stopped with SIGSTOP is scanned (exactly, as if it
# ran) and left stopped (every thread T); after SIGCONT it runs and answers.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture arenas

kill -STOP "$FIXTURE_PID"
wait_state "$FIXTURE_PID" T "$HANG" || fail "fixture did not stop (state $(proc_state "$FIXTURE_PID"))"
"$HEAPSCAN" --json "$FIXTURE_PID" >out.json 2>err.txt
rc=$?
cat err.txt
[ "$rc" = 0 ] || fail "heapscan exited $rc on a stopped target"
assert_stopped "$FIXTURE_PID"
check_truth "$READY" out.json

kill -CONT "$FIXTURE_PID"
wait_state "$FIXTURE_PID" RS "$HANG" || fail "fixture did not continue (state $(proc_state "$FIXTURE_PID"))"
assert_running "$FIXTURE_PID"
echo "ok: stopped target scanned, left stopped, runs after SIGCONT"
