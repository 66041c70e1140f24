# snap_diff_hostile: `heapscan --diff A B` with a bad file on either side - an
# empty file, a text file, a copy of /bin/true, a FIFO, a file cut inside a
# section, a flipped bit in a payload, a newer format version (message names the
# version), a section claiming 2^63 bytes, a zstd section claiming 2^40 bytes
# uncompressed (checksums recomputed) - is refused: exit 1, nothing on stdout,
# one "heapscan: " line, quickly, under `ulimit -v 1000000`.  The good side is
# a real snapshot of the strings fixture; the diff of two good ones must work
# first.  Skips while heapscan has no --diff.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/fuzz/snaplib.sh" || exit 1
need_heapscan
limit_memory
take_snapshot strings a.snap
"$HEAPSCAN" --snapshot b.snap "$FIXTURE_PID" 2>/dev/null || fail "second snapshot failed"
run_limited --diff a.snap b.snap
if [ "$rc" = 2 ] && grep -q "unrecognized option\|unknown option\|--diff" err.txt; then
	skip "heapscan has no --diff yet: $(head -n 1 err.txt)"
fi
[ "$rc" = 0 ] || fail "--diff of two good snapshots exited $rc: $(cat err.txt)"
[ -s out.txt ] || fail "--diff of two good snapshots printed nothing"

: >empty.snap
printf 'hello\n' >text.snap
cp /bin/true elf.snap
mkfifo fifo.snap
head -c $(($(SNAPTOOL off b.snap payload:CHNK) + 10)) b.snap >cut.snap
cp b.snap flip.snap
SNAPTOOL flip flip.snap $(($(SNAPTOOL off b.snap payload:META) + 2)) 1
cp b.snap v3.snap
SNAPTOOL put v3.snap 8 u32 3
cp b.snap stored.snap
SNAPTOOL put stored.snap $(($(SNAPTOOL off b.snap sec:META) + 8)) u64 0x8000000000000000
SNAPTOOL resum stored.snap
SNAPTOOL zframe frame $((1 << 40)) 64
cp b.snap claim.snap
SNAPTOOL replace claim.snap CHNK frame 1 $((1 << 40))

bad=(
	"empty.snap:empty|not a heapscan snapshot"
	"text.snap:not a heapscan snapshot"
	"elf.snap:not a heapscan snapshot"
	"fifo.snap:regular file|FIFO|fifo"
	"cut.snap:truncated"
	"flip.snap:corrupt|checksum"
	"v3.snap:version 3"
	"stored.snap:truncated|corrupt"
	"claim.snap:corrupt"
)
for entry in "${bad[@]}"; do
	f=${entry%%:*} regex=${entry#*:}
	expect_diff_refused "$f as A" "$regex" "$f" b.snap
	expect_diff_refused "$f as B" "$regex" a.snap "$f"
done
assert_running "$FIXTURE_PID"
