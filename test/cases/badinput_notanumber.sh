#!/bin/bash
# badinput_notanumber: arguments that are not a pid are usage errors (exit 2)
# and say which argument was wrong; no argument at all is one too.  Nothing
# is read from /proc for them, and nothing goes to stdout; each is one line
# ending "try 'heapscan --help'".
set -u
: "${HEAPSCAN:?run through test/run.sh}" "${FIXTURES:?}" "${TOP:?}"
export HEAPSCAN

. "$TOP/test/refusal.sh"
[ -x "$HEAPSCAN" ] || fail "$HEAPSCAN does not exist (not built?)"

for arg in "12x" "abc" "" " 1" "1 " "0" "99999999999" "4194305" "0x10" "+5"; do
	run_heapscan "$arg"
	expect_exact 2 "'$arg' is not a process id or a snapshot file; try 'heapscan --help'"
done

# No argument: one line with the cause and where to look, not the whole help.
run_heapscan
expect_exact 2 "no process id given; try 'heapscan --help'"
echo "ok: no argument: exit 2, $(head -n 1 stderr.txt)"
