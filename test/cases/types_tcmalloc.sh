# types_tcmalloc: the classes fixture (four workers, three of them threads
# with thread caches of their own) with libtcmalloc_minimal.so.4 preloaded,
# and built linked with -ltcmalloc_minimal (classes_tcmalloc):
# heapscan walks tcmalloc, so --vtables and --json types match the truth
# exactly (freed objects, in thread caches, excluded).  tcmalloc itself
# holds one instance of each of two classes of its own, in every process
# (malloc_extension.cc, tcmalloc.cc): the default MallocExtension, leaked
# when Register() replaces it, and the TCMallocImplementation that does;
# they are added to the truth.  The target runs on.  Skips without
# libtcmalloc-minimal4.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
lib=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
[ -e "$lib" ] || skip "$lib not found (apt-get install libtcmalloc-minimal4)"

check_one() { # check_one NAME: the fixture just started
	grep -q libtcmalloc_minimal "/proc/$FIXTURE_PID/maps" || fail "$1: libtcmalloc_minimal is not mapped in the fixture"
	run_types --vtables "$FIXTURE_PID"
	run_types --json "$FIXTURE_PID"
	{ cat "$READY"; echo "class MallocExtension 1"; echo "class TCMallocImplementation 1"; } >truth.txt
	"$PYTHON" "$TOP/test/check_types.py" vtables.out json.out truth.txt || {
		"$PYTHON" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print("problems:", d["problems"][:5])
print("live:", [(s["size"], s["count"]) for s in d["sizes"]][:12])
print("free:", [(s["kind"], s["size"], s["count"]) for s in d["free_sizes"]][:16])' json.out
		fail "$1: heapscan's types differ from the truth in $READY"
	}
	assert_running "$FIXTURE_PID"
}

LD_PRELOAD=$lib start_fixture classes
check_one preloaded
[ -x "$FIXTURES/classes_tcmalloc" ] || fail "classes_tcmalloc not built (apt-get install libgoogle-perftools-dev)"
start_fixture classes_tcmalloc
check_one linked
echo "ok: classes exact under tcmalloc, preloaded and linked"
