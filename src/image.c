/*
 * image.c - bounds-checked access to copied target memory (see image.h).
 *
 * Lookups compare offsets inside a region, never pointers formed from
 * target addresses, so an address near UINT64_MAX cannot wrap around into
 * a valid-looking range.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "error.h"
#include "image.h"
#include "pager.h"
#include "par.h"
#include "xmalloc.h"

void
image_init(struct image *img)
{
	memset(img, 0, sizeof(*img));
}

void
image_free(struct image *img)
{
	for (size_t i = 0; i < img->n; i++) {
		if (img->pager)
			; /* pager_free drops every region's data */
		else if (img->r[i].unmap_len)
			munmap(img->r[i].data, img->r[i].unmap_len);
		else if (!img->buf)
			free(img->r[i].data);
		free(img->r[i].name);
		free(img->r[i].holes);
	}
	free(img->r);
	pager_free(img->pager);
	if (img->buf)
		munmap(img->buf, img->buflen);
	image_init(img);
}

int
image_add_copy(struct image *img, uint64_t start, const void *data, size_t len,
	       unsigned perms, const char *name)
{
	size_t i;

	if (img->buf || img->pager || len == 0 || start + len < start)
		return -1;
	for (i = 0; i < img->n && img->r[i].start < start; i++)
		;
	if (i > 0 && img->r[i - 1].end > start)
		return -1;
	if (i < img->n && img->r[i].start < start + len)
		return -1;
	img->r = xgrow(img->r, &img->cap, img->n + 1, sizeof(*img->r));
	memmove(&img->r[i + 1], &img->r[i], (img->n - i) * sizeof(*img->r));
	memset(&img->r[i], 0, sizeof(img->r[i]));
	img->r[i].start = start;
	img->r[i].end = start + len;
	img->r[i].data = xmalloc(len);
	memcpy(img->r[i].data, data, len);
	img->r[i].perms = perms;
	img->r[i].name = xstrdup(name ? name : "");
	img->n++;
	img->bytes += len;
	return 0;
}

const struct region *
image_region(const struct image *img, uint64_t addr)
{
	size_t lo = 0, hi = img->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < img->r[mid].start)
			hi = mid;
		else if (addr >= img->r[mid].end)
			lo = mid + 1;
		else
			return &img->r[mid];
	}
	return NULL;
}

static bool
touches_hole(const struct region *r, uint64_t addr, size_t len)
{
	for (size_t i = 0; i < r->nholes; i++)
		if (addr < r->holes[i].end && addr + len > r->holes[i].start)
			return true;
	return false;
}

const void *
image_ptr(const struct image *img, uint64_t addr, size_t len)
{
	const struct region *r = image_region(img, addr);
	uint64_t off;

	if (!r)
		return NULL;
	off = addr - r->start;
	if (len > r->end - r->start - off)
		return NULL;
	if (r->nholes && touches_hole(r, addr, len))
		return NULL;
	return r->data + off;
}

bool
image_u64(const struct image *img, uint64_t addr, uint64_t *out)
{
	const void *p = image_ptr(img, addr, 8);

	if (!p)
		return false;
	memcpy(out, p, 8);
	return true;
}

bool
image_u32(const struct image *img, uint64_t addr, uint32_t *out)
{
	const void *p = image_ptr(img, addr, 4);

	if (!p)
		return false;
	memcpy(out, p, 4);
	return true;
}

bool
image_u16(const struct image *img, uint64_t addr, uint16_t *out)
{
	const void *p = image_ptr(img, addr, 2);

	if (!p)
		return false;
	memcpy(out, p, 2);
	return true;
}

/* ---- working memory ---------------------------------------------------- */

/* Per-chunk arrays and hash tables run to hundreds of MiB for a big heap, and faulting fresh memory in 4 KiB at a time costs more than
 * hashing the heap (on a paravirtualised guest, about 3 ms per MiB).  So each
 * gets its own mapping, asked for transparent huge pages (Debian's THP mode
 * is "madvise") and populated in one call: 320 MiB in 20 ms instead of a
 * second.  Both are hints; an older kernel just faults as usual.  Fresh
 * anonymous memory is zeroed.  The mapping's length is kept in front. */
#define HUGE_SZ ((size_t)2 << 20)

static size_t
big_len(size_t nmemb, size_t size)
{
	size_t map;

	if (!nmemb || !size)
		nmemb = size = 1;
	if (nmemb > (SIZE_MAX - BIGMEM_HDR - HUGE_SZ) / size)
		error_msg_and_die(EXIT_FAIL, "allocation size overflow");
	map = BIGMEM_HDR + nmemb * size;
	return map < HUGE_SZ ? (map + 4095) & ~(size_t)4095 : (map + HUGE_SZ - 1) & ~(HUGE_SZ - 1);
}

