#!/bin/bash
# badinput_static: a statically linked program (gcc -static, built here) has
# no libc.so.6 whose malloc heapscan could model: refused with exit 5
# (EXIT_UNSUPPORTED), the executable named; left running.
set -u
: "${HEAPSCAN:?run through test/run.sh}" "${FIXTURES:?}" "${TOP:?}"
export HEAPSCAN

. "$TOP/test/refusal.sh"
[ -x "$HEAPSCAN" ] || fail "$HEAPSCAN does not exist (not built?)"

command -v gcc >/dev/null || skip "gcc not installed"
cat >target.c <<'C'
/* Announces itself (ready file, tmp + rename), then waits for signals. */
#include <stdio.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	char tmp[4096];
	FILE *f;

	if (argc != 2 || snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]) >= (int)sizeof(tmp))
		return 2;
	f = fopen(tmp, "w");
	if (!f || fputs("ready\n", f) < 0 || fclose(f) != 0 || rename(tmp, argv[1]) != 0)
		return 1;
	for (;;)
		pause();
}
C
gcc -static -O1 -o static_target target.c 2>build.log ||
	skip "gcc -static failed (libc6-dev's libc.a missing?): $(head -n 3 build.log)"

start "$PWD/static_target" "$PWD/static.ready"
target=$PID
wait_for 120 test -e static.ready || fail "static_target not ready (state $(state "$target"))"
exe=$(readlink "/proc/$target/exe")

run_heapscan "$target"
expect_exact 5 "process $target is statically linked ($exe); heapscan needs glibc's malloc in libc.so.6"
assert_running "$target"
