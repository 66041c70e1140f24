#!/bin/bash
# badinput_jemalloc: a glibc program whose malloc is jemalloc's (LD_PRELOAD of
# libjemalloc.so.2) is refused with exit 5 (EXIT_UNSUPPORTED), the library
# named and recognised as jemalloc; left running.  Skips without package
# libjemalloc2.
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
path=$(awk '$6 ~ /libjemalloc/ && $3 == "00000000" { print $6; exit }' "/proc/$target/maps")
[ -n "$path" ] || fail "libjemalloc.so.2 not mapped in $target"

run_heapscan "$target"
expect_exact 5 "malloc in process $target comes from $path (jemalloc), not glibc; heapscan walks glibc malloc only"
assert_running "$target"
