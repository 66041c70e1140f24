# memguard: before it copies, heapscan compares what the scan needs (about
# 1.6 x the copy, memguard.c) with what is available and refuses when it does
# not fit: exit 8, one stderr line with both figures and what to do, nothing
# on stdout, the target never stopped (it answers a ping) and left running.
#  - MemAvailable, faked by the test hook HEAPSCAN_TEST_MEMAVAILABLE: too
#    little is refused, --no-memory-check scans anyway (the truth, exactly),
#    plenty scans;
#  - a real memory cgroup (v1 or v2, when this runs as root and may make
#    one): heapscan inside a cgroup whose limit leaves less than the need is
#    refused and names that cgroup's limit; skipped where cgroups cannot be
#    made.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture classes
pid=$FIXTURE_PID

refused() { # refused WHAT SOURCE_REGEX CMD...
	local what=$1 src=$2 rc
	shift 2
	"$@" >out.txt 2>err.txt
	rc=$?
	[ "$rc" = 8 ] || fail "$what: exit $rc, not 8 ($(cat err.txt))"
	[ -s out.txt ] && fail "$what: wrote to stdout"
	[ "$(wc -l <err.txt)" = 1 ] || fail "$what: not one line: $(cat err.txt)"
	grep -qE "^heapscan: scanning process $pid needs about [0-9.]+ [KMG]iB \(a [0-9.]+ [KMG]iB copy .*\) but [0-9.]+ ([KMG]iB|bytes) is available \($src\); .*--no-memory-check" err.txt ||
		fail "$what: $(cat err.txt)"
	echo "ok: $what -> $(cat err.txt)"
	assert_running "$pid"
}

refused "1000 bytes available" MemAvailable env HEAPSCAN_TEST_MEMAVAILABLE=1000 "$HEAPSCAN" "$pid"
refused "--leaks, 1 MiB available" MemAvailable env HEAPSCAN_TEST_MEMAVAILABLE=1048576 "$HEAPSCAN" --leaks "$pid"
HEAPSCAN_TEST_MEMAVAILABLE=1000 "$HEAPSCAN" --no-memory-check --json "$pid" >forced.json 2>err.txt ||
	fail "--no-memory-check: exit $? ($(cat err.txt))"
check_truth "$READY" forced.json
HEAPSCAN_TEST_MEMAVAILABLE=1099511627776 "$HEAPSCAN" --json "$pid" >plenty.json 2>err.txt ||
	fail "1 TiB available: exit $? ($(cat err.txt))"
check_truth "$READY" plenty.json
HEAPSCAN_TEST_MEMAVAILABLE=10x "$HEAPSCAN" --json "$pid" >/dev/null 2>err.txt ||
	fail "a hook that is not a number must not refuse: exit $? ($(cat err.txt))"
echo "ok: the faked MemAvailable refuses, --no-memory-check and plenty scan exactly"

# a real cgroup
[ "$(id -u)" = 0 ] || skip "not root: no memory cgroup to make (the faked MemAvailable passed)"
if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
	cg=/sys/fs/cgroup/heapscan-test.$$ max=memory.max cur=memory.current
elif [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
	cg=/sys/fs/cgroup/memory/heapscan-test.$$ max=memory.limit_in_bytes cur=memory.usage_in_bytes
else
	skip "no memory cgroup controller to use (the faked MemAvailable passed)"
fi
mkdir "$cg" 2>/dev/null || skip "cannot make $cg (the faked MemAvailable passed)"
trap 'rmdir "$cg" 2>/dev/null; _lib_cleanup' EXIT
# 16 MiB: enough for bash and heapscan to start, less than 1.6 x the copy
echo $((16 << 20)) >"$cg/$max" || skip "cannot set $cg/$max"
(
	echo "$BASHPID" >"$cg/cgroup.procs" || exit 99
	exec "$HEAPSCAN" "$pid"
) >out.txt 2>err.txt
rc=$?
[ "$rc" = 99 ] && skip "cannot join $cg (the faked MemAvailable passed)"
[ "$rc" = 8 ] || fail "inside a 16 MiB cgroup: exit $rc, not 8 ($(cat err.txt))"
grep -qE "is available \(the limit of cgroup .*heapscan-test\.$$\)" err.txt ||
	fail "inside a 16 MiB cgroup: the message does not name the cgroup: $(cat err.txt)"
cat err.txt >&2; echo "ok: inside $cg ($max 16 MiB, $cur $(cat "$cg/$cur")): $(cat err.txt)"
assert_running "$pid"
