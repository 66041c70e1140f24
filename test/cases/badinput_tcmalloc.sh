#!/bin/bash
# badinput_tcmalloc: a glibc program whose malloc is tcmalloc's (LD_PRELOAD of
# libtcmalloc_minimal.so.4, here sleep(1)) is no longer refused: heapscan
# recognises tcmalloc by its API (tc_malloc beside malloc), walks it (exit 0)
# and the report names it with its version; the target is left running.
# tcmalloc's debug allocator (libtcmalloc_minimal_debug.so.4), whose blocks
# carry guards of its own, is refused with exit 5 and named.
# Skips without package libtcmalloc-minimal4.  (Exactness: tcmalloc_fixture;
# an allocator heapscan does not know is still refused: types_rawscan.)
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

"$HEAPSCAN" "$target" >out.txt 2>err.txt
rc=$?
cat out.txt err.txt
[ "$rc" = 0 ] || fail "heapscan exited $rc on a tcmalloc process"
grep -qE '^  tcmalloc 2\.[0-9]+(\.[0-9]+)?, 1 thread' out.txt || fail "the report does not name tcmalloc 2.x"
! grep -q "heap problems" out.txt || fail "heap problems on a consistent heap"
assert_running "$target"

dbg=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal_debug.so.4
[ -e "$dbg" ] || fail "$dbg not found (it comes with libtcmalloc-minimal4)"
start env LD_PRELOAD="$dbg" sleep 300
target=$PID
wait_for 120 settled "$target" "$sleep_bin" "libtcmalloc_minimal_debug" || fail "sleep $target with tcmalloc's debug allocator did not start"
path=$(awk '$6 ~ /libtcmalloc_minimal_debug/ && $3 == "00000000" { print $6; exit }' "/proc/$target/maps")
[ -n "$path" ] || fail "libtcmalloc_minimal_debug.so.4 not mapped in $target"
run_heapscan "$target"
expect_exact 5 "malloc in process $target comes from $path (tcmalloc's debug allocator), not glibc; heapscan walks glibc malloc, jemalloc and tcmalloc only"
assert_running "$target"
