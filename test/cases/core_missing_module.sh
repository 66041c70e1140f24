# core_missing_module: the classes fixture runs with libstdc++.so.6 and
# libc.so.6 copied into the test's directory (LD_LIBRARY_PATH); its gcore is
# read after the files change.  libstdc++ deleted: one line on stderr names
# it and what is lost, the heap counts and the fixture's own classes are
# still exact.  Another file at its path: "a different build".  libc
# deleted: one line, exit 5 (malloc's state cannot be found without it).
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
mkdir lib
for so in libstdc++.so.6 libc.so.6; do
	src=$(ldd "$FIXTURES/classes" | awk -v s="$so" '$1 == s { print $3 }')
	[ -f "$src" ] || skip "no $so found by ldd"
	cp "$src" "lib/$so"
done
LD_LIBRARY_PATH=$PWD/lib start_fixture classes
grep -q "$PWD/lib/libstdc++.so.6" "/proc/$FIXTURE_PID/maps" || skip "the copied libstdc++ was not loaded"
grep -q "$PWD/lib/libc.so.6" "/proc/$FIXTURE_PID/maps" || skip "the copied libc was not loaded"
"$HEAPSCAN" --vtables "$FIXTURE_PID" >live.vt || fail "live --vtables failed"
take_gcore "$FIXTURE_PID" c.core
"$HEAPSCAN" --json c.core >all.json 2>err.txt || fail "with every file: exit $?: $(cat err.txt)"
[ -s err.txt ] && fail "with every file, heapscan said: $(cat err.txt)"

rm lib/libstdc++.so.6
"$HEAPSCAN" --json c.core >json.out 2>err.txt || fail "without libstdc++: exit $?: $(cat err.txt)"
cat err.txt
[ "$(wc -l <err.txt)" = 1 ] || fail "without libstdc++: want one line on stderr"
grep -q '^heapscan: libstdc++.so.6 not found: C++ class names of its types' err.txt ||
	fail "without libstdc++: the line does not say what is lost"
check_truth "$READY" json.out
"$HEAPSCAN" --vtables c.core >core.vt 2>/dev/null || fail "--vtables without libstdc++ failed"
cmp -s live.vt core.vt || fail "the fixture's own classes changed without libstdc++: $(diff live.vt core.vt | head)"

cp "$(ldd "$FIXTURES/classes" | awk '$1 == "libm.so.6" { print $3 }')" lib/libstdc++.so.6
"$HEAPSCAN" --json c.core >/dev/null 2>err.txt || fail "with a wrong libstdc++: exit $?"
grep -q '^heapscan: libstdc++.so.6 a different build (its build-id differs' err.txt ||
	fail "a wrong file at libstdc++'s path is not called a different build: $(cat err.txt)"

# Without libc's file malloc's state is found in the core's memory alone:
# the same counts, and the report says how it was found.
rm lib/libc.so.6
"$HEAPSCAN" --json c.core >nolibc.json 2>err.txt || fail "without libc: exit $?: $(cat err.txt)"
cat err.txt
grep -q "libc file $PWD/lib/libc.so.6 is not here.*found in memory" err.txt ||
	fail "without libc: no line saying malloc's state was found in memory"
grep -q '"found_by": *"memory"' nolibc.json || fail "without libc: the JSON does not say found_by memory"
check_truth "$READY" nolibc.json
echo "ok: missing and wrong module files said, what can be done done"
