# types_jemalloc: with jemalloc preloaded heapscan cannot walk malloc, but
# --vtables still counts objects by scanning anonymous memory: exit 0, a note
# on stderr that free memory could not be excluded, and every class of the
# classes fixture found at least as often as the truth says (freed objects
# may add to it).  Skips without package libjemalloc2.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
lib=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
[ -e "$lib" ] || skip "$lib not found (apt-get install libjemalloc2)"

LD_PRELOAD=$lib start_fixture classes
grep -q libjemalloc "/proc/$FIXTURE_PID/maps" || fail "libjemalloc is not mapped in the fixture"

run_types --vtables "$FIXTURE_PID"
cat vtables.out
grep -qiE 'free.*exclud|exclud.*free' vtables.err ||
	fail "stderr does not say that free memory could not be excluded"
assert_vtables_sortable vtables.out
check_types --at-least vtables.out - "$READY"
assert_running "$FIXTURE_PID"
echo "ok: every class found under jemalloc"
