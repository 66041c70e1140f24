# threads_fixture: heapscan --threads on the stacks fixture names each
# thread's fixture functions in the order the truth gives (innermost first,
# nothing missing or extra between them), in the text and the JSON output:
# the static functions too (.symtab only); frame 0 is in libc (every thread
# is in a syscall); stack pointers grow.  Afterwards the target runs and is
# traced by nobody.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture stacks
cat "$READY"

"$HEAPSCAN" --threads --json "$FIXTURE_PID" >out.json 2>err.txt
rc=$?
cat err.txt
[ "$rc" = 0 ] || fail "heapscan --threads --json exited $rc"
"$HEAPSCAN" --threads "$FIXTURE_PID" >out.txt 2>err.txt
rc=$?
cat out.txt err.txt
[ "$rc" = 0 ] || fail "heapscan --threads exited $rc"

"$PYTHON" - "$READY" out.json out.txt "$FIXTURES/stacks" <<'PY' || fail "backtraces differ from the truth in $READY"
import json, re, sys
truth, js, txt, exe = sys.argv[1:]
want = {}
for line in open(truth):
    f = line.split()
    if f[0] == "thread":
        want[int(f[1])] = (f[2], f[3:])
ours = set(n for _, n in want.values() for n in n)
doc = json.load(open(js))
bad = []
got = {t["tid"]: t for t in doc["threads"]}
if sorted(got) != sorted(want):
    bad.append("threads %s, truth %s" % (sorted(got), sorted(want)))
for tid, (comm, chain) in want.items():
    t = got.get(tid)
    if not t:
        continue
    names = [re.sub(r"\+0x[0-9a-f]+$", "", f["function"] or "?") for f in t["frames"]]
    mine = [n for n in names if n in ours]
    if mine != chain:
        bad.append("tid %d: fixture frames %s, truth %s (all: %s)" % (tid, mine, chain, names))
    if t["comm"] != comm:
        bad.append("tid %d: comm %r, truth %r" % (tid, t["comm"], comm))
    fr = t["frames"]
    if not fr or "libc.so" not in (fr[0]["module"] or ""):
        bad.append("tid %d: frame 0 not in libc: %s" % (tid, fr[:1]))
    sps = [int(f["sp"], 16) for f in fr]
    if sps != sorted(sps):
        bad.append("tid %d: stack pointers do not grow: %s" % (tid, [hex(s) for s in sps]))
    for f in fr:
        if f["function"] in ours and f["module"] != exe:
            bad.append("tid %d: %s in module %s" % (tid, f["function"], f["module"]))
# The text output: each thread's header, then its chain in order.
text = open(txt).read()
blocks = re.split(r"\n(?=thread \d+ )", text)
for tid, (comm, chain) in want.items():
    b = [b for b in blocks if b.startswith("thread %d (%s): " % (tid, comm))]
    if len(b) != 1:
        bad.append("text: no single block for thread %d (%s)" % (tid, comm))
        continue
    seen = [m for m in re.findall(r"^  #\d+ +0x[0-9a-f]+  (\S+?)\+0x", b[0], re.M) if m in ours]
    if seen != chain:
        bad.append("text: tid %d: %s, truth %s" % (tid, seen, chain))
for b in bad:
    print("MISMATCH:", b)
sys.exit(1 if bad else 0)
PY
grep -q '^TracerPid:[[:space:]]*0$' "/proc/$FIXTURE_PID/status" || fail "target still traced: $(grep TracerPid "/proc/$FIXTURE_PID/status")"
assert_running "$FIXTURE_PID"
echo "ok: every thread's chain as the truth says, target running and untraced"
