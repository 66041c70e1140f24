#!/bin/bash
# badinput_musl: a program linked against musl libc (musl-gcc, built here)
# is refused with exit 5 (EXIT_UNSUPPORTED), the musl library named; left
# running.  Skips without musl-tools.
#
# Debian's interpreter /lib/ld-musl-x86_64.so.1 is a symlink; the maps show
# the file it resolves to, /usr/lib/x86_64-linux-musl/libc.so.
set -u
: "${HEAPSCAN:?run through test/run.sh}" "${FIXTURES:?}" "${TOP:?}"
export HEAPSCAN

. "$TOP/test/refusal.sh"
[ -x "$HEAPSCAN" ] || fail "$HEAPSCAN does not exist (not built?)"

command -v musl-gcc >/dev/null || skip "musl-gcc not installed (apt-get install musl-tools)"
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
musl-gcc -O1 -o musl_target target.c 2>build.log || fail "musl-gcc failed: $(head -n 3 build.log)"

start "$PWD/musl_target" "$PWD/musl.ready"
target=$PID
wait_for 120 test -e musl.ready || fail "musl_target not ready (state $(state "$target"))"
musl=$(awk '$6 ~ /musl/ && $6 ~ /\/(ld-musl-[^\/]*|libc\.so[^\/]*)$/ { print $6; exit }' \
	"/proc/$target/maps")
[ -n "$musl" ] || fail "no musl library in the maps of $target (linked statically?)"

run_heapscan "$target"
expect_exact 5 "process $target uses musl libc ($musl), not glibc; heapscan walks glibc malloc only"
assert_running "$target"
