#!/bin/bash
# make_heap_corpus.sh - (re)make fuzz_heap's seed corpus, test/fuzz/heap_corpus/.
#
#   make fuzz-seeds        (builds heapscan, the fixtures and build/fuzz/dump_image)
#
# One seed per live fixture, written by dump_image (see test/fuzz/heap_seed.h):
# arenas (5 arenas, every bin kind), strings (identical contents, shapes),
# classes (C++ objects, with the executable's vtables and typeinfo), busy (four
# threads in malloc: arenas caught mid-update; heaps bigger than a seed holds),
# corrupt (a damaged arena: bad size, broken bin link, wrong tcache count).
# (lists is left out: its [heap] is bigger than a region may be.)  Plus two made here: the header alone, and a header with
# a main_arena that is in no region.  Each seed is a few hundred KiB at most.
# Needs root or ptrace rights over the fixtures.  CORPUS_OUT=DIR writes elsewhere.
set -eu
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
OUT=${CORPUS_OUT:-$TOP/test/fuzz/heap_corpus}
DUMP=$TOP/build/fuzz/dump_image
WORK=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT

[ -x "$DUMP" ] || { echo "make_heap_corpus: $DUMP not built (make fuzz-seeds)" >&2; exit 1; }

# seed FIXTURE [SLICE_KIB]: OUT/FIXTURE.seed from a live FIXTURE
seed() {
	local i
	"$TOP/build/fixtures/$1" "$WORK/$1.ready" &
	PID=$!
	for ((i = 0; i < 2000; i++)); do
		[ -e "$WORK/$1.ready" ] && break
		sleep 0.01
	done
	[ -e "$WORK/$1.ready" ] || { echo "make_heap_corpus: $1 not ready" >&2; exit 1; }
	"$DUMP" "$PID" "$OUT/$1.seed" "${2:-192}" 2>"$WORK/$1.log" ||
		{ cat "$WORK/$1.log" >&2; exit 1; }
	kill "$PID"
	wait "$PID" || true
	PID=
}

rm -rf "$OUT"
mkdir -p "$OUT"
seed arenas
seed strings 400
seed classes 128
seed busy 128
[ -x "$TOP/build/fixtures/corrupt" ] && seed corrupt 128
# u64 main_arena, u64 mp_, minor 36, no threads; then nothing / one region elsewhere
printf '\0\020\0\0\0\177\0\0\0\0\0\0\0\0\0\0\044\0\0\0\0\0\0\0' >"$OUT/header-only"
cp "$OUT/header-only" "$OUT/arena-unmapped"
printf '\0\0\0\0\0\125\0\0\0\020\0\0\0\020\0\0\013\001\0\0' >>"$OUT/arena-unmapped"
head -c 4096 /dev/zero | tr '\0' '\041' >>"$OUT/arena-unmapped"
ls -l "$OUT"
