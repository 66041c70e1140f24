#!/bin/bash
# badinput_kthread: a kernel thread (PF_KTHREAD in /proc/PID/stat's flags;
# kthreadd, pid 2, when visible) is refused with exit 5 (EXIT_UNSUPPORTED):
# it has no user-space heap.  Inside a pid namespace none is visible: skip.
set -u
: "${HEAPSCAN:?run through test/run.sh}" "${FIXTURES:?}" "${TOP:?}"
export HEAPSCAN

. "$TOP/test/refusal.sh"
[ -x "$HEAPSCAN" ] || fail "$HEAPSCAN does not exist (not built?)"

PF_KTHREAD=$((0x00200000))
is_kthread() {   # sets COMM when PID is a kernel thread with a plain name
	local s f
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	read -r _ _ _ _ _ _ f _ <<<"${s##*) }"
	[[ "$f" =~ ^[0-9]+$ ]] && (( f & PF_KTHREAD )) || return 1
	COMM=${s#*(}
	COMM=${COMM%)*}
	[[ "$COMM" =~ ^[[:print:]]+$ ]]
}
kt=
if is_kthread 2; then
	kt=2
else
	for d in /proc/[0-9]*; do
		is_kthread "${d#/proc/}" && { kt=${d#/proc/}; break; }
	done
fi
[ -n "$kt" ] || skip "no kernel thread visible here (a pid namespace?)"

run_heapscan "$kt"
expect_exact 5 "process $kt ($COMM) is a kernel thread: it has no user-space heap"
assert_running "$kt"
