# snap_roundtrip: a snapshot reads back as the live scan it was taken beside.
# For the classes and strings fixtures (idle: their heap does not change),
# back to back: `--json PID`, `--vtables PID`, the text report, `--snapshot F
# PID` and `--snapshot G --contents PID`; then `--json F` must equal the live
# JSON in everything but the timings of the live copy (summary.pause_ms,
# pause_total_ms, prepare_ms, walk_ms, analyze_ms) - summary, arenas, sizes,
# free_sizes, problems, types, classes all exactly; `--vtables F` is the same
# text; the text report is the same but for its "stopped" line.  G (with
# --contents) reads back the same as F.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/fuzz/snaplib.sh" || exit 1
need_heapscan

# same_json LIVE FILE: equal but for the live copy's timings
same_json() {
	"$PYTHON" - "$1" "$2" <<'PY'
import json, sys
live, snap = (json.load(open(f)) for f in sys.argv[1:3])
timing = ["pause_ms", "pause_total_ms", "prepare_ms", "walk_ms", "analyze_ms"]
for k in timing:
    if k not in live["summary"]:
        print("the live JSON has no summary.%s" % k)
        sys.exit(1)
    live["summary"].pop(k)
    snap["summary"].pop(k, None)
assert live["summary"]["allocator"] == "glibc", "summary.allocator %r" % live["summary"]["allocator"]
# what malloc does not own is measured on the live copy only: a snapshot keeps
# chunks, not the other memory (README, "What heapscan cannot see")
assert snap.get("not_malloc", 0) is None, "a snapshot's not_malloc is not null"
live.pop("not_malloc", None)
snap.pop("not_malloc", None)
bad = 0
for k in sorted(set(live) | set(snap)):
    if k not in snap or k not in live:
        print("%s only in the %s JSON" % (k, "live" if k in live else "snapshot's"))
        bad += 1
    elif k == "summary":
        for f in sorted(set(live[k]) | set(snap[k])):
            if live[k].get(f, "<absent>") != snap[k].get(f, "<absent>"):
                print("summary.%s: live %r, snapshot %r" % (f, live[k].get(f, "<absent>"), snap[k].get(f, "<absent>")))
                bad += 1
    elif live[k] != snap[k]:
        a, b = live[k], snap[k]
        if isinstance(a, list) and isinstance(b, list):
            print("%s: %d entries live, %d in the snapshot" % (k, len(a), len(b)))
            for x, y in zip(a, b):
                if x != y:
                    print("  first difference: live %r, snapshot %r" % (x, y))
                    break
        else:
            print("%s: live %r, snapshot %r" % (k, a, b))
        bad += 1
sys.exit(1 if bad else 0)
PY
}

for fixture in classes strings; do
	start_fixture "$fixture"
	pid=$FIXTURE_PID
	"$HEAPSCAN" --json "$pid" >"$fixture.live.json" 2>err.txt || fail "$fixture: --json $pid exited $?: $(cat err.txt)"
	"$HEAPSCAN" --snapshot "$fixture.snap" "$pid" 2>err.txt || fail "$fixture: --snapshot exited $?: $(cat err.txt)"
	"$HEAPSCAN" --snapshot "$fixture.c.snap" --contents "$pid" 2>err.txt ||
		fail "$fixture: --snapshot --contents exited $?: $(cat err.txt)"
	"$HEAPSCAN" --vtables "$pid" >"$fixture.live.vt" 2>err.txt || fail "$fixture: --vtables $pid exited $?"
	"$HEAPSCAN" "$pid" >"$fixture.live.txt" 2>err.txt || fail "$fixture: heapscan $pid exited $?"
	assert_running "$pid"

	for snap in "$fixture.snap" "$fixture.c.snap"; do
		"$HEAPSCAN" --json "$snap" >"$snap.json" 2>err.txt || fail "--json $snap exited $?: $(cat err.txt)"
		[ -s err.txt ] && fail "--json $snap printed on stderr: $(cat err.txt)"
		same_json "$fixture.live.json" "$snap.json" ||
			fail "$fixture: --json of $snap differs from the live scan's (above)"
		"$HEAPSCAN" --vtables "$snap" >"$snap.vt" 2>err.txt || fail "--vtables $snap exited $?"
		diff -u "$fixture.live.vt" "$snap.vt" || fail "$fixture: --vtables of $snap differs from the live scan's"
		"$HEAPSCAN" "$snap" >"$snap.txt" 2>err.txt || fail "heapscan $snap exited $?"
		diff -u <(grep -v -e stopped -e "not malloc's: " -e "heapscan sees glibc" "$fixture.live.txt" | cat -s) <(grep -v stopped "$snap.txt" | cat -s) ||
			fail "$fixture: the text report of $snap differs from the live scan's beyond the 'stopped' line"
		[ "$(grep -c stopped "$snap.txt")" = 1 ] || fail "$fixture: the text report of $snap has no 'stopped' line"
		echo "ok: $fixture: $snap reads back as the live scan (--json, --vtables, text)"
	done
	stop_fixture "$pid"
done
