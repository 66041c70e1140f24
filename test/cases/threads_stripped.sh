# threads_stripped: the stacks fixture stripped of every symbol (strip
# --strip-all keeps .eh_frame) still unwinds to the end in every thread; its
# frames have no function name but the module and a link-time offset, and
# those offsets, looked up in the unstripped file's symbols, give the
# truth's chains.  The text output shows them as "?? (MODULE+0xOFF)".
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
command -v strip >/dev/null && command -v nm >/dev/null || skip "strip/nm not found (apt-get install binutils)"
[ -x "$FIXTURES/stacks" ] || fail "fixture $FIXTURES/stacks not built"

strip --strip-all -o "$PWD/stacks" "$FIXTURES/stacks" || fail "strip failed"
readelf -S "$PWD/stacks" | grep -qE '\.symtab|\.debug_' && fail "strip left symbols in $PWD/stacks"
nm -S --defined-only "$FIXTURES/stacks" >syms.txt || fail "nm failed"
FIXTURES=$PWD start_fixture stacks
[ "$(readlink "/proc/$FIXTURE_PID/exe")" = "$PWD/stacks" ] || fail "not running the stripped copy"

"$HEAPSCAN" --threads --json "$FIXTURE_PID" >out.json 2>err.txt
rc=$?
cat err.txt
[ "$rc" = 0 ] || fail "heapscan --threads --json exited $rc"
"$HEAPSCAN" --threads "$FIXTURE_PID" >out.txt 2>err.txt
rc=$?
cat out.txt err.txt
[ "$rc" = 0 ] || fail "heapscan --threads exited $rc"

"$PYTHON" - "$READY" out.json out.txt syms.txt "$PWD/stacks" <<'PY' || fail "stripped backtraces differ from the truth in $READY"
import json, re, sys
truth, js, txt, symf, exe = sys.argv[1:]
want = {}
for line in open(truth):
    f = line.split()
    if f[0] == "thread":
        want[int(f[1])] = f[3:]
syms = []
for line in open(symf):
    f = line.split()
    if len(f) == 4 and f[2] in "tT":
        syms.append((int(f[0], 16), int(f[1], 16), f[3]))
def holder(off):
    for v, n, name in syms:
        if v <= off < v + n:
            return name
    return None
ours = set(n for c in want.values() for n in c)
doc = json.load(open(js))
bad = []
got = {t["tid"]: t for t in doc["threads"]}
if sorted(got) != sorted(want):
    bad.append("threads %s, truth %s" % (sorted(got), sorted(want)))
for tid, chain in want.items():
    t = got.get(tid)
    if not t:
        continue
    if t["stop"]:
        bad.append("tid %d: walk stopped early: %s" % (tid, t["stop"]))
    mine = []
    for i, f in enumerate(t["frames"]):
        if f["module"] != exe:
            continue
        if f["function"] is not None:
            bad.append("tid %d: a name in a stripped module: %s" % (tid, f["function"]))
        off = int(f["offset"], 16) - (1 if i else 0)  # a return address: the call is before it
        if holder(off) in ours:
            mine.append(holder(off))
        if "?? (%s+%s)" % (exe, f["offset"]) not in open(txt).read():
            bad.append("text: no '?? (%s+%s)'" % (exe, f["offset"]))
    if mine != chain:
        bad.append("tid %d: frames at %s, truth %s" % (tid, mine, chain))
    if "libc.so" not in (t["frames"][-1]["module"] or "") and "stk" in t["comm"]:
        bad.append("tid %d: the walk did not reach libc's thread start" % tid)
for b in bad:
    print("MISMATCH:", b)
sys.exit(1 if bad else 0)
PY
assert_running "$FIXTURE_PID"
echo "ok: stripped fixture unwound to the end, frames at the right offsets"
