# core_truncated: a gcore of the arenas fixture cut short.  gdb writes the
# notes last, so a cut core has no threads or mapped files: one line says it
# is truncated, how many bytes are missing, and that nothing can be
# analysed (exit 1).  A core cut only inside a segment of memory the heap
# does not use (a copy with the last PT_LOAD promised longer) is analysed,
# with the missing bytes as holes: one line says so, counts are exact.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture arenas
take_gcore "$FIXTURE_PID" full.core
size=$(stat -c %s full.core)
head -c $((size / 2)) full.core >cut.core
timeout "$HANG" "$HEAPSCAN" cut.core >out.txt 2>err.txt
rc=$?
cat err.txt
[ "$rc" = 1 ] || fail "cut core: want exit 1, got $rc"
[ "$(wc -l <err.txt)" = 1 ] || fail "cut core: want one line"
grep -q "cut.core is truncated: [0-9]* bytes .* missing (the file has $((size / 2))), and its notes" err.txt ||
	fail "cut core: the line does not say truncated, how much, and why nothing is analysed"
[ -s out.txt ] && fail "cut core: a report was written"

# grow the [vsyscall] segment's file size past the end: only that is missing
"$PYTHON" - full.core grown.core <<'PY' || fail "could not rewrite the core"
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
phoff, = struct.unpack_from("<Q", b, 32)
phnum, = struct.unpack_from("<H", b, 56)
for i in range(phnum):
    o = phoff + 56 * i
    t, = struct.unpack_from("<I", b, o)
    va, = struct.unpack_from("<Q", b, o + 16)
    if t == 1 and va == 0xffffffffff600000:
        struct.pack_into("<Q", b, o + 8, len(b) - 100)  # offset: 100 bytes before the end
        break
else:
    sys.exit("no [vsyscall] segment")
open(sys.argv[2], "wb").write(b)
PY
"$HEAPSCAN" --json grown.core >grown.json 2>err.txt || fail "grown core: exit $?: $(cat err.txt)"
cat err.txt
grep -q 'grown.core is truncated: 3996 bytes .* read as holes' err.txt || fail "grown core: no truncation line"
check_truth "$READY" grown.json
echo "ok: a cut core refused in one line, a core missing bytes off the heap analysed"
