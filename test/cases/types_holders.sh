# types_holders: a shape is named for the object of a class that points at
# its lowest chunk ("held by Holder: ..."), the lowest such object when two
# do - whether heapscan kept the objects' pointers from its word pass (few
# of them) or reads the objects again (the fixture's "many": more pointers
# in objects than it keeps), and for --jobs 1, 2 and 7 (HEAPSCAN_TEST_SPLIT
# cuts the small heap in parts as a big one is).
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan

for mode in few many; do
	start_fixture holders "$mode"
	run_types --vtables "$FIXTURE_PID"
	for j in 1 2 7; do
		HEAPSCAN_TEST_SPLIT=1 "$HEAPSCAN" --jobs "$j" --json "$FIXTURE_PID" >"json.$mode.$j" \
			2>json.err || fail "heapscan --jobs $j --json ($mode): exit $?: $(cat json.err)"
		check_types vtables.out "json.$mode.$j" "$READY"
	done
	run_types "" "$FIXTURE_PID"
	grep -qF 'held by Holder: int, heap ptr x3, int x3' text.out ||
		fail "the text report ($mode) does not name the records' holder"
	assert_running "$FIXTURE_PID"
done
echo "ok: the lowest object holding a shape's first chunk names it, few or many pointers"
