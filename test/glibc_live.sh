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
# glibc and names a few symbols older ones lack.  Defined here only when libc
# lacks them (nothing is changed where libc has them):
#  - __libc_single_threaded (2.32), _dl_find_object (2.35), arc4random
#    (2.36), getentropy (2.25): not used by the fixtures; a stub, abort if
#    called (_dl_find_object says "not found": libgcc then walks the
#    program headers as it did before 2.35).
#  - __cxa_thread_atexit_impl (2.18): classes.cc has a thread_local with a
#    destructor, so every thread registers one.  Done as glibc 2.18 does it
#    (stdlib/cxa_thread_atexit_impl.c): calloc(1, 32) prepended to a
#    per-thread list, so the heap holds the same chunk a newer glibc's
#    would; the list runs at thread exit (a pthread key) and at exit().
#    The fixtures end by _exit, so it never runs there.
shim_for() { # shim_for DIR -> shim.c for that glibc
	local D=$1 syms
	syms=$(nm -D --defined-only "$D/lib/libc.so.6" "$D/lib/ld-linux-x86-64.so.2" 2>/dev/null)
	{
		echo '#include <stdlib.h>'
		grep -qw __libc_single_threaded <<<"$syms" || echo 'char __libc_single_threaded = 0;'
		grep -qw _dl_find_object <<<"$syms" || echo 'int _dl_find_object(void *pc, void *out) { (void)pc; (void)out; return -1; }'
		grep -qw arc4random <<<"$syms" || echo 'unsigned int arc4random(void) { abort(); }'
		grep -qw getentropy <<<"$syms" || echo 'int getentropy(void *b, unsigned long n) { (void)b; (void)n; abort(); }'
		grep -qw __cxa_thread_atexit_impl <<<"$syms" || cat <<'EOF'
#include <pthread.h>
struct dtor_list { void (*func)(void *); void *obj; void *map; struct dtor_list *next; };
static __thread struct dtor_list *tls_dtor_list;
static pthread_key_t tls_dtor_key;
static pthread_once_t tls_dtor_once = PTHREAD_ONCE_INIT;
static void call_tls_dtors(void *unused)
{
	(void)unused;
	while (tls_dtor_list) {
		struct dtor_list *cur = tls_dtor_list;
		tls_dtor_list = cur->next;
		cur->func(cur->obj);
		free(cur);
	}
}
static void call_main_tls_dtors(void) { call_tls_dtors(NULL); }
static void tls_dtor_init(void)
{
	if (pthread_key_create(&tls_dtor_key, call_tls_dtors) != 0 || atexit(call_main_tls_dtors) != 0)
		abort();
}
int __cxa_thread_atexit_impl(void (*func)(void *), void *obj, void *dso)
{
	struct dtor_list *new = calloc(1, sizeof *new);
	(void)dso;
	if (new == NULL)
		abort();
	pthread_once(&tls_dtor_once, tls_dtor_init);
	new->func = func;
	new->obj = obj;
	new->next = tls_dtor_list;
	tls_dtor_list = new;
	pthread_setspecific(tls_dtor_key, (void *)1);
	return 0;
}
EOF
	} >shim.c
	# libstdc++'s <cstdlib> says "using ::aligned_alloc" (glibc 2.16): a
	# declaration for older headers (the fixtures do not call it).
	mkdir -p compat
	cat >compat/stdlib.h <<'EOF'
#include_next <stdlib.h>
#if defined(__GLIBC__) && __GLIBC__ == 2 && __GLIBC_MINOR__ < 16 && !defined(SHIM_ALIGNED_ALLOC)
#define SHIM_ALIGNED_ALLOC
extern void *aligned_alloc(size_t, size_t);
#endif
EOF
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
	shim_for "$D"
	gcc -O1 -Wall -c -nostdinc -isystem "$D/include" -isystem "$GCCINC" -idirafter kh -o shim.o shim.c ||
		fail "glibc $v: cannot build shim.c"
	for f in classes leaks; do
		g++ -std=gnu++17 -O1 -g -Wall -pthread -nostdinc -isystem "/usr/include/c++/$CXXVER" \
			-isystem "/usr/include/$(gcc -print-multiarch)/c++/$CXXVER" \
			-isystem "/usr/include/c++/$CXXVER/backward" -isystem "$GCCINC" \
			-isystem compat -isystem "$D/include" -idirafter kh "${link[@]}" -static-libstdc++ -static-libgcc \
			-o "$out/$f" "$TOP/fixtures/$f.cc" shim.o -pthread ||
			fail "glibc $v: cannot build the $f fixture against $D"
	done
}

