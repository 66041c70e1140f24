/*
 * tcmalloc.h - gperftools tcmalloc 2.x's heap, read from a memory image.
 *
 * Like the glibc and jemalloc walkers this takes an image and a few
 * addresses, never a pid.  Debian's libtcmalloc_minimal.so.4 (gperftools
 * 2.10) exports ThreadCache::thread_heaps_ but hides tcmalloc::Static's
 * pageheap_, sizemap_ and central_cache_ (ATTRIBUTE_HIDDEN), and a program
 * linked with libtcmalloc_minimal.a exports none of them, so all of its
 * state is recognised from data, in the writable data of the module that
 * holds tcmalloc:
 *
 *   - the size map: SizeMap::class_to_size_, an int32 array 0, 8, 16, ...
 *     rising to kMaxSize (256 KiB) and zero after the last class;
 *   - the page map (PageHeap::pagemap_, a TCMalloc_PageMap2 on x86-64:
 *     a root of 2^17 leaf pointers, each leaf 2^18 Span pointers for
 *     8 KiB pages); a span's first page always names it, so a leaf's
 *     first non-zero slot names a span that covers the slot's page;
 *   - the central free lists (Static::central_cache_[kClassSizesMax], one
 *     1216-byte CentralFreeListPadded per class whose size_class_ is its
 *     index): their transfer cache slots hold chains of freed objects.
 *
 * Thread caches (ThreadCache, one per thread, in tcmalloc's own metadata
 * memory) are found anywhere in the image by their free lists: list_[cl]
 * is a 32-byte FreeList whose size_ is class cl's size, for every class.
 *
 * Objects go into the same chunk model as glibc's chunks and jemalloc's
 * regions: an object whose pointer is p and size class is n is a chunk at
 * p - 16 of size n + 16, kind CK_MMAPPED (in use) or CK_TCACHE (freed by the
 * program into a thread cache or a transfer cache: the span still counts
 * it as handed out).  A large allocation (a span of size class 0) is one
 * object of the span's pages.  Objects on a span's own free list, free
 * spans, spans' unused tails and tcmalloc's metadata (Span descriptors,
 * thread caches, page-map leaves) are no chunks; they go to
 * heap_model.owned, so that their stale bytes are never roots.
 */
#ifndef HEAPSCAN_TCMALLOC_H
#define HEAPSCAN_TCMALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elfmod.h"
#include "glibc.h"
#include "image.h"
#include "maps.h"

/* Where to look for the size map, the page map and the central lists: the
 * writable ranges of the module that holds tcmalloc (its .data and .bss). */
struct tcmalloc_target {
	const struct image *img;
	const struct map_range *data;
	size_t ndata;
};

/* 0, or -1 with a cause in why when tcmalloc's state is not found. */
int tcmalloc_walk(const struct tcmalloc_target *t, struct heap_model *out, char *why, size_t len);

/* "2.10" from the module file's "gperftools 2.10" (TC_VERSION_STRING), in
 * buf; false when none. */
bool tcmalloc_version(const struct elfmod *mod, char *buf, size_t len);

#endif
