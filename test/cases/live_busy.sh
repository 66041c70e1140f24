# live_busy: a target whose threads are in malloc/free all the time.  20 scans,
# each exits 0; the steady set (and threads, arenas) is exact unless the scan
# reports busy arenas (summary.busy_arenas > 0: caught mid-update).  The
# target runs on.  The JSON is checked after the target is stopped: python
# starts slowly while four threads spin on two cores.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture busy

for i in $(seq 1 20); do
	"$HEAPSCAN" --json "$FIXTURE_PID" >"out.$i.json" 2>"err.$i.txt"
	rc=$?
	[ "$rc" = 0 ] || { cat "err.$i.txt"; fail "scan $i exited $rc"; }
	[ -d "/proc/$FIXTURE_PID" ] || fail "target died during scan $i"
done
assert_running "$FIXTURE_PID"
stop_fixture "$FIXTURE_PID"

exact=0 busy=0
for i in $(seq 1 20); do
	n=$(json_field "out.$i.json" busy_arenas) || fail "scan $i: output does not parse"
	if [ -n "$n" ] && [ "$n" -gt 0 ]; then
		busy=$((busy + 1))
		# Not an assertion: a busy arena may be half-updated.
		"$PYTHON" "$TOP/test/check_truth.py" "$READY" "out.$i.json" | sed "s/^/note: scan $i (busy $n): /"
	else
		check_truth "$READY" "out.$i.json"
		exact=$((exact + 1))
	fi
done
echo "ok: $exact scans exact, $busy caught busy arenas (count not checked)"
