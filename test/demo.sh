#!/bin/bash
# demo.sh - what `make demo` runs (cwd = repo root): start the bundled leaking
# service (build/fixtures/demo), wait until its heap is built, and show what
# heapscan says of it: the report, then --leaks, then --why on one leaked
# chunk.  The service is left running for you to try heapscan by hand; its
# pid is printed and kept in $DEMO_DIR/pid.
#
#   bash test/demo.sh          start (a demo already running is stopped first)
#   bash test/demo.sh --stop   stop it (what `make demo-stop` runs)
#
# DEMO_DIR (default build/demo) holds the pid and the ready file.
set -u

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
DEMO=$TOP/build/fixtures/demo
HEAPSCAN=$TOP/heapscan
DEMO_DIR=${DEMO_DIR:-$TOP/build/demo}
WAIT_SECS=120 # a bound for hangs only: the demo is ready in well under a second

# the running demo's pid, if $DEMO_DIR/pid names a live one of ours
running_pid() {
	local p
	p=$(cat "$DEMO_DIR/pid" 2>/dev/null) || return 1
	[[ "$p" =~ ^[0-9]+$ ]] && [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$DEMO" ] && echo "$p"
}

stop_demo() {
	local p i
	if p=$(running_pid); then
		kill -CONT "$p" 2>/dev/null
		kill -TERM "$p" 2>/dev/null
		for ((i = 0; i < WAIT_SECS * 100; i++)); do
			[ -d "/proc/$p" ] || break
			sleep 0.01
		done
		echo "demo: stopped pid $p"
	else
		echo "demo: no demo running"
	fi
	rm -rf "$DEMO_DIR"
}

if [ "${1:-}" = --stop ]; then
	stop_demo
	exit 0
fi

for f in "$DEMO" "$HEAPSCAN"; do
	[ -x "$f" ] || { echo "demo: $f is not built (run make)" >&2; exit 1; }
done
running_pid >/dev/null && stop_demo >/dev/null
mkdir -p "$DEMO_DIR" || exit 1
pid=
# until the demo is up, a failure or Ctrl-C stops it; afterwards it stays
giveup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	rm -rf "$DEMO_DIR"
}
trap giveup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# its own session, so make's end and the terminal's Ctrl-C leave it running
setsid "$DEMO" "$DEMO_DIR/ready" </dev/null >/dev/null 2>&1 &
pid=$!
echo "$pid" >"$DEMO_DIR/pid"
for ((i = 0; i < WAIT_SECS * 100; i++)); do
	[ -e "$DEMO_DIR/ready" ] && break
	kill -0 "$pid" 2>/dev/null || { echo "demo: the demo service exited early" >&2; exit 1; }
	sleep 0.01
done
[ -e "$DEMO_DIR/ready" ] || { echo "demo: the demo service was not ready after $WAIT_SECS s" >&2; exit 1; }
leaked=$(sed -n 's/^leaked_requests //p' "$DEMO_DIR/ready")

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }   # a heading (bold on a terminal)
[ -t 1 ] || say() { printf '\n== %s\n' "$*"; }
run() { echo "\$ heapscan ${*}"; "$HEAPSCAN" "$@" || exit $?; }

say "1. What is this process's heap made of?  (pid $pid: fixtures/demo.c, a pretend web service)"
run --top 5 "$pid"
say "2. The report shows shapes, not a leak.  What has nothing pointing to it?"
run --leaks --top 5 "$pid"
# one leaked request: the first type's first sample
addr=$("$HEAPSCAN" --leaks --json "$pid" | sed -n 's/.*"samples": \["\(0x[0-9a-f]*\)".*/\1/p' | head -n 1)
[ -n "$addr" ] || { echo "demo: no leaked chunk found" >&2; exit 1; }
say "3. Why is $addr still around?  (for a reachable chunk: the chain that holds it)"
run --why "$addr" "$pid"

trap - EXIT
cat <<EOT

The demo says it leaked $leaked requests: the 256-byte chunks whose preview shows
GET or POST above (the paths they own are their indirect leaks; the /api/...
paths leaked directly are its logger's bug).  It is still running, so try it:

    ./heapscan $pid                      # the report again (--json for JSON)
    ./heapscan --leaks $pid              # the leaks; each row has a sample address
    ./heapscan --why ADDR $pid           # what holds ADDR (try a session: --referrers too)
    ./heapscan --snapshot a.snap $pid    # save it; ./heapscan a.snap reads it back
    man -l doc/heapscan.1                # every option

When you are done:  make demo-stop   (or: kill $pid)
EOT