/* In front of a block: its mapping's length, and how much of it is charged
 * (xmalloc.h mem_charge): all of a table's, none of a reserved chunk
 * list's, which is the 16 bytes a chunk a bounded scan's budget leaves out. */
static void
big_set_header(unsigned char *p, size_t map, size_t charged)
{
	memcpy(p, &map, sizeof(map));
	memcpy(p + sizeof(map), &charged, sizeof(charged));
}

#define POPULATE_SPLIT ((size_t)32 << 20) /* bytes: less, one thread */

struct populate_job {
	unsigned char *p;
	size_t len;
	int rc;
};

static void *
populate_main(void *arg)
{
	struct populate_job *j = arg;

	j->rc = madvise(j->p, j->len, MADV_POPULATE_WRITE);
	return NULL;
}

int
mem_populate(void *p, size_t len)
{
	unsigned char *b = p;
	/* the upper half from a huge page boundary */
	size_t mid = (size_t)(((uintptr_t)(b + len / 2) + HUGE_SZ - 1) & ~(uintptr_t)(HUGE_SZ - 1)) -
		     (uintptr_t)b;
	struct populate_job upper = { b + mid, len - mid, 0 };
	pthread_t th;
	int rc;

	/* the hypervisor backs fresh guest pages slowly, and two threads
	 * fault them in 1.6 times as fast as one (400 MiB: 490 against
	 * 770 ms) */
	if (len < POPULATE_SPLIT || mid >= len || par_cpus() < 2 ||
	    pthread_create(&th, NULL, populate_main, &upper))
		return madvise(p, len, MADV_POPULATE_WRITE);
	rc = madvise(p, mid, MADV_POPULATE_WRITE);
	pthread_join(th, NULL);
	return rc < 0 || upper.rc < 0 ? -1 : 0;
}

/* Advice for the whole mapping (advice on part of it would split it, and
 * mremap cannot grow a mapping made of two); population of the new part. */
static void
big_prepare(unsigned char *p, size_t len, size_t fresh)
{
	if (len >= HUGE_SZ)
		(void)madvise(p, len, MADV_HUGEPAGE);
	(void)mem_populate(p + len - fresh, fresh);
}

void *
bigmem_alloc(size_t nmemb, size_t size)
{
	size_t map = big_len(nmemb, size);
	unsigned char *p;

	mem_charge(map); /* before it is populated: a pager makes room first */
	p = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		error_msg_and_die(EXIT_FAIL, "out of memory allocating %zu bytes", map);
	big_prepare(p, map, map);
	big_set_header(p, map, map);
	return p + BIGMEM_HDR;
}

/* Room for nmemb elements, keeping the contents (mremap moves pages, it
 * does not copy them). */
void *
bigmem_grow(void *q, size_t nmemb, size_t size)
{
	unsigned char *p = (unsigned char *)q - BIGMEM_HDR;
	size_t old, map = big_len(nmemb, size), charged;

	memcpy(&old, p, sizeof(old));
	memcpy(&charged, p + sizeof(old), sizeof(charged));
	if (map <= old)
		return q;
	if (charged) { /* a reserved block (the chunk list) stays uncharged */
		mem_charge(map - old);
		charged += map - old;
	}
	p = mremap(p, old, map, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		error_msg_and_die(EXIT_FAIL, "out of memory allocating %zu bytes", map);
	big_prepare(p, map, map - old);
	big_set_header(p, map, charged);
	return p + BIGMEM_HDR;
}

void
bigmem_free(void *q)
{
	unsigned char *p = q;
	size_t map, charged;

	if (!p)
		return;
	p -= BIGMEM_HDR;
	memcpy(&map, p, sizeof(map));
	memcpy(&charged, p + sizeof(map), sizeof(charged));
	munmap(p, map);
	mem_uncharge(charged);
}

/* Address space for up to nmemb elements, asked for huge pages but not
 * populated: for an array whose final size is known only as a bound (the
 * walk's chunks), so that only what is used becomes resident, 2 MiB per
 * fault instead of 4 KiB.  Freed with bigmem_free. */
void *
bigmem_reserve(size_t nmemb, size_t size)
{
	size_t map = big_len(nmemb, size);
	unsigned char *p = mmap(NULL, map, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		error_msg_and_die(EXIT_FAIL, "out of memory reserving %zu bytes", map);
	if (map >= HUGE_SZ)
		(void)madvise(p, map, MADV_HUGEPAGE);
	big_set_header(p, map, 0);
	return p + BIGMEM_HDR;
}

size_t
image_nholes(const struct image *img)
{
	size_t n = 0;

	for (size_t i = 0; i < img->n; i++)
		n += img->r[i].nholes;
	return n;
}
