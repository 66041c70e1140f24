# live_churn: a target whose threads come and go all the time.  20 scans: each
# exits 0 with the steady set counted exactly, or exits 6 (EXIT_CHANGED,
# "target changed, retry"); nothing else.  At least one scan must succeed,
# and the target runs on.  The JSON is checked after the target is stopped:
# python starts slowly on a machine this busy.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture churn

ok=() changed=0
for i in $(seq 1 20); do
	"$HEAPSCAN" --json "$FIXTURE_PID" >"out.$i.json" 2>"err.$i.txt"
	rc=$?
	case "$rc" in
	0) ok+=("$i") ;;
	6) changed=$((changed + 1)) ;;
	*)
		cat "err.$i.txt"
		fail "scan $i exited $rc (expected 0 or 6)"
		;;
	esac
	[ -d "/proc/$FIXTURE_PID" ] || fail "target died during scan $i"
done
assert_running "$FIXTURE_PID"
stop_fixture "$FIXTURE_PID"

echo "${#ok[@]} scans exited 0, $changed reported the target changed"
[ "${#ok[@]}" -gt 0 ] || { cat err.20.txt; fail "no scan of 20 succeeded"; }
for i in "${ok[@]}"; do
	check_truth "$READY" "out.$i.json"
done
echo "ok: every successful scan counted the steady set exactly"
