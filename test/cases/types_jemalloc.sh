# types_jemalloc: the classes fixture (four workers, three of them threads
# with jemalloc arenas of their own) with libjemalloc.so.2 preloaded: heapscan
# walks jemalloc, so --vtables and --json types match the truth exactly
# (freed objects, in thread caches, excluded).  The target runs on.  Skips
# without libjemalloc2.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
lib=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
[ -e "$lib" ] || skip "$lib not found (apt-get install libjemalloc2)"

LD_PRELOAD=$lib start_fixture classes
run_types --vtables "$FIXTURE_PID"
run_types --json "$FIXTURE_PID"
"$HEAPSCAN" "$FIXTURE_PID" >classes.txt 2>&1
"$PYTHON" "$TOP/test/check_types.py" vtables.out json.out "$READY" || {
	"$PYTHON" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print("problems:", d["problems"][:5])
print("live:", [(s["size"], s["count"]) for s in d["sizes"]][:12])
print("free:", [(s["kind"], s["size"], s["count"]) for s in d["free_sizes"]][:16])' json.out
	fail "heapscan's types differ from the truth in $READY"
}
assert_running "$FIXTURE_PID"
echo "ok: classes exact under jemalloc"
