# torture_corrupt: the short version of test/torture/corrupt.sh (5 rounds; `make
# torture` runs the full count).  See that script for what is checked.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
TORTURE_RUNS=${TORTURE_RUNS:-5} exec bash "$TOP/test/torture/corrupt.sh"
