# retained_fixture: --retained on a heap that knows who holds what
# (fixtures/retain.cc): a global map of Orders holding vectors, a cycle under
# a global, two globals sharing a subgraph (attributed to no root: "shared"),
# a thread's stack holding a list.  Retained bytes and chunks exactly, the
# folded stacks add up; the text report names the retainers; bad options
# are usage errors.  The target runs on.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture retain

"$HEAPSCAN" --retained --json --top 100000 "$FIXTURE_PID" >ret.json 2>ret.err ||
	fail "--retained --json: exit $?: $(cat ret.err)"
"$HEAPSCAN" --folded "$FIXTURE_PID" >ret.folded 2>folded.err || fail "--folded: exit $?: $(cat folded.err)"
python3 "$TOP/test/check_retained.py" "$READY" ret.json ret.folded || fail "retained sizes differ from the truth"
# the walk and the typing cut in two halves (as on a big heap) give the same tree
HEAPSCAN_TEST_SPLIT=1 "$HEAPSCAN" --retained --json --top 100000 "$FIXTURE_PID" >split.json 2>ret.err ||
	fail "--retained (split): exit $?: $(cat ret.err)"
python3 "$TOP/test/check_retained.py" "$READY" split.json ret.folded || fail "retained sizes (split) differ from the truth"
# the types under each retainer counted in a hash, as when there are very many types
HEAPSCAN_TEST_TYPE_HASH=1 "$HEAPSCAN" --retained --json --top 100000 "$FIXTURE_PID" >hash.json 2>ret.err ||
	fail "--retained (hash): exit $?: $(cat ret.err)"
python3 "$TOP/test/check_retained.py" "$READY" hash.json ret.folded || fail "retained sizes (hash) differ from the truth"

"$HEAPSCAN" --retained "$FIXTURE_PID" >ret.out 2>ret.err || fail "--retained: exit $?: $(cat ret.err)"
cat ret.out
grep -qE '^ +[0-9.]+ KiB +900  global g_orders \(' ret.out || fail "the text report does not show g_orders' 900 chunks"
grep -qE '^ +[0-9.]+ KiB +600  Order$' ret.out || fail "the text report does not give all Orders' retained size"
grep -q 'shared chunk 0x' ret.out || fail "the text report names no shared chunk"

"$HEAPSCAN" --retained --leaks "$FIXTURE_PID" >/dev/null 2>&1; [ $? = 2 ] || fail "--retained --leaks: want usage error 2"
"$HEAPSCAN" --folded --json "$FIXTURE_PID" >/dev/null 2>&1; [ $? = 2 ] || fail "--folded --json: want usage error 2"
"$HEAPSCAN" --retained --top x "$FIXTURE_PID" >/dev/null 2>&1; [ $? = 2 ] || fail "--top x: want usage error 2"
assert_running "$FIXTURE_PID"
echo "ok: retainers, retained sizes and folded stacks as the fixture says"
