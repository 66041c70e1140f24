#!/bin/bash
# badinput_perm_dumpable: a process of heapscan's own uid that made itself
# non-dumpable (prctl(PR_SET_DUMPABLE, 0), as set-uid programs are) cannot be
# read without CAP_SYS_PTRACE: refused with exit 4 (EXIT_PERM) and that cause,
# not the uid one.  Both run as nobody (uid 65534, no capabilities); the
# target, built here, is left running.
set -u
: "${HEAPSCAN:?run through test/run.sh}" "${FIXTURES:?}" "${TOP:?}"
export HEAPSCAN

. "$TOP/test/refusal.sh"
[ -x "$HEAPSCAN" ] || fail "$HEAPSCAN does not exist (not built?)"

[ "$(id -u)" = 0 ] || skip "needs root to run heapscan and its target as another uid"
command -v setpriv >/dev/null || skip "setpriv not installed (package util-linux)"
command -v gcc >/dev/null || skip "gcc not installed"

bindir=$(mktemp -d /tmp/heapscan-perm.XXXXXX) || fail "mktemp failed"
extra_cleanup() { rm -rf "$bindir"; }
cat >"$bindir/target.c" <<'C'
/* Turns non-dumpable, announces itself (ready file, tmp + rename), waits. */
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	char tmp[4096];
	FILE *f;

	if (argc != 2 || snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]) >= (int)sizeof(tmp))
		return 2;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return 1;
	f = fopen(tmp, "w");
	if (!f || fputs("ready\n", f) < 0 || fclose(f) != 0 || rename(tmp, argv[1]) != 0)
		return 1;
	for (;;)
		pause();
}
C
gcc -O1 -o "$bindir/undumpable" "$bindir/target.c" 2>build.log || fail "gcc failed: $(head -n 3 build.log)"
cp "$HEAPSCAN" "$bindir/heapscan" || fail "cannot copy heapscan to $bindir"
# nobody writes its ready file there
chmod 777 "$bindir" && chmod 755 "$bindir/heapscan" || fail "chmod failed"

nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)
start "${nobody[@]}" "$bindir/undumpable" "$bindir/ready"
target=$PID   # setpriv execs the target: the same pid
wait_for 120 test -e "$bindir/ready" || fail "undumpable target not ready (state $(state "$target"))"
[ "$(readlink "/proc/$target/exe")" = "$bindir/undumpable" ] || fail "$target is not the target"

"${nobody[@]}" "$bindir/heapscan" "$target" >stdout.txt 2>stderr.txt </dev/null
rc=$?
expect_exact 4 "process $target is not dumpable (set-uid program or prctl(PR_SET_DUMPABLE, 0)); run heapscan as root"
assert_running "$target"
