/*
 * allocator.h - which malloc does the target use?
 *
 * Before stopping anything, look at the target's mappings and modules: a
 * dynamically linked glibc process whose malloc comes from libc.so.6, or from
 * a module that is jemalloc (jemalloc.c) or tcmalloc (tcmalloc.c), is
 * supported; a static binary, a musl process, or one where another module
 * (mimalloc, the program itself, an LD_PRELOAD) defines malloc is not, and
 * the user is told what was found rather than shown guessed counts.
 */
#ifndef HEAPSCAN_ALLOCATOR_H
#define HEAPSCAN_ALLOCATOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "maps.h"

struct allocator_info {
	const struct map_entry *libc; /* the libc.so.6 mapping with file offset 0 */
	char *libc_file;              /* libc->file: where to open it; NULL when the
					 source has no such file (a core's libc absent) */
	const struct map_entry *jemalloc; /* the module whose malloc serves the process
					     when it is jemalloc's (it also exports
					     mallctl), else NULL; also tcmalloc's
					     module when tcmalloc is set */
	bool tcmalloc;                /* that module is gperftools' tcmalloc (it
					 exports tc_malloc, or holds "gperftools 2.N") */
};

/* EXIT_OK and *out filled when malloc is glibc's in libc.so.6; otherwise an
 * exit code (EXIT_UNSUPPORTED) and a cause in why, e.g.
 * "malloc in process 12 comes from /usr/lib/x86_64-linux-gnu/libjemalloc.so.2,
 *  not glibc; heapscan walks glibc malloc only". */
/* pid names the process in messages only; modules are opened through
 * m's map_entry.file, the executable (to tell a static binary) through
 * exe_file (NULL when there is none).  ldbase is where the dynamic linker is
 * mapped (AT_BASE, from /proc/PID/auxv or a core's NT_AUXV; 0 when unknown):
 * up to glibc 2.31 ld.so itself exports malloc, calloc, realloc and free (its
 * minimal allocator, serving only the loader), and its file is ld-2.NN.so or
 * anything a distribution or a test cache calls it, so the loader is known
 * by its role; only when ldbase is 0, by its usual names. */
int allocator_check(pid_t pid, const struct maps *m, const char *exe_file, uint64_t ldbase,
		    struct allocator_info *out, char *why, size_t whylen);
void allocator_info_free(struct allocator_info *a);

#endif
