/*
 * test_pymalloc.c - the pymalloc pool walker on hand-made pools (a good
 * one, a looping free list, a free list leaving the pool, garbage), and the
 * Python snapshot section's decoder on hostile bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "pymalloc.h"
#include "pyobj.h"
#include "unit.h"

#define BASE 0x7f0000000000ULL
#define POOL 16384u

static void
put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void
put64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* A pool header at p (address at): 32-byte blocks, `carved` blocks handed
 * out, `count` in use, free list starting at block `first` (-1: none). */
static void
make_pool(unsigned char *p, uint64_t at, unsigned carved, unsigned count, int first)
{
	put32(p, count);
	put64(p + 8, first < 0 ? 0 : at + 48 + 32 * (uint64_t)first);
	put32(p + 32, 0);
	put32(p + 36, 1);
	put32(p + 40, 48 + 32 * carved);
	put32(p + 44, POOL - 32);
}

static uint64_t
block(uint64_t pool, unsigned i)
{
	return pool + 48 + 32 * (uint64_t)i;
}

UNIT_TEST(pymalloc_walks_pools)
{
	size_t len = 4 * POOL;
	unsigned char *m = calloc(1, len);
	struct image img;
	struct pym_heap h;

	/* pool 0: blocks 0..4 carved, 1 and 3 free: 0, 2, 4 live */
	make_pool(m, BASE, 5, 3, 1);
	put64(m + 48 + 32 * 1, block(BASE, 3));
	/* pool 1: a free list that loops 0 -> 1 -> 0 */
	make_pool(m + POOL, BASE + POOL, 4, 2, 0);
	put64(m + POOL + 48, block(BASE + POOL, 1));
	put64(m + POOL + 48 + 32, block(BASE + POOL, 0));
	/* pool 2: the head's freeblock is past nextoffset: not a pool */
	make_pool(m + 2 * POOL, BASE + 2 * POOL, 2, 1, 7);
	/* pool 3: never carved (zero): not a pool */
	image_init(&img);
	CHECK(image_add_copy(&img, BASE, m, len, 3, "") == 0);
	CHECK_EQ_U64(pymalloc_walk(&img, NULL, &h), 2);
	CHECK_EQ_U64(h.pool_size, POOL);
	CHECK_EQ_U64(h.npools, 2);
	CHECK_EQ_U64(h.pools[0].nlive, 3);
	CHECK(pym_block_live(&h.pools[0], 0) && !pym_block_live(&h.pools[0], 1) &&
	      pym_block_live(&h.pools[0], 2) && !pym_block_live(&h.pools[0], 3) &&
	      pym_block_live(&h.pools[0], 4) && !pym_block_live(&h.pools[0], 5));
	CHECK_EQ_U64(h.bad_lists, 1);
	CHECK_EQ_U64(h.live_blocks, 3 + 2);
	CHECK_EQ_U64(h.count_mismatch, 0);
	pym_heap_free(&h);
	image_free(&img);

	/* the same bytes in a file-backed region: not pymalloc's */
	image_init(&img);
	CHECK(image_add_copy(&img, BASE, m, len, 3, "/usr/lib/libx.so") == 0);
	CHECK_EQ_U64(pymalloc_walk(&img, NULL, &h), 0);
	pym_heap_free(&h);
	image_free(&img);
	free(m);
}

UNIT_TEST(pymalloc_survives_garbage)
{
	size_t len = 1u << 22;
	unsigned char *m = malloc(len);
	uint64_t x = 88172645463325252ULL;
	struct image img;
	struct pym_heap h;

	for (size_t i = 0; i < len; i += 8) { /* xorshift: words of every kind */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(m + i, &x, 8);
	}
	/* plausible headers with hostile free lists, every 64 KiB */
	for (size_t off = 0; off + POOL <= len; off += 4 * POOL) {
		make_pool(m + off, BASE + off, 500, 10, (int)(off / POOL) % 500);
		put64(m + off + 48 + 32 * ((off / POOL) % 500), x); /* next: anywhere */
	}
	image_init(&img);
	CHECK(image_add_copy(&img, BASE, m, len, 3, "") == 0);
	pymalloc_walk(&img, NULL, &h);
	CHECK(h.npools <= len / POOL);
	for (size_t i = 0; i < h.npools; i++)
		CHECK(h.pools[i].nlive <= h.pools[i].nblocks);
	pym_heap_free(&h);
	image_free(&img);
	free(m);
}

