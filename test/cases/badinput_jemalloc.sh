#!/bin/bash
# badinput_jemalloc: a glibc program whose malloc is jemalloc's (LD_PRELOAD of
# libjemalloc.so.2, here sleep(1)) is no longer refused: heapscan recognises
# jemalloc by its API (mallctl beside malloc), walks it (exit 0) and the
# report names it with its version; the target is left running.  Skips
# without package libjemalloc2.  (Exactness: jemalloc_fixture.)
set -u
: "${HEAPSCAN:?run through test/run.sh}" "${FIXTURES:?}" "${TOP:?}"
export HEAPSCAN

. "$TOP/test/refusal.sh"
[ -x "$HEAPSCAN" ] || fail "$HEAPSCAN does not exist (not built?)"

lib=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
[ -e "$lib" ] || skip "$lib not found (apt-get install libjemalloc2)"
sleep_bin=$(readlink -f "$(command -v sleep)")

start env LD_PRELOAD="$lib" sleep 300
target=$PID
wait_for 120 settled "$target" "$sleep_bin" "libjemalloc" || fail "sleep $target with jemalloc did not start"

"$HEAPSCAN" "$target" >out.txt 2>err.txt
rc=$?
cat out.txt err.txt
[ "$rc" = 0 ] || fail "heapscan exited $rc on a jemalloc process"
grep -qE '^  jemalloc 5\.[0-9]+\.[0-9]+, 1 thread' out.txt || fail "the report does not name jemalloc 5.x"
assert_running "$target"
