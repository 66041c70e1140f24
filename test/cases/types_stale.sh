# types_stale: stale bytes are not objects and a string is one row.  The
# stale fixture fills freed memory with Blob objects and then builds, from
# it, vectors grown by push_back, vectors after pop_back, a partly written
# buffer, strdup'd strings, a reserve()d vector never filled and short
# strings over stale vtable pointers - with the
# vectors in globals, on the main and a thread's stack, and in a heap
# object in a thread arena.  --vtables counts only the live Items (no
# Blob), --json names the vectors' chunks and counts "test_memory" as one
# content whatever the stale bytes after its NUL and the size of its chunk,
# and --leaks shows the dropped strings as one row; a snapshot says the same,
# and --diff of two shows "test_memory" as one row.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture stale

for c in grown popped partly strdup reserved short bigpop; do
	n=$(awk -v c="$c" '$1 == "stale" && $2 == c { print $3 }' "$READY")
	[ "${n:-0}" -gt 0 ] || fail "case $c: the fixture found no stale vtable pointers: it tests nothing"
done
stale=$(awk '$1 == "stale" { n += $3 } END { print n }' "$READY")
run_types --vtables "$FIXTURE_PID"
cat vtables.out
run_types --json "$FIXTURE_PID"
check_types vtables.out json.out "$READY"
# the same in 3 parts, and chunks of 128 bytes or more searched for headers
# by every part (HEAPSCAN_TEST_SPLIT; types.c big_part): the heap object's
# vectors among them
HEAPSCAN_TEST_SPLIT=1 "$HEAPSCAN" --jobs 3 --vtables "$FIXTURE_PID" >vtables.3.out ||
	fail "heapscan --jobs 3 --vtables failed"
HEAPSCAN_TEST_SPLIT=1 "$HEAPSCAN" --jobs 3 --json "$FIXTURE_PID" >json.3.out ||
	fail "heapscan --jobs 3 --json failed"
check_types vtables.3.out json.3.out "$READY"

"$HEAPSCAN" --leaks --json "$FIXTURE_PID" >leaks.json || fail "heapscan --leaks --json failed"
"$PYTHON" - "$READY" leaks.json <<'PY' || fail "leaks differ from the truth"
import json, sys
truth = dict(l.split(None, 1) for l in open(sys.argv[1]) if l.strip())
want = int(truth["expect"].split()[1])
rep = json.load(open(sys.argv[2]))
rows = [g for g in rep["leaks"] if g["name"] == '"test_memory"']
bad = []
if rep["leaked_chunks"] != want:
    bad.append("leaked directly: want %d, heapscan %d" % (want, rep["leaked_chunks"]))
if len(rows) != 1 or rows[0]["direct"] != want:
    bad.append("want one \"test_memory\" row with %d direct, got %s"
               % (want, [(g["direct"], g["indirect"]) for g in rows]))
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
# the same from a snapshot, and in a diff: one "test_memory" row
"$HEAPSCAN" --snapshot a.snap "$FIXTURE_PID" 2>snap.err || fail "--snapshot failed: $(cat snap.err)"
"$HEAPSCAN" --vtables a.snap >snapvt.out || fail "--vtables a.snap failed"
"$HEAPSCAN" --json a.snap >snapjson.out || fail "--json a.snap failed"
check_types snapvt.out snapjson.out "$READY"
"$HEAPSCAN" --snapshot b.snap "$FIXTURE_PID" 2>snap.err || fail "--snapshot failed: $(cat snap.err)"
"$HEAPSCAN" --diff --json a.snap b.snap >diff.json || fail "--diff --json failed"
"$PYTHON" - "$READY" diff.json <<'PY' || fail "--diff does not show \"test_memory\" as one row"
import json, sys
truth = [l.split() for l in open(sys.argv[1])]
want = [int(w[-1]) for w in truth if w[:2] == ["content", '"test_memory"']][0]
rows = [t for t in json.load(open(sys.argv[2]))["types"] if t["name"] == '"test_memory"']
if len(rows) != 1 or rows[0]["count_a"] != want or rows[0]["count_b"] != want:
    print("want one row with %d, got %s" % (want, [(t["count_a"], t["count_b"]) for t in rows]))
    sys.exit(1)
PY
run_types "" "$FIXTURE_PID"
grep -qF '"test_memory"' text.out || fail "text report does not name \"test_memory\""
assert_running "$FIXTURE_PID"
echo "ok: live objects counted, stale ones not; one string, one row ($stale stale vptrs in the fixture)"
