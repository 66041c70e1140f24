#!/bin/bash
# make_core_corpus.sh [DIR] - the core fuzzer's seeds (default
# build/fuzz/core-seeds; `make fuzz FUZZ_TARGET=core` makes them): not
# committed, they are made from what is:
#   - test/gen_core.py's small cores, one valid and the rest hostile (but
#     nt_file_many, 8.7 MB: too big to mutate);
#   - the heap fuzzer's seeds (test/fuzz/heap_corpus, real heaps) as cores;
#   - the committed fixture cores of glibc 2.27, 2.36 and 2.42
#     (fixtures/cores/), trimmed by gen_core.py --trim to under 1 MB each:
#     2.36 is this machine's glibc, so their libc's code serves; the others
#     are found in memory.
# Needs python3 and the zstd command.
set -eu
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
OUT=${1:-$TOP/build/fuzz/core-seeds}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
rm -f "$OUT"/*.core
python3 "$TOP/test/gen_core.py" "$OUT" "$TOP"/test/fuzz/heap_corpus/*.seed
rm -f "$OUT/nt_file_many.core"
for v in 2.27 2.36 2.42; do
	for f in "$TOP/fixtures/cores/$v"/*.core.zst; do
		[ -e "$f" ] || continue
		name=$(basename "$f" .core.zst)
		zstd -q -d -f "$f" -o "$WORK/core"
		python3 "$TOP/test/gen_core.py" --trim "$WORK/core" "$OUT/$v-$name.core"
		rm -f "$WORK/core"
	done
done
ls -l "$OUT" | awk 'NR > 1 { n++; b += $5 } END { printf "%d seeds, %d bytes\n", n, b }'
