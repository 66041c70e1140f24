#!/usr/bin/env bash
# bench/gdb_xa.sh [OBJECTS] [THREADS] - the classic way to count C++ objects,
# beside heapscan --vtables on the same process: gdb `x/a` over [heap],
# grep the vtable symbols, sort | uniq -c.  It sees only the main arena's
# [heap] and counts stale vtable pointers in freed memory; heapscan sees all
# arenas and live chunks only.  The workload prints the truth.
set -euo pipefail
cd "$(dirname "$0")/.."
objects=${1:-500000} threads=${2:-4}
make -s heapscan
command -v gdb >/dev/null || { echo "gdb is not installed" >&2; exit 1; }
out=$(mktemp -d)
trap 'kill $gen 2>/dev/null; rm -rf "$out"' EXIT
g++ -O1 -pthread -o "$out/gencxx" bench/gencxx.cc 2>/dev/null
run() { # MODE: "" (threads, one arena each) or "main-only"
	rm -f "$out/ready"
	"$out/gencxx" "$out/ready" "$objects" "$threads" $1 & gen=$!
	for _ in $(seq 3000); do [ -e "$out/ready" ] && break; sleep 0.05; done
	read -r s e < <(awk '/\[heap\]/ { split($1, a, "-"); print a[1], a[2] }' /proc/$gen/maps)
	words=$(( (0x$e - 0x$s) / 8 ))
	t0=$(date +%s%N)
	gdb -q -batch -p "$gen" -ex "x/${words}a 0x$s" 2>/dev/null |
		{ grep -o '<_ZTVN3app[^+>]*\|<vtable for app::[A-Za-z]*' || true; } |
		sed 's/<_ZTVN3app[0-9]*\([A-Za-z]*\)E/app::\1/; s/<vtable for //' |
		sort | uniq -c | sort -k2 > "$out/gdb"
	t1=$(date +%s%N)
	./heapscan --vtables "$gen" | awk -F'\t' '{print $1, $2}' | sort -k2 > "$out/hs"
	t2=$(date +%s%N)
	echo "== ${1:-threads} mode: $objects objects, $threads threads, [heap] $(( (0x$e - 0x$s) >> 20 )) MiB"
	echo "gdb x/a pipeline: $(( (t1 - t0) / 1000000 )) ms; heapscan --vtables: $(( (t2 - t1) / 1000000 )) ms"
	printf '%-14s %10s %10s %10s\n' class truth gdb heapscan
	for c in app::Base app::Order app::Item app::Session; do
		printf '%-14s %10s %10s %10s\n' "$c" "$(awk -v c="$c" '$2 == c {print $3}' "$out/ready")" \
			"$(awk -v c="$c" '$2 == c {print $1}' "$out/gdb")" \
			"$(awk -v c="$c" '$2 == c {print $1}' "$out/hs")"
	done
	kill $gen; wait $gen 2>/dev/null || true
}
run main-only
run ""
