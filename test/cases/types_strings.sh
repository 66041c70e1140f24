# types_strings: 12344 strdup("test_memory") copies are one "content" type
# named "\"test_memory\"" with count 12344, and 100 "hello, heap" of the same
# chunk size another; a C program has no classes (--vtables prints nothing);
# the text report names the top type.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture strings

run_types --vtables "$FIXTURE_PID"
[ -s vtables.out ] && fail "a C program, yet --vtables lists classes: $(head -5 vtables.out)"
run_types --json "$FIXTURE_PID"
check_types vtables.out json.out "$READY"
run_types "" "$FIXTURE_PID"
grep -qF '"test_memory"' text.out || fail "text report does not name the \"test_memory\" type"
assert_running "$FIXTURE_PID"
echo "ok: content clusters as in the truth"
