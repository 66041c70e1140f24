# glibc_live.sh - sourced by test/cases/glibc_live_2.NN.sh after lib.sh.
#
#   glibc_live VERSION   for the glibc VERSION in the test cache
#                        (HEAPSCAN_GLIBC_CACHE, default /var/cache/heapscan-glibc;
#                        README "glibc versions" says how it is filled): build
#                        the arenas, classes and leaks fixtures against it, run
#                        them and compare heapscan's account with each fixture's
#                        own truth, exactly: per-size in-use counts, free counts
#                        per kind, arenas, no problems, the version named in the
#                        report; the classes by vtable; the leaks.  Skips (77)
#                        when that version is not in the cache.

CACHE=${HEAPSCAN_GLIBC_CACHE:-/var/cache/heapscan-glibc}
GCCINC=$(gcc -print-file-name=include)
CXXVER=$(g++ -dumpversion 2>/dev/null)


# C++ fixtures link libstdc++ statically; it was built against this system's
# glibc and names a few symbols older ones lack.  None is used by the
# fixtures: defined here only when libc lacks them, and abort if called.
shim_for() { # shim_for DIR -> shim.c for that glibc
	local D=$1 syms
	syms=$(nm -D --defined-only "$D/lib/libc.so.6" "$D/lib/ld-linux-x86-64.so.2" 2>/dev/null)
	{
		echo '#include <stdlib.h>'
		grep -qw __libc_single_threaded <<<"$syms" || echo 'char __libc_single_threaded = 0;'
		grep -qw _dl_find_object <<<"$syms" || echo 'int _dl_find_object(void *pc, void *out) { (void)pc; (void)out; return -1; }'
		grep -qw arc4random <<<"$syms" || echo 'unsigned int arc4random(void) { abort(); }'
		grep -qw getentropy <<<"$syms" || echo 'int getentropy(void *b, unsigned long n) { (void)b; (void)n; abort(); }'
	} >shim.c
}

build_for() { # build_for VERSION DIR -> fx-VERSION/{arenas,classes,leaks}
	local v=$1 D=$2 out=fx-$1 f
	local link=(-B "$D/lib" -L "$D/lib" "-Wl,--dynamic-linker=$D/lib/ld-linux-x86-64.so.2"
		"-Wl,-rpath,$D/lib" -I "$TOP/fixtures")
	# Kernel headers (linux/, asm/) are not part of glibc: the system's,
	# and nothing else from /usr/include.
	mkdir -p "$out" kh
	ln -sfn /usr/include/linux kh/linux
	ln -sfn /usr/include/asm-generic kh/asm-generic
	ln -sfn "/usr/include/$(gcc -print-multiarch)/asm" kh/asm
	gcc -std=gnu11 -O1 -g -Wall -pthread -nostdinc -isystem "$D/include" -isystem "$GCCINC" \
		-idirafter kh "${link[@]}" -o "$out/arenas" "$TOP/fixtures/arenas.c" -pthread ||
		fail "glibc $v: cannot build the arenas fixture against $D"
	# before 2.18 (no __cxa_thread_atexit_impl) the static libstdc++
	# aborts at start-up: C fixture only
	NOCXX=
	nm -D --defined-only "$D/lib/libc.so.6" | grep -qw __cxa_thread_atexit_impl ||
		{ NOCXX="glibc $v lacks __cxa_thread_atexit_impl, which this libstdc++ needs"; return 0; }
	shim_for "$D"
	gcc -O1 -c -nostdinc -isystem "$D/include" -isystem "$GCCINC" -o shim.o shim.c ||
		fail "glibc $v: cannot build shim.c"
	for f in classes leaks; do
		g++ -std=gnu++17 -O1 -g -Wall -pthread -nostdinc -isystem "/usr/include/c++/$CXXVER" \
			-isystem "/usr/include/$(gcc -print-multiarch)/c++/$CXXVER" \
			-isystem "/usr/include/c++/$CXXVER/backward" -isystem "$GCCINC" \
			-isystem "$D/include" -idirafter kh "${link[@]}" -static-libstdc++ -static-libgcc \
			-o "$out/$f" "$TOP/fixtures/$f.cc" shim.o -pthread ||
			fail "glibc $v: cannot build the $f fixture against $D"
	done
}

check_version() { # check_version VERSION DIR
	local v=$1 D=$2 got
	build_for "$v" "$D"
	FIXTURES=$PWD/fx-$v

	start_fixture arenas
	awk -v d="$(readlink -f "$D")/" '$6 ~ /\/libc(-2\.[0-9]+(\.[0-9]+)?\.so|\.so\.6)$/ && index($6, d) == 1 { ok = 1 } END { exit !ok }' \
		"/proc/$FIXTURE_PID/maps" ||
		fail "glibc $v: the arenas fixture does not map $D's libc"
	"$HEAPSCAN" --json "$FIXTURE_PID" >arenas-$v.json 2>err.txt || fail "glibc $v: heapscan --json exited $?: $(cat err.txt)"
	check_truth "$READY" arenas-$v.json
	got=$(json_field arenas-$v.json glibc)
	[ "$got" = "$v" ] || fail "glibc $v: the report says glibc '$got'"
	[ "$(json_field arenas-$v.json problems)" = 0 ] || fail "glibc $v: heapscan reports problems"
	[ "$(json_field arenas-$v.json tcache_unknown)" = False ] || fail "glibc $v: thread caches not located"
	# mp_ found (its n_mmaps is reported) and agrees with the walk; 2.12-2.14
	# keep mp_ in .bss, which heapscan does not search
	if [ "${v#2.}" -ge 15 ]; then
		[ "$(json_field arenas-$v.json glibc_mmapped_chunks)" = "$(json_field arenas-$v.json mmapped_chunks)" ] ||
			fail "glibc $v: mp_ not found, or its mmapped count differs from the walk's"
	fi
	"$HEAPSCAN" "$FIXTURE_PID" >arenas-$v.txt 2>err.txt || fail "glibc $v: text report exited $?"
	grep -q "glibc $v" arenas-$v.txt || fail "glibc $v: the text report does not name glibc $v"
	assert_running "$FIXTURE_PID"
	stop_fixture "$FIXTURE_PID"

	if [ -n "$NOCXX" ]; then
		echo "ok: glibc $v: arenas exact; classes and leaks not run: $NOCXX"
		return 0
	fi
	start_fixture classes
	run_types --vtables "$FIXTURE_PID"
	run_types --json "$FIXTURE_PID"
	check_types vtables.out json.out "$READY"
	stop_fixture "$FIXTURE_PID"

	start_fixture leaks
	"$HEAPSCAN" --leaks --json "$FIXTURE_PID" >leaks-$v.json 2>err.txt || fail "glibc $v: --leaks exited $?"
	"$PYTHON" "$TOP/test/check_leaks.py" "$READY" "$READY.addrs" leaks-$v.json ||
		fail "glibc $v: leak counts differ from the truth"
	stop_fixture "$FIXTURE_PID"
	echo "ok: glibc $v: arenas, classes and leaks exact"
}

glibc_live() {
	local v=$1 d=$CACHE/$1
	need_heapscan
	[ -e "$d/lib/libc.so.6" ] && [ -e "$d/lib/ld-linux-x86-64.so.2" ] && [ -e "$d/include/stdio.h" ] ||
		skip "glibc $v is not in $CACHE (README: glibc versions)"
	check_version "$v" "$d"
}
