/*
 * test_tcmalloc.c - the tcmalloc (gperftools 2.x) walker on hand-built
 * memory images.
 *
 * A tiny fake process: the module's data with the size map, the page map's
 * root and the central free lists; tcmalloc's metadata (one page-map leaf,
 * three Span descriptors, one thread cache); and 8 KiB pages holding a span
 * of 512-byte objects, a large allocation and a free span.  Each test
 * states what tcmalloc would say and compares; the hostile ones break one
 * thing each.
 */
#include <stdlib.h>
#include <string.h>

#include "maps.h"
#include "tcmalloc.h"
#include "unit.h"

#define NCL 20
#define CL512 11
#define CFL 1216                      /* a central free list */
#define DATA 0x7f0000000000ULL
#define SIZEMAP (DATA + 0x40)         /* class_to_size_[128] */
#define ROOT (DATA + 0x1000)          /* 2^17 leaf pointers */
#define CENTRAL (ROOT + (1ULL << 20))
#define DATALEN ((1ULL << 20) + 0x1000 + NCL * CFL + 0x40)
#define META 0x7e0000000000ULL
#define LEAF META                     /* 2^18 span pointers */
#define SPAN_A (META + (2ULL << 20))  /* the small span */
#define SPAN_B (SPAN_A + 64)          /* the large allocation */
#define SPAN_C (SPAN_B + 64)          /* a free span */
#define TC (META + (2ULL << 20) + 0x1000)
#define METALEN ((2ULL << 20) + 0x3000)
#define MEM 0x7e1000000000ULL         /* page MEM >> 13: root slot 0xfc20, leaf slot 0 */
#define MEMLEN (10ULL * 8192)
#define OBJ(i) (MEM + (uint64_t)(i) * 512)

static const int32_t sizes[NCL] = { 0, 8, 16, 32, 48, 64, 80, 96, 112, 128, 256, 512, 1024, 2048,
				    4096, 8192, 16384, 65536, 131072, 262144 };

struct fake {
	unsigned char *data, *meta, *mem;
	struct image img;
	struct heap_model m;
};

static unsigned char *
at(struct fake *f, uint64_t a)
{
	if (a >= DATA && a < DATA + DATALEN)
		return f->data + (a - DATA);
	if (a >= META && a < META + METALEN)
		return f->meta + (a - META);
	if (a >= MEM && a < MEM + MEMLEN)
		return f->mem + (a - MEM);
	abort();
}

static void
put(struct fake *f, uint64_t a, uint64_t v)
{
	memcpy(at(f, a), &v, 8);
}

static void
put32(struct fake *f, uint64_t a, uint32_t v)
{
	memcpy(at(f, a), &v, 4);
}

static void
span(struct fake *f, uint64_t s, uint64_t page, uint64_t len, uint64_t objects, unsigned refcount,
     unsigned cl, unsigned location)
{
	put(f, s, page);
	put(f, s + 8, len);
	put(f, s + 32, objects);
	put(f, s + 40, refcount | (uint64_t)cl << 16 | (uint64_t)location << 24);
}

static void
map(struct fake *f, uint64_t page, uint64_t s)
{
	put(f, LEAF + 8 * (page & 0x3ffff), s);
}

/* The 512-byte span: objects 0..9 handed out, 10..15 on its free list; the
 * thread cache holds 3 and 5, the transfer cache 7.  A large allocation of
 * 3 pages at page 2, a free span of 2 pages at page 8. */
static struct fake *
build(void)
{
	struct fake *f = calloc(1, sizeof(*f));
	uint64_t p0 = MEM >> 13;

	f->data = calloc(1, DATALEN);
	f->meta = calloc(1, METALEN);
	f->mem = calloc(1, MEMLEN);
	for (unsigned cl = 0; cl < NCL; cl++) {
		uint64_t e = CENTRAL + (uint64_t)cl * CFL;

		put32(f, SIZEMAP + 4 * cl, (uint32_t)sizes[cl]);
		put(f, e + 8, cl);
		put(f, e + 16 + 16, e + 16); /* empty_ and nonempty_: empty rings */
		put(f, e + 16 + 24, e + 16);
		put(f, e + 64 + 16, e + 64);
		put(f, e + 64 + 24, e + 64);
		if (cl)
			put32(f, TC + 32 * cl + 24, (uint32_t)sizes[cl]);
	}
	put(f, ROOT + 8 * (p0 >> 18), LEAF);
	span(f, SPAN_A, p0, 1, OBJ(10), 10, CL512, 0);
	for (int i = 10; i < 15; i++)
		put(f, OBJ(i), OBJ(i + 1));
	map(f, p0, SPAN_A);
	span(f, SPAN_B, p0 + 2, 3, 0, 0, 0, 0);
	map(f, p0 + 2, SPAN_B);
	map(f, p0 + 3, SPAN_A); /* stale: an interior page of a large span */
	map(f, p0 + 4, SPAN_B);
	span(f, SPAN_C, p0 + 8, 2, 0, 0, 0, 1);
	map(f, p0 + 8, SPAN_C);
	map(f, p0 + 9, SPAN_C);
	put(f, TC + 32 * CL512, OBJ(3)); /* thread cache: 3 -> 5 */
	put32(f, TC + 32 * CL512 + 8, 2);
	put(f, OBJ(3), OBJ(5));
	put(f, CENTRAL + CL512 * CFL + 128, OBJ(7)); /* one transfer slot: 7 */
	put(f, CENTRAL + CL512 * CFL + 136, OBJ(7));
	put32(f, CENTRAL + CL512 * CFL + 1152, 1);
	return f;
}

