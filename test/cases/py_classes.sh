# py_classes: a CPython process (fixtures/py_classes.py) seen from outside.
# Its own classes' instances are counted exactly by --types and --json, list,
# function and type exactly as gc.get_objects() counts them, bytearray and
# str within the interpreter's own margin (test/check_py.py); --vtables stays
# C++ only; the pools split over two threads give the same types; the text
# report has the Python section; the process runs on.
# Then SIGUSR2 adds 12,000 Sessions: --diff of snapshots before and after
# names __main__.Session first, +12,000.  Every CPython 3.8-3.13 found
# (Debian's python3.11, pyenv's) is tested; the Debian one must be there.
# Last, Debian's python3.11 with PYTHONMALLOC=malloc: all objects in chunks.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan

grown() { [ "$(head -n 1 "$1")" = "gen 1" ]; }

pythons=()
[ -x /usr/bin/python3.11 ] || skip "no /usr/bin/python3.11 (apt-get install python3)"
pythons+=(/usr/bin/python3.11)
for v in 8 9 10 11 12 13; do
	for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3."$v".*/bin/python3."$v"; do
		[ -x "$p" ] && pythons+=("$p")
	done
done

check_one() {
	local py=$1 tag=$2 i
	start_py_fixture "$py" py_classes.py
	"$HEAPSCAN" --types "$FIXTURE_PID" >"$tag.types" 2>"$tag.err" || {
		cat "$tag.err" >&2
		fail "$py: heapscan --types exited $?"
	}
	"$HEAPSCAN" --json "$FIXTURE_PID" >"$tag.json" 2>>"$tag.err" || fail "$py: heapscan --json failed"
	"$PYTHON" "$TOP/test/check_py.py" "$READY" "$tag.types" "$tag.json" ||
		fail "$py: heapscan's Python types differ from the truth in $READY"
	# the pools cut in two halves for two threads, however few: the same result
	HEAPSCAN_TEST_SPLIT=1 "$HEAPSCAN" --types "$FIXTURE_PID" >"$tag.split" 2>>"$tag.err" ||
		fail "$py: heapscan --types with the split exited $?"
	cmp -s "$tag.types" "$tag.split" || fail "$py: --types differs when the pools are split in two"
	"$HEAPSCAN" --vtables "$FIXTURE_PID" >"$tag.vtables" 2>>"$tag.err" || fail "$py: --vtables failed"
	grep -q '__main__\|	str$' "$tag.vtables" && fail "$py: --vtables lists Python types"
	"$HEAPSCAN" --snapshot "$tag.a.snap" "$FIXTURE_PID" 2>>"$tag.err" || fail "$py: --snapshot failed"
	kill -USR2 "$FIXTURE_PID"
	wait_for "$HANG" grown "$READY" || fail "$py: the fixture did not grow within $HANG s"
	"$HEAPSCAN" --snapshot "$tag.b.snap" "$FIXTURE_PID" 2>>"$tag.err" || fail "$py: --snapshot failed"
	"$HEAPSCAN" --diff --json "$tag.a.snap" "$tag.b.snap" >"$tag.diff" || fail "$py: --diff failed"
	"$PYTHON" - "$tag.diff" <<'PY' || fail "$py: --diff does not name __main__.Session first, +12000"
import json, sys
t = json.load(open(sys.argv[1]))["types"][0]
sys.exit(not (t["name"] == "__main__.Session" and t["delta_count"] == 12000))
PY
	"$HEAPSCAN" --types "$tag.b.snap" >"$tag.b.types" || fail "$py: --types of a snapshot failed"
	"$PYTHON" "$TOP/test/check_py.py" "$READY" "$tag.b.types" ||
		fail "$py: the snapshot's Python types differ from the truth after growing"
	"$HEAPSCAN" "$FIXTURE_PID" >"$tag.txt" 2>>"$tag.err" || fail "$py: the text report failed"
	grep -q "^  python 3\.[0-9]*: .* pymalloc pools" "$tag.txt" || fail "$py: no python section in the report"
	grep -q " __main__\.Session$" "$tag.txt" || fail "$py: the report does not name __main__.Session"
	assert_running "$FIXTURE_PID"
	stop_fixture "$FIXTURE_PID"
	echo "ok: $py ($(sed -n 2p "$READY"))"
}

n=0
for py in "${pythons[@]}"; do
	check_one "$py" "py$n"
	n=$((n + 1))
done

# PYTHONMALLOC=malloc: no pymalloc, every object a glibc chunk; the same counts
export PYTHONMALLOC=malloc
check_one /usr/bin/python3.11 malloc
grep -q "^  python 3\.11: no pymalloc pools" malloc.txt || fail "PYTHONMALLOC=malloc: pools reported"
