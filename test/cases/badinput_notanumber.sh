#!/bin/bash
# badinput_notanumber: arguments that are not a pid are usage errors (exit 2)
# and say which argument was wrong; no argument at all is one too.  Nothing
# is read from /proc for them, and nothing goes to stdout.
set -u
: "${HEAPSCAN:?run through test/run.sh}" "${FIXTURES:?}" "${TOP:?}"
export HEAPSCAN

. "$TOP/test/refusal.sh"
[ -x "$HEAPSCAN" ] || fail "$HEAPSCAN does not exist (not built?)"

for arg in "12x" "abc" "" " 1" "1 " "0" "99999999999" "4194305" "0x10" "+5"; do
	run_heapscan "$arg"
	expect_exact 2 "'$arg' is not a process id or a snapshot file"
done

# No argument: the cause on the first line, then the usage text (also stderr).
run_heapscan
[ "$rc" = 2 ] || fail "no argument: expected exit status 2, got $rc; stderr: $(cat stderr.txt)"
[ -s stdout.txt ] && fail "no argument: expected nothing on stdout, got: $(cat stdout.txt)"
[ "$(head -n 1 stderr.txt)" = "heapscan: no process id given" ] ||
	fail "no argument: expected 'heapscan: no process id given' first, got: $(cat stderr.txt)"
grep -q '^usage: heapscan ' stderr.txt || fail "no argument: expected the usage on stderr, got: $(cat stderr.txt)"
echo "ok: no argument: exit 2, $(head -n 1 stderr.txt)"
