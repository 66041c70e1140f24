# tcmalloc_fixture: heapscan walks gperftools tcmalloc exactly.  The tcmalloc
# fixture, run three times (libtcmalloc_minimal.so.4 preloaded; built with
# -ltcmalloc_minimal; libtcmalloc_minimal.a linked into the executable),
# prints its own truth: live objects per size class, objects four threads
# freed into their own thread caches (the span still counts them as handed
# out), leaks (its own and tcmalloc's one).  The JSON report's sizes and
# free_sizes match it exactly, the text report names "tcmalloc 2.N" with no
# heap problems, --leaks finds exactly the leaked objects and --why says one
# of them is leaked, --retained names the global that holds the most, a
# snapshot reads back as the same sizes, a gcore of it gives the same sizes
# and leaks (when gdb is installed), and --diff of two runs, one keeping 100
# more 2816-byte objects, finds exactly 100 more of them.  The targets run
# on.  Skips without libtcmalloc-minimal4.  (Classes: types_tcmalloc; the
# leaks fixture: leaks_allocators.)
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
lib=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
[ -e "$lib" ] || skip "$lib not found (apt-get install libtcmalloc-minimal4)"
ver=$(strings -n 8 "$lib" 2>/dev/null | grep -m1 -oE '^gperftools 2\.[0-9]+(\.[0-9]+)?$' | cut -d' ' -f2)
[ -n "$ver" ] || fail "no version string in $lib"

check_one() { # check_one NAME: the fixture just started
	if [ "$1" = static ]; then
		! grep -q libtcmalloc "/proc/$FIXTURE_PID/maps" || fail "static: libtcmalloc is mapped"
	else
		grep -q libtcmalloc_minimal "/proc/$FIXTURE_PID/maps" || fail "$1: libtcmalloc_minimal is not mapped in the fixture"
	fi
	cat "$READY"
	"$HEAPSCAN" --json "$FIXTURE_PID" >"$1.json" 2>"$1.err" || fail "$1: --json exited $?: $(cat "$1.err")"
	check_truth "$READY" "$1.json"
	"$HEAPSCAN" "$FIXTURE_PID" >"$1.txt" 2>"$1.err" || fail "$1: report exited $?: $(cat "$1.err")"
	grep -q "^  tcmalloc $ver, 5 threads" "$1.txt" || fail "$1: the report does not say tcmalloc $ver: $(sed -n 2p "$1.txt")"
	! grep -q "heap problems" "$1.txt" || fail "$1: heap problems on a consistent heap: $(grep -A5 'heap problems' "$1.txt")"
	"$HEAPSCAN" --leaks --json "$FIXTURE_PID" >"$1.leaks" 2>"$1.err" || fail "$1: --leaks exited $?"
	want=$(awk '$1 == "leaks" { print $2 }' "$READY")
	got=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["leaked_chunks"])' "$1.leaks")
	[ "$got" = "$want" ] || fail "$1: --leaks says $got leaked objects, truth $want"
	addr=$("$PYTHON" -c 'import json, sys
d = json.load(open(sys.argv[1]))["leaks"]
print(d[0]["samples"][0])' "$1.leaks")
	"$HEAPSCAN" --why "$addr" "$FIXTURE_PID" >"$1.why" 2>&1 || fail "$1: --why $addr exited $?"
	grep -q 'is leaked' "$1.why" || fail "$1: --why $addr does not say it is leaked: $(cat "$1.why")"
	"$HEAPSCAN" --retained "$FIXTURE_PID" >"$1.ret" 2>"$1.err" || fail "$1: --retained exited $?: $(cat "$1.err")"
	grep -qE '^ +[0-9.]+ KiB +3  global keepbig ' "$1.ret" || fail "$1: --retained does not name keepbig first: $(head -8 "$1.ret")"
	"$HEAPSCAN" --snapshot "$1.snap" "$FIXTURE_PID" 2>"$1.err" || fail "$1: --snapshot exited $?"
	"$HEAPSCAN" --json "$1.snap" >"$1.snap.json" 2>"$1.err" || fail "$1: --json of the snapshot exited $?"
	check_truth "$READY" "$1.snap.json"
	for j in "$1.json" "$1.snap.json"; do
		a=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["summary"]["allocator"])' "$j")
		[ "$a" = tcmalloc ] || fail "$1: $j says allocator $a"
	done
	if command -v gcore >/dev/null; then # a core of it reads the same
		take_gcore "$FIXTURE_PID" "$1.core"
		"$HEAPSCAN" --json "$1.core" >"$1.core.json" 2>"$1.err" || fail "$1: --json of a core exited $?: $(cat "$1.err")"
		check_truth "$READY" "$1.core.json"
		"$HEAPSCAN" --leaks --json "$1.core" >"$1.core.leaks" 2>"$1.err" || fail "$1: --leaks of a core exited $?"
		got=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["leaked_chunks"])' "$1.core.leaks")
		[ "$got" = "$want" ] || fail "$1: --leaks of a core says $got leaked objects, truth $want"
		rm -f "$1.core"
	fi
	assert_running "$FIXTURE_PID"
}

LD_PRELOAD=$lib start_fixture tcmalloc
check_one preloaded
[ -x "$FIXTURES/tcmalloc_linked" ] || fail "tcmalloc_linked not built (apt-get install libgoogle-perftools-dev)"
start_fixture tcmalloc_linked
check_one linked
[ -x "$FIXTURES/tcmalloc_static" ] || fail "tcmalloc_static not built (apt-get install libgoogle-perftools-dev)"
start_fixture tcmalloc_static
check_one static

# --diff: the linked run against one that keeps 100 more 2816-byte objects
size=$(awk '$1 == "inuse" && $2 == "0xb00" { print $2 }' "$READY")
[ -n "$size" ] || fail "the fixture's 2816-byte class is not 0xb00 here: $(cat "$READY")"
start_fixture tcmalloc_linked 100
"$HEAPSCAN" --snapshot more.snap "$FIXTURE_PID" 2>more.err || fail "--snapshot of the second run exited $?"
"$HEAPSCAN" --json --diff --force linked.snap more.snap >diff.json 2>diff.err || fail "--diff exited $?: $(cat diff.err)"
got=$("$PYTHON" -c 'import json, sys
print(sum(t["delta_count"] for t in json.load(open(sys.argv[1]))["types"] if t["size"] == 0xb00))' diff.json)
[ "$got" = 100 ] || fail "--diff: the 2816-byte objects grew by $got, truth 100"
assert_running "$FIXTURE_PID"

echo "ok: tcmalloc $ver walked exactly: preloaded, linked, static; snapshot, core, diff"
