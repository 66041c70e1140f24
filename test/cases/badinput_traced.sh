#!/bin/bash
# badinput_traced: a process another tracer holds (fixtures/tracer, which
# PTRACE_SEIZEs it) is refused with exit 4 (EXIT_PERM) and the tracer named
# by pid and name; both keep running.
set -u
: "${HEAPSCAN:?run through test/run.sh}" "${FIXTURES:?}" "${TOP:?}"
export HEAPSCAN

. "$TOP/test/refusal.sh"
[ -x "$HEAPSCAN" ] || fail "$HEAPSCAN does not exist (not built?)"

[ -x "$FIXTURES/tracer" ] || fail "fixture $FIXTURES/tracer not built"
sleep_bin=$(readlink -f "$(command -v sleep)")

start sleep 300
target=$PID
wait_for 120 settled "$target" "$sleep_bin" || fail "sleep $target did not start"
start "$FIXTURES/tracer" "$PWD/tracer.ready" "$target"
tracer=$PID
wait_for 120 test -e tracer.ready || fail "tracer fixture not ready (state $(state "$tracer"))"
[ "$(cat tracer.ready)" = ok ] || fail "tracer.ready says '$(cat tracer.ready)', not ok"
grep -q "^TracerPid:[[:space:]]*$tracer\$" "/proc/$target/status" || fail "$target is not traced by $tracer"

run_heapscan "$target"
expect_exact 4 "process $target is already traced by process $tracer (tracer)"
assert_running "$target"
assert_running "$tracer"
grep -q "^TracerPid:[[:space:]]*$tracer\$" "/proc/$target/status" || fail "$target lost its tracer"