UNIT_TEST(py_summary_decode_hostile)
{
	struct py_class cls[2] = { { "__main__.Session", 10, 640, BASE }, { "str", 3, 150, BASE + 64 } };
	struct py_summary s = { .minor = 11, .pool_size = POOL, .objects = 13, .classes = cls,
				.nclasses = 2 }, d;
	size_t n;
	unsigned char *p = py_summary_encode(&s, &n);

	CHECK(py_summary_decode(p, n, &d, UINT64_MAX) == 0);
	CHECK_EQ_U64(d.nclasses, 2);
	CHECK(d.nclasses == 2 && !strcmp(d.classes[0].name, "__main__.Session"));
	CHECK_EQ_U64(d.classes[1].bytes, 150);
	CHECK_EQ_U64(d.minor, 11);
	py_summary_free(&d);
	CHECK(py_summary_decode(p, n, &d, 2) == 0); /* max_classes: 2 may be 2, not 1 */
	py_summary_free(&d);
	CHECK(py_summary_decode(p, n, &d, 1) == -1);
	for (size_t cut = 0; cut < n; cut++) /* every truncation is refused */
		CHECK(py_summary_decode(p, cut, &d, UINT64_MAX) == -1);
	for (size_t i = 0; i < n; i++) { /* every flipped byte: refused or decoded, no crash */
		p[i] ^= 0xff;
		if (py_summary_decode(p, n, &d, UINT64_MAX) == 0)
			py_summary_free(&d);
		p[i] ^= 0xff;
	}
	free(p);
}

/* A module whose data holds `type` laid out as the free-threaded build lays
 * it out (ob_type at +24, tp_name at +40): recognised, refused with a line
 * that says why; the same bytes with ob_type at +8 (the default build) are
 * taken for CPython. */
UNIT_TEST(pyobj_free_threaded_named)
{
	const uint64_t mod = 0x7f1000000000ULL;
	unsigned char *m = calloc(1, 4096);
	struct image img;
	struct py_summary out;
	char why[512] = "";

	memcpy(m + 2048, "type", 5);
	put64(m + 256 + 24, mod + 256);      /* ob_type: itself */
	put64(m + 256 + 40, mod + 2048);     /* tp_name */
	put64(m + 256 + 48, 944);            /* tp_basicsize */
	image_init(&img);
	CHECK(image_add_copy(&img, mod, m, 4096, 3, "/opt/py/lib/libpython3.13t.so.1.0") == 0);
	CHECK(pyobj_scan(&(struct py_input){ .img = &img }, &out, why, sizeof(why)) == -2);
	CHECK(strstr(why, "free-threaded build") != NULL);
	CHECK(strstr(why, "libpython3.13t.so.1.0") != NULL);
	image_free(&img);

	/* the default build's header: ob_type at +8, tp_name at +24, flags at
	 * +168 with Py_TPFLAGS_TYPE_SUBCLASS; basicsize 928 is 3.13 */
	memset(m, 0, 4096);
	memcpy(m + 2048, "type", 5);
	put64(m + 256 + 8, mod + 256);
	put64(m + 256 + 24, mod + 2048);
	put64(m + 256 + 32, 928);
	put64(m + 256 + 168, 1ULL << 31);
	image_init(&img);
	CHECK(image_add_copy(&img, mod, m, 4096, 3, "/opt/py/lib/libpython3.13.so.1.0") == 0);
	CHECK(pyobj_scan(&(struct py_input){ .img = &img }, &out, why, sizeof(why)) == 0);
	CHECK(out.minor == 13);
	py_summary_free(&out);
	image_free(&img);
	free(m);
}
