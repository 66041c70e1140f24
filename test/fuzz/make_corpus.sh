#!/bin/bash
# make_corpus.sh - (re)make the fuzzer's seed corpus, test/fuzz/corpus/.
#
#   make heapscan fixtures && bash test/fuzz/make_corpus.sh
#
# Real snapshots of small fixtures (strings, classes, arenas, leaks; with and without
# --contents), uncompressed variants of two of them (flags 0: mutations then
# land on varints, not on zstd frames), and hand-made files for the header
# checks: empty, magic only, a bare header, no sections, a newer version, too
# many sections, a section claiming 2^63 bytes, a zstd section claiming 2^40
# bytes uncompressed; and two uncompressed files whose PROB and CHNK were
# written here, for what real snapshots of the fixtures lack: heap problems
# and 300 distinct chunk sizes.  Every file is well under 200 KB.  Needs root
# or ptrace rights over the fixtures, python3 and the zstd command.
# CORPUS_OUT=DIR writes elsewhere.
set -eu
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
OUT=${CORPUS_OUT:-$TOP/test/fuzz/corpus}
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
snap leaks # a RACH section with every reach state
# a RETN section (retainers): the retain fixture with --retained, uncompressed too
"$TOP/build/fixtures/retain" "$WORK/retain.ready" &
PID=$!
for ((i = 0; i < 2000; i++)); do
	[ -e "$WORK/retain.ready" ] && break
	sleep 0.01
done
"$TOP/heapscan" --snapshot "$OUT/retain.snap" --retained "$PID"
kill "$PID"
wait "$PID" || true
PID=
rm "$OUT/arenas-contents.snap" "$OUT/leaks-contents.snap" # nothing the others lack
$TOOL raw "$OUT/classes.snap" "$OUT/classes-raw.snap"
$TOOL raw "$OUT/arenas.snap" "$OUT/arenas-raw.snap"
$TOOL raw "$OUT/retain.snap" "$OUT/retain-raw.snap"

: >"$OUT/empty"
printf 'HEAPSCN\n' >"$OUT/magic-only"
printf 'HEAPSCN\n\002\0\0\0\0\0\0\0' >"$OUT/header-only"
# no sections, a valid trailer
printf 'HEAPSCN\n\002\0\0\0\0\0\0\0HSEND\0\0\0\0\0\0\0\0\0\0\0' >"$OUT/no-sections"
$TOOL resum "$OUT/no-sections"
cp "$OUT/strings.snap" "$OUT/version-3"
$TOOL put "$OUT/version-3" 8 u32 3
cp "$OUT/strings.snap" "$OUT/sections-17"
$TOOL put "$OUT/sections-17" 12 u32 17
$TOOL resum "$OUT/sections-17"
# one META section claiming 2^63 stored bytes, sealed
printf 'HEAPSCN\n\002\0\0\0\001\0\0\0META\0\0\0\0\0\0\0\0\0\0\0\200\0\0\0\0\0\0\0\200\0\0\0\0\0\0\0\0HSEND\0\0\0\0\0\0\0\0\0\0\0' \
	>"$OUT/huge-section-length"
$TOOL resum "$OUT/huge-section-length"
# CHNK as a zstd frame whose header claims 2^40 bytes, sealed
cp "$OUT/strings.snap" "$OUT/huge-raw"
$TOOL zframe "$WORK/frame" $((1 << 40)) 64
$TOOL replace "$OUT/huge-raw" CHNK "$WORK/frame" 1 $((1 << 40))
# heap problems, and more distinct chunk sizes than the report's size table
# starts with: uncompressed snapshots with PROB and CHNK replaced
$TOOL raw "$OUT/classes.snap" "$OUT/problems.snap"
printf '\002\200\040\024corrupt chunk header\200\100\013double free' >"$WORK/prob"
$TOOL replace "$OUT/problems.snap" PROB "$WORK/prob" 0 "$(stat -c %s "$WORK/prob")"
$TOOL raw "$OUT/strings.snap" "$WORK/strings-raw.snap"
cp "$WORK/strings-raw.snap" "$OUT/many-sizes.snap"
python3 - "$WORK/chnk" <<'PY'
import struct, sys
def var(v):
    out = bytearray()
    while True:
        out.append((v & 0x7f) | (0x80 if v > 0x7f else 0))
        v >>= 7
        if not v:
            return bytes(out)
n = 300  # in-use chunks in arena 0 of sizes 0x20, 0x30, ... all of type 0
p = var(n) + b"".join(var(0) + var(2 + i) + var(0) + var(1) + struct.pack("<I", i) for i in range(n))
open(sys.argv[1], "wb").write(p)
PY
$TOOL replace "$OUT/many-sizes.snap" CHNK "$WORK/chnk" 0 "$(stat -c %s "$WORK/chnk")"
# format 1 (hash fields not masked), which the reader still takes on a
# fixed budget: the classes snapshot as heapscan 1 wrote it, and raw
cp "$OUT/classes.snap" "$OUT/v1-classes.snap"
$TOOL v1 "$OUT/v1-classes.snap"
$TOOL raw "$OUT/v1-classes.snap" "$OUT/v1-classes-raw.snap"
ls -l "$OUT"
