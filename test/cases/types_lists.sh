# types_lists: the 80000 nodes of three malloc'd linked lists (two arenas;
# struct node {int id; char *name; struct node *next;}, ids from 0, tails
# NULL) are one "shape" type of chunk size 0x20 named "int, heap ptr, heap
# ptr" with count 80000; no classes; the text report names the shape.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture lists

run_types --vtables "$FIXTURE_PID"
[ -s vtables.out ] && fail "a C program, yet --vtables lists classes: $(head -5 vtables.out)"
run_types --json "$FIXTURE_PID"
check_types vtables.out json.out "$READY"
run_types "" "$FIXTURE_PID"
grep -qF 'int, heap ptr, heap ptr' text.out || fail "text report does not name the nodes' shape"
assert_running "$FIXTURE_PID"
echo "ok: shape cluster as in the truth"
