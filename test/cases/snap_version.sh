# snap_version: a snapshot from a newer format (the u32 version at offset 8
# patched to 3, and to 0xffffffff) is refused by the version check, whose
# message names the version: the header has no checksum of its own, and the
# version is read before the file checksum, so an old heapscan says "newer
# format" rather than "corrupt" even though the patched file's checksum no
# longer matches.  With the checksum recomputed it says the same.  Version 0
# is corrupt.  Each: exit 1, nothing on stdout, one "heapscan: " line, for the
# text report, --json and --vtables.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/fuzz/snaplib.sh" || exit 1
need_heapscan
limit_memory
take_snapshot strings base.snap
"$HEAPSCAN" --json base.snap >/dev/null || fail "the untouched snapshot does not read back"

for v in 3 0xffffffff; do
	cp base.snap "v$v.snap"
	SNAPTOOL put "v$v.snap" 8 u32 "$v"
	expect_refused "format version $v" "version $((v)).*newer" "v$v.snap"
	cp "v$v.snap" "v$v-sealed.snap"
	SNAPTOOL resum "v$v-sealed.snap"
	expect_refused "format version $v, checksum recomputed" "version $((v)).*newer" "v$v-sealed.snap"
done
cp base.snap v0.snap
SNAPTOOL put v0.snap 8 u32 0
SNAPTOOL resum v0.snap
expect_refused "format version 0" "version 0" v0.snap
assert_running "$FIXTURE_PID"