static int
walk(struct fake *f)
{
	struct map_range data = { DATA, DATA + DATALEN };
	struct tcmalloc_target t = { .img = &f->img, .data = &data, .ndata = 1 };
	char why[256];

	image_init(&f->img);
	image_add_copy(&f->img, DATA, f->data, DATALEN, MAP_PERM_R | MAP_PERM_W,
		       "/lib/libtcmalloc_minimal.so.4");
	image_add_copy(&f->img, META, f->meta, METALEN, MAP_PERM_R | MAP_PERM_W, "");
	image_add_copy(&f->img, MEM, f->mem, MEMLEN, MAP_PERM_R | MAP_PERM_W, "");
	return tcmalloc_walk(&t, &f->m, why, sizeof(why));
}

static void
done(struct fake *f)
{
	heap_model_free(&f->m);
	image_free(&f->img);
	free(f->data);
	free(f->meta);
	free(f->mem);
	free(f);
}

static bool
owned(const struct heap_model *m, uint64_t a)
{
	for (size_t i = 0; i < m->nowned; i++)
		if (a >= m->owned[i].start && a < m->owned[i].end)
			return true;
	return false;
}

UNIT_TEST(tcmalloc_walk_spans_and_caches)
{
	struct fake *f = build();

	CHECK(walk(f) == 0);
	CHECK_EQ_U64(f->m.nproblems, 0);
	CHECK_EQ_U64(f->m.nchunks, 11);
	CHECK_EQ_U64(f->m.tcaches, 1);
	CHECK_EQ_U64(f->m.count[CK_MMAPPED], 8);
	CHECK_EQ_U64(f->m.count[CK_TCACHE], 3);
	/* byte totals count the size classes, not the chunk model's + 16 */
	CHECK_EQ_U64(f->m.bytes[CK_MMAPPED], 7 * 512 + 3 * 8192);
	CHECK_EQ_U64(f->m.bytes[CK_TCACHE], 3 * 512);
	for (size_t i = 0; i < f->m.nchunks && i < 10; i++) {
		CHECK_EQ_U64(CHUNK_USER(f->m.chunks[i].addr), OBJ(i));
		CHECK_EQ_U64(f->m.chunks[i].size, 512 + 16);
		CHECK_EQ_U64(f->m.chunks[i].kind, i == 3 || i == 5 || i == 7 ? CK_TCACHE : CK_MMAPPED);
	}
	if (f->m.nchunks == 11) {
		CHECK_EQ_U64(CHUNK_USER(f->m.chunks[10].addr), MEM + 2 * 8192);
		CHECK_EQ_U64(f->m.chunks[10].size, 3 * 8192 + 16);
	}
	/* free objects, the free span, descriptors, the leaf: never roots */
	CHECK(owned(&f->m, OBJ(12)));
	CHECK(owned(&f->m, MEM + 8 * 8192 + 100));
	CHECK(owned(&f->m, SPAN_B + 8));
	CHECK(owned(&f->m, LEAF + 4096));
	CHECK(owned(&f->m, TC + 32 * CL512));
	done(f);
}

UNIT_TEST(tcmalloc_walk_refcount_disagrees)
{
	struct fake *f = build();

	span(f, SPAN_A, MEM >> 13, 1, OBJ(10), 9, CL512, 0);
	CHECK(walk(f) == 0);
	CHECK_EQ_U64(f->m.nchunks, 11);
	CHECK_EQ_U64(f->m.nproblems, 1);
	if (f->m.nproblems)
		CHECK(strstr(f->m.problems[0].what, "10 not free, span says 9") != NULL);
	done(f);
}

UNIT_TEST(tcmalloc_walk_hostile_lists)
{
	struct fake *f = build();

	/* the span's free list loops back; the thread cache holds a free
	 * object; a transfer slot count past the array */
	put(f, OBJ(15), OBJ(11));
	put(f, OBJ(5), OBJ(13));
	put32(f, TC + 32 * CL512 + 8, 3);
	put32(f, CENTRAL + 12 * CFL + 1152, 1000);
	CHECK(walk(f) == 0);
	CHECK_EQ_U64(f->m.nchunks, 11);
	CHECK_EQ_U64(f->m.count[CK_TCACHE], 3);
	CHECK_EQ_U64(f->m.nproblems, 4);
	done(f);
}

UNIT_TEST(tcmalloc_walk_hostile_span_lengths)
{
	struct fake *f = build();

	/* a small span of 2^20 pages, a large one past the address space */
	span(f, SPAN_A, MEM >> 13, 1ULL << 20, OBJ(10), 10, CL512, 0);
	span(f, SPAN_B, (MEM >> 13) + 2, 1ULL << 40, 0, 0, 0, 0);
	CHECK(walk(f) == 0);
	CHECK_EQ_U64(f->m.nchunks, 0);
	CHECK(f->m.nproblems >= 2);
	done(f);
}

UNIT_TEST(tcmalloc_walk_no_state)
{
	struct fake *f = build();

	put32(f, SIZEMAP + 4 * (NCL - 1), 200000); /* no class reaches kMaxSize */
	CHECK(walk(f) == -1);
	done(f);
	f = build();
	put(f, LEAF + 8 * ((MEM >> 13) & 0x3ffff), META + METALEN - 8); /* a span outside the copy */
	CHECK(walk(f) == -1);
	done(f);
}
