# threads_badinput: --threads goes with --json and a live pid only: with
# --vtables, --snapshot, --top, --leaks, --why or a snapshot file in place of the pid it is
# a usage error (exit 2, one "heapscan: " line, nothing on stdout); a pid
# that does not exist is exit 3.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan

expect() {
	local want=$1 rc
	shift
	"$HEAPSCAN" "$@" >out.txt 2>err.txt
	rc=$?
	[ "$rc" = "$want" ] || fail "heapscan $* exited $rc, not $want ($(cat err.txt))"
	[ -s out.txt ] && fail "heapscan $* wrote to stdout: $(head -n 3 out.txt)"
	grep -q '^heapscan: ' err.txt || fail "heapscan $* said nothing on stderr"
	return 0
}

echo "not a snapshot" >file.snap
expect 2 --threads --vtables 1
expect 2 --threads --snapshot x.snap 1
expect 2 --threads --top 5 1
expect 2 --threads --leaks 1
expect 2 --threads --why 0x1000 1
expect 2 --threads file.snap
expect 2 --threads 12x
# a pid that is not running: pid_max is at most 2^22
expect 3 --threads 4194304
[ -e x.snap ] && fail "--threads --snapshot wrote a snapshot"
echo "ok: --threads usage errors"
