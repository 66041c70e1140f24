/*
 * jemalloc.h - jemalloc 5.x's heap, read from a memory image.
 *
 * Like the glibc walker this takes an image and a few addresses, never a
 * pid.  jemalloc exports no symbol for its state (libjemalloc.so.2 of
 * jemalloc 5.3 exports only the malloc API and mallctl), so its state is
 * recognised from data:
 *
 *   - the extent map (emap, a radix tree: 2^18 root slots, each a leaf of
 *     2^18 words for 48-bit addresses and 4 KiB pages) is a global in the
 *     module's writable data; every word of a leaf encodes an extent
 *     descriptor (edata_t) pointer, its size class and its state, and the
 *     edata it names must cover the page the slot stands for;
 *   - each active slab's edata holds a bitmap of its regions (a set bit is
 *     a free region); a large extent is one region;
 *   - a thread cache (tcache_t) and its tcache_slow_t point at each other;
 *     its bins hold regions the bitmap still counts as allocated but the
 *     program has freed.
 *
 * Regions go into the same chunk model as glibc's chunks: a region whose
 * pointer is p and size class is n is a chunk at p - 16 of size n + 16, kind
 * CK_MMAPPED (in use, no bytes borrowed from the next chunk) or CK_TCACHE,
 * so that CHUNK_USER(addr) is malloc's pointer and every analysis reads the
 * region's n bytes exactly.  The region that holds the thread caches'
 * stacks is jemalloc's own: CK_TOP.  Free regions (bitmap set), extent
 * descriptors and extents not in use are no chunks; they go to
 * heap_model.owned, so that their stale bytes are never roots.
 */
#ifndef HEAPSCAN_JEMALLOC_H
#define HEAPSCAN_JEMALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "elfmod.h"
#include "glibc.h"
#include "image.h"
#include "maps.h"

/* Where to look for the extent map's root: the writable ranges of the
 * module that holds jemalloc (its .data and .bss). */
struct jemalloc_target {
	const struct image *img;
	const struct map_range *data;
	size_t ndata;
};

/* jemalloc 5.3 on x86-64 with 4 KiB pages: size class szind's size, 0 past
 * the table. */
uint64_t jemalloc_class_size(unsigned szind);
#define JEMALLOC_NBINS 36 /* small classes (slabs): 8 .. 14336 */

/* 0, or -1 with a cause in why when no extent map is found. */
int jemalloc_walk(const struct jemalloc_target *t, struct heap_model *out, char *why, size_t len);

/* "5.3.0" from the module file's version string ("5.3.0-0-g<sha>"), in buf;
 * false when none. */
bool jemalloc_version(const struct elfmod *mod, char *buf, size_t len);

#endif
