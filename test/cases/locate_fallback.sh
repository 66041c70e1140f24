# locate_fallback: a libc whose code heapscan cannot read finds malloc's
# state in memory.  The arenas fixture runs on a copy of libc.so.6 whose
# malloc_trim, mallinfo, mallinfo2 and malloc_stats are renamed in .dynsym
# (as a stripped or unusual libc would hide them): --locate=code exits 5
# naming the cause; the default (auto) says so on stderr, finds malloc's
# state in memory and gives the fixture's exact truth; --locate=memory the
# same report.  When libc's code gives an address that holds no arena ring,
# auto says so and falls back too.  Bad --locate arguments and HEAPSCAN_LOCATE values are usage
# errors (exit 2).
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
unset HEAPSCAN_LOCATE # the default is what is tested here

HEAPSCAN_LOCATE=libc "$HEAPSCAN" 1 >out.txt 2>err.txt
[ "$?" = 2 ] || fail "HEAPSCAN_LOCATE=libc is not a usage error"
grep -qx "heapscan: HEAPSCAN_LOCATE takes code, memory or auto, not 'libc'; try 'heapscan --help'" err.txt ||
	fail "HEAPSCAN_LOCATE=libc: $(cat err.txt)"

"$HEAPSCAN" --locate=disasm 1 >out.txt 2>err.txt
rc=$?
[ "$rc" = 2 ] || fail "--locate=disasm exited $rc, not 2"
grep -qx "heapscan: --locate takes code, memory or auto, not 'disasm'; try 'heapscan --help'" err.txt ||
	fail "--locate=disasm: $(cat err.txt)"
"$HEAPSCAN" --locate=memory --diff a b >out.txt 2>err.txt
[ "$?" = 2 ] || fail "--locate with --diff is not a usage error"

libc=$(awk '$6 ~ /\/libc\.so\.6$/ { print $6; exit }' /proc/self/maps)
[ -n "$libc" ] || skip "this shell has no libc.so.6 mapped"
mkdir odd
"$PYTHON" - "$libc" odd/libc.so.6 <<'PY' || fail "cannot make the renamed libc"
import sys
d = open(sys.argv[1], "rb").read()
for n in (b"malloc_trim", b"mallinfo2", b"malloc_stats", b"mallinfo"):
    if d.count(n + b"\0") < 1:
        sys.exit("no %s in %s" % (n.decode(), sys.argv[1]))
    d = d.replace(n + b"\0", n[:-1] + b"X\0")
open(sys.argv[2], "wb").write(d)
PY

LD_LIBRARY_PATH=$PWD/odd start_fixture arenas
grep -q "$PWD/odd/libc.so.6" "/proc/$FIXTURE_PID/maps" || fail "the fixture does not run on the renamed libc"

"$HEAPSCAN" --locate=code --json "$FIXTURE_PID" >code.json 2>code.err
rc=$?
[ "$rc" = 5 ] || fail "--locate=code on the renamed libc exited $rc, not 5"
grep -q "cannot find main_arena in .*odd/libc.so.6 (glibc 2\.[0-9]*): the code of malloc_trim/mallinfo2/malloc_stats does not match" code.err ||
	fail "--locate=code: $(cat code.err)"

"$HEAPSCAN" --json "$FIXTURE_PID" >auto.json 2>auto.err
rc=$?
cat auto.err
[ "$rc" = 0 ] || fail "auto on the renamed libc exited $rc"
grep -q "does not match; looking for malloc's state in memory$" auto.err || fail "no notice of the fallback"
[ "$(json_field auto.json found_by)" = memory ] || fail "found_by is '$(json_field auto.json found_by)', not memory"
check_truth "$READY" auto.json

"$HEAPSCAN" --locate=memory "$FIXTURE_PID" >memory.txt 2>memory.err || fail "--locate=memory exited $?"
[ -s memory.err ] && fail "--locate=memory said: $(cat memory.err)"
grep -qx "  malloc's state found by: memory" memory.txt || fail "the text report does not say 'found by: memory'"
assert_running "$FIXTURE_PID"
stop_fixture "$FIXTURE_PID"

# Code that matches its patterns but points elsewhere (HEAPSCAN_TEST_CODE_WRONG
# makes libc's code give main_arena 0x8): auto checks the ring and falls back.
start_fixture arenas
HEAPSCAN_TEST_CODE_WRONG=1 "$HEAPSCAN" --json "$FIXTURE_PID" >wrong.json 2>wrong.err
rc=$?
cat wrong.err
[ "$rc" = 0 ] || fail "auto with misleading code exited $rc"
grep -qx "heapscan: libc's code gave main_arena 0x8, which holds no arena ring; looking for malloc's state in memory" wrong.err ||
	fail "no notice that libc's code missed"
[ "$(json_field wrong.json found_by)" = memory ] || fail "misleading code: found_by '$(json_field wrong.json found_by)'"
check_truth "$READY" wrong.json
HEAPSCAN_TEST_CODE_WRONG=1 "$HEAPSCAN" --locate=code "$FIXTURE_PID" >wrong.txt 2>wrong.err
rc=$?
[ "$rc" = 5 ] || fail "--locate=code with misleading code exited $rc, not 5"
grep -q "main_arena (0x8) is not in the copied memory" wrong.err || fail "--locate=code: $(cat wrong.err)"
assert_running "$FIXTURE_PID"
echo "ok: code refused (exit 5), auto fell back to memory with the exact truth, also when the code misled"
