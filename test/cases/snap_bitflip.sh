# snap_bitflip: one flipped bit anywhere in a snapshot is caught.
#  - in the header: the version field (1 -> 3 is "newer", 1 -> 0 is corrupt;
#    the header has no checksum of its own, so the version check speaks) and
#    the section count (the file checksum);
#  - in a section header (flags, stored length), in a section payload (META,
#    compressed CHNK, CONT), in the trailer magic, in the trailer checksum;
#  - in a payload with the file checksum recomputed: the section's own
#    checksum catches it;
#  - in 40 random places of an uncompressed snapshot's decoded sections (META
#    to CHNK) with every checksum recomputed (what a hostile author can do):
#    each read either succeeds (exit 0, a report, valid JSON) or is refused
#    with one line; never a crash or a hang.
# Every refusal: exit 1, nothing on stdout, one "heapscan: " line, quickly,
# for the text report, --json and --vtables.  Base: a --contents snapshot of
# the classes fixture.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/fuzz/snaplib.sh" || exit 1
need_heapscan
limit_memory
take_snapshot classes base.snap --contents
"$HEAPSCAN" --json base.snap >/dev/null || fail "the untouched snapshot does not read back"

flipped() {   # flipped NAME OFFSET BIT: flip.NAME.snap
	cp base.snap "flip.$1.snap"
	SNAPTOOL flip "flip.$1.snap" "$2" "$3"
}
off() { SNAPTOOL off base.snap "$1"; }

flipped version-3 8 1
expect_refused "version 1 -> 3" "version 3.*newer" flip.version-3.snap
flipped version-0 8 0
expect_refused "version 1 -> 0" "version" flip.version-0.snap
flipped nsec 12 0
expect_refused "section count" "corrupt|checksum" flip.nsec.snap
flipped meta-flags $(($(off sec:META) + 4)) 0
expect_refused "META flags" "corrupt|checksum" flip.meta-flags.snap
flipped chnk-stored $(($(off sec:CHNK) + 15)) 7
expect_refused "CHNK stored length, top bit" "corrupt|checksum|truncated" flip.chnk-stored.snap
flipped meta-payload $(($(off payload:META) + 3)) 2
expect_refused "META payload" "corrupt|checksum" flip.meta-payload.snap
flipped chnk-payload $(($(off payload:CHNK) + 40)) 5
expect_refused "CHNK payload (zstd)" "corrupt|checksum" flip.chnk-payload.snap
flipped cont-payload $(($(off payload:CONT) + 20)) 3
expect_refused "CONT payload (zstd)" "corrupt|checksum" flip.cont-payload.snap
flipped trailer-magic $(($(off trailer) + 1)) 0
expect_refused "trailer magic" "truncated|corrupt" flip.trailer-magic.snap
flipped sum-low $(off sum) 0
expect_refused "trailer checksum, bit 0" "corrupt|checksum" flip.sum-low.snap
flipped sum-high $(($(off sum) + 7)) 7
expect_refused "trailer checksum, bit 63" "corrupt|checksum" flip.sum-high.snap

# The file checksum made to fit: the section's own checksum speaks.
for tag in META ARNA TYPE CHNK CONT; do
	flipped "$tag-resum" $(($(off payload:$tag) + 1)) 4
	SNAPTOOL resum "flip.$tag-resum.snap"
	expect_refused "$tag payload, file checksum recomputed" "corrupt.*$tag|$tag.*(checksum|corrupt)" \
		"flip.$tag-resum.snap" --json
done

# Every checksum made to fit, in an uncompressed snapshot: the decoders speak.
SNAPTOOL raw base.snap raw.snap
"$HEAPSCAN" --json raw.snap >raw.json || fail "the uncompressed snapshot does not read back"
"$HEAPSCAN" --json base.snap | cmp -s - raw.json || fail "the uncompressed snapshot reads differently"
# in the decoded sections only (CONT, the chunks' bytes, is carried, not decoded)
span=$(($(SNAPTOOL off raw.snap sec:CONT) - 16))
RANDOM=4242
ok=0 refused=0
for ((i = 0; i < 40; i++)); do
	o=$(((RANDOM * 32768 + RANDOM) % span + 16)) b=$((RANDOM % 8))
	cp raw.snap fuzz.snap
	SNAPTOOL flip fuzz.snap "$o" "$b"
	SNAPTOOL reseal fuzz.snap 2>/dev/null || { cp raw.snap fuzz.snap; SNAPTOOL flip fuzz.snap "$o" "$b"; SNAPTOOL resum fuzz.snap; }
	for mode in --json --vtables ""; do
		run_limited ${mode:+"$mode"} fuzz.snap
		if [ "$rc" = 0 ]; then
			grep -qv 'heap problem' err.txt &&
				fail "flip at $o bit $b: exit 0 but stderr: $(cat err.txt)"
			[ "$mode" = --json ] && { "$PYTHON" -m json.tool out.txt >/dev/null 2>&1 ||
				fail "flip at $o bit $b: exit 0 but the JSON does not parse"; }
			ok=$((ok + 1))
		else
			cp fuzz.snap "failed-$o-$b.snap"
			assert_one_line_refusal "resealed flip at $o bit $b (heapscan $mode FILE)" "."
			refused=$((refused + 1))
		fi
	done
done
echo "ok: 40 resealed random flips: $ok reads succeeded, $refused were refused with one line"
assert_running "$FIXTURE_PID"
