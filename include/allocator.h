/*
 * allocator.h - which malloc does the target use?
 *
 * heapscan walks glibc's malloc only.  Before stopping anything, look at the
 * target's mappings and modules: a dynamically linked glibc process whose
 * malloc comes from libc.so.6 is supported; a static binary, a musl process,
 * or one where another module (jemalloc, tcmalloc, mimalloc, the program
 * itself, an LD_PRELOAD) defines malloc is not, and the user is told what was
 * found rather than shown guessed counts.
 */
#ifndef HEAPSCAN_ALLOCATOR_H
#define HEAPSCAN_ALLOCATOR_H

#include <stddef.h>
#include <sys/types.h>

#include "maps.h"

struct allocator_info {
	const struct map_entry *libc; /* the libc.so.6 mapping with file offset 0 */
	char *libc_file;              /* a path that opens that file (map_files or root/...) */
};

/* EXIT_OK and *out filled when malloc is glibc's in libc.so.6; otherwise an
 * exit code (EXIT_UNSUPPORTED) and a cause in why, e.g.
 * "malloc in process 12 comes from /usr/lib/x86_64-linux-gnu/libjemalloc.so.2,
 *  not glibc; heapscan walks glibc malloc only". */
int allocator_check(pid_t pid, const struct maps *m, struct allocator_info *out,
		    char *why, size_t whylen);
void allocator_info_free(struct allocator_info *a);

/* Path under /proc through which heapscan opens a mapped file of the target:
 * /proc/PID/map_files/START-END, falling back to /proc/PID/root/PATH. */
char *target_file_path(pid_t pid, const struct map_entry *e);

#endif
