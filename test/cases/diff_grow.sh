# diff_grow: snapshots of the grow fixture before and after it allocates and
# frees known numbers of objects and strings.  --diff A B --json: per class and
# for the content cluster, the counts, deltas, new and freed chunks are what
# the fixture did (test/check_diff.py) - leaked chunks too, from the
# reachability each snapshot stores - the one-off bump of grow::Bump ranks
# first by bytes; --diff A B C: counts over the series, and the steadily
# growing grow::Steady<&grow::knob> ranks first although Bump grew more bytes;
# the text report names them within 100 columns; --svg writes an SVG that
# parses as XML and names the top growing types (the name holds & < >).
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
STEADY='grow::Steady<&grow::knob>'
BUMP='grow::Bump'
LEAK='"grow leaks <this> & \"that\""'

start_fixture grow

# snap NAME: a snapshot of the fixture, and its truth as it was then.
snap() {
	"$HEAPSCAN" --snapshot "$1.snap" "$FIXTURE_PID" 2>"$1.err" || {
		cat "$1.err" >&2
		fail "heapscan --snapshot $1.snap exited $?"
	}
	cp "$READY" "$1.truth"
}

# next_gen N: SIGUSR2, then wait until the truth says "gen N".
next_gen() {
	local i
	kill -USR2 "$FIXTURE_PID" || fail "cannot signal the fixture"
	for ((i = 0; i < HANG * 100; i++)); do
		[ "$(head -n 1 "$READY")" = "gen $1" ] && return 0
		sleep 0.01
	done
	fail "the fixture did not reach generation $1 within $HANG s (truth: $(head -n 1 "$READY"))"
}

# diff OUT ARGS...: heapscan --diff ARGS > OUT, which must exit 0.
diff_ok() {
	local out=$1 rc
	shift
	"$HEAPSCAN" --diff "$@" >"$out" 2>"$out.err"
	rc=$?
	cat "$out.err" >&2
	[ "$rc" = 0 ] || fail "heapscan --diff $* exited $rc"
}

snap a
next_gen 1
snap b
assert_running "$FIXTURE_PID"

diff_ok ab.json --json a.snap b.snap
"$PYTHON" "$TOP/test/check_diff.py" --first "$BUMP" ab.json a.truth b.truth ||
	fail "--diff a.snap b.snap --json differs from the fixture's truth"

diff_ok ab.txt a.snap b.snap
cat ab.txt
for name in "$STEADY" "$BUMP" grow::Victim "$LEAK"; do
	# text output doubles every backslash (so no text passes for an escape)
	grep -qF -- "${name//\\/\\\\}" ab.txt || fail "the text diff does not name $name"
done
grep -q 'growing content clusters' ab.txt || fail "the text diff lists no growing content cluster"
# Rows end in the type name, which may be long; what comes before fits 100 columns,
# and so do the totals and headers (the command line and paths may not).
for f in ab.txt; do
	awk -v s="$STEADY" 'index($0, s) && length($0) - length(s) > 100 { bad = 1 } END { exit bad }' "$f" ||
		fail "a row of $f is wider than 100 columns before the type name"
	awk '/^  (in use:|A -> B:|kind |  +\+chunks)/ && length($0) > 100 { bad = 1 } END { exit bad }' "$f" ||
		fail "a fixed-format line of $f (totals, headers) is wider than 100 columns"
done
diff_ok top1.txt --top 1 a.snap b.snap
sed '/^  leaked:/,$d' top1.txt | grep -qF -- "$STEADY" && fail "--top 1 shows a second type"
# the leaks section: Steady leaks most (Bump grew more, but is kept)
sed -n '/^  leaked:/,$p' top1.txt | sed -n 2p | grep -qF -- "+50 leaked  class   $STEADY" ||
	fail "--diff does not rank grow::Steady first among growing leaks"
sed -n '/^  leaked:/,$p' top1.txt | grep -qF 'grow::Bump' && fail "--diff says the kept Bumps leak"

next_gen 2
snap c
diff_ok abc.json --json --svg chart.svg a.snap b.snap c.snap
"$PYTHON" "$TOP/test/check_diff.py" --first "$STEADY" abc.json a.truth b.truth c.truth ||
	fail "--diff a.snap b.snap c.snap --json differs from the fixture's truth"
