/*
 * test_jemalloc.c - the jemalloc 5.3 walker on hand-built memory images.
 *
 * A tiny fake process: the module's data with the extent map's root, a
 * "base" region with one leaf and the extent descriptors, a region with a
 * slab of 640-byte regions and a large extent, and a thread's memory with a
 * tcache_t, its tcache_slow_t and one cache bin stack.  Each test states what
 * jemalloc would say and compares; the hostile ones break one thing each.
 */
#include <stdlib.h>
#include <string.h>

#include "jemalloc.h"
#include "maps.h"
#include "unit.h"

#define DATA 0x7f0000000000ULL
#define DATALEN (RT + 0x1000)
#define RT (1ULL << 21)               /* a root or a leaf: 2^18 words */
#define ROOT (DATA + 0x100)
#define BASE 0x7e0000000000ULL
#define BASELEN (RT + 0x1000)
#define LEAF BASE
#define ED_SLAB (BASE + RT)
#define ED_LARGE (BASE + RT + 128)
#define MEM 0x7e1000000000ULL       /* root slot MEM >> 30 */
#define MEMLEN 0x20000ULL
#define SLAB MEM                     /* 5 pages of 32 640-byte regions */
#define LARGE (MEM + 0x10000)        /* a 20480-byte region at +0x40 */
#define TLS 0x7d0000000000ULL
#define TC TLS                       /* tcache_t */
#define SLOW (TLS + 0x1000)          /* tcache_slow_t */
#define STACK (TLS + 0x2000)         /* bin 17's stack */
#define TLSLEN 0x3000ULL

struct fake {
	unsigned char *data, *base, *mem, *tls;
	struct image img;
	struct heap_model m;
};

static unsigned char *
at(struct fake *f, uint64_t a)
{
	if (a >= DATA && a < DATA + DATALEN)
		return f->data + (a - DATA);
	if (a >= BASE && a < BASE + BASELEN)
		return f->base + (a - BASE);
	if (a >= MEM && a < MEM + MEMLEN)
		return f->mem + (a - MEM);
	if (a >= TLS && a < TLS + TLSLEN)
		return f->tls + (a - TLS);
	abort();
}

static void
put(struct fake *f, uint64_t a, uint64_t v)
{
	memcpy(at(f, a), &v, 8);
}

static void
map_page(struct fake *f, uint64_t page, uint64_t edata, unsigned szind, bool slab)
{
	put(f, LEAF + 8 * ((page >> 12) & 0x3ffff), edata | (uint64_t)szind << 48 | slab);
}

/* 10 of 32 regions allocated (0..9), two of them (3, 5) in the thread
 * cache; one large 20480-byte region in use. */
static struct fake *
build(void)
{
	struct fake *f = calloc(1, sizeof(*f));

	f->data = calloc(1, DATALEN);
	f->base = calloc(1, BASELEN);
	f->mem = calloc(1, MEMLEN);
	f->tls = calloc(1, TLSLEN);
	put(f, ROOT + 8 * (MEM >> 30), LEAF);
	for (uint64_t p = 0; p < 5; p++)
		map_page(f, SLAB + p * 4096, ED_SLAB, 17, true);
	map_page(f, LARGE, ED_LARGE, 37, false);
	map_page(f, LARGE + 5 * 4096, ED_LARGE, 37, false);
	/* slab: arena 0, slab, active, szind 17 (640), nfree 22 */
	put(f, ED_SLAB, 1ULL << 12 | 17ULL << 20 | 22ULL << 28);
	put(f, ED_SLAB + 8, SLAB);
	put(f, ED_SLAB + 16, 5 * 4096);
	put(f, ED_SLAB + 64, ~0ULL << 10); /* bits 10..31 set: free */
	/* large: szind 37 (20480), one page of cache-oblivious padding */
	put(f, ED_LARGE, 37ULL << 20);
	put(f, ED_LARGE + 8, LARGE + 0x40);
	put(f, ED_LARGE + 16, 6 * 4096);
	/* thread cache: bin 17 holds regions 3 and 5 */
	put(f, TC, SLOW);
	put(f, SLOW + 168, TC);
	put(f, SLOW + 32, TC + 8);
	put(f, TC + 8 + 17 * 24, STACK);
	put(f, TC + 8 + 17 * 24 + 16, (uint64_t)(STACK & 0xffff) << 16 |
				    (uint64_t)((STACK + 16) & 0xffff) << 32);
	put(f, STACK, SLAB + 3 * 640);
	put(f, STACK + 8, SLAB + 5 * 640);
	return f;
}

