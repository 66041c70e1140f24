# jobs_cpus: how many threads heapscan runs by default: the CPUs in its
# affinity mask (taskset -c 0: one), bounded by its cgroup's CPU quota (v2
# cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us, of its own cgroup or a
# parent; a fake cgroup tree through the test hook HEAPSCAN_TEST_CGROUP);
# --jobs N overrides both; a bad --jobs is a usage error.
# HEAPSCAN_TEST_SAY_JOBS makes heapscan say the count on stderr.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
need_heapscan
start_fixture arenas

# jobs_said WANT WHY-PATTERN [ENV...] -- [OPTIONS]
jobs_said() {
	local want=$1 why=$2 out
	shift 2
	out=$(env HEAPSCAN_TEST_SAY_JOBS=1 "$@" 2>&1 >/dev/null | grep ' jobs (') ||
		fail "no jobs line from: $*"
	echo "$out"
	[[ "$out" == "heapscan: $want jobs ("*"$why"* ]] || fail "$*: want $want jobs ($why), got: $out"
}

ncpu=$(nproc)
jobs_said "$ncpu" "" HEAPSCAN_TEST_CGROUP=/nonexistent "$HEAPSCAN" --json "$FIXTURE_PID"
command -v taskset >/dev/null || skip "no taskset"
jobs_said 1 "1 CPUs in the affinity mask" HEAPSCAN_TEST_CGROUP=/nonexistent taskset -c 0 "$HEAPSCAN" --json "$FIXTURE_PID"
jobs_said 5 "" taskset -c 0 "$HEAPSCAN" --jobs 5 --json "$FIXTURE_PID"

# a v2 tree: /a/b has no quota, /a 1.5 CPUs (2 threads), the root 0.5 (1)
mkdir -p cg2/fs/a/b
echo "0::/a/b" >cg2/cgroup
echo "max 100000" >cg2/fs/a/b/cpu.max
echo "150000 100000" >cg2/fs/a/cpu.max
# more CPUs than the quota for the test: the affinity mask of all of them
if [ "$ncpu" -gt 2 ]; then
	jobs_said 2 "cgroup /a (cpu.max)" HEAPSCAN_TEST_CGROUP="$PWD/cg2" "$HEAPSCAN" "$FIXTURE_PID"
fi
echo "50000 100000" >cg2/fs/cpu.max
jobs_said 1 "cgroup / (cpu.max)" HEAPSCAN_TEST_CGROUP="$PWD/cg2" "$HEAPSCAN" "$FIXTURE_PID"
jobs_said 3 "" HEAPSCAN_TEST_CGROUP="$PWD/cg2" "$HEAPSCAN" --jobs 3 "$FIXTURE_PID"

# a v1 tree (cpu,cpuacct mounted as cpu), the quota on the cgroup itself
mkdir -p cg1/fs/cpu/x/y
printf '5:cpu,cpuacct:/x/y\n4:memory:/x\n0::/\n' >cg1/cgroup
echo 100000 >cg1/fs/cpu/x/y/cpu.cfs_quota_us
echo 100000 >cg1/fs/cpu/x/y/cpu.cfs_period_us
echo -1 >cg1/fs/cpu/x/cpu.cfs_quota_us
echo 100000 >cg1/fs/cpu/x/cpu.cfs_period_us
jobs_said 1 "cgroup /x/y (cpu.cfs_quota_us)" HEAPSCAN_TEST_CGROUP="$PWD/cg1" "$HEAPSCAN" "$FIXTURE_PID"
# no quota (-1) anywhere: the affinity mask
echo -1 >cg1/fs/cpu/x/y/cpu.cfs_quota_us
jobs_said "$ncpu" "affinity mask" HEAPSCAN_TEST_CGROUP="$PWD/cg1" "$HEAPSCAN" "$FIXTURE_PID"
# a quota file that is not a number counts as none
echo "lots 100000" >cg2/fs/cpu.max
echo "150000 100000" >cg2/fs/a/cpu.max
[ "$ncpu" -le 2 ] &&
	jobs_said "$ncpu" "affinity mask" HEAPSCAN_TEST_CGROUP="$PWD/cg2" "$HEAPSCAN" "$FIXTURE_PID"

for bad in 0 3x x "" 1025 99999999999999999999; do
	"$HEAPSCAN" --jobs "$bad" "$FIXTURE_PID" >/dev/null 2>err.txt
	rc=$?
	[ "$rc" = 2 ] || fail "--jobs '$bad': exit $rc, want 2"
	grep -q "^heapscan: --jobs takes a whole number from 1 to 1024, not '$bad'; try 'heapscan --help'$" err.txt ||
		fail "--jobs '$bad': $(cat err.txt)"
done
"$HEAPSCAN" --jobs -1 "$FIXTURE_PID" >/dev/null 2>&1; [ $? = 2 ] || fail "--jobs -1: want usage error 2"
# and the scan with one job and with many is the scan
"$HEAPSCAN" --jobs 1 --json "$FIXTURE_PID" >one.json || fail "--jobs 1: exit $?"
check_truth "$READY" one.json
"$HEAPSCAN" --jobs 1024 --json "$FIXTURE_PID" >many.json || fail "--jobs 1024: exit $?"
check_truth "$READY" many.json
assert_running "$FIXTURE_PID"
echo "ok: the job count follows affinity, cgroup quota and --jobs"