maps_libc_of() { # maps_libc_of VERSION DIR NAME: the running fixture maps DIR's libc
	awk -v d="$(readlink -f "$2")/" '$6 ~ /\/libc(-2\.[0-9]+(\.[0-9]+)?\.so|\.so\.6)$/ && index($6, d) == 1 { ok = 1 } END { exit !ok }' \
		"/proc/$FIXTURE_PID/maps" ||
		fail "glibc $1: the $3 fixture does not map $2's libc"
}

check_version() { # check_version VERSION DIR
	local v=$1 D=$2 got
	build_for "$v" "$D"
	FIXTURES=$PWD/fx-$v

	start_fixture arenas
	maps_libc_of "$v" "$D" arenas
	"$HEAPSCAN" --json "$FIXTURE_PID" >arenas-$v.json 2>err.txt || fail "glibc $v: heapscan --json exited $?: $(cat err.txt)"
	check_truth "$READY" arenas-$v.json
	got=$(json_field arenas-$v.json glibc)
	[ "$got" = "$v" ] || fail "glibc $v: the report says glibc '$got'"
	[ "$(json_field arenas-$v.json problems)" = 0 ] || fail "glibc $v: heapscan reports problems"
	[ "$(json_field arenas-$v.json tcache_unknown)" = False ] || fail "glibc $v: thread caches not located"
	# mp_ found (its n_mmaps is reported) and agrees with the walk; 2.12-2.14
	# keep mp_ in .bss, found there in memory beside the main_arena the code gave
	[ "$(json_field arenas-$v.json glibc_mmapped_chunks)" = "$(json_field arenas-$v.json mmapped_chunks)" ] ||
		fail "glibc $v: mp_ not found, or its mmapped count differs from the walk's"
	[ "$(json_field arenas-$v.json found_by)" = "libc code" ] ||
		fail "glibc $v: malloc's state found by '$(json_field arenas-$v.json found_by)', not libc's code"
	# the memory way alone: the same counts, the same mp_
	"$HEAPSCAN" --locate memory --json "$FIXTURE_PID" >arenas-$v-mem.json 2>err.txt ||
		fail "glibc $v: heapscan --locate memory exited $?: $(cat err.txt)"
	check_truth "$READY" arenas-$v-mem.json
	[ "$(json_field arenas-$v-mem.json found_by)" = memory ] || fail "glibc $v: --locate memory not by memory"
	[ "$(json_field arenas-$v-mem.json glibc)" = "$v" ] || fail "glibc $v: by memory, the report says glibc '$(json_field arenas-$v-mem.json glibc)'"
	for k in main_arena mp; do
		[ "$(json_field arenas-$v-mem.json $k)" = "$(json_field arenas-$v.json $k)" ] ||
			fail "glibc $v: $k in memory $(json_field arenas-$v-mem.json $k), by libc's code $(json_field arenas-$v.json $k)"
	done
	"$HEAPSCAN" "$FIXTURE_PID" >arenas-$v.txt 2>err.txt || fail "glibc $v: text report exited $?"
	grep -q "glibc $v" arenas-$v.txt || fail "glibc $v: the text report does not name glibc $v"
	assert_running "$FIXTURE_PID"
	stop_fixture "$FIXTURE_PID"

	start_fixture classes
	maps_libc_of "$v" "$D" classes
	run_types --vtables "$FIXTURE_PID"
	run_types --json "$FIXTURE_PID"
	check_types vtables.out json.out "$READY"
	[ "$(json_field json.out glibc)" = "$v" ] || fail "glibc $v: classes: the report says glibc '$(json_field json.out glibc)'"
	stop_fixture "$FIXTURE_PID"

	start_fixture leaks
	maps_libc_of "$v" "$D" leaks
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
