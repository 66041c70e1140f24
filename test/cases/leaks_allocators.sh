# leaks_allocators: --leaks on the leaks fixture (fixtures/leaks.cc) with
# jemalloc and with tcmalloc preloaded, and built linked with
# -ltcmalloc_minimal (leaks_tcmalloc): the same exact direct and indirect
# counts and classes as under glibc (leaks_fixture), every sample a chunk the
# fixture leaked; freed objects (in jemalloc's and tcmalloc's thread caches,
# on slab bitmaps and span free lists) are never roots.  tcmalloc leaks one
# MallocExtension of its own in every process (see fixtures/tcmalloc.c): one
# more direct leak, of that class.  --why of a kept object names the global
# vector.  The targets run on.  Each allocator skips when its library is
# not installed.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
je=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
tc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
[ -e "$je" ] || [ -e "$tc" ] || skip "neither $je nor $tc is installed"

check_one() { # check_one NAME LIB FIXTURE PRELOAD [check_leaks options]: FIXTURE
	# with LIB preloaded (PRELOAD yes) or linked (no)
	local name=$1 lib=$2 fixture=$3 preload=$4
	shift 4
	if [ "$preload" = yes ]; then
		LD_PRELOAD=$lib start_fixture "$fixture"
	else
		start_fixture "$fixture"
	fi
	grep -qF "$(basename "$lib")" "/proc/$FIXTURE_PID/maps" || fail "$name: $lib is not mapped in the fixture"
	"$HEAPSCAN" --leaks --json "$FIXTURE_PID" >"$name.json" 2>"$name.err" ||
		fail "$name: --leaks --json exited $?: $(cat "$name.err")"
	"$PYTHON" "$TOP/test/check_leaks.py" "$@" "$READY" "$READY.addrs" "$name.json" ||
		fail "$name: leak counts differ from the truth"
	held=$(awk '$1 == "held" && ++i == 17 { print $2; exit }' "$READY.addrs")
	"$HEAPSCAN" --why "$held" "$FIXTURE_PID" >"$name.why" 2>&1 || fail "$name: --why $held exited $?"
	grep -q '^global g_held' "$name.why" || fail "$name: --why $held does not name g_held: $(cat "$name.why")"
	assert_running "$FIXTURE_PID"
}

[ -e "$je" ] && check_one jemalloc "$je" leaks yes
[ -e "$tc" ] && check_one tcmalloc "$tc" leaks yes --allocator-leak MallocExtension 1
if [ -e "$tc" ]; then
	[ -x "$FIXTURES/leaks_tcmalloc" ] || fail "leaks_tcmalloc not built (apt-get install libgoogle-perftools-dev)"
	check_one tcmalloc_linked "$tc" leaks_tcmalloc no --allocator-leak MallocExtension 1
fi
echo "ok: leaks exact under jemalloc and tcmalloc (preloaded and linked)"
