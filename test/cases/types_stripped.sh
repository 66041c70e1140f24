# types_stripped: the classes fixture stripped of every symbol (strip
# --strip-all: no .symtab, no debug info) is counted exactly as the truth says:
# class names come from the RTTI in the target's memory, not from symbols.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
command -v strip >/dev/null || skip "strip not found (apt-get install binutils)"
[ -x "$FIXTURES/classes" ] || fail "fixture $FIXTURES/classes not built"

strip --strip-all -o "$PWD/classes" "$FIXTURES/classes" || fail "strip failed"
readelf -S "$PWD/classes" | grep -qE '\.symtab|\.debug_' && fail "strip left symbols in $PWD/classes"
FIXTURES=$PWD start_fixture classes
[ "$(readlink "/proc/$FIXTURE_PID/exe")" = "$PWD/classes" ] || fail "not running the stripped copy"

run_types --vtables "$FIXTURE_PID"
cat vtables.out
run_types --json "$FIXTURE_PID"
check_types vtables.out json.out "$READY"
assert_running "$FIXTURE_PID"
echo "ok: stripped binary counted from RTTI alone"