[ -e chart.svg ] || fail "--svg chart.svg wrote no file"
ls -a | grep -q '^\.chart\.svg\.' && fail "a temporary file of the chart is left behind"
"$PYTHON" - chart.svg "$STEADY" "$BUMP" "$LEAK" <<'EOF' || fail "chart.svg is not the chart wanted"
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
if root.tag != "{http://www.w3.org/2000/svg}svg":
    sys.exit("root element is %s, not svg" % root.tag)
text = "\n".join("".join(e.itertext()) for e in root.iter("{http://www.w3.org/2000/svg}text"))
for name in sys.argv[2:]:
    if name not in text:
        sys.exit("no text element names %s" % name)
for e in root.iter():
    for k, v in e.attrib.items():
        if k.endswith("href") or "javascript" in v:
            sys.exit("an external reference or script: %s=%s" % (k, v))
    if e.tag.endswith("script"):
        sys.exit("a script element")
if len(list(root.iter("{http://www.w3.org/2000/svg}polyline"))) != 3:
    sys.exit("want 3 lines (Steady, Bump, the strings)")
EOF

# The chart's time axis and scales: the same snapshots stamped 0, 10 and 100 s
# apart (META's time, after its version string), so the x positions must be
# spaced 1:9 and labelled "0 s", "10 s", "100 s"; each type in a panel of its
# own (no line can hide another) with its own scale, so every line spans its
# panel's height however small its change; colours differ, markers too.
t0=1700000000
for x in a:0 b:10 c:100; do
	cp "${x%%:*}.snap" "t${x%%:*}.snap"
	"$PYTHON" "$TOP/test/fuzz/snaptool.py" setvar "t${x%%:*}.snap" META s $((t0 + ${x#*:})) >/dev/null ||
		fail "cannot stamp t${x%%:*}.snap"
done
diff_ok timed.txt --svg timed.svg ta.snap tb.snap tc.snap
"$PYTHON" - timed.svg chart.svg <<'EOF' || fail "timed.svg: the time axis or the scales are wrong"
import re, sys
import xml.etree.ElementTree as ET
NS = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
texts = ["".join(e.itertext()) for e in root.iter(NS + "text")]
for label in ("0 s", "10 s", "100 s", "time since the first snapshot"):
    assert any(t.startswith(label) for t in texts), "no x label %r" % label
lines = list(root.iter(NS + "polyline"))
colours = {l.get("stroke") for l in lines}
assert len(colours) == len(lines) == 3, "colours %s" % colours
markers = set()
for g in root.iter(NS + "g"):
    ls = list(g.iter(NS + "polyline"))
    if not ls:
        continue
    assert len(ls) == 1, "a panel with %d lines" % len(ls)
    pts = [tuple(map(float, p.split(","))) for p in ls[0].get("points").split()]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    ratio = (xs[1] - xs[0]) / (xs[2] - xs[0])
    assert abs(ratio - 0.1) < 0.01, "x spacing %.3f, want 0.1 (10 s of 100)" % ratio
    # its own scale: the line spans at least half the plot height (110)
    assert max(ys) - min(ys) >= 55, "a line spans only %.1f px" % (max(ys) - min(ys))
    shape = [(e.tag, e.get("d", "")[:1]) for e in g if e.tag in (NS + "circle", NS + "rect", NS + "path")]
    assert shape, "a panel without markers"
    markers.add(str(sorted(set((t, len(d)) for t, d in shape))))
assert len(markers) == 3, "markers do not differ per panel: %s" % markers
titles = [t for t in texts if re.search(r"\d+ \u2192 \d+ chunks \(", t)]
assert len(titles) == 3, "each panel says first -> last and the change: %s" % titles
# the untouched snapshots, taken within seconds: a time axis or, within one
# second, evenly spaced and said so
even = ["".join(e.itertext()) for e in ET.parse(sys.argv[2]).getroot().iter(NS + "text")]
assert any("evenly spaced" in t or "time since" in t for t in even)
print("ok: chart panels", titles)
EOF

diff_ok abc.txt a.snap b.snap c.snap
cat abc.txt
awk -v s="$STEADY" 'index($0, s) && length($0) - length(s) > 100 { bad = 1 } END { exit bad }' abc.txt ||
	fail "a row of the series is wider than 100 columns before the type name"
first=$(grep -m 1 -E '^  (class|array|content|shape|size) ' abc.txt)
[[ "$first" == *"$STEADY" ]] || fail "the series' first row is not $STEADY: $first"
assert_running "$FIXTURE_PID"
echo "ok: new, freed and growth as the fixture made them"
