# py_retain: --retained, --leaks, --why, --referrers and --pprof follow Python
# objects (fixtures/py_retain.py) as they follow glibc chunks.  Holders each
# keep a list of Leafs (each with a float) and a tag; Cycles point only to
# themselves with the collector off.  What the test holds heapscan to, per
# CPython 3.8-3.13 found (Debian's python3.11 must be there):
#   - every Leaf retains itself and its float (48 + 32 bytes): __main__.Leaf's
#     retained chunks by type are 2 per Leaf, less at most 20 that a stale
#     word pins (one float was, on 3.8), and its bytes at most 80 per Leaf;
#   - __main__.Holder's retained bytes and chunks are at most the truth the
#     script computed from sys.getsizeof, and at least 95% of it (seen: exact
#     on 3.11-3.13 in most runs, 99.4% in one 3.13 run, 99.3-99.6% on
#     3.8-3.10): stale words the interpreter keeps are roots or edges to
#     lists and leaves, as any stale word is to conservative marking;
#     heapscan cuts those it can tell (README, "Python in detail"), the rest
#     pin what they point to;
#   - the Cycles are leaked, direct or indirect, all but at most 10;
#   - --why of a Leaf (its id(), or an address inside its block) ends at the
#     Leaf's block, shown at the object's address, held by a list's items;
#     --referrers of it names the [list items] block;
#   - --pprof's profile names __main__.Holder;
#   - a gcore of the stopped process gives the live retained bytes by type.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan

pythons=()
[ -x /usr/bin/python3.11 ] || skip "no /usr/bin/python3.11 (apt-get install python3)"
pythons+=(/usr/bin/python3.11)
for v in 8 9 10 11 12 13; do
	for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3."$v".*/bin/python3."$v"; do
		[ -x "$p" ] && pythons+=("$p")
	done
done

check_one() {
	local py=$1 tag=$2 leaf holder
	start_py_fixture "$py" py_retain.py
	"$HEAPSCAN" --retained --json "$FIXTURE_PID" >"$tag.json" 2>"$tag.err" ||
		fail "$py: --retained --json exited $?: $(cat "$tag.err")"
	"$HEAPSCAN" --leaks --json "$FIXTURE_PID" >"$tag.leaks" 2>>"$tag.err" ||
		fail "$py: --leaks --json exited $?"
	"$PYTHON" - "$READY" "$tag.json" "$tag.leaks" <<'PY' || fail "$py: retained or leaked Python objects differ from the truth in $READY"
import json, sys
truth = {}
for line in open(sys.argv[1]):
    f = line.split()
    truth[(f[0], f[1])] = f[2:]
ret = {t["name"]: t for t in json.load(open(sys.argv[2]))["retained_by_type"]}
leaks = {t["name"]: t for t in json.load(open(sys.argv[3]))["leaks"]}
tb, tc = map(int, truth[("retained", "__main__.Holder")])
h, l = ret.get("__main__.Holder"), ret.get("__main__.Leaf")
ok = True
print("Holder: truth %d bytes %d chunks, got %s" % (tb, tc, h))
minor = int(open(sys.argv[1]).readline().split(".")[1])
low = 0.95
if not h or not (low * tb <= h["bytes"] <= tb and low * tc <= h["chunks"] <= tc):
    ok = False
# each Leaf: itself (sizeof rounded to 16) and its float (24 -> 32)
nleaf = tc - 4 * 300
nleaf //= 2
print("Leaf: %d leaves, got %s" % (nleaf, l))
if not l or not (2 * nleaf - 20 <= l["chunks"] <= 2 * nleaf) or l["bytes"] > 80 * nleaf:
    ok = False
n = int(truth[("leaked", "__main__.Cycle")][0])
c = leaks.get("__main__.Cycle")
print("Cycle: %d made, got %s" % (n, c))
if not c or not (n - 10 <= c["direct"] + c["indirect"] <= n):
    ok = False
sys.exit(not ok)
PY
	leaf=$(sed -n 's/^leaf //p' "$READY")
	holder=$(sed -n 's/^holder //p' "$READY")
	"$HEAPSCAN" --why "$leaf" "$FIXTURE_PID" >"$tag.why" 2>>"$tag.err" || fail "$py: --why $leaf exited $?"
	cat "$tag.why"
	tail -n 1 "$tag.why" | grep -q "^  -> block $leaf (__main__\.Leaf, [0-9]* B)$" ||
		fail "$py: --why does not end at the Leaf's block $leaf"
	grep -q "^  -> block 0x[0-9a-f]* (\[list items\], [0-9]* B) +0x[0-9a-f]*$" "$tag.why" ||
		fail "$py: --why shows no list item array before the Leaf"
	"$HEAPSCAN" --why "$(printf '%#x' $((leaf + 8)))" "$FIXTURE_PID" >"$tag.why8" 2>>"$tag.err" ||
		fail "$py: --why inside the Leaf's block exited $?"
	cmp -s "$tag.why" "$tag.why8" || fail "$py: --why of an address inside the Leaf differs"
	"$HEAPSCAN" --referrers "$leaf" "$FIXTURE_PID" >"$tag.refs" 2>>"$tag.err" ||
		fail "$py: --referrers exited $?"
	grep -q "^referrers of block $leaf (__main__\.Leaf" "$tag.refs" || fail "$py: --referrers: $(head -n 1 "$tag.refs")"
	grep -q "^  block 0x[0-9a-f]* (\[list items\], " "$tag.refs" || fail "$py: --referrers names no list items"
	"$HEAPSCAN" --referrers "$holder" "$FIXTURE_PID" >"$tag.hrefs" 2>>"$tag.err" ||
		fail "$py: --referrers of a Holder exited $?"
	"$HEAPSCAN" --pprof "$tag.pb.gz" "$FIXTURE_PID" 2>>"$tag.err" || fail "$py: --pprof exited $?"
	gzip -dc "$tag.pb.gz" | grep -aq "__main__\.Holder" || fail "$py: the profile does not name __main__.Holder"
	if [ "$tag" = py0 ]; then # a core of it, taken stopped: the same retained bytes by type
		kill -STOP "$FIXTURE_PID"
		"$HEAPSCAN" --retained --json "$FIXTURE_PID" >stopped.json 2>>"$tag.err" || fail "--retained (stopped) failed"
		take_gcore "$FIXTURE_PID" py.core
		kill -CONT "$FIXTURE_PID"
		"$HEAPSCAN" --retained --json py.core >core.json 2>>"$tag.err" || fail "--retained of the core failed"
		"$PYTHON" - stopped.json core.json <<'PY' || fail "$py: the core's retained bytes by type differ from the live ones"
import json, sys
a, b = ({t["name"]: (t["bytes"], t["chunks"]) for t in json.load(open(f))["retained_by_type"]} for f in sys.argv[1:])
sys.exit(not (a.get("__main__.Holder") and a == b))
PY
		rm -f py.core
	fi
	assert_running "$FIXTURE_PID"
	stop_fixture "$FIXTURE_PID"
	echo "ok: $py ($(head -n 1 "$READY"))"
}

n=0
for py in "${pythons[@]}"; do
	check_one "$py" "py$n"
	n=$((n + 1))
done
