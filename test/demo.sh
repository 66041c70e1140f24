#!/bin/bash
# demo.sh - what `make demo` runs (cwd = repo root): start the bundled leaking
# service (build/fixtures/demo), wait until its heap is built, scan it with
# ./heapscan, stop it again - also on Ctrl-C - and exit with heapscan's status.
set -u

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
DEMO=$TOP/build/fixtures/demo
HEAPSCAN=$TOP/heapscan
for f in "$DEMO" "$HEAPSCAN"; do
	[ -x "$f" ] || { echo "demo: $f is not built (run make)" >&2; exit 1; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/heapscan-demo.XXXXXX") || exit 1
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill -CONT "$pid" 2>/dev/null
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

"$DEMO" "$dir/demo.ready" &
pid=$!
for ((i = 0; i < 2000; i++)); do
	[ -e "$dir/demo.ready" ] && break
	kill -0 "$pid" 2>/dev/null || { echo "demo: the demo service exited early" >&2; exit 1; }
	sleep 0.01
done
[ -e "$dir/demo.ready" ] || { echo "demo: the demo service was not ready after 20 s" >&2; exit 1; }

leaked=$(sed -n 's/^leaked_requests //p' "$dir/demo.ready")
echo "demo: pid $pid is a pretend web service (fixtures/demo.c) that leaked $leaked requests; scanning it:" >&2
"$HEAPSCAN" "$pid"
rc=$?
exit "$rc"
