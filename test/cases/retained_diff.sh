# retained_diff: --snapshot FILE --retained keeps the retainers; --retained
# FILE reports them as the live scan did (exact against the fixture's
# truth); after the fixture grows g_orders (SIGUSR2), --diff says g_orders
# grew, by exactly what it added, most of it Orders.  A snapshot taken
# without --retained is refused by --retained FILE and not compared by
# --diff; a damaged RETN section is refused.  The target runs on.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture retain 300

"$HEAPSCAN" --snapshot a.snap --retained "$FIXTURE_PID" 2>snap.err || fail "--snapshot --retained: exit $?: $(cat snap.err)"
"$HEAPSCAN" --retained --json --top 100000 a.snap >a.json 2>err.txt || fail "--retained a.snap: exit $?: $(cat err.txt)"
"$HEAPSCAN" --folded "$FIXTURE_PID" >a.folded 2>err.txt || fail "--folded: exit $?"
python3 "$TOP/test/check_retained.py" "$READY" a.json a.folded || fail "the snapshot's retainers differ from the truth"
"$HEAPSCAN" --retained a.snap >a.out 2>err.txt || fail "--retained a.snap (text): exit $?"
grep -q 'as the snapshot recorded' a.out || fail "--retained FILE does not say the numbers are recorded"

"$HEAPSCAN" --snapshot c.snap --contents --retained "$FIXTURE_PID" 2>/dev/null || fail "--snapshot --contents --retained: exit $?"
"$HEAPSCAN" --retained --json --top 100000 c.snap >c.json 2>err.txt || fail "--retained c.snap: exit $?"
python3 "$TOP/test/check_retained.py" "$READY" c.json a.folded || fail "with --contents: retainers differ from the truth"
"$HEAPSCAN" --snapshot plain.snap "$FIXTURE_PID" 2>/dev/null || fail "--snapshot: exit $?"
"$HEAPSCAN" --retained plain.snap >/dev/null 2>err.txt && fail "--retained on a snapshot without retainers succeeded"
grep -q 'holds no retainers' err.txt || fail "no clear cause: $(cat err.txt)"
"$HEAPSCAN" --folded a.snap >/dev/null 2>&1; [ $? = 2 ] || fail "--folded FILE: want usage error 2"

kill -USR2 "$FIXTURE_PID"
wait_for "$HANG" test -e "$READY.grown" || fail "the fixture did not grow in $HANG s"
"$HEAPSCAN" --snapshot b.snap --retained "$FIXTURE_PID" 2>snap.err || fail "--snapshot b: exit $?"
"$HEAPSCAN" --retained --json --top 100000 b.snap >b.json 2>err.txt || fail "--retained b.snap: exit $?"
"$HEAPSCAN" --folded "$FIXTURE_PID" >b.folded 2>err.txt || fail "--folded: exit $?"
python3 "$TOP/test/check_retained.py" "$READY.grown" b.json b.folded || fail "after growing: retainers differ from the truth"

"$HEAPSCAN" --diff a.snap b.snap >diff.out 2>err.txt || fail "--diff: exit $?: $(cat err.txt)"
cat diff.out
"$HEAPSCAN" --diff --json a.snap b.snap >diff.json 2>err.txt || fail "--diff --json: exit $?"
python3 - "$READY" "$READY.grown" diff.json <<'PY' || fail "--diff's retainers differ from the truth"
import json, sys
def truth(p):
    t = {}
    for l in open(p):
        f = l.split()
        if f and f[0] in ("retainer", "toptype"):
            t[(f[0], f[1])] = [int(x) for x in f[-2:]]
    return t
a, b, d = truth(sys.argv[1]), truth(sys.argv[2]), json.load(open(sys.argv[3]))
r = d["retainers"][0]
ok = r["root"].startswith("global g_orders (") and r["kind"] == "global"
ok &= r["delta_bytes"] == b[("retainer", "g_orders")][0] - a[("retainer", "g_orders")][0]
ok &= r["delta_chunks"] == b[("retainer", "g_orders")][1] - a[("retainer", "g_orders")][1]
g = r["grew_most"]
ok &= g is not None and g["name"] == "Order"
ok &= g["delta_bytes"] == b[("toptype", "g_orders")][0] - a[("toptype", "g_orders")][0]
ok &= g["delta_chunks"] == b[("toptype", "g_orders")][1] - a[("toptype", "g_orders")][1]
others = [x for x in d["retainers"][1:] if x["kind"] == "global" and x["delta_bytes"] != 0]
ok &= not others
if not ok:
    print("diff retainers:", d["retainers"][:3], "truth a:", a, "b:", b)
sys.exit(0 if ok else 1)
PY
grep -qE '^ +\+[0-9.]+ KiB +\+[0-9]+ chunks  global g_orders \(.*\(global\); most of it Order \+[0-9.]+ KiB, \+300 chunks$' diff.out ||
	fail "--diff's text does not say g_orders grew, most of it 300 Orders"
"$HEAPSCAN" --diff a.snap plain.snap >diff2.out 2>&1 || fail "--diff with a plain snapshot: exit $?"
grep -q 'retainers: not compared' diff2.out || fail "--diff does not say the retainers were not compared"

# damage the RETN section: the whole-file checksum catches it first, so
# rewrite it, and the section's own check
python3 - a.snap bad.snap <<'PY' || fail "could not make the damaged snapshot"
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
pos, n = 16, struct.unpack_from("<I", b, 12)[0]
for _ in range(n):
    tag = bytes(b[pos:pos + 4]); stored = struct.unpack_from("<Q", b, pos + 8)[0]
    if tag == b"RETN":
        b[pos + 32 + stored // 2] ^= 0x40
    pos += 32 + stored
open(sys.argv[2], "wb").write(b)
PY
"$HEAPSCAN" --retained bad.snap >/dev/null 2>err.txt && fail "a damaged RETN section was read"
[ -s err.txt ] || fail "a damaged snapshot: no cause given"
assert_running "$FIXTURE_PID"
echo "ok: retainers kept in snapshots, read back and compared"
