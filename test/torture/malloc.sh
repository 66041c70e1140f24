# torture/malloc.sh - scans of a target hammering malloc/free on four threads
# (fixtures/busy), so most stops catch a thread inside malloc.  No scan may
# crash (exit >= 128, or a sanitizer report when $HEAPSCAN is an ASan build),
# the target must not crash and must run on, and whenever a scan exits 0
# without reporting a busy arena the steady set must be counted exactly.
# Outcomes: exact, busy-reported, other (another exit status below 128).
#
#   TORTURE_RUNS=N (default 1000)
. "${TOP:?run through test/torture/run.sh or test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/torture/lib.sh" || exit 1
. "$TOP/test/torture/scans.sh" || exit 1
need_heapscan
RUNS=${TORTURE_RUNS:-1000}
many_scans malloc malloc busy
figure malloc "$RUNS"
