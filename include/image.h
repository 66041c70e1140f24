/*
 * image.h - a copy of some of a process's memory, with its addresses.
 *
 * The analyses (glibc walker, later types and reachability) read the target
 * only through this: a sorted set of regions, each a byte range at a virtual
 * address, possibly with holes (pages that could not be read).  Every access
 * is bounds-checked by comparing offsets, never by forming pointers first, so
 * hostile addresses taken from the target cannot make heapscan read outside
 * what it copied.
 */
#ifndef HEAPSCAN_IMAGE_H
#define HEAPSCAN_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pager;

struct image_hole {
	uint64_t start, end; /* target addresses, page aligned */
};

struct region {
	uint64_t start, end;       /* target addresses [start, end) */
	unsigned char *data;       /* end - start bytes */
	unsigned perms;            /* MAP_PERM_* of the mapping */
	char *name;                /* path, "[heap]", "" for anonymous */
	struct image_hole *holes;  /* unread pages, zero-filled in data */
	size_t nholes;
	size_t unmap_len;          /* data is a mapping of its own, this long
				      (image_free unmaps it); 0 otherwise */
};

struct image {
	struct region *r; /* sorted by start, non-overlapping */
	size_t n;
	size_t cap;
	unsigned char *buf; /* one block backing every region's data (a live copy's
			       buffer, a core file's mapping), or NULL */
	size_t buflen;
	uint64_t bytes; /* sum of region sizes */
	struct pager *pager; /* --max-memory: every region's data is a window of
				this (pager.h), read on demand; NULL otherwise */
};

void image_init(struct image *img);
void image_free(struct image *img);

/* Add a region whose bytes are copied from data (for tests and fuzzers);
 * keeps the set sorted; refuses (returns -1) overlapping or empty ranges. */
int image_add_copy(struct image *img, uint64_t start, const void *data, size_t len,
		   unsigned perms, const char *name);

/* Unread ranges in the image (every region's holes). */
size_t image_nholes(const struct image *img);

/* The region containing addr, or NULL. O(log n). */
const struct region *image_region(const struct image *img, uint64_t addr);

/* Pointer to len readable bytes at addr, or NULL when [addr, addr+len) is not
 * wholly inside one region or touches a hole. */
const void *image_ptr(const struct image *img, uint64_t addr, size_t len);

/* Read a little-endian word; false when not readable (see image_ptr). */
bool image_u64(const struct image *img, uint64_t addr, uint64_t *out);
bool image_u32(const struct image *img, uint64_t addr, uint32_t *out);
bool image_u16(const struct image *img, uint64_t addr, uint16_t *out);

/* madvise(MADV_POPULATE_WRITE), by two threads when big: 0, or -1 when
 * either half failed (kernels before 5.14 do not know the advice). */
int mem_populate(void *p, size_t len);

/* Working memory as big as the image (per-chunk arrays, hash tables): one
 * mapping each, transparent huge pages.  bigmem_alloc and bigmem_grow
 * return zeroed memory, populated up front; bigmem_reserve only reserves
 * (pages fault in, 2 MiB at a time, when first written).  Die when out of
 * memory.  Free only with bigmem_free (NULL is fine).  What bigmem_alloc
 * and bigmem_grow add is charged (xmalloc.h mem_charge) until freed, so a
 * bounded scan's pager makes room for it; a reserved block is not (it is
 * for the chunk list, left out of the budget). */
#define BIGMEM_HDR 64 /* bytes before each block: its mapping's length */
void *bigmem_alloc(size_t nmemb, size_t size);
void *bigmem_grow(void *p, size_t nmemb, size_t size);
void *bigmem_reserve(size_t nmemb, size_t size);
void bigmem_free(void *p);

#endif
