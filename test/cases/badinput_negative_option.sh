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
try="; try 'heapscan --help'"
check "'-1' is not a process id: process ids are positive$try" -1
check "'-4194304' is not a process id: process ids are positive$try" --json -4194304
check "unknown option '-x'$try" -x 1
check "unknown option '--bogus'$try" --bogus 1
check "--top needs an argument$try" 1 --top
check "--json takes no value$try" --json=3 1
