# snap_compressible: the reader's bounds must not refuse a file heapscan
# itself writes, and must refuse one denser than it writes.  A heap of many
# identical chunks (a strdup'd constant in a loop, the leak content clusters
# are for) gives a chunk table of identical records; format 1 stored them so
# that zstd shrank them 1360 times (10M records in 7 KB); format 2 masks each
# record's hash field by its address, so a record takes 4.3 bytes and the
# reader may refuse a file claiming more than one chunk per 3 stored bytes
# (include/snapshot.h).  Here: a snapshot of the strings fixture, and the
# same with 10000, 100000 and 1000000 more copies of its commonest chunk
# record, made by snaptool repeat, which masks and recompresses exactly as
# heapscan's writer does (with 0 more copies it gives back the identical
# file, which is checked: the test's mask is heapscan's).  Each reads back
# (exit 0, nothing on stderr) with in_use_chunks and the "test_memory"
# type's count grown by exactly that many, and CHNK at 3 bytes a chunk or
# more.  Then the files heapscan does not write: the same records unmasked
# ("bare") in a format-2 file, refused with one line before anything is
# allocated; and the format-1 rule: a file of format 1 (unmasked) is read up
# to SNAP_V1_CHUNKS (1Mi) chunks whatever its size, refused with one line
# above.  Needs the zstd command.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/fuzz/snaplib.sh" || exit 1
need_heapscan
command -v zstd >/dev/null || skip "no zstd command (apt-get install zstd)"
limit_memory
take_snapshot strings base.snap
cp base.snap same.snap
SNAPTOOL repeat same.snap 0
cmp -s base.snap same.snap || fail "snaptool repeat 0 does not give back heapscan's own file: it does not mask or compress as heapscan does"

count_of() {   # count_of JSON: "in_use_chunks test_memory_count"
	"$PYTHON" -c 'import json, sys
j = json.load(open(sys.argv[1]))
t = [x["count"] for x in j["types"] if x["name"] == "\"test_memory\""]
print(j["summary"]["in_use_chunks"], t[0] if t else 0)' "$1"
}
chnk() {   # chnk FILE: "STORED RAW" of its CHNK section
	SNAPTOOL info "$1" | awk '$1 == "CHNK" { print $3, $4 }'
}
"$HEAPSCAN" --json base.snap >base.json || fail "the base snapshot does not read back"
read -r chunks0 strings0 <<<"$(count_of base.json)"
total0=$("$PYTHON" -c 'import json, sys
s = json.load(open(sys.argv[1]))["summary"]
print(s["in_use_chunks"] + s["free_chunks"] + s["mmapped_chunks"])' base.json)   # CHNK's records

# expect_read FILE N WHAT: read back with exactly N more chunks and strings
expect_read() {
	run_limited --json "$1"
	[ "$rc" = 0 ] || fail "$3: refused: exit $rc, $(cat err.txt)"
	[ -s err.txt ] && fail "$3: stderr: $(cat err.txt)"
	read -r chunks strings <<<"$(count_of out.txt)"
	[ "$chunks" = $((chunks0 + $2)) ] && [ "$strings" = $((strings0 + $2)) ] ||
		fail "$3: in_use_chunks $chunks0 -> $chunks, \"test_memory\" $strings0 -> $strings"
	return 0
}

for n in 10000 100000 1000000; do
	cp base.snap "more-$n.snap"
	SNAPTOOL repeat "more-$n.snap" "$n"
	read -r stored raw <<<"$(chnk "more-$n.snap")"
	[ $((stored / 3)) -ge $((total0 + n)) ] ||
		fail "$n more: CHNK $stored bytes for $((total0 + n)) chunks, under 3 bytes a chunk"
	expect_read "more-$n.snap" "$n" "a snapshot of $n more identical chunks (CHNK $stored bytes)"
	echo "ok: $n more identical chunks read back (CHNK $stored bytes, $(awk "BEGIN { printf \"%.2f\", $stored / ($total0 + $n) }") a chunk)"
done

# Format 2, unmasked: denser than heapscan writes.  10000 more still fit
# (the base's own records pay for them), a million do not.
cp base.snap bare-1m.snap
SNAPTOOL repeat bare-1m.snap 1000000 bare
read -r stored raw <<<"$(chnk bare-1m.snap)"
expect_refused "1000000 more unmasked chunks in a format-2 file (CHNK $stored bytes)" \
	"corrupt: section CHNK says [0-9]+ chunks in $stored bytes" bare-1m.snap

# Format 1: the base as heapscan 1 wrote it (hash fields bare), read up to
# 1Mi chunks, refused past that with one line.
cp base.snap v1.snap
SNAPTOOL v1 v1.snap
"$HEAPSCAN" --json v1.snap >v1.json || fail "the base as format 1 does not read back"
# formats 1 and 2 hold the same: --diff compares them without --force, and
# nothing is new or freed between a file and itself in the other format
"$HEAPSCAN" --diff --json v1.snap base.snap >diff.json 2>diff.err ||
	fail "--diff of format 1 and format 2 of one snapshot: exit $?, $(cat diff.err)"
"$PYTHON" -c 'import json, sys
t = json.load(open(sys.argv[1]))["totals"]
sys.exit(0 if t["new"] == 0 and t["freed"] == 0 and t["chunks_a"] == t["chunks_b"] > 0 else 1)' diff.json ||
	fail "--diff of format 1 and 2 of one snapshot finds chunks new or freed: $(head -c 600 diff.json)"
n=$((1048576 - total0))
cp v1.snap v1-fits.snap
SNAPTOOL repeat v1-fits.snap "$n"
read -r stored raw <<<"$(chnk v1-fits.snap)"
expect_read v1-fits.snap "$n" "format 1, 1Mi chunks in all (CHNK $stored bytes)"
echo "ok: format 1, 1Mi identical chunks in CHNK $stored bytes: read back"
cp v1.snap v1-over.snap
SNAPTOOL repeat v1-over.snap $((n + 1))
read -r stored raw <<<"$(chnk v1-over.snap)"
expect_refused "format 1, 1Mi + 1 chunks in all (CHNK $stored bytes)" \
	"snapshot format version 1 .* with 1048577 chunks in $stored bytes.*take the snapshot again" \
	v1-over.snap
cp v1.snap v1-10m.snap
SNAPTOOL repeat v1-10m.snap 10000000
expect_refused "format 1, 10M identical chunks" "snapshot format version 1 .*take the snapshot again" \
	v1-10m.snap
