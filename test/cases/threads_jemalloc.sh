# threads_jemalloc: with jemalloc preloaded heapscan has no malloc model,
# but --threads needs none: exit 0, and every thread's chain of fixture
# functions is there, in order.  Skips without package libjemalloc2.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
lib=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
[ -e "$lib" ] || skip "$lib not found (apt-get install libjemalloc2)"

LD_PRELOAD=$lib start_fixture stacks
grep -q libjemalloc "/proc/$FIXTURE_PID/maps" || fail "libjemalloc is not mapped in the fixture"

"$HEAPSCAN" --threads --json "$FIXTURE_PID" >out.json 2>err.txt
rc=$?
cat err.txt
[ "$rc" = 0 ] || fail "heapscan --threads --json exited $rc under jemalloc"

"$PYTHON" - "$READY" out.json <<'PY' || fail "backtraces differ from the truth in $READY"
import json, re, sys
want = {int(f[1]): f[3:] for f in (l.split() for l in open(sys.argv[1])) if f[0] == "thread"}
ours = set(n for c in want.values() for n in c)
got = {t["tid"]: t for t in json.load(open(sys.argv[2]))["threads"]}
bad = [] if sorted(got) == sorted(want) else ["threads %s, truth %s" % (sorted(got), sorted(want))]
for tid, chain in want.items():
    names = [re.sub(r"\+0x[0-9a-f]+$", "", f["function"] or "?") for f in got.get(tid, {"frames": []})["frames"]]
    if [n for n in names if n in ours] != chain:
        bad.append("tid %d: %s, truth %s" % (tid, names, chain))
for b in bad:
    print("MISMATCH:", b)
sys.exit(1 if bad else 0)
PY
assert_running "$FIXTURE_PID"
echo "ok: backtraces under jemalloc"
