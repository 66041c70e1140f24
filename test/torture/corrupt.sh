# torture/corrupt.sh - a live heap damaged in one arena (fixtures/corrupt: a
# chunk's size field, an unsorted-bin fd link and a tcache count overwritten
# in thread C's arena; three other arenas intact).  Each scan must exit 0 (the
# README: problems are in the report, counted on stderr), list a problem at
# each damaged address (the chunk whose size is bad, the bad fd value or the
# chunk holding it, C's tcache), leave the intact arenas' counts exact (the
# truth) with nothing unaccounted in them, and leave the target running.
#
# With TORTURE_CORRUPT_TOP=1 (corrupt_top.sh) C's top chunk also gets a size
# far past its heap, and a problem must name C's top.
#
#   TORTURE_RUNS=N (default 20): scans of one target; text and --vtables too
. "${TOP:?run through test/torture/run.sh or test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/torture/lib.sh" || exit 1
need_heapscan
RUNS=${TORTURE_RUNS:-20}
part=corrupt
if [ "${TORTURE_CORRUPT_TOP:-0}" = 1 ]; then
	part=corrupt_top
	start_fixture corrupt top
else
	start_fixture corrupt
fi
pid=$FIXTURE_PID
cat "$READY"

for ((r = 1; r <= RUNS; r++)); do
	"$HEAPSCAN" --json "$pid" >"out.$r.json" 2>"err.$r.txt"
	rc=$?
	[ "$rc" = 0 ] || { bad "scan $r exited $rc: $(head -c 300 "err.$r.txt")"; continue; }
	grep -q "heap problem(s) found in process $pid" "err.$r.txt" ||
		bad "scan $r: stderr does not count the problems: $(head -c 300 "err.$r.txt")"
	outcome exit0-problems-reported
done
# the text report and --vtables on the damaged heap exit 0 too
"$HEAPSCAN" "$pid" >text.out 2>text.err || bad "text report exited $?: $(head -c 300 text.err)"
grep -q "corrupt chunk header" text.out || bad "the text report does not show the corrupt chunk header"
"$HEAPSCAN" --vtables "$pid" >vt.out 2>vt.err || bad "--vtables exited $?: $(head -c 300 vt.err)"
target_clean "$pid" || bad "after the scans: $BAD_WHY"
assert_running "$pid"
stop_fixture "$pid"

"$PYTHON" - "$READY" "$TOP/test" out.*.json <<'PY' || bad "the JSON checks above failed"
import json, sys
sys.path.insert(0, sys.argv[2])
import check_truth
truth = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 2:
        truth[f[0]] = f[1]
records = check_truth.read_truth(sys.argv[1])
bad = 0
for path in sys.argv[3:]:
    doc = json.load(open(path))
    def fail(msg):
        global bad
        bad += 1
        print("%s: %s" % (path, msg))
    for p in check_truth.compare(records, doc, path):
        fail("intact arenas: " + p)
    probs = [(int(p["address"], 16), p["what"]) for p in doc["problems"]]
    addrs = {a for a, _ in probs}
    size_at = int(truth["corrupt_size"], 16)
    link_at, link_val = int(truth["corrupt_link"], 16), int(truth["corrupt_link_value"], 16)
    tc_at = int(truth["corrupt_tcache"], 16)
    if size_at not in addrs:
        fail("no problem at the chunk with the bad size 0x%x: %s" % (size_at, probs))
    if link_at not in addrs and link_val not in addrs:
        fail("no problem at the bad link (chunk 0x%x, value 0x%x): %s" % (link_at, link_val, probs))
    if tc_at not in addrs:
        fail("no problem at the tcache with the bad count 0x%x: %s" % (tc_at, probs))
    if "corrupt_top" in truth and int(truth["corrupt_top"], 16) not in addrs:
        fail("no problem at the top chunk with the bad size %s: %s" % (truth["corrupt_top"], probs))
    if doc["summary"]["problems"] != len(doc["problems"]):
        fail("summary.problems %d but %d listed" % (doc["summary"]["problems"], len(doc["problems"])))
    bad_arena = None
    for a in doc["arenas"]:
        base = int(a["address"], 16) & ~((64 << 20) - 1)
        if not a["main"] and base <= size_at < base + (64 << 20):
            bad_arena = a
    if not bad_arena:
        fail("no arena holds the damaged chunk")
    for a in doc["arenas"]:
        if a is not bad_arena and a["unaccounted_bytes"]:
            fail("intact arena %s has %d bytes unaccounted" % (a["address"], a["unaccounted_bytes"]))
        if a["busy"]:
            fail("arena %s reported busy in a process that does not allocate" % a["address"])
if not bad:
    print("checked %d scans: problems at every damaged address, intact arenas exact" % len(sys.argv[3:]))
sys.exit(1 if bad else 0)
PY
figure "$part" "$RUNS"
