# cli_conventions: the habits of strace/perf/gdb users work, and mistakes get
# one line.  -V and --version print the version; -p PID, --pid PID and
# --pid=PID scan as PID alone does (the fixture's truth, exactly); every
# usage error - unknown options, missing arguments, two targets, options that
# do not apply to the input (--cow with a snapshot, --threads or --diff;
# --snapshot, --why, --threads with a snapshot) - exits 2 with one stderr line
# ending "; try 'heapscan --help'" and nothing on stdout; "heapscan -" reads a
# snapshot from stdin (a redirected file and a pipe) exactly as from its path,
# and a damaged or empty one is exit 1 with one line; --why on an address in
# no chunk exits 7.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan

# usage_error ARGS...: exit 2, nothing on stdout, one "heapscan: ...; try
# 'heapscan --help'" line on stderr
usage_error() {
	local rc
	"$HEAPSCAN" "$@" >out.txt 2>err.txt </dev/null
	rc=$?
	[ "$rc" = 2 ] || fail "heapscan $*: exit $rc, not 2 ($(cat err.txt))"
	[ -s out.txt ] && fail "heapscan $*: wrote to stdout: $(head -n 3 out.txt)"
	[ "$(wc -l <err.txt)" = 1 ] || fail "heapscan $*: not one line on stderr: $(cat err.txt)"
	grep -qE "^heapscan: .+; try 'heapscan --help'\$" err.txt ||
		fail "heapscan $*: not a one-line usage error: $(cat err.txt)"
	echo "ok: heapscan $* -> $(cat err.txt)"
}

# -V
"$HEAPSCAN" -V >v1.txt || fail "-V exited $?"
"$HEAPSCAN" --version >v2.txt || fail "--version exited $?"
grep -qE '^heapscan [0-9]+\.[0-9]+\.[0-9]+$' v1.txt || fail "-V printed: $(cat v1.txt)"
cmp -s v1.txt v2.txt || fail "-V and --version differ"

start_fixture classes
pid=$FIXTURE_PID
"$HEAPSCAN" --snapshot saved.snap "$pid" 2>/dev/null || fail "--snapshot exited $?"
echo "not a snapshot" >text.snap

# usage errors
usage_error --bogus "$pid"
usage_error -x "$pid"
usage_error --top
usage_error --why
usage_error -p
usage_error
usage_error -p abc
usage_error -p "$pid" "$pid"
usage_error -p "$pid" -p "$pid"
usage_error "$pid" "$pid"
usage_error --top 5x "$pid"
usage_error --why zz "$pid"
usage_error --cow saved.snap
usage_error --cow - 
usage_error --cow --threads "$pid"
usage_error --cow --diff saved.snap saved.snap
usage_error --threads saved.snap
usage_error --why 0x1000 saved.snap
usage_error --referrers 0x1000 -
usage_error --snapshot x.snap saved.snap
usage_error --contents "$pid"
usage_error --svg x.svg "$pid"
usage_error --leaks --vtables "$pid"
[ -e x.snap ] && fail "a refused --snapshot wrote a file"

# -p, --pid, --pid=: the same scan as the positional pid, exact
for form in "-p $pid" "--pid $pid" "--pid=$pid" "-p$pid"; do
	# shellcheck disable=SC2086
	"$HEAPSCAN" --json $form >p.json 2>p.err || fail "heapscan --json $form exited $? ($(cat p.err))"
	check_truth "$READY" p.json
	echo "ok: heapscan --json $form matches the truth"
done

# - reads a snapshot from stdin, a redirected file or a pipe
"$HEAPSCAN" --json saved.snap >file.json || fail "--json saved.snap exited $?"
"$HEAPSCAN" --json - <saved.snap >redir.json || fail "--json - < saved.snap exited $?"
cat saved.snap | "$HEAPSCAN" --json - >pipe.json || fail "cat saved.snap | --json - exited $?"
cmp -s file.json redir.json || fail "'heapscan - < FILE' differs from 'heapscan FILE'"
cmp -s file.json pipe.json || fail "'cat FILE | heapscan -' differs from 'heapscan FILE'"
"$HEAPSCAN" --leaks - <saved.snap >leaks.txt || fail "--leaks - exited $?"
echo "ok: a snapshot on stdin reads as the file does"
for bad in "head -c 200 saved.snap" "cat text.snap" "true"; do
	$bad | "$HEAPSCAN" - >out.txt 2>err.txt
	rc=$?
	[ "$rc" = 1 ] || fail "$bad | heapscan -: exit $rc, not 1 ($(cat err.txt))"
	[ -s out.txt ] && fail "$bad | heapscan -: wrote to stdout"
	[ "$(wc -l <err.txt)" = 1 ] && grep -q '^heapscan: standard input: ' err.txt ||
		fail "$bad | heapscan -: want one 'heapscan: standard input: ...' line: $(cat err.txt)"
	echo "ok: $bad | heapscan - -> $(cat err.txt)"
done

# --why / --referrers on an address in no chunk: exit 7, one line
for mode in --why --referrers; do
	"$HEAPSCAN" "$mode" 0x10 "$pid" >out.txt 2>err.txt
	rc=$?
	[ "$rc" = 7 ] || fail "$mode 0x10: exit $rc, not 7 ($(cat err.txt))"
	[ -s out.txt ] && fail "$mode 0x10: wrote to stdout"
	[ "$(cat err.txt)" = "heapscan: 0x10 is not in any malloc chunk of process $pid" ] ||
		fail "$mode 0x10: $(cat err.txt)"
done
assert_running "$pid"
echo "ok: CLI conventions"
