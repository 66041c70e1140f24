# snap_truncated: a snapshot cut short anywhere - inside the header, inside a
# section header, inside a section's payload (META, CHNK, CONT), inside the
# trailer, one byte short - is refused: exit 1, nothing on stdout, one
# "heapscan: " line saying the file is truncated (or, where the cut lands so
# that the header no longer matches, corrupt), for the text report, --json and
# --vtables, quickly and without a crash.  The base is a real --contents
# snapshot of the strings fixture.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/fuzz/snaplib.sh" || exit 1
need_heapscan
limit_memory
take_snapshot strings base.snap --contents
"$HEAPSCAN" --json base.snap >/dev/null || fail "the untouched snapshot does not read back"

size=$(stat -c %s base.snap)
meta=$(SNAPTOOL off base.snap payload:META)
chnk=$(SNAPTOOL off base.snap payload:CHNK)
cont=$(SNAPTOOL off base.snap payload:CONT)
arna=$(SNAPTOOL off base.snap sec:ARNA)
trailer=$(SNAPTOOL off base.snap trailer)

# name:length pairs
cuts=(
	"version:10" "section-count:14" "bare-header:16"
	"section-header:$((16 + 20))" "META-payload:$((meta + 5))" "ARNA-header:$((arna + 3))"
	"CHNK-payload:$((chnk + 10))" "CONT-payload:$((cont + 7))"
	"trailer-magic:$((trailer + 3))" "trailer-sum:$((trailer + 12))" "last-byte:$((size - 1))"
)
for cut in "${cuts[@]}"; do
	name=${cut%%:*} len=${cut#*:}
	head -c "$len" base.snap >"cut-$name.snap"
	expect_refused "cut at $len bytes ($name)" "truncated|corrupt|not a heapscan snapshot" "cut-$name.snap"
done

# Truncated, then resealed as far as a cut file can be: trailer magic and a
# correct sum after a section cut in half.  The section-length check speaks.
head -c $((chnk + 10)) base.snap >resealed.snap
printf 'HSEND\0\0\0\0\0\0\0\0\0\0\0' >>resealed.snap
SNAPTOOL resum resealed.snap
expect_refused "CHNK cut in half, trailer and sum made to fit" "truncated|corrupt" resealed.snap
assert_running "$FIXTURE_PID"
