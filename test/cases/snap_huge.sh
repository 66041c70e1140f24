# snap_huge: sizes and counts a snapshot claims but cannot back are refused by
# the reader's checks, never by trying to allocate them.  heapscan runs under
# `ulimit -v 1000000` (1 GB), so an allocation of what the file claims fails
# instead of succeeding lazily; a refusal whose cause is "cannot allocate" is
# a failure of this case.  Each file has every checksum recomputed, so the
# check behind the checksums speaks:
#   a section whose stored length is 2^63 or 2^64-1; 2^32-1 sections;
#   a zstd section whose frame and header claim 2^40 or 2^62 bytes
#   uncompressed; header and frame disagreeing; an uncompressed section whose
#   raw size is not its stored size; counts of 2^35 arenas, problems, types,
#   classes and chunks; a string 2^40 bytes long;
#   last, a CHNK section of 70000 stored bytes whose zstd frame claims 4 GiB -
#   a ratio zstd can reach, but nothing a snapshot needs before it has read a
#   byte of it.
# Each: exit 1, nothing on stdout, one "heapscan: " line (the memory limit, not the clock, proves nothing big was allocated).
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/fuzz/snaplib.sh" || exit 1
need_heapscan
limit_memory || skip "heapscan cannot run under ulimit -v $SNAP_VMEM: a huge allocation would not fail"
take_snapshot classes base.snap
SNAPTOOL raw base.snap raw.snap
"$HEAPSCAN" --json raw.snap >/dev/null || fail "the uncompressed snapshot does not read back"

# refused_no_alloc WHAT REGEX FILE: expect_refused, and the cause is not an
# allocation failure.
refused_no_alloc() {
	expect_refused "$1" "$2" "$3"
	grep -qi 'cannot allocate\|out of memory' err.txt &&
		fail "$1: refused only because the allocation failed: $(cat err.txt)"
	return 0
}

for stored in 0x8000000000000000 0xffffffffffffffff; do
	cp base.snap "stored-$stored.snap"
	SNAPTOOL put "stored-$stored.snap" $(($(SNAPTOOL off base.snap sec:META) + 8)) u64 "$stored"
	SNAPTOOL resum "stored-$stored.snap"
	refused_no_alloc "META stored length $stored" "truncated|corrupt" "stored-$stored.snap"
done

cp base.snap nsec.snap
SNAPTOOL put nsec.snap 12 u32 0xffffffff
SNAPTOOL resum nsec.snap
refused_no_alloc "2^32-1 sections" "corrupt" nsec.snap

for claim in $((1 << 40)) $((1 << 62)); do
	SNAPTOOL zframe "frame-$claim" "$claim" 64
	cp base.snap "claim-$claim.snap"
	SNAPTOOL replace "claim-$claim.snap" CHNK "frame-$claim" 1 "$claim"
	refused_no_alloc "CHNK claims $claim bytes uncompressed" "corrupt" "claim-$claim.snap"
done
SNAPTOOL zframe frame-disagree $((1 << 40)) 64
cp base.snap disagree.snap
SNAPTOOL replace disagree.snap CHNK frame-disagree 1 100000
refused_no_alloc "CHNK header says 100000 bytes, its zstd frame 2^40" "corrupt" disagree.snap

cp raw.snap rawsize.snap
SNAPTOOL put rawsize.snap $(($(SNAPTOOL off raw.snap sec:CHNK) + 16)) u64 $((1 << 62))
SNAPTOOL reseal rawsize.snap
refused_no_alloc "uncompressed CHNK with raw size 2^62" "corrupt" rawsize.snap

# counts: ARNA, PROB, TYPE, CLSS and CHNK each start with one
for tag in ARNA PROB TYPE CLSS CHNK; do
	cp raw.snap "count-$tag.snap"
	SNAPTOOL setvar "count-$tag.snap" "$tag" "" $((1 << 35))
	refused_no_alloc "$tag count 2^35" "corrupt" "count-$tag.snap"
done
cp raw.snap string.snap
SNAPTOOL setvar string.snap META "" $((1 << 40))   # the length of the first string
refused_no_alloc "META string of 2^40 bytes" "corrupt" string.snap

# 70000 bytes of section, 4 GiB claimed by header and frame alike.
SNAPTOOL zframe frame-4g $((1 << 32)) 70000
cp base.snap claim-4g.snap
SNAPTOOL replace claim-4g.snap CHNK frame-4g 1 $((1 << 32))
refused_no_alloc "CHNK of 70000 bytes claims 4 GiB uncompressed" "corrupt" claim-4g.snap
assert_running "$FIXTURE_PID"
