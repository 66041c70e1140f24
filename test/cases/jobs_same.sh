# jobs_same: --jobs 1, 2 and 7 give the same output, byte for byte but for
# the timings, on the fixtures (text, --json, --vtables, --types, --leaks,
# --retained): every pass cut in parts (HEAPSCAN_TEST_SPLIT makes the small
# heaps split as big ones do) merges them in address order; CPython's pools
# too.  And the counts
# stay the fixtures' truth with 7 parts.  The target runs on.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan

# the output without its timings: "_ms" keys of JSON, "N ms" of text
untimed() {
	"$PYTHON" - "$1" <<'PY'
import json, re, sys
t = open(sys.argv[1]).read()
def drop(v):
    if isinstance(v, dict):
        return {k: drop(x) for k, x in v.items() if not k.endswith("_ms")}
    if isinstance(v, list):
        return [drop(x) for x in v]
    return v
try:
    print(json.dumps(drop(json.loads(t)), indent=1, sort_keys=False))
except ValueError:
    print(re.sub(r"[0-9.]+ ms", "N ms", t), end="")
PY
}

# same_for_jobs TAG OPTIONS...: heapscan OPTIONS with --jobs 1, 2 and 7
same_for_jobs() {
	local tag=$1 j
	shift
	for j in 1 2 7; do
		HEAPSCAN_TEST_SPLIT=1 "$HEAPSCAN" --jobs "$j" "$@" >"$tag.$j.raw" 2>"$tag.$j.err" ||
			fail "heapscan --jobs $j $*: exit $?: $(cat "$tag.$j.err")"
		untimed "$tag.$j.raw" >"$tag.$j"
	done
	[ -s "$tag.1" ] || fail "heapscan $*: no output"
	for j in 2 7; do
		cmp -s "$tag.1" "$tag.$j" || {
			diff "$tag.1" "$tag.$j" | head -20
			fail "heapscan $* differs between --jobs 1 and --jobs $j"
		}
	done
}

start_fixture arenas
same_for_jobs arenas.text "$FIXTURE_PID"
same_for_jobs arenas.json --json "$FIXTURE_PID"
check_truth "$READY" arenas.json.7.raw
assert_running "$FIXTURE_PID"

for fx in classes strings lists; do
	start_fixture "$fx"
	same_for_jobs "$fx.text" --top 1000 "$FIXTURE_PID"
	same_for_jobs "$fx.json" --json --top 1000 "$FIXTURE_PID"
	if [ "$fx" = classes ]; then # the others hold no C++ objects
		same_for_jobs "$fx.vtables" --vtables "$FIXTURE_PID"
		same_for_jobs "$fx.types" --types "$FIXTURE_PID"
		check_types "$fx.vtables.7.raw" "$fx.json.7.raw" "$READY"
	fi
	if [ "$fx" = strings ]; then
		# the walk itself was cut in --jobs parts, inside a heap too
		# (glibc.c walk_all_ranges; cuts that fall together make fewer
		# parts).  On one big heap, not arenas' five small ones: there a
		# cut near a heap's start or end moves to it (place_cut's snap),
		# and where it falls depends on the threads' timing.
		for j in 2 7; do
			HEAPSCAN_TEST_SPLIT=1 HEAPSCAN_TEST_WALK_STATS=1 "$HEAPSCAN" --jobs "$j" --json \
				--top 1000 "$FIXTURE_PID" >walk.$j.json 2>walk.$j.err ||
				fail "heapscan --jobs $j: exit $?: $(cat walk.$j.err)"
			read -r parts inside < <(sed -n 's/^heapscan: test: walk in \([0-9]*\) parts, \([0-9]*\) cut inside a heap.*/\1 \2/p' walk.$j.err)
			[ "${parts:-0}" -ge $((j < 4 ? j : 4)) ] && [ "${inside:-0}" -ge 1 ] ||
				fail "--jobs $j: the walk was not cut in parts inside a heap: $(cat walk.$j.err)"
			untimed walk.$j.json | cmp -s - "$fx.json.1" ||
				fail "--jobs $j: the walk's stats changed the output"
		done
	fi
	assert_running "$FIXTURE_PID"
done

# memory malloc does not own, measured over the chunks in parts
start_fixture pools
same_for_jobs pools.json --json "$FIXTURE_PID"
grep -q '"not_malloc": *{"bytes": *8388608' pools.json.7.raw || fail "pools: not_malloc is not 8 MiB with 7 jobs"
assert_running "$FIXTURE_PID"

start_fixture leaks
same_for_jobs leaks.text --leaks --top 1000 "$FIXTURE_PID"
same_for_jobs leaks.json --leaks --json --top 1000 "$FIXTURE_PID"
same_for_jobs leaks.retained --retained --top 1000 "$FIXTURE_PID"
assert_running "$FIXTURE_PID"

start_fixture retain
same_for_jobs retain.json --retained --json --top 100000 "$FIXTURE_PID"
same_for_jobs retain.text --retained --top 1000 "$FIXTURE_PID"
same_for_jobs retain.leaks --leaks --json "$FIXTURE_PID"
assert_running "$FIXTURE_PID"
# CPython's pools, cut in parts as the chunks are
if [ -x /usr/bin/python3.11 ]; then
	start_py_fixture /usr/bin/python3.11 py_classes.py
	same_for_jobs py.types --types "$FIXTURE_PID"
	same_for_jobs py.json --json --top 1000 "$FIXTURE_PID"
	"$PYTHON" "$TOP/test/check_py.py" "$READY" py.types.7.raw py.json.7.raw ||
		fail "--jobs 7: the Python types differ from the truth in $READY"
	assert_running "$FIXTURE_PID"
fi
echo "ok: --jobs 1, 2 and 7 give the same results"
