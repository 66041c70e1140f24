/*
 * fuzz_core.c - libFuzzer target for the core reader (scan_core: ELF
 * headers, notes, segments, module checks, finding malloc's state) and the
 * walk, types, reachability and reports that run on what it returns.
 *
 *   make fuzz FUZZ_TARGET=core [FUZZ_SECONDS=60]
 *                                    build build/fuzz/fuzz_core, make its seeds
 *                                    (test/fuzz/make_core_corpus.sh) and run it
 *   build/fuzz/fuzz_core FILE        replay one input
 *
 * The input is the core file itself.  It is written to a memfd, which
 * scan_core opens by its /proc/self/fd path and maps as it maps any core
 * (a core is never read into memory).  Each input is read twice: with
 * --locate auto (libc's code when its file is here and the core's build-id
 * matches it; the trimmed 2.36 cores of the seeds do on this machine) and
 * with --locate memory (malloc's state recognised in the core's memory).
 * On success the text report and the JSON are written to /dev/null, the
 * leaks are marked (reach_run), and everything is freed; a core whose
 * malloc is not glibc's (allowed, as --vtables and --types allow it) gets
 * those two reports, as heapscan gives it no other.
 *
 * scan_core prints its refusals on stderr (one line each); libFuzzer's own
 * output goes there too, so run with -close_fd_mask=2 only when not looking
 * for a crash's report.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "addrmap.h"
#include "core.h"
#include "pyobj.h"
#include "reach.h"
#include "report.h"
#include "report_py.h"
#include "scan.h"
#include "types.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;
static int memfd = -1;
static char path[64];

static void
one(enum locate_mode locate)
{
	struct scan_opts opts = { .max_attempts = 1, .locate = locate, .allow_foreign = true };
	struct scan s;
	struct addrmap am;
	struct type_table tt;
	struct reach r;
	struct report_opts ro = { .top = 10 };

	if (scan_core(path, &opts, &s) != 0) {
		scan_free(&s);
		return;
	}
	addrmap_build(&am, &s.maps);
	types_build(&(struct types_input){ .img = &s.img, .ro = &s.ro, .am = &am, .maps = &s.maps,
					   .heap = s.foreign ? NULL : &s.heap, .pid = s.pid },
		    &tt);
	if (s.foreign) { /* as heapscan: no malloc model, --vtables and --types only */
		report_vtables(devnull, &tt);
		report_types_all(devnull, &tt);
	} else {
		pyobj_types(&s, &tt);
		report_text(devnull, &s, &tt, &ro);
		report_json(devnull, &s, &tt);
		if (!s.jemalloc) {
			reach_run(&s, &(struct reach_opts){ 0 }, &r);
			reach_free(&r);
		}
	}
	fflush(devnull);
	type_table_free(&tt);
	addrmap_free(&am);
	scan_free(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	if (memfd < 0) {
		memfd = memfd_create("fuzz_core", MFD_CLOEXEC);
		if (memfd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (ftruncate(memfd, 0) < 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();
	one(LOCATE_AUTO);
	one(LOCATE_MEMORY);
	return 0;
}
