# split_threads: with HEAPSCAN_TEST_SPLIT, every heap is walked in two parts
# on two threads and every pass over the chunks cut in two halves, as on a
# big heap (glibc.c walk_all_ranges, par.h); the accounts stay exact against
# the fixtures' truth: arenas (5 arenas, every bin kind, mmapped chunks),
# classes and their types, content clusters, shape clusters.  Each fixture
# is also compared with the usual run: the same JSON but for the timings.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan

same_json() {
	"$PYTHON" - "$1" "$2" <<'PY' || fail "$1 and $2 differ beyond timings"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    for k in [k for k in d["summary"] if k.endswith("_ms")]:
        del d["summary"][k]
sys.exit(a != b)
PY
}

start_fixture arenas
HEAPSCAN_TEST_SPLIT=1 "$HEAPSCAN" --json "$FIXTURE_PID" >split.json 2>err.txt ||
	fail "heapscan --json (split) exited $?: $(cat err.txt)"
check_truth "$READY" split.json
"$HEAPSCAN" --json "$FIXTURE_PID" >plain.json || fail "heapscan --json exited $?"
same_json plain.json split.json
assert_running "$FIXTURE_PID"

for fx in classes strings lists; do
	start_fixture "$fx"
	HEAPSCAN_TEST_SPLIT=1 run_types --vtables "$FIXTURE_PID"
	HEAPSCAN_TEST_SPLIT=1 run_types --json "$FIXTURE_PID"
	check_types vtables.out json.out "$READY"
	mv json.out "$fx.split.json"
	run_types --json "$FIXTURE_PID"
	same_json json.out "$fx.split.json"
	assert_running "$FIXTURE_PID"
done
echo "ok: two threads on small heaps give the exact accounts"
