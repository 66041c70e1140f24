# torture/corrupt_top.sh - corrupt.sh with C's top chunk size damaged too:
# a top size far past the end of its heap must not make heapscan skip the
# intact arena whose heap lies above it, nor exhaust its memory.
. "${TOP:?run through test/torture/run.sh or test/run.sh}/test/lib.sh" || exit 1
TORTURE_CORRUPT_TOP=1 exec bash "$TOP/test/torture/corrupt.sh"
