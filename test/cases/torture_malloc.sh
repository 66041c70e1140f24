# torture_malloc: the short version of test/torture/malloc.sh (30 rounds; `make
# torture` runs the full count).  See that script for what is checked.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
TORTURE_RUNS=${TORTURE_RUNS:-30} exec bash "$TOP/test/torture/malloc.sh"
