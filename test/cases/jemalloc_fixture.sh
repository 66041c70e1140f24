# jemalloc_fixture: heapscan walks jemalloc 5.x exactly.  The jemalloc
# fixture, run three times (libjemalloc.so.2 preloaded; built with
# -ljemalloc; jemalloc's static library linked into the executable),
# prints its own truth: live regions per size class, regions freed into the
# thread cache (the slab bitmap still says allocated), leaks.  The JSON
# report's sizes and free_sizes match it exactly, the text report names
# "jemalloc 5.3.0", --leaks finds exactly the leaked regions and --why says
# one of them is leaked, a snapshot reads back as the same sizes, and a
# gcore of it gives the same sizes and leaks (when gdb is installed).  The
# targets run on.  Skips without libjemalloc2.  (Classes: types_jemalloc.)
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
lib=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
[ -e "$lib" ] || skip "$lib not found (apt-get install libjemalloc2)"
ver=$(strings -n 8 "$lib" 2>/dev/null | grep -m1 -oE '^5\.[0-9]+\.[0-9]+-[0-9]+-g[0-9a-f]{40}$' | cut -d- -f1)
[ -n "$ver" ] || fail "no version string in $lib"

check_one() { # check_one NAME: the fixture just started
	if [ "$1" = static ]; then
		! grep -q libjemalloc "/proc/$FIXTURE_PID/maps" || fail "static: libjemalloc is mapped"
	else
		grep -q libjemalloc "/proc/$FIXTURE_PID/maps" || fail "$1: libjemalloc is not mapped in the fixture"
	fi
	cat "$READY"
	"$HEAPSCAN" --json "$FIXTURE_PID" >"$1.json" 2>"$1.err" || fail "$1: --json exited $?: $(cat "$1.err")"
	check_truth "$READY" "$1.json"
	"$HEAPSCAN" "$FIXTURE_PID" >"$1.txt" 2>"$1.err" || fail "$1: report exited $?: $(cat "$1.err")"
	grep -q "^  jemalloc $ver, 1 thread" "$1.txt" || fail "$1: the report does not say jemalloc $ver"
	! grep -q "heap problems" "$1.txt" || fail "$1: heap problems on a consistent heap"
	"$HEAPSCAN" --leaks --json "$FIXTURE_PID" >"$1.leaks" 2>"$1.err" || fail "$1: --leaks exited $?"
	want=$(awk '$1 == "leaks" { print $2 }' "$READY")
	got=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["leaked_chunks"])' "$1.leaks")
	[ "$got" = "$want" ] || fail "$1: --leaks says $got leaked regions, truth $want"
	addr=$("$PYTHON" -c 'import json, sys
d = json.load(open(sys.argv[1]))["leaks"]
print(d[0]["samples"][0])' "$1.leaks")
	"$HEAPSCAN" --why "$addr" "$FIXTURE_PID" >"$1.why" 2>&1 || fail "$1: --why $addr exited $?"
	grep -q 'is leaked' "$1.why" || fail "$1: --why $addr does not say it is leaked: $(cat "$1.why")"
	"$HEAPSCAN" --snapshot "$1.snap" "$FIXTURE_PID" 2>"$1.err" || fail "$1: --snapshot exited $?"
	"$HEAPSCAN" --json "$1.snap" >"$1.snap.json" 2>"$1.err" || fail "$1: --json of the snapshot exited $?"
	check_truth "$READY" "$1.snap.json"
	for j in "$1.json" "$1.snap.json"; do
		a=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["summary"]["allocator"])' "$j")
		[ "$a" = jemalloc ] || fail "$1: $j says allocator $a"
	done
	if command -v gcore >/dev/null; then # a core of it reads the same
		take_gcore "$FIXTURE_PID" "$1.core"
		"$HEAPSCAN" --json "$1.core" >"$1.core.json" 2>"$1.err" || fail "$1: --json of a core exited $?: $(cat "$1.err")"
		check_truth "$READY" "$1.core.json"
		"$HEAPSCAN" --leaks --json "$1.core" >"$1.core.leaks" 2>"$1.err" || fail "$1: --leaks of a core exited $?"
		got=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["leaked_chunks"])' "$1.core.leaks")
		[ "$got" = "$want" ] || fail "$1: --leaks of a core says $got leaked regions, truth $want"
		rm -f "$1.core"
	fi
	assert_running "$FIXTURE_PID"
}

LD_PRELOAD=$lib start_fixture jemalloc
check_one preloaded
[ -x "$FIXTURES/jemalloc_linked" ] || fail "jemalloc_linked not built (apt-get install libjemalloc-dev)"
start_fixture jemalloc_linked
check_one linked
[ -x "$FIXTURES/jemalloc_static" ] || fail "jemalloc_static not built (apt-get install libjemalloc-dev)"
start_fixture jemalloc_static
check_one static

echo "ok: jemalloc $ver walked exactly: preloaded, linked, static"
