# snap_bitflip: one flipped bit anywhere in a snapshot is caught.
#  - in the header: the version field (2 -> 3 is "newer", 2 -> 0 is corrupt;
#    the header has no checksum of its own, so the version check speaks) and
#    the section count (the file checksum);
#  - in a section header (flags, stored length), in a section payload (META,
#    compressed CHNK, CONT), in the trailer magic, in the trailer checksum;
#  - in a payload with the file checksum recomputed: the section's own
#    checksum catches it;
#  - in 40 random places of an uncompressed snapshot (no --contents: CONT is
#    carried, not decoded) with every checksum recomputed (what a hostile
#    author can do): each read either succeeds (exit 0, a report, valid JSON)
#    or is refused with one line; never a crash or a hang.
# Every refusal: exit 1, nothing on stdout, one "heapscan: " line, quickly,
# for the text report, --json and --vtables.  Base: a --contents snapshot of
# the classes fixture.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/fuzz/snaplib.sh" || exit 1
need_heapscan
limit_memory
take_snapshot classes base.snap --contents
"$HEAPSCAN" --json base.snap >/dev/null || fail "the untouched snapshot does not read back"

# Offsets, from one look at the file: SEC_TAG (section header), PAY_TAG (payload).
declare -A SEC PAY
while read -r tag flags stored raw off; do
	SEC[$tag]=$off PAY[$tag]=$((off + 32))
done < <(SNAPTOOL info base.snap)
size=$(stat -c %s base.snap)
trailer=$((size - 16)) sum=$((size - 8))

flipped() {   # flipped NAME OFFSET BIT: flip.NAME.snap
	cp base.snap "flip.$1.snap"
	SNAPTOOL flip "flip.$1.snap" "$2" "$3"
}

flipped version-3 8 0
expect_refused "version 2 -> 3" "version 3.*newer" flip.version-3.snap
flipped version-0 8 1
expect_refused "version 2 -> 0" "version" flip.version-0.snap
flipped nsec 12 0
expect_refused "section count" "corrupt|checksum" flip.nsec.snap
flipped meta-flags $((SEC[META] + 4)) 0
expect_refused "META flags" "corrupt|checksum" flip.meta-flags.snap
flipped chnk-stored $((SEC[CHNK] + 15)) 7
expect_refused "CHNK stored length, top bit" "corrupt|checksum|truncated" flip.chnk-stored.snap
flipped meta-payload $((PAY[META] + 3)) 2
expect_refused "META payload" "corrupt|checksum" flip.meta-payload.snap
flipped chnk-payload $((PAY[CHNK] + 40)) 5
expect_refused "CHNK payload (zstd)" "corrupt|checksum" flip.chnk-payload.snap
flipped cont-payload $((PAY[CONT] + 20)) 3
expect_refused "CONT payload (zstd)" "corrupt|checksum" flip.cont-payload.snap
flipped trailer-magic $((trailer + 1)) 0
expect_refused "trailer magic" "truncated|corrupt" flip.trailer-magic.snap
flipped sum-low "$sum" 0
expect_refused "trailer checksum, bit 0" "corrupt|checksum" flip.sum-low.snap
flipped sum-high $((sum + 7)) 7
expect_refused "trailer checksum, bit 63" "corrupt|checksum" flip.sum-high.snap

# The file checksum made to fit: the section's own checksum speaks.
for tag in META ARNA TYPE CHNK CONT; do
	flipped "$tag-resum" $((PAY[$tag] + 1)) 4
	SNAPTOOL resum "flip.$tag-resum.snap"
	expect_refused "$tag payload, file checksum recomputed" "corrupt.*$tag|$tag.*(checksum|corrupt)" \
		"flip.$tag-resum.snap" --json
done

# Every checksum made to fit, in an uncompressed snapshot (without --contents:
# CONT is carried, not decoded): the decoders speak.
"$HEAPSCAN" --snapshot small.snap "$FIXTURE_PID" 2>/dev/null || fail "a second snapshot failed"
SNAPTOOL raw small.snap raw.snap
"$HEAPSCAN" --json raw.snap >raw.json || fail "the uncompressed snapshot does not read back"
"$HEAPSCAN" --json small.snap | cmp -s - raw.json || fail "the uncompressed snapshot reads differently"
SNAPTOOL mutants raw.snap mut 40 4242 16 $(($(stat -c %s raw.snap) - 16)) >mutants.txt
ok=0 refused=0
while read -r f o b; do
	for mode in --json --vtables ""; do
		run_limited ${mode:+"$mode"} "$f"
		if [ "$rc" = 0 ]; then
			grep -qv 'heap problem' err.txt &&
				fail "flip at $o bit $b: exit 0 but stderr: $(cat err.txt)"
			[ "$mode" = --json ] && cp out.txt "$f.json"
			ok=$((ok + 1))
		else
			assert_one_line_refusal "resealed flip at $o bit $b (heapscan $mode FILE)" "."
			refused=$((refused + 1))
		fi
	done
done <mutants.txt
"$PYTHON" - mut.*.json <<'PY' || fail "a read that succeeded gave JSON that does not parse (above)"
import json, sys
for f in sys.argv[1:]:
    try:
        json.loads(open(f, "rb").read().decode("utf-8"))
    except ValueError as e:
        print("%s: %s" % (f, e))
        sys.exit(1)
PY
echo "ok: 40 resealed random flips: $ok reads succeeded, $refused were refused with one line"
assert_running "$FIXTURE_PID"
