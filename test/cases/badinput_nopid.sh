#!/bin/bash
# badinput_nopid: a pid with no process behind it is refused with exit 3
# (EXIT_NOPROC) and "no process with pid N"; one beyond pid_max too (the
# parser accepts up to 4194304, the kernel's limit, and /proc decides).
set -u
: "${HEAPSCAN:?run through test/run.sh}" "${FIXTURES:?}" "${TOP:?}"
export HEAPSCAN

. "$TOP/test/refusal.sh"
[ -x "$HEAPSCAN" ] || fail "$HEAPSCAN does not exist (not built?)"

unused_below() {   # a pid under $1 that /proc does not show
	local p
	for ((p = $1 - 1; p > 300; p--)); do
		[ -e "/proc/$p" ] || { echo "$p"; return 0; }
	done
	return 1
}
pid_max=$(cat /proc/sys/kernel/pid_max) || fail "cannot read /proc/sys/kernel/pid_max"
for limit in "$pid_max" 4194304; do
	pid=$(unused_below "$limit") || skip "every pid below $limit is in use"
	run_heapscan "$pid"
	expect_exact 3 "no process with pid $pid"
done
