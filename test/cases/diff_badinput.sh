# diff_badinput: every way --diff can be misused or fail says so in one line
# on stderr with the documented exit code, and leaves stdout empty: one
# snapshot (2), a missing file, a file that is not a snapshot, a corrupt
# snapshot (1), a chart that cannot be written (1, no file left behind).
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan

start_fixture strings
"$HEAPSCAN" --snapshot a.snap "$FIXTURE_PID" 2>/dev/null || fail "cannot snapshot"
cp a.snap b.snap

# expect RC PATTERN ARGS...: heapscan --diff ARGS exits RC with one line on
# stderr matching PATTERN (grep -E) and nothing on stdout.
expect() {
	local want=$1 pattern=$2 rc
	shift 2
	"$HEAPSCAN" --diff "$@" >out 2>err
	rc=$?
	echo "--diff $*: exit $rc: $(cat err)"
	[ "$rc" = "$want" ] || fail "--diff $* exited $rc, want $want"
	[ -s out ] && fail "--diff $* wrote to stdout: $(head -3 out)"
	[ "$(wc -l <err)" = 1 ] || fail "--diff $*: want one line on stderr, got: $(cat err)"
	grep -qE "^heapscan: $pattern" err || fail "--diff $*: stderr does not match '$pattern'"
}

expect 2 '.*two snapshots' a.snap
expect 1 'nosuch\.snap: No such file or directory$' a.snap nosuch.snap
echo "just text" >text.snap
expect 1 'text\.snap: not a heapscan snapshot' a.snap text.snap
head -c 100 a.snap >short.snap
expect 1 'short\.snap: truncated' a.snap short.snap
mkdir sub
expect 1 'sub: not a regular file' sub a.snap
expect 1 'cannot create a temporary file next to nodir/chart\.svg' --svg nodir/chart.svg a.snap b.snap
[ -e nodir ] && fail "a directory appeared"

# the good case still works, and an unchanged heap says so
"$HEAPSCAN" --diff a.snap b.snap >same.txt 2>err || fail "--diff a.snap b.snap failed: $(cat err)"
grep -q 'no type changed' same.txt || fail "identical snapshots, yet: $(cat same.txt)"
"$HEAPSCAN" --diff --svg ok.svg a.snap b.snap >/dev/null 2>err || fail "--svg ok.svg failed: $(cat err)"
"$PYTHON" -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' ok.svg ||
	fail "the chart of an unchanged heap is not XML"
echo "ok: bad input refused with one line each"
