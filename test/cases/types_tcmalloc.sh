# types_tcmalloc: with tcmalloc preloaded (an allocator heapscan does not
# walk) --vtables still counts objects by scanning anonymous memory: exit 0,
# a note on stderr that free memory could not be excluded, and every class
# of the classes fixture found at least as often as the truth says (freed
# objects may add to it).  Skips without package libtcmalloc-minimal4.
# (Under jemalloc the walk is exact: jemalloc_fixture.)
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
lib=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
[ -e "$lib" ] || skip "$lib not found (apt-get install libtcmalloc-minimal4)"

LD_PRELOAD=$lib start_fixture classes
grep -q libtcmalloc "/proc/$FIXTURE_PID/maps" || fail "libtcmalloc is not mapped in the fixture"

run_types --vtables "$FIXTURE_PID"
cat vtables.out
grep -qiE 'free.*exclud|exclud.*free' vtables.err ||
	fail "stderr does not say that free memory could not be excluded"
assert_vtables_sortable vtables.out
# tcmalloc's own objects (its allocators, its MallocExtension) are no
# classes of the fixture
grep -vE $'\t(TCMallocImplementation|MallocExtension|[A-Za-z]*SysAllocator)$' vtables.out >fixture.out
check_types --at-least fixture.out - "$READY"
assert_running "$FIXTURE_PID"
echo "ok: every class found under tcmalloc (raw scan)"
