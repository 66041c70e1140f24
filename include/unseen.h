/*
 * unseen.h - what heapscan cannot see: anonymous memory no malloc chunk covers.
 *
 * heapscan reads glibc malloc's heap.  Memory a program manages itself -
 * CPython's pymalloc arenas, a JVM's heap, the Go runtime's heap, custom
 * pools carved from mmap - holds no malloc chunk, so a Python process can
 * look empty (1.4 MiB in use of 400 MiB copied).  This module measures that
 * memory and names the likely owner, so the report can say why.
 */
#ifndef HEAPSCAN_UNSEEN_H
#define HEAPSCAN_UNSEEN_H

#include <stdint.h>

struct scan;
struct maps;

struct unseen {
	uint64_t bytes;      /* anonymous writable memory outside every chunk */
	uint64_t regions;    /* mappings that hold such memory */
	const char *hint;    /* "CPython's pymalloc arenas", ... or NULL */
};

/* Bytes of each copied anonymous mapping (not a thread's stack, not
 * [heap]) that no chunk covers, where that is more than a page's worth of
 * slack; exe_head: the first bytes of the target's executable (for Go's
 * build id), may be NULL. */
void unseen_measure(const struct scan *s, const char *exe, const void *exe_head, size_t head_len,
		    struct unseen *u);

/* Who likely owns such memory, from the mapped modules and the executable. */
const char *unseen_hint(const struct maps *m, const char *exe, const void *exe_head,
			size_t head_len);

#endif
