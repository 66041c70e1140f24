#!/bin/bash
# badinput_self: heapscan asked to scan its own pid (a shell that execs it
# with $$) refuses with exit 5 (EXIT_UNSUPPORTED) instead of trying to stop
# itself.
set -u
: "${HEAPSCAN:?run through test/run.sh}" "${FIXTURES:?}" "${TOP:?}"
export HEAPSCAN

. "$TOP/test/refusal.sh"
[ -x "$HEAPSCAN" ] || fail "$HEAPSCAN does not exist (not built?)"

sh -c 'echo $$ >self.pid; exec "$HEAPSCAN" $$' >stdout.txt 2>stderr.txt </dev/null
rc=$?
self=$(cat self.pid)
expect_exact 5 "pid $self is heapscan itself"
