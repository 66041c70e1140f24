# snap_compressible: the reader's bounds must not refuse a file heapscan
# itself writes.  A heap of many identical chunks (a strdup'd constant in a
# loop, the leak content clusters are for) gives a chunk table of identical
# records that zstd shrinks a thousandfold and more: a live process with
# 100000 strdup("test_memory") gives CHNK 133 bytes for 800035.  Here: a
# snapshot of the strings fixture, and the same snapshot with 10000, 100000,
# 1000000 and 10000000 more copies of its commonest chunk record (1600x to
# 10800x, where zstd level 3 levels off), made by snaptool repeat, which
# recompresses exactly as heapscan's writer does (with 0 more copies it gives
# back the identical file, which is checked).  Each reads back (exit 0,
# nothing on stderr) with in_use_chunks and the "test_memory" type's count
# grown by exactly that many.  Needs the zstd command.
. "${TOP:?run me through test/run.sh}/test/lib.sh" || exit 1
. "$TOP/test/fuzz/snaplib.sh" || exit 1
need_heapscan
command -v zstd >/dev/null || skip "no zstd command (apt-get install zstd)"
limit_memory
take_snapshot strings base.snap
cp base.snap same.snap
SNAPTOOL repeat same.snap 0
cmp -s base.snap same.snap || fail "snaptool repeat 0 does not give back heapscan's own file: it does not compress as heapscan does"

count_of() {   # count_of JSON: "in_use_chunks test_memory_count"
	"$PYTHON" -c 'import json, sys
j = json.load(open(sys.argv[1]))
t = [x["count"] for x in j["types"] if x["name"] == "\"test_memory\""]
print(j["summary"]["in_use_chunks"], t[0] if t else 0)' "$1"
}
"$HEAPSCAN" --json base.snap >base.json || fail "the base snapshot does not read back"
read -r chunks0 strings0 <<<"$(count_of base.json)"
for n in 10000 100000 1000000 10000000; do
	cp base.snap "more-$n.snap"
	SNAPTOOL repeat "more-$n.snap" "$n"
	ratio=$(SNAPTOOL info "more-$n.snap" | awk '$1 == "CHNK" { printf "%d bytes for %d, %.0fx", $3, $4, $4 / $3 }')
	run_limited --json "more-$n.snap"
	[ "$rc" = 0 ] || fail "a snapshot of $n more identical chunks (CHNK $ratio) is refused: exit $rc, $(cat err.txt)"
	[ -s err.txt ] && fail "$n more identical chunks: stderr: $(cat err.txt)"
	read -r chunks strings <<<"$(count_of out.txt)"
	[ "$chunks" = $((chunks0 + n)) ] && [ "$strings" = $((strings0 + n)) ] ||
		fail "$n more identical chunks: in_use_chunks $chunks0 -> $chunks, \"test_memory\" $strings0 -> $strings"
	echo "ok: $n more identical chunks (CHNK $ratio) read back"
done
