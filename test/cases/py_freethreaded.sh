# py_freethreaded: CPython's free-threaded build (python3.13t, built with
# --disable-gil) allocates objects with mimalloc, which heapscan does not
# walk: it must say so on one line (not print an empty Python section) and
# still report glibc's heap, and --retained must say the objects are not
# followed.  No Debian package ships it; the test runs when a build is at
# /var/cache/heapscan-python/3.13t (or $HEAPSCAN_PY313T, the python3.13t
# binary) and skips otherwise.  The recognition itself is also a unit test
# (pyobj_free_threaded_named).
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan

py=${HEAPSCAN_PY313T:-/var/cache/heapscan-python/3.13t/bin/python3.13t}
[ -x "$py" ] || skip "no free-threaded CPython at $py (build CPython 3.13 with --disable-gil there)"

start_py_fixture "$py" py_classes.py
"$HEAPSCAN" "$FIXTURE_PID" >report.txt 2>report.err || fail "the report exited $?: $(cat report.err)"
cat report.err
grep -q "free-threaded build .*not read; Python objects are not typed" report.err ||
	fail "no line on stderr says the free-threaded build's objects are not read"
[ "$(wc -l <report.err)" = 1 ] || fail "more than one line on stderr"
grep -q "^  python 3" report.txt && fail "a Python section for objects that were not read"
"$HEAPSCAN" --retained "$FIXTURE_PID" >ret.txt 2>ret.err || fail "--retained exited $?"
grep -q "free-threaded build .*Python objects are not followed" ret.err ||
	fail "--retained does not say the objects are not followed"
assert_running "$FIXTURE_PID"
stop_fixture "$FIXTURE_PID"
echo "ok: $py named, not read"
