# torture/churn.sh - scans of a target whose threads come and go by the
# hundred (fixtures/churn given THREADS: about 300 alive, each living
# 10-200 ms, allocating all the while) and which holds a steady set of chunks.  Every
# scan must exit 0 with the steady set counted exactly, or exit 6 saying the
# target changed and to retry; the target must not crash and must run on.
#
#   TORTURE_RUNS=N (default 500), TORTURE_CHURN_THREADS=N (default 300)
. "${TOP:?run through test/torture/run.sh or test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/torture/lib.sh" || exit 1
. "$TOP/test/torture/scans.sh" || exit 1
need_heapscan
RUNS=${TORTURE_RUNS:-500}
many_scans churn churn churn "${TORTURE_CHURN_THREADS:-300}"
figure churn "$RUNS"
