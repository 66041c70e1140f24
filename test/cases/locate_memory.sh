# locate_memory: malloc's state found in memory alone (--locate=memory) is
# the state libc's code gives (--locate=code), on several fixtures: arenas
# (five arenas, every bin kind, mmapped chunks), lists, leaks, classes and
# churn (threads coming and going; frozen with SIGSTOP so both scans see one
# heap).  For each: the same main_arena, mp_ and tcache offset, and the JSON
# and text reports identical but for the live copy's timings and the "found
# by" line.  Again with no version string readable (HEAPSCAN_TEST_LOCATE_BLIND):
# the same findings and reports, the version inferred as a range holding the
# real one.  The arenas fixture's truth holds on the memory way's JSON.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan

# compare CODE.json MEMORY.json BLIND(0|1): the findings and the reports agree
compare() {
	"$PYTHON" - "$@" <<'PY'
import json, sys
code, mem = (json.load(open(f)) for f in sys.argv[1:3])
blind = sys.argv[3] == "1"
cs, ms = code["summary"], mem["summary"]
bad = []
if cs["found_by"] != "libc code" or ms["found_by"] != "memory":
    bad.append("found_by: code %r, memory %r" % (cs["found_by"], ms["found_by"]))
for k in ("main_arena", "mp", "tcache_tpoff"):
    if cs[k] is None or cs[k] != ms[k]:
        bad.append("%s: code %r, memory %r" % (k, cs[k], ms[k]))
if blind:
    lo, hi = (int(x.split(".")[1]) for x in (ms["glibc"].split("-") * 2)[:2])
    real = int(cs["glibc"].split(".")[1])
    if not ms["glibc_inferred"] or not lo <= real <= hi:
        bad.append("inferred glibc %r (inferred=%r) does not hold %r" % (ms["glibc"], ms["glibc_inferred"], cs["glibc"]))
elif ms["glibc_inferred"] or ms["glibc"] != cs["glibc"]:
    bad.append("glibc: code %r, memory %r inferred=%r" % (cs["glibc"], ms["glibc"], ms["glibc_inferred"]))
drop = ["pause_ms", "pause_total_ms", "prepare_ms", "walk_ms", "analyze_ms", "found_by",
        "glibc_inferred", "glibc"]
for k in drop:
    cs.pop(k, None); ms.pop(k, None)
for k in sorted(set(code) | set(mem)):
    if code.get(k) != mem.get(k):
        bad.append("%s differs" % k)
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
}

# scan_pair NAME PID: both ways, JSON and text; 0 when they agree
scan_pair() {
	local name=$1 pid=$2 m
	for m in code memory; do
		"$HEAPSCAN" --locate=$m --json "$pid" >"$name.$m.json" 2>"$name.$m.err" ||
			{ echo "$name: --locate=$m --json exited $?: $(cat "$name.$m.err")"; return 1; }
		"$HEAPSCAN" --locate=$m "$pid" >"$name.$m.txt" 2>>"$name.$m.err" ||
			{ echo "$name: --locate=$m exited $?: $(cat "$name.$m.err")"; return 1; }
	done
	HEAPSCAN_TEST_LOCATE_BLIND=1 "$HEAPSCAN" --locate=memory --json "$pid" >"$name.blind.json" \
		2>"$name.blind.err" || { echo "$name: blind memory scan exited $?: $(cat "$name.blind.err")"; return 1; }
	compare "$name.code.json" "$name.memory.json" 0 || { echo "$name: code and memory disagree"; return 1; }
	compare "$name.code.json" "$name.blind.json" 1 || { echo "$name: code and blind memory disagree"; return 1; }
	grep -v "^  glibc .*stopped \|^  malloc's state found by: " "$name.code.txt" >"$name.code.cut"
	grep -v "^  glibc .*stopped \|^  malloc's state found by: " "$name.memory.txt" >"$name.memory.cut"
	diff "$name.code.cut" "$name.memory.cut" >/dev/null || { echo "$name: text reports differ"; diff "$name.code.cut" "$name.memory.cut" | head; return 1; }
	grep -qx "  malloc's state found by: libc code" "$name.code.txt" || { echo "$name: no 'found by: libc code' line"; return 1; }
	grep -qx "  malloc's state found by: memory" "$name.memory.txt" || { echo "$name: no 'found by: memory' line"; return 1; }
	return 0
}

for fixture in arenas lists leaks classes; do
	start_fixture "$fixture"
	scan_pair "$fixture" "$FIXTURE_PID" || fail "$fixture"
	assert_running "$FIXTURE_PID"
	[ "$fixture" = arenas ] && check_truth "$READY" arenas.memory.json
	stop_fixture "$FIXTURE_PID"
	echo "ok: $fixture"
done

# churn: frozen, so both ways see the same heap.  Stopped inside malloc, a
# thread may hold a list half-updated; thaw and try again then (a few times).
start_fixture churn
pid=$FIXTURE_PID
for try in 1 2 3 4 5 6 7 8; do
	kill -STOP "$pid"
	wait_state "$pid" T 10 || fail "churn did not stop"
	if scan_pair churn "$pid" >churn.why; then
		ok=1
	else
		ok=0
		cat churn.why
	fi
	kill -CONT "$pid"
	[ "$ok" = 1 ] && break
	sleep 0.2
done
[ "$ok" = 1 ] || fail "churn: the two ways never agreed in $try tries"
echo "ok: churn (try $try), $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["arenas"])' churn.memory.json) arenas"
assert_running "$pid"
echo "ok: the memory way finds what libc's code finds, on 5 fixtures"
