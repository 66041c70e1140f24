# unseen: what heapscan cannot see is said, in the text report and the JSON.
#  - fixtures/pools maps two pools of its own (5 + 3 MiB) beside malloc's
#    heap: not_malloc is exactly {bytes 8388608, mappings 2, hint null}, and
#    the text says "8.0 MiB of anonymous memory in 2 mappings holds no malloc
#    chunk";
#  - a fixture with no such memory (classes, four threads, its stacks are
#    anonymous mappings too) has 0 and no such line;
#  - a CPython process holding a million strings: most of its anonymous
#    memory is pymalloc's, and the hint names it;
#  - read from a snapshot, not_malloc is null (a snapshot keeps chunks only).
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan

field() { # field JSON EXPR: a Python expression over d = the JSON
	"$PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

start_fixture pools
read -r _ want_bytes want_maps < <(grep '^not_malloc ' "$READY")
"$HEAPSCAN" --json "$FIXTURE_PID" >pools.json || fail "--json exited $?"
got="$(field pools.json 'd["not_malloc"]["bytes"], d["not_malloc"]["mappings"], d["not_malloc"]["hint"]')"
[ "$got" = "($want_bytes, $want_maps, None)" ] || fail "pools: not_malloc $got, want ($want_bytes, $want_maps, None)"
"$HEAPSCAN" "$FIXTURE_PID" >pools.txt || fail "heapscan exited $?"
grep -qx "  not malloc's: 8.0 MiB of anonymous memory in 2 mappings holds no malloc chunk" pools.txt ||
	fail "pools: the text does not say it: $(grep -A1 "not malloc" pools.txt)"
"$HEAPSCAN" --snapshot pools.snap "$FIXTURE_PID" 2>/dev/null || fail "--snapshot exited $?"
"$HEAPSCAN" --json pools.snap >snap.json || fail "--json pools.snap exited $?"
[ "$(field snap.json 'd["not_malloc"]')" = None ] || fail "a snapshot's not_malloc is not null"
"$HEAPSCAN" pools.snap | grep -q "not malloc's" && fail "a snapshot's report claims to know what malloc does not own"
echo "ok: pools: $got"

start_fixture classes
"$HEAPSCAN" --json "$FIXTURE_PID" >classes.json || fail "--json exited $?"
got="$(field classes.json 'd["not_malloc"]["bytes"], d["not_malloc"]["mappings"]')"
[ "$got" = "(0, 0)" ] || fail "classes (4 threads, nothing of its own): not_malloc $got, want (0, 0)"
"$HEAPSCAN" "$FIXTURE_PID" | grep -q "not malloc's" && fail "classes: a 'not malloc's' line for nothing"
echo "ok: classes: nothing unseen"

command -v "$PYTHON" >/dev/null || skip "no $PYTHON for the CPython case"
"$PYTHON" -c '
import signal, sys, os
x = [str(i) * 3 for i in range(1000000)]
open(sys.argv[1] + ".tmp", "w").close(); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
signal.pause()' "$PWD/py.ready" &
py=$!
echo "$py" >>.fixture_pids
trap 'kill "$py" 2>/dev/null; _lib_cleanup' EXIT
wait_for "$HANG" test -e py.ready || fail "python did not get ready"
"$HEAPSCAN" --json "$py" >py.json || fail "--json python exited $?"
echo "python: $(field py.json 'd["not_malloc"]'), in use $(field py.json 'd["summary"]["in_use_bytes"]')"
[ "$(field py.json 'd["not_malloc"]["hint"]')" = "CPython's pymalloc arenas and objects" ] ||
	fail "python: no CPython hint"
[ "$(field py.json 'd["not_malloc"]["bytes"] > 8 * d["summary"]["in_use_bytes"]')" = True ] ||
	fail "python: a million strings should be mostly pymalloc's"
"$HEAPSCAN" "$py" | grep -q "not malloc's: .* (CPython's pymalloc arenas and objects?)" ||
	fail "python: the text report has no hint"
echo "ok: what heapscan cannot see is said"
