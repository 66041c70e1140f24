# torture_corrupt_glibc: the two corruptions glibc aborts on that heapscan
# once let pass, in a live heap (fixtures/corrupt glibc, thread C's arena):
# a fastbin chunk's fd overwritten with a raw (not safe-linked) pointer to the
# next free chunk, and the top chunk's size overwritten with 0x21.  The scan
# exits 0 and the report has a problem at the fastbin chunk that names the
# raw link (or glibc's "unaligned fastbin chunk detected" when it decodes
# misaligned), a problem at top naming glibc's "corrupted top size", and C's
# arena's unaccounted_bytes is exactly the fixture's truth: the bytes from S
# (the chunk whose size the fixture also damages) to the end of the shrunk
# top, plus those after it to the heap's end; the three intact arenas are
# exact with nothing unaccounted.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture corrupt glibc
"$HEAPSCAN" --json "$FIXTURE_PID" >out.json 2>err.txt || fail "exit $?: $(cat err.txt)"
"$HEAPSCAN" "$FIXTURE_PID" >out.txt 2>/dev/null || fail "the text report: exit $?"
assert_running "$FIXTURE_PID"
"$PYTHON" - "$READY" "$TOP/test" out.json <<'PY' || fail "see above"
import json, sys
sys.path.insert(0, sys.argv[2])
import check_truth
truth = dict(l.split()[:2] for l in open(sys.argv[1]) if len(l.split()) == 2)
doc = json.load(open(sys.argv[3]))
bad = [p for p in check_truth.compare(check_truth.read_truth(sys.argv[1]), doc, "scan")]
probs = [(int(p["address"], 16), p["what"]) for p in doc["problems"]]
fast, top = int(truth["corrupt_fastbin"], 16), int(truth["corrupt_top"], 16)
if not any(a == fast and ("not safe-linked" in w or "unaligned fastbin chunk detected" in w)
           for a, w in probs):
    bad.append("no problem naming the raw fastbin link at 0x%x: %s" % (fast, probs))
if not any(a == top and "malloc(): corrupted top size" in w for a, w in probs):
    bad.append("no 'corrupted top size' problem at top 0x%x: %s" % (top, probs))
c_base = int(truth["bad_arena_chunk"], 16) & ~((64 << 20) - 1)
for a in doc["arenas"]:
    base = int(a["address"], 16) & ~((64 << 20) - 1)
    if not a["main"] and base == c_base:
        if a["unaccounted_bytes"] != int(truth["c_unaccounted"]):
            bad.append("C's arena: unaccounted_bytes %d, the truth %s" %
                       (a["unaccounted_bytes"], truth["c_unaccounted"]))
    elif a["unaccounted_bytes"]:
        bad.append("intact arena %s: unaccounted_bytes %d" % (a["address"], a["unaccounted_bytes"]))
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
grep -q "corrupted top size" out.txt || fail "the text report does not show the top problem"
echo "ok: $(grep -c . err.txt) stderr line(s); problems:"
"$PYTHON" -c 'import json,sys; [print("  ", p["address"], p["what"]) for p in json.load(open(sys.argv[1]))["problems"]]' out.json
