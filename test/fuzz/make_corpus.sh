#!/bin/bash
# make_corpus.sh - (re)make the fuzzer's seed corpus, test/fuzz/corpus/.
#
#   make heapscan fixtures && bash test/fuzz/make_corpus.sh
#
# Real snapshots of small fixtures (strings, classes, arenas; with and without
# --contents), uncompressed variants of two of them (flags 0: mutations then
# land on varints, not on zstd frames), and hand-made files for the header
# checks: empty, magic only, a bare header, no sections, a newer version, too
# many sections, a section claiming 2^63 bytes, a zstd section claiming 2^40
# bytes uncompressed.  Every file is well under 200 KB.  Needs root or ptrace
# rights over the fixtures, python3 and the zstd command.
set -eu
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
OUT=$TOP/test/fuzz/corpus
TOOL="python3 $TOP/test/fuzz/snaptool.py"
WORK=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT

# snap FIXTURE: real/FIXTURE.snap and real/FIXTURE-contents.snap
snap() {
	local i
	"$TOP/build/fixtures/$1" "$WORK/$1.ready" &
	PID=$!
	for ((i = 0; i < 2000; i++)); do
		[ -e "$WORK/$1.ready" ] && break
		sleep 0.01
	done
	"$TOP/heapscan" --snapshot "$OUT/$1.snap" "$PID"
	"$TOP/heapscan" --snapshot "$OUT/$1-contents.snap" --contents "$PID"
	kill "$PID"
	wait "$PID" || true
	PID=
}

rm -rf "$OUT"
mkdir -p "$OUT"
snap strings
snap classes
snap arenas
rm "$OUT/arenas-contents.snap" # 1.8 KB, nothing the others lack
$TOOL raw "$OUT/classes.snap" "$OUT/classes-raw.snap"
$TOOL raw "$OUT/arenas.snap" "$OUT/arenas-raw.snap"

: >"$OUT/empty"
printf 'HEAPSCN\n' >"$OUT/magic-only"
printf 'HEAPSCN\n\001\0\0\0\0\0\0\0' >"$OUT/header-only"
# no sections, a valid trailer
printf 'HEAPSCN\n\001\0\0\0\0\0\0\0HSEND\0\0\0\0\0\0\0\0\0\0\0' >"$OUT/no-sections"
$TOOL resum "$OUT/no-sections"
cp "$OUT/strings.snap" "$OUT/version-2"
$TOOL put "$OUT/version-2" 8 u32 2
cp "$OUT/strings.snap" "$OUT/sections-17"
$TOOL put "$OUT/sections-17" 12 u32 17
$TOOL resum "$OUT/sections-17"
# one META section claiming 2^63 stored bytes, sealed
printf 'HEAPSCN\n\001\0\0\0\001\0\0\0META\0\0\0\0\0\0\0\0\0\0\0\200\0\0\0\0\0\0\0\200\0\0\0\0\0\0\0\0HSEND\0\0\0\0\0\0\0\0\0\0\0' \
	>"$OUT/huge-section-length"
$TOOL resum "$OUT/huge-section-length"
# CHNK as a zstd frame whose header claims 2^40 bytes, sealed
cp "$OUT/strings.snap" "$OUT/huge-raw"
$TOOL zframe "$WORK/frame" $((1 << 40)) 64
$TOOL replace "$OUT/huge-raw" CHNK "$WORK/frame" 1 $((1 << 40))
ls -l "$OUT"
