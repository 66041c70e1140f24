# leaks_fixture: --leaks on a heap that knows what it lost (fixtures/leaks.cc):
# the strdup loop's N-1 strings, a list's head (direct) and its other nodes
# (indirect), overwritten C++ objects and the names they own, a two-chunk
# cycle (one direct, one indirect), an object whose address survives only in
# free chunks; nothing of what it keeps in a global vector, in a register
# only, or on a stack only.  --why names g_held, register r12 and the
# thread's stack; says a list node is held only by leaked chunks; --referrers
# of a held object names the vector's body.  The target runs on.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture leaks
ADDRS=$READY.addrs
addr() { awk -v k="$1" -v n="${2:-1}" '$1 == k && ++i == n { print $2; exit }' "$ADDRS"; }

"$HEAPSCAN" --leaks --json "$FIXTURE_PID" >leaks.json 2>leaks.err || fail "--leaks --json: exit $?: $(cat leaks.err)"
python3 "$TOP/test/check_leaks.py" "$READY" "$ADDRS" leaks.json || fail "leak counts differ from the truth"
"$HEAPSCAN" --leaks "$FIXTURE_PID" >leaks.out 2>leaks.err || fail "--leaks: exit $?"
cat leaks.out
grep -q 'LeakWidget' leaks.out || fail "the text report does not name LeakWidget"

why() { # why ADDR PATTERN WHAT
	"$HEAPSCAN" --why "$1" "$FIXTURE_PID" >why.out 2>why.err || fail "--why $1: exit $?: $(cat why.err)"
	cat why.out
	grep -qE "$2" why.out || fail "--why $1 ($3) does not say '$2'"
}
why "$(addr held 17)" '^global g_held' "an object in the global vector"
grep -qF "$(addr heldvec)" why.out || fail "--why does not go through the vector's body $(addr heldvec)"
why "$(addr regheld)" '^register r12 of thread' "an object only r12 holds"
why "$(addr stackheld)" '^stack of thread [0-9]+ .* sp\+0x[0-9a-f]+, frame #[0-9]+ stack_thread' "an object only a stack holds"
why "$(addr direct 1)" 'is leaked \(nothing points to it\)' "a lost string"
# the list: the head is the 1000th direct entry, its second node the first indirect
why "$(addr direct 1000)" 'is leaked \(nothing points to it\)' "the lost list's head"
why "$(addr indirect 1)" 'is leaked \(only leaked chunks point to it\)' "the lost list's second node"

"$HEAPSCAN" --referrers "$(addr held 3)" "$FIXTURE_PID" >refs.out 2>refs.err || fail "--referrers: exit $?"
cat refs.out
grep -qF "chunk $(addr heldvec) " refs.out || fail "--referrers does not name the vector's body"
[ "$(grep -c '^  ' refs.out)" = 1 ] || fail "--referrers: want exactly one referrer (the vector body)"

"$HEAPSCAN" --why "$(addr guard)" "$FIXTURE_PID" >/dev/null 2>&1 || fail "--why on a reachable chunk failed"
"$HEAPSCAN" --why 0x10 "$FIXTURE_PID" >why.out 2>why.err && fail "--why 0x10 succeeded"
grep -q 'not in any malloc chunk' why.err || fail "--why 0x10: no clear cause: $(cat why.err)"
"$HEAPSCAN" --why zz "$FIXTURE_PID" >/dev/null 2>&1; [ $? = 2 ] || fail "--why zz: want usage error 2"
assert_running "$FIXTURE_PID"
echo "ok: leaks, why and referrers as the fixture says"
