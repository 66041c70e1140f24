# types_classes: every C++ class of the classes fixture (namespaces, templates,
# an anonymous namespace, multiple inheritance, four arenas, vectors, new[]
# arrays, members, an mmapped array) is counted by --vtables exactly, freed
# objects' stale vptrs and objects off the heap (globals, stacks, TLS, a raw
# mmap) not at all; --json's "classes" agree, and its "types" name each
# object's chunk (class, NAME[] array) as the fixture says; the output sorts
# with sort -n; the text report names the largest type; the target runs on.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture classes

run_types --vtables "$FIXTURE_PID"
cat vtables.out
grep -qi 'exclud' vtables.err && fail "glibc target, yet heapscan says free memory was not excluded"
assert_vtables_sortable vtables.out
run_types --json "$FIXTURE_PID"
check_types vtables.out json.out "$READY"
assert_running "$FIXTURE_PID"

run_types "" "$FIXTURE_PID"
grep -qF 'ns::Box<double>[]' text.out ||
	fail "text report does not name ns::Box<double>[] (a 256 KB chunk, the largest type by bytes)"
grep -qF 'shop::Item' text.out || fail "text report does not name shop::Item"
assert_running "$FIXTURE_PID"
echo "ok: classes and types as in the truth"
