#!/bin/bash
# badinput_tcmalloc: a glibc program whose malloc is tcmalloc's (LD_PRELOAD of
# libtcmalloc_minimal.so.4) is refused with exit 5 (EXIT_UNSUPPORTED), the library
# named and recognised as tcmalloc; left running.  Skips without package
# libtcmalloc-minimal4.
set -u
: "${HEAPSCAN:?run through test/run.sh}" "${FIXTURES:?}" "${TOP:?}"
export HEAPSCAN

. "$TOP/test/refusal.sh"
[ -x "$HEAPSCAN" ] || fail "$HEAPSCAN does not exist (not built?)"

lib=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
[ -e "$lib" ] || skip "$lib not found (apt-get install libtcmalloc-minimal4)"
sleep_bin=$(readlink -f "$(command -v sleep)")

start env LD_PRELOAD="$lib" sleep 300
target=$PID
wait_for 120 settled "$target" "$sleep_bin" "libtcmalloc_minimal" || fail "sleep $target with tcmalloc did not start"
path=$(awk '$6 ~ /libtcmalloc_minimal/ && $3 == "00000000" { print $6; exit }' "/proc/$target/maps")
[ -n "$path" ] || fail "libtcmalloc_minimal.so.4 not mapped in $target"

run_heapscan "$target"
expect_exact 5 "malloc in process $target comes from $path (tcmalloc), not glibc; heapscan walks glibc malloc and jemalloc only"
assert_running "$target"