static int
walk(struct fake *f)
{
	struct map_range data = { DATA, DATA + DATALEN };
	struct jemalloc_target t = { .img = &f->img, .data = &data, .ndata = 1 };
	char why[256];

	image_init(&f->img);
	image_add_copy(&f->img, DATA, f->data, DATALEN, MAP_PERM_R | MAP_PERM_W, "/lib/libjemalloc.so.2");
	image_add_copy(&f->img, BASE, f->base, BASELEN, MAP_PERM_R | MAP_PERM_W, "");
	image_add_copy(&f->img, MEM, f->mem, MEMLEN, MAP_PERM_R | MAP_PERM_W, "");
	image_add_copy(&f->img, TLS, f->tls, TLSLEN, MAP_PERM_R | MAP_PERM_W, "");
	return jemalloc_walk(&t, &f->m, why, sizeof(why));
}

static void
done(struct fake *f)
{
	heap_model_free(&f->m);
	image_free(&f->img);
	free(f->data);
	free(f->base);
	free(f->mem);
	free(f->tls);
	free(f);
}

UNIT_TEST(jemalloc_class_sizes)
{
	static const uint64_t want[] = { 8, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256 };

	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK_EQ_U64(jemalloc_class_size(i), want[i]);
	CHECK_EQ_U64(jemalloc_class_size(17), 640);
	CHECK_EQ_U64(jemalloc_class_size(JEMALLOC_NBINS - 1), 14336);
	CHECK_EQ_U64(jemalloc_class_size(JEMALLOC_NBINS), 16384);
	CHECK_EQ_U64(jemalloc_class_size(37), 20480);
	CHECK_EQ_U64(jemalloc_class_size(255), 0);
}

UNIT_TEST(jemalloc_walk_slab_large_tcache)
{
	struct fake *f = build();

	CHECK(walk(f) == 0);
	CHECK_EQ_U64(f->m.nchunks, 11);
	CHECK_EQ_U64(f->m.nproblems, 0);
	CHECK_EQ_U64(f->m.tcaches, 1);
	CHECK_EQ_U64(f->m.count[CK_MMAPPED], 9);
	CHECK_EQ_U64(f->m.count[CK_TCACHE], 2);
	for (size_t i = 0; i < f->m.nchunks && i < 10; i++) {
		CHECK_EQ_U64(CHUNK_USER(f->m.chunks[i].addr), SLAB + i * 640);
		CHECK_EQ_U64(f->m.chunks[i].size, 640 + 16);
		CHECK_EQ_U64(f->m.chunks[i].kind, i == 3 || i == 5 ? CK_TCACHE : CK_MMAPPED);
	}
	if (f->m.nchunks == 11) {
		CHECK_EQ_U64(CHUNK_USER(f->m.chunks[10].addr), LARGE + 0x40);
		CHECK_EQ_U64(f->m.chunks[10].size, 20480 + 16);
	}
	/* descriptors and free regions are malloc's: never roots */
	CHECK(f->m.nowned >= 2);
	done(f);
}

UNIT_TEST(jemalloc_walk_bitmap_disagrees_with_nfree)
{
	struct fake *f = build();

	put(f, ED_SLAB, 1ULL << 12 | 17ULL << 20 | 21ULL << 28);
	CHECK(walk(f) == 0);
	CHECK_EQ_U64(f->m.nchunks, 11);
	CHECK_EQ_U64(f->m.nproblems, 1);
	if (f->m.nproblems)
		CHECK(strstr(f->m.problems[0].what, "bitmap has 22 free, extent says 21") != NULL);
	done(f);
}

UNIT_TEST(jemalloc_walk_tcache_holds_a_free_region)
{
	struct fake *f = build();

	put(f, STACK + 8, SLAB + 20 * 640); /* region 20 is free in the bitmap */
	CHECK(walk(f) == 0);
	CHECK_EQ_U64(f->m.count[CK_TCACHE], 1);
	CHECK_EQ_U64(f->m.nproblems, 1);
	done(f);
}

UNIT_TEST(jemalloc_walk_hostile_fields)
{
	struct fake *f = build();

	/* a size class past the table, a stack that does not add up */
	put(f, ED_LARGE, 255ULL << 20);
	put(f, TC + 8 + 17 * 24 + 16, (uint64_t)(STACK & 0xffff) << 16 |
				    (uint64_t)((STACK + 12) & 0xffff) << 32);
	CHECK(walk(f) == 0);
	CHECK_EQ_U64(f->m.nchunks, 10);
	CHECK_EQ_U64(f->m.count[CK_TCACHE], 0);
	CHECK_EQ_U64(f->m.nproblems, 2);
	done(f);
}

UNIT_TEST(jemalloc_walk_no_map)
{
	struct fake *f = build();

	/* the leaf names a descriptor outside the copy: no root */
	put(f, LEAF + 8 * ((SLAB >> 12) & 0x3ffff), 0x100000000080ULL | 17ULL << 48 | 1);
	CHECK(walk(f) == -1);
	done(f);
}
