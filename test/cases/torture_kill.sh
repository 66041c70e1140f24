# torture_kill: the short version of test/torture/kill.sh (15 rounds, or as
# many as 90 s allow; `make torture` runs the full count).  See that script
# for what is checked.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
TORTURE_RUNS=${TORTURE_RUNS:-15} TORTURE_SECONDS=${TORTURE_SECONDS:-90} \
	exec bash "$TOP/test/torture/kill.sh"
