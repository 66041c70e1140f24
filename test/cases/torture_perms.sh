# torture_perms: the short version of test/torture/perms.sh (1 rounds; `make
# torture` runs the full count).  See that script for what is checked.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
TORTURE_RUNS=${TORTURE_RUNS:-1} exec bash "$TOP/test/torture/perms.sh"
