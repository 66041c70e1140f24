/*
 * pymalloc.c - CPython's obmalloc pools, found by their headers and walked
 * (the layout is drawn in pymalloc.h).
 *
 * Every page-aligned address of every anonymous region is a candidate pool.
 * A header is accepted when it is consistent with itself for one of the two
 * pool sizes CPython has used:
 *
 *   szidx < 32                          (blocks of 16..512 bytes)
 *   maxnextoffset == pool size - block size
 *   nextoffset == 48 + k * block, 1 <= k, nextoffset <= pool size
 *   ref.count <= k
 *   freeblock == 0, or a block boundary below nextoffset
 *
 * A never-carved pool is zero and fails the second test.  The free list is
 * then walked, bounded by the blocks below nextoffset and checked at every
 * step; a list that leaves the pool or loops is counted (bad_lists) and the
 * blocks it had reached stay free.  When pools of both sizes seem to exist,
 * the size most pools have wins and the others are dropped as coincidences.
 */
#include <stdlib.h>
#include <string.h>

#include "pymalloc.h"
#include "xmalloc.h"

#define SMALL_PAGE 4096u
#define NB_SIZE_CLASSES 32u

struct pool_hdr {
	uint32_t count, arenaindex, szidx, nextoffset, maxnextoffset;
	uint64_t freeblock;
};

static uint32_t
rd32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t
rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* The pool size (4096 or 16384) this header is consistent with, or 0. */
static uint32_t
header_ok(const unsigned char *p, uint64_t addr, struct pool_hdr *h)
{
	static const uint32_t sizes[] = { 16384, 4096 };
	uint32_t block, k;

	h->count = rd32(p);
	h->freeblock = rd64(p + 8);
	h->arenaindex = rd32(p + 32);
	h->szidx = rd32(p + 36);
	h->nextoffset = rd32(p + 40);
	h->maxnextoffset = rd32(p + 44);
	if (h->szidx >= NB_SIZE_CLASSES)
		return 0;
	block = (h->szidx + 1) * 16;
	if (h->nextoffset < PYM_POOL_OVERHEAD + block || (h->nextoffset - PYM_POOL_OVERHEAD) % block)
		return 0;
	k = (h->nextoffset - PYM_POOL_OVERHEAD) / block;
	if (h->count > k)
		return 0;
	if (h->freeblock && (h->freeblock < addr + PYM_POOL_OVERHEAD ||
			     h->freeblock - addr >= h->nextoffset ||
			     (h->freeblock - addr - PYM_POOL_OVERHEAD) % block))
		return 0;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (h->maxnextoffset == sizes[i] - block && h->nextoffset <= sizes[i] &&
		    !(addr & (sizes[i] - 1)))
			return sizes[i];
	return 0;
}

/* Mark the free list's blocks free in pool->live (all set below nextoffset
 * to begin with).  false when the list is broken. */
static bool
walk_free_list(const struct image *img, struct pym_pool *pool, const struct pool_hdr *h,
	       unsigned *nfree)
{
	uint64_t bp = h->freeblock;

	*nfree = 0;
	while (bp) {
		uint64_t off = bp - pool->addr, i;

		if (bp < pool->addr + PYM_POOL_OVERHEAD || off >= h->nextoffset ||
		    (off - PYM_POOL_OVERHEAD) % pool->block)
			return false;
		i = (off - PYM_POOL_OVERHEAD) / pool->block;
		if (!pym_block_live(pool, (unsigned)i)) /* seen: a loop */
			return false;
		pool->live[i / 64] &= ~(1ULL << (i % 64));
		++*nfree;
		if (!image_u64(img, bp, &bp))
			return false;
	}
	return true;
}

static bool
inside_glibc_chunk(const struct heap_model *g, uint64_t addr)
{
	size_t lo = 0, hi;

	if (!g || !g->nchunks)
		return false;
	hi = g->nchunks;
	while (lo < hi) { /* the last chunk starting at or before addr */
		size_t mid = lo + (hi - lo) / 2;

		if (g->chunks[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return false;
	return addr - g->chunks[lo - 1].addr < g->chunks[lo - 1].size;
}

static void
add_pool(const struct image *img, struct pym_heap *out, uint64_t addr, const struct pool_hdr *h,
	 uint32_t psize)
{
	struct pym_pool pool = { .addr = addr, .block = (h->szidx + 1) * 16 };
	unsigned nfree, k = (h->nextoffset - PYM_POOL_OVERHEAD) / pool.block;
	uint64_t carved_end = PYM_POOL_OVERHEAD + (uint64_t)k * pool.block;

	pool.nblocks = (uint16_t)k;
	for (unsigned i = 0; i < k; i++)
		pool.live[i / 64] |= 1ULL << (i % 64);
	if (!walk_free_list(img, &pool, h, &nfree))
		out->bad_lists++;
	pool.nlive = (uint16_t)(k - nfree);
	if (pool.nlive != h->count)
		out->count_mismatch++;
	out->pools_seen++;
	out->all = xgrow(out->all, &out->allcap, out->nall + 1, sizeof(*out->all));
	out->all[out->nall++] = addr;
	out->live_blocks += pool.nlive;
	out->live_bytes += (uint64_t)pool.nlive * pool.block;
	out->free_blocks += nfree + (psize - carved_end) / pool.block;
	out->free_bytes += psize - PYM_POOL_OVERHEAD - (uint64_t)pool.nlive * pool.block;
	if (!pool.nlive)
		return;
	out->pools = xgrow(out->pools, &out->cap, out->npools + 1, sizeof(*out->pools));
	out->pools[out->npools++] = pool;
}

/* Candidate pools of one region, of the given size only (0: either). */
static void
scan_region(const struct image *img, const struct region *r, const struct heap_model *glibc,
	    uint32_t want, struct pym_heap *out, uint64_t votes[2])
{
	uint64_t a = (r->start + SMALL_PAGE - 1) & ~(uint64_t)(SMALL_PAGE - 1);

	while (a < r->end && r->end - a >= SMALL_PAGE) {
		const unsigned char *p = image_ptr(img, a, PYM_POOL_OVERHEAD);
		struct pool_hdr h;
		uint32_t psize = p ? header_ok(p, a, &h) : 0;

		if (psize && (want ? psize != want : false))
			psize = 0;
		if (psize && r->end - a < psize)
			psize = 0;
		if (psize && inside_glibc_chunk(glibc, a)) {
			out->in_glibc++;
			psize = 0;
		}
		if (!psize) {
			a += SMALL_PAGE;
			continue;
		}
		if (votes)
			votes[psize == 16384]++;
		else
			add_pool(img, out, a, &h, psize);
		a += psize;
	}
}

static bool
anonymous(const struct region *r)
{
	return r->name[0] == '\0';
}

size_t
pymalloc_walk(const struct image *img, const struct heap_model *glibc, struct pym_heap *out)
{
	uint64_t votes[2] = { 0, 0 };
	struct pym_heap scratch = { 0 };

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < img->n; i++)
		if (anonymous(&img->r[i]))
			scan_region(img, &img->r[i], glibc, 0, &scratch, votes);
	if (!votes[0] && !votes[1])
		return 0;
	out->pool_size = votes[1] >= votes[0] ? 16384 : 4096;
	for (size_t i = 0; i < img->n; i++)
		if (anonymous(&img->r[i]))
			scan_region(img, &img->r[i], glibc, out->pool_size, out, NULL);
	out->in_glibc = scratch.in_glibc;
	return out->pools_seen;
}

void
pym_heap_free(struct pym_heap *h)
{
	free(h->pools);
	free(h->all);
	memset(h, 0, sizeof(*h));
}
