#!/bin/bash
# badinput_zombie: a zombie (fixtures/zombie's unreaped child) is refused with
# exit 5 (EXIT_UNSUPPORTED) and the reason; it stays a zombie and its parent
# keeps running.
set -u
: "${HEAPSCAN:?run through test/run.sh}" "${FIXTURES:?}" "${TOP:?}"
export HEAPSCAN

. "$TOP/test/refusal.sh"
[ -x "$HEAPSCAN" ] || fail "$HEAPSCAN does not exist (not built?)"

[ -x "$FIXTURES/zombie" ] || fail "fixture $FIXTURES/zombie not built"
start "$FIXTURES/zombie" "$PWD/zombie.ready"
parent=$PID
wait_for 120 test -e zombie.ready || fail "zombie fixture not ready (state $(state "$parent"))"
zombie=$(cat zombie.ready)
[[ "$zombie" =~ ^[0-9]+$ ]] || fail "zombie.ready holds '$zombie', not a pid"
[ "$(state "$zombie")" = Z ] || fail "$zombie should be a zombie, its state is '$(state "$zombie")'"

run_heapscan "$zombie"
expect_exact 5 "process $zombie (zombie) is a zombie: it has exited and its parent has not reaped it"
[ "$(state "$zombie")" = Z ] || fail "$zombie is no longer a zombie: '$(state "$zombie")'"
assert_running "$parent"
