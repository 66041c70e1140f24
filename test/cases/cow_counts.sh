# cow_counts: --cow gives the same account as the plain scan: the arenas
# fixture's exact truth with --json, the same --vtables lines on the classes
# fixture, a snapshot that reads back; the fork is gone afterwards (the
# target has no child and no zombie) and the target runs on.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan

# no_children PID: no thread of PID has a child (a zombie is a child too)
no_children() {
	local kids
	kids=$(cat /proc/"$1"/task/*/children 2>/dev/null | tr -s ' \n' ' ')
	[ -z "${kids// /}" ] || fail "pid $1 has children after --cow: $kids"
}

start_fixture arenas
arenas=$FIXTURE_PID
arenas_ready=$READY
for round in 1 2 3; do
	"$HEAPSCAN" --cow --json "$arenas" >cow.$round.json 2>err.txt
	rc=$?
	cat err.txt
	[ "$rc" = 0 ] || fail "heapscan --cow --json exited $rc"
	grep -q -- '--cow' err.txt && fail "--cow fell back: $(cat err.txt)"
	check_truth "$arenas_ready" cow.$round.json
	no_children "$arenas"
done
"$HEAPSCAN" --json "$arenas" >plain.json 2>err.txt || fail "plain heapscan --json failed: $(cat err.txt)"
check_truth "$arenas_ready" plain.json
"$PYTHON" - cow.1.json plain.json <<'PY' || fail "--cow and plain summaries differ"
import json, sys
a, b = (json.load(open(f))["summary"] for f in sys.argv[1:3])
keys = [k for k in a if k.endswith("_chunks") or k.endswith("_bytes") or k in ("threads", "arenas", "tcaches", "problems")]
bad = [(k, a[k], b.get(k)) for k in keys if a[k] != b.get(k)]
for k, x, y in bad:
    print("%s: --cow %s, plain %s" % (k, x, y))
sys.exit(1 if bad else 0)
PY
"$HEAPSCAN" --cow "$arenas" >text.out 2>err.txt || fail "heapscan --cow (text) failed: $(cat err.txt)"
grep -qw "$arenas" text.out || fail "text report does not mention pid $arenas"
"$HEAPSCAN" --cow --snapshot a.snap "$arenas" 2>err.txt || fail "heapscan --cow --snapshot failed: $(cat err.txt)"
"$HEAPSCAN" --json a.snap >snap.json 2>err.txt || fail "reading the --cow snapshot failed: $(cat err.txt)"
check_truth "$arenas_ready" snap.json
no_children "$arenas"
assert_running "$arenas"

if [ -x "$FIXTURES/classes" ]; then
	start_fixture classes
	"$HEAPSCAN" --vtables "$FIXTURE_PID" >plain.vt 2>/dev/null || fail "plain --vtables failed"
	"$HEAPSCAN" --cow --vtables "$FIXTURE_PID" >cow.vt 2>err.txt || fail "--cow --vtables failed: $(cat err.txt)"
	diff plain.vt cow.vt || fail "--cow --vtables differs from plain --vtables"
	no_children "$FIXTURE_PID"
	assert_running "$FIXTURE_PID"
fi
echo "ok: --cow matches the truth and the plain scan; no child left; target running"
