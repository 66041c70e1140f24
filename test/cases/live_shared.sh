# live_shared: a target whose heap is shared copy-on-write with its child
# (fixtures/forked: 64 MiB, both sides writing nothing) is read without
# being copied: after a scan, plain and --cow, its heap pages are still
# shared (smaps_rollup's Shared_Dirty), and the account is exact.
# process_vm_readv would have unshared every page it read (the kernel copies
# a copy-on-write page before pinning it): Shared_Dirty fell to 8 kB and the
# machine's used memory grew by the 64 MiB.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture forked
child=$(awk '$1 == "child" { print $2 }' "$READY")
[ -n "$child" ] && [ -d /proc/"$child" ] || fail "the fixture's child is not there"

shared_kb() {
	awk '/^Shared_Dirty:/ { print $2 }' /proc/"$1"/smaps_rollup
}
before=$(shared_kb "$FIXTURE_PID")
echo "shared before: target $before kB, child $(shared_kb "$child") kB"
[ "$before" -ge 60000 ] || fail "the fixture shares only $before kB with its child"

for mode in plain cow; do
	args=(--json)
	[ $mode = cow ] && args+=(--cow)
	"$HEAPSCAN" "${args[@]}" "$FIXTURE_PID" >out.json 2>err.txt
	rc=$?
	cat err.txt
	[ "$rc" = 0 ] || fail "$mode: heapscan exited $rc"
	[ $mode = cow ] && grep -q -- "--cow" err.txt && fail "$mode: --cow was refused"
	check_truth "$READY" out.json
	after=$(shared_kb "$FIXTURE_PID")
	echo "$mode: shared after: target $after kB, child $(shared_kb "$child") kB"
	# the seize's signal frames may unshare a stack page or two
	[ "$after" -ge $((before - 512)) ] ||
		fail "$mode: the scan made the target copy $((before - after)) kB it shared with its child"
	assert_running "$FIXTURE_PID"
done
echo "ok: the shared heap stayed shared, exact account"
