# core_kernel: the kernel's own core dump (core_pattern set to a file in the
# test's directory, restored on exit) of the classes and leaks fixtures gives
# the same report as the live scan: heap counts, classes (the kernel writes
# only the ELF header page of the modules' read-only data, so type names
# come from the module files, found by build-id), leaks; --threads names the
# fixture's functions; --why follows a global and a register on the core.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
PATTERN=/proc/sys/kernel/core_pattern
OLD=$(cat $PATTERN) || skip "cannot read $PATTERN"
restore() { printf '%s\n' "$OLD" >$PATTERN 2>/dev/null; _lib_cleanup; }
echo "$PWD/kcore.%p" 2>/dev/null >$PATTERN || skip "cannot write $PATTERN (not root, or /proc/sys read-only)"
_lib_trap
trap restore EXIT
ulimit -c unlimited || skip "cannot lift the core size limit"

dump() { # dump PID: SIGABRT it, wait for the kernel's core kcore.PID
	kill -ABRT "$1"
	wait_pid_for "$1" 20 || fail "pid $1 did not die of SIGABRT"
	[ -s "kcore.$1" ] || fail "no kernel core kcore.$1 (core_pattern $(cat $PATTERN))"
}

start_fixture classes
"$HEAPSCAN" --json "$FIXTURE_PID" >live.json || fail "live scan failed"
"$HEAPSCAN" --vtables "$FIXTURE_PID" >live.vt || fail "live --vtables failed"
dump "$FIXTURE_PID"
CORE=kcore.$FIXTURE_PID
readelf -lW "$CORE" | grep -q ' LOAD .* 0x001000 0x[0-9a-f]* R ' ||
	echo "note: no header-page-only segment in this kernel core"
"$HEAPSCAN" --json "$CORE" >core.json 2>core.err || fail "heapscan --json $CORE: exit $?: $(cat core.err)"
[ -s core.err ] && fail "heapscan said on stderr: $(cat core.err)"
check_truth "$READY" core.json
check_core_same live.json core.json
"$HEAPSCAN" --vtables "$CORE" >core.vt || fail "--vtables on the core failed"
cmp -s live.vt core.vt || fail "--vtables: core and live differ: $(diff live.vt core.vt | head)"
check_types core.vt core.json "$READY"
"$HEAPSCAN" --threads "$CORE" >threads.out 2>threads.err || fail "--threads on the core: exit $?"
cat threads.out
grep -q "^thread $FIXTURE_PID (classes): " threads.out || fail "--threads: no block for the main thread named classes"
grep -q ' main+0x[0-9a-f]* (.*/classes)' threads.out || fail "--threads: main() not in the backtrace"
[ "$(grep -c '^thread ' threads.out)" = 4 ] || fail "--threads: want 4 threads"

start_fixture leaks
ADDRS=$READY.addrs
addr() { awk -v k="$1" -v n="${2:-1}" '$1 == k && ++i == n { print $2; exit }' "$ADDRS"; }
dump "$FIXTURE_PID"
CORE=kcore.$FIXTURE_PID
"$HEAPSCAN" --leaks --json "$CORE" >leaks.json 2>leaks.err || fail "--leaks on the core: exit $?: $(cat leaks.err)"
"$PYTHON" "$TOP/test/check_leaks.py" "$READY" "$ADDRS" leaks.json || fail "leak counts of the core differ from the truth"
"$HEAPSCAN" --why "$(addr held 17)" "$CORE" >why.out 2>why.err || fail "--why on the core: exit $?: $(cat why.err)"
cat why.out
grep -q '^global g_held' why.out || fail "--why on the core does not name g_held"
"$HEAPSCAN" --why "$(addr regheld)" "$CORE" >why.out || fail "--why (register) on the core failed"
grep -q '^register r12 of thread' why.out || fail "--why on the core does not name register r12"
"$HEAPSCAN" --referrers "$(addr held 3)" "$CORE" >refs.out || fail "--referrers on the core failed"
grep -qF "chunk $(addr heldvec) " refs.out || fail "--referrers on the core does not name the vector's body"
# A 64 MiB writable mapping marked MADV_DONTDUMP (python3, its objects in
# glibc chunks): the kernel writes no byte of it, a hole; the report is the
# live one and says one range is unreadable.
cat >dd.py <<'PY'
import mmap, os, signal, sys
m = mmap.mmap(-1, 64 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
m[0:8] = b"abcdefgh"
m.madvise(mmap.MADV_DONTDUMP)
keep = [bytes(100) + str(i).encode() for i in range(10000)]
open(sys.argv[1] + ".tmp", "w").write(str(os.getpid()))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
signal.pause()
PY
PYTHONMALLOC=malloc "$PYTHON" dd.py "$PWD/dd.ready" &
dd=$!
wait_for "$HANG" test -e dd.ready || fail "python3 did not start"
"$HEAPSCAN" --json "$dd" >dd.live.json || fail "live scan of python3 failed"
dump "$dd"
"$HEAPSCAN" --json "kcore.$dd" >dd.core.json 2>dd.err || fail "python3's core: exit $?: $(cat dd.err)"
check_core_same dd.live.json dd.core.json
[ "$(json_field dd.core.json holes)" -ge 1 ] || fail "the DONTDUMP mapping is not a hole"
"$HEAPSCAN" "kcore.$dd" | grep -q 'range.* unreadable' || fail "the text report does not say what was unreadable"

"$HEAPSCAN" --cow "$CORE" >/dev/null 2>cow.err; rc=$?
[ "$rc" = 2 ] && grep -q 'needs a live process' cow.err || fail "--cow on a core: want exit 2 and a reason, got $rc: $(cat cow.err)"
echo "ok: kernel cores read as the live process"
