# badinput_negative_option: "-1" is a negative process id, not an option, and
# a bad option is one line, not getopt's message followed by the whole usage:
# each exits 2 with exactly one "heapscan: " line on stderr and nothing on
# stdout.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan

check() {   # check REGEX ARGS...
	local regex=$1
	shift
	"$HEAPSCAN" "$@" >out.txt 2>err.txt </dev/null
	rc=$?
	[ "$rc" = 2 ] || fail "heapscan $*: exit $rc, expected 2: $(cat err.txt)"
	[ -s out.txt ] && fail "heapscan $*: stdout: $(cat out.txt)"
	[ "$(wc -l <err.txt)" = 1 ] || fail "heapscan $*: not one line on stderr: $(cat err.txt)"
	grep -Eq "^heapscan: $regex\$" err.txt || fail "heapscan $*: unexpected message: $(cat err.txt)"
	echo "ok: heapscan $*: $(cat err.txt)"
}
check "'-1' is not a process id: process ids are positive" -1
check "'-4194304' is not a process id: process ids are positive" --json -4194304
check "unknown option '-x'; see heapscan --help" -x 1
check "unknown option '--bogus'; see heapscan --help" --bogus 1
check "option '--top' needs a value; see heapscan --help" 1 --top
check "option '--json' takes no value; see heapscan --help" --json=3 1
