/*
 * pymalloc.h - CPython's small-object allocator (obmalloc), read from a
 * memory image.
 *
 * pymalloc is an allocator peer of glibc: requests of up to 512 bytes are
 * served from pools carved out of arenas that CPython maps itself (mmap, not
 * malloc: an arena is never a glibc chunk, so nothing here is counted twice
 * with the glibc model); larger ones go to malloc.  Arenas hold pools:
 *
 *   arena (256 KiB up to 3.9, 1 MiB since 3.10; anonymous mmap)
 *   +--------+--------+--------+-- ... --+----------------+
 *   | pool   | pool   | pool   |         | never carved   |  (zero pages)
 *   +--------+--------+--------+-- ... --+----------------+
 *   pools: 4 KiB up to 3.9, 16 KiB since 3.10, aligned to their size
 *
 *   pool:  +0  ref.count (u32, in an 8-byte union)   blocks in use
 *          +8  freeblock       -> first free block, whose first word links on
 *          +16 nextpool, +24 prevpool                (usedpools / freepools)
 *          +32 arenaindex (u32)  +36 szidx (u32): block size = (szidx+1)*16
 *          +40 nextoffset (u32): blocks below it were handed out at least once
 *          +44 maxnextoffset (u32) = pool size - block size
 *          +48 block 0, block 1, ...
 *
 * A block below nextoffset is live unless the pool's free list holds it;
 * blocks at or past nextoffset were never used.  The header is the same in
 * 3.8 to 3.13 (the pool size is read from maxnextoffset), so the walker finds
 * pools by their headers in anonymous memory rather than through CPython's
 * static `arenas` array (3.8-3.11 a static in obmalloc.c, 3.12+ inside the
 * interpreter state): every pool-aligned address whose header is consistent
 * with itself is one.  The walk takes an image, never a pid.
 */
#ifndef HEAPSCAN_PYMALLOC_H
#define HEAPSCAN_PYMALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "glibc.h"
#include "image.h"

#define PYM_POOL_OVERHEAD 48
#define PYM_MAX_BLOCKS 1024 /* a 16 KiB pool holds at most (16384-48)/16 */

/* A pool with at least one live block. */
struct pym_pool {
	uint64_t addr;
	uint32_t block;   /* block size in bytes */
	uint16_t nlive;
	uint16_t nblocks; /* blocks below nextoffset */
	uint64_t live[PYM_MAX_BLOCKS / 64]; /* bit i: block i is live */
};

struct pym_heap {
	struct pym_pool *pools; /* sorted by address */
	size_t npools, cap;
	uint32_t pool_size;     /* 4096 or 16384; 0 when no pool was found */
	uint64_t pools_seen;    /* pools with a header, empty ones included */
	uint64_t live_blocks, live_bytes, free_blocks, free_bytes;
	uint64_t count_mismatch; /* pools whose ref.count disagrees with the free list */
	uint64_t bad_lists;      /* pools whose free list left the pool or looped */
	uint64_t in_glibc;       /* pool-like headers inside glibc chunks, not walked */
	uint64_t *all;           /* every pool with a header, empty ones too, by address */
	size_t nall, allcap;
};

/* Find and walk every pool in the image's anonymous regions.  glibc may be
 * NULL; when given, candidate pools inside its chunks are skipped (an
 * object's bytes could imitate a header).  Returns the number of pools with
 * a header (0: no pymalloc here). */
size_t pymalloc_walk(const struct image *img, const struct heap_model *glibc,
		     struct pym_heap *out);
void pym_heap_free(struct pym_heap *h);

static inline bool
pym_block_live(const struct pym_pool *p, unsigned i)
{
	return i < PYM_MAX_BLOCKS && (p->live[i / 64] >> (i % 64) & 1);
}

#endif
