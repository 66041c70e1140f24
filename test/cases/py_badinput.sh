# py_badinput: --types on what it cannot or need not read.  A CPython older
# than 3.8 (pyenv's 3.7 or 3.6, when there) is named on stderr and the scan
# goes on (exit 0, no Python types); a process with no Python gets no Python
# section and no message; --types with another mode is a usage error (2).
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan

"$HEAPSCAN" --types --vtables 1 2>err.txt
[ $? = 2 ] || fail "--types --vtables did not exit 2"
grep -q 'separate modes' err.txt || fail "--types --vtables: $(cat err.txt)"
"$HEAPSCAN" --types --threads 1 2>err.txt
[ $? = 2 ] || fail "--types --threads did not exit 2"

start_fixture lists
"$HEAPSCAN" --types "$FIXTURE_PID" >c.types 2>c.err || fail "--types of a C process exited $?"
[ -s c.err ] && fail "--types of a C process said: $(cat c.err)"
"$HEAPSCAN" --json "$FIXTURE_PID" >c.json 2>c.err || fail "--json of a C process exited $?"
"$PYTHON" -c 'import json, sys; sys.exit("python" in json.load(open("c.json")))' ||
	fail "the JSON of a C process has a python section"
stop_fixture "$FIXTURE_PID"

old=
for v in 3.7 3.6; do
	for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python"$v"; do
		[ -x "$p" ] && old=$p
	done
	[ -n "$old" ] && break
done
[ -n "$old" ] || skip "no CPython older than 3.8 here (pyenv)"
start_py_fixture "$old" py_classes.py
"$HEAPSCAN" --types "$FIXTURE_PID" >old.types 2>old.err || fail "--types of $old exited $?"
grep -q "holds CPython's \`type\` (sizeof(PyHeapTypeObject) [0-9]*), of a version heapscan does not read (3.8 to 3.13)" old.err ||
	fail "--types of $old: no line naming the version problem: $(cat old.err)"
grep -q __main__ old.types && fail "--types of $old lists Python types"
assert_running "$FIXTURE_PID"
echo "ok: $old refused with one line"
