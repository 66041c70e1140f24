# live_arenas: heapscan's account of the arenas fixture (5 arenas, every bin
# kind, mmapped chunks) matches the fixture's truth exactly; the text report
# exits 0 and names the pid; the target runs on afterwards.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture arenas

"$HEAPSCAN" --json "$FIXTURE_PID" >out.json 2>err.txt
rc=$?
cat err.txt
[ "$rc" = 0 ] || fail "heapscan --json exited $rc"
check_truth "$READY" out.json
assert_running "$FIXTURE_PID"

"$HEAPSCAN" "$FIXTURE_PID" >out.txt 2>err.txt
rc=$?
cat err.txt
[ "$rc" = 0 ] || fail "heapscan (text) exited $rc"
grep -qw "$FIXTURE_PID" out.txt || fail "text report does not mention pid $FIXTURE_PID"
assert_running "$FIXTURE_PID"
echo "ok: exact account, text report, target running"
