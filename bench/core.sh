#!/usr/bin/env bash
# bench/core.sh [CHUNKS] [THREADS] [RUNS] - stop window and total time of
# `heapscan --json` on a generated heap, beside a raw copy of the same memory.
# Not part of `make test`: times vary run to run; the ratio from one run counts.
set -euo pipefail
cd "$(dirname "$0")/.."
chunks=${1:-10000000} threads=${2:-4} runs=${3:-5}
make -s heapscan
out=$(mktemp -d)
trap 'kill $gen 2>/dev/null; rm -rf "$out"' EXIT
cc -O2 -pthread -o "$out/gen" bench/gen.c
cc -O2 -pthread -o "$out/rawcopy" bench/rawcopy.c
"$out/gen" "$out/ready" "$chunks" "$threads" & gen=$!
for _ in $(seq 2000); do [ -e "$out/ready" ] && break; sleep 0.05; done
[ -e "$out/ready" ] || { echo "workload did not start" >&2; exit 1; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for i in $(seq "$runs"); do
	s=$(date +%s%N)
	./heapscan --json "$gen" > "$out/scan.json"
	e=$(date +%s%N)
	python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["pause_ms"], s["in_use_chunks"]+s["free_chunks"]+s["mmapped_chunks"], s["copied_bytes"])' "$out/scan.json" >> "$out/pause"
	echo $(( (e - s) / 1000000 )) >> "$out/total"
	kill -STOP "$gen"; "$out/rawcopy" "$gen" >> "$out/raw"; kill -CONT "$gen"
done
pause=$(cut -d' ' -f1 "$out/pause" | median)
raw=$(cut -d' ' -f1 "$out/raw" | median)
total=$(median < "$out/total")
read -r _ nchunks bytes < <(tail -1 "$out/pause")
echo "chunks walked:        $nchunks"
echo "bytes copied:         $((bytes / 1048576)) MiB"
echo "stop window (median): ${pause} ms"
echo "raw copy (median):    ${raw} ms   ratio stop/raw: $(python3 -c "print(round($pause/$raw, 2))")"
echo "heapscan total wall:  ${total} ms (median of $runs)"
