# torture_corrupt_top: the short version of test/torture/corrupt_top.sh (5
# rounds; `make torture` runs the full count).  See that script.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
TORTURE_RUNS=${TORTURE_RUNS:-5} exec bash "$TOP/test/torture/corrupt_top.sh"
