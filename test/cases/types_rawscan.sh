# types_rawscan: the raw-scan fallback is left only for allocators heapscan
# does not know, and it says so.  The classes fixture with mimalloc
# (libmimalloc.so.2) and with a custom malloc (build/fixtures/libbumpmalloc.so,
# fixtures/lib/bumpmalloc.c) preloaded: the report is refused (exit 5) with
# one line naming the module (and "mimalloc") and the allocators heapscan
# does walk; --vtables still counts objects by scanning anonymous memory:
# exit 0, a note on stderr that names the module and says free memory could
# not be excluded, and every class of the fixture found at least as often as
# the truth says (freed objects may add to it).  mimalloc's part skips
# without package libmimalloc2.0.  (jemalloc and tcmalloc are walked
# exactly: types_jemalloc, types_tcmalloc.)
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
mi=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2
bump=$FIXTURES/libbumpmalloc.so
[ -e "$bump" ] || fail "$bump not built"

check_one() { # check_one NAME LIB LABEL: LABEL is what the message calls it
	local name=$1 lib=$2 label=$3 path rc
	LD_PRELOAD=$lib start_fixture classes
	path=$(awk -v b="$(basename "$lib")" '$6 ~ b && $3 == "00000000" { print $6; exit }' "/proc/$FIXTURE_PID/maps")
	[ -n "$path" ] || fail "$name: $lib is not mapped in the fixture"
	why="malloc in process $FIXTURE_PID comes from $path$label, not glibc; heapscan walks glibc malloc, jemalloc and tcmalloc only"
	"$HEAPSCAN" "$FIXTURE_PID" >"$name.out" 2>"$name.err"
	rc=$?
	[ "$rc" = 5 ] || fail "$name: the report exited $rc, want 5: $(cat "$name.err")"
	[ ! -s "$name.out" ] || fail "$name: the refused report printed on stdout"
	[ "$(cat "$name.err")" = "heapscan: $why" ] || fail "$name: stderr is not the one line '$why': $(cat "$name.err")"
	run_types --vtables "$FIXTURE_PID"
	grep -qF "heapscan: $why; counting C++ objects in all anonymous memory instead: free memory could not be excluded" vtables.err ||
		fail "$name: --vtables does not say why it scans raw: $(cat vtables.err)"
	assert_vtables_sortable vtables.out
	check_types --at-least vtables.out - "$READY"
	assert_running "$FIXTURE_PID"
}

check_one custom "$bump" ""
if [ -e "$mi" ]; then
	check_one mimalloc "$mi" " (mimalloc)"
	echo "ok: raw scan, and says so, under a custom malloc and mimalloc"
else
	echo "ok: raw scan, and says so, under a custom malloc (mimalloc: $mi not installed)"
fi
