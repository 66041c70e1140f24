/*
 * test_glibc.c - the glibc walker on hand-built memory images.
 *
 * A tiny fake process: a "libc data" region holding main_arena and mp_, a
 * [heap] region with chunks laid out by the test, optionally a thread arena
 * heap at a 64 MiB boundary and an anonymous region with an mmapped chunk.
 * Each test states what glibc would say about its chunks and compares.
 */
#include <stdlib.h>
#include <string.h>

#include "glibc.h"
#include "image.h"
#include "par.h"
#include "unit.h"

#define LIBC 0x7f0000000000ULL
#define ARENA (LIBC + 0x1000)
#define MP (LIBC + 0x100)
#define HEAP 0x555500000000ULL
#define HEAPLEN 0x10000ULL
#define TARENA_HEAP 0x7e0004000000ULL /* 64 MiB aligned */
#define TARENA2_HEAP 0x7e0008000000ULL /* a second thread arena (t2) */
#define ANON 0x7d0000000000ULL

struct fake {
	unsigned char libc[0x4000];
	unsigned char heap[HEAPLEN];
	unsigned char theap[0x10000];
	unsigned char anon[0x3000];
	unsigned char theap2[0x10000];
	bool t2;       /* theap2 is in the image */
	uint64_t p;    /* next chunk address in [heap] while building */
	uint64_t tp;   /* same in the thread heap */
	struct image img;
	struct heap_model m;
	struct glibc_thread th[2];
	size_t nth;
	const struct glibc_layout *lay;
};

static unsigned char *
at(struct fake *f, uint64_t a)
{
	if (a >= LIBC && a < LIBC + sizeof(f->libc))
		return f->libc + (a - LIBC);
	if (a >= HEAP && a < HEAP + HEAPLEN)
		return f->heap + (a - HEAP);
	if (a >= TARENA_HEAP && a < TARENA_HEAP + sizeof(f->theap))
		return f->theap + (a - TARENA_HEAP);
	if (a >= ANON && a < ANON + sizeof(f->anon))
		return f->anon + (a - ANON);
	if (a >= TARENA2_HEAP && a < TARENA2_HEAP + sizeof(f->theap2))
		return f->theap2 + (a - TARENA2_HEAP);
	abort();
}

static void
put(struct fake *f, uint64_t a, uint64_t v)
{
	memcpy(at(f, a), &v, 8);
}

static uint64_t
get(struct fake *f, uint64_t a)
{
	uint64_t v;

	memcpy(&v, at(f, a), 8);
	return v;
}

static uint64_t
bin_head(struct fake *f, uint64_t arena, int i)
{
	return arena + f->lay->ms_bins + (uint64_t)(i - 1) * 16 - 16;
}

static void
init_arena(struct fake *f, uint64_t arena, uint64_t next)
{
	for (int i = 1; i < 128; i++) {
		uint64_t h = bin_head(f, arena, i);

		put(f, h + 16, h);
		put(f, h + 24, h);
	}
	put(f, arena + f->lay->ms_next, next);
	put(f, arena + f->lay->ms_top, bin_head(f, arena, 1)); /* initial top */
}

/* The glibc whose layout fake_init uses (glibc_layout_for). */
static int fake_minor = 36;

static void
fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->lay = glibc_layout_for(fake_minor);
	init_arena(f, ARENA, ARENA);
	put(f, MP + f->lay->mp_sbrk_base, HEAP);
	if (f->lay->mp_tcache_bins) {
		put(f, MP + f->lay->mp_tcache_bins, f->lay->tc_small_bins);
		put(f, MP + f->lay->mp_tcache_count, 7);
	}
	f->p = HEAP;
}

/* Append a chunk to [heap]; returns its address. */
static uint64_t
chunk(struct fake *f, uint64_t size)
{
	uint64_t c = f->p;

	put(f, c + 8, size | 1);
	f->p += size;
	return c;
}

static void
set_top(struct fake *f, uint64_t arena, uint64_t top, uint64_t end)
{
	put(f, arena + f->lay->ms_top, top);
	put(f, top + 8, (end - top) | 1);
}

static uint64_t
tcache_struct(struct fake *f, pid_t tid)
{
	uint64_t c = chunk(f, f->lay->tc_size);

	/* 2.42 counts room left: every bin starts with mp_.tcache_count */
	for (uint64_t i = 0; f->lay->tc_counts_free_slots && i < f->lay->tc_bins; i++) {
		uint16_t seven = 7;

		memcpy(at(f, c + 16 + 2 * i), &seven, 2);
	}
	f->th[f->nth].tid = tid;
	f->th[f->nth].tcache = c + 16;
	f->nth++;
	return c + 16;
}

static void
tcache_push(struct fake *f, uint64_t T, int bin, uint64_t chunk_addr)
{
	uint64_t e = chunk_addr + 16, old = get(f, T + f->lay->tc_entries + 8 * (uint64_t)bin);
	uint16_t cnt;

	put(f, e, f->lay->safe_linking ? old ^ (e >> 12) : old);
	put(f, T + f->lay->tc_entries + 8 * (uint64_t)bin, e);
	if (f->lay->tc_count_size == 1) {
		at(f, T + (uint64_t)bin)[0]++;
		return;
	}
	memcpy(&cnt, at(f, T + 2 * (uint64_t)bin), 2);
	cnt = f->lay->tc_counts_free_slots ? cnt - 1 : cnt + 1;
	memcpy(at(f, T + 2 * (uint64_t)bin), &cnt, 2);
}

static void
fastbin_push(struct fake *f, uint64_t arena, int idx, uint64_t c)
{
	uint64_t slot = arena + f->lay->ms_fastbins + 8 * (uint64_t)idx;

	put(f, c + 16, f->lay->safe_linking ? get(f, slot) ^ ((c + 16) >> 12) : get(f, slot));
	put(f, slot, c);
}

/* Insert c at the front of bin i (fd side) and clear the next chunk's P bit. */
static void
bin_push(struct fake *f, uint64_t arena, int i, uint64_t c, uint64_t size)
{
	uint64_t h = bin_head(f, arena, i), first = get(f, h + 16);

	put(f, c + 16, first);
	put(f, c + 24, h);
	put(f, first + 24, c);
	put(f, h + 16, c);
	put(f, c + size + 8, get(f, c + size + 8) & ~1ULL);
	put(f, c + size, size);
}

/* The totals the walk kept as it went are heap_model_tally's. */
static void
check_totals(struct heap_model *m)
{
	uint64_t count[CK__N], bytes[CK__N], ac[4][CK__N], ab[4][CK__N];
	size_t na = m->narenas < 4 ? m->narenas : 4;

	memcpy(count, m->count, sizeof(count));
	memcpy(bytes, m->bytes, sizeof(bytes));
	for (size_t a = 0; a < na; a++) {
		memcpy(ac[a], m->arenas[a].count, sizeof(ac[a]));
		memcpy(ab[a], m->arenas[a].bytes, sizeof(ab[a]));
	}
	heap_model_tally(m);
	CHECK(!memcmp(count, m->count, sizeof(count)));
	CHECK(!memcmp(bytes, m->bytes, sizeof(bytes)));
	for (size_t a = 0; a < na; a++) {
		CHECK(!memcmp(ac[a], m->arenas[a].count, sizeof(ac[a])));
		CHECK(!memcmp(ab[a], m->arenas[a].bytes, sizeof(ab[a])));
	}
}

static int
walk(struct fake *f)
{
	struct glibc_target t;
	char why[128];

	image_init(&f->img);
	image_add_copy(&f->img, LIBC, f->libc, sizeof(f->libc), 3, "/lib/libc.so.6");
	image_add_copy(&f->img, HEAP, f->heap, HEAPLEN, 3, "[heap]");
	image_add_copy(&f->img, TARENA_HEAP, f->theap, sizeof(f->theap), 3, "");
	image_add_copy(&f->img, ANON, f->anon, sizeof(f->anon), 3, "");
	if (f->t2)
		image_add_copy(&f->img, TARENA2_HEAP, f->theap2, sizeof(f->theap2), 3, "");
	t = (struct glibc_target){ .img = &f->img, .lay = f->lay, .main_arena = ARENA, .mp = MP,
				   .threads = f->th, .nthreads = f->nth };
	if (glibc_walk(&t, &f->m, why, sizeof(why)) < 0)
		return -1;
	check_totals(&f->m);
	return 0;
}

static void
done(struct fake *f)
{
	heap_model_free(&f->m);
	image_free(&f->img);
	free(f);
}

static enum chunk_kind
kind_at(struct fake *f, uint64_t c)
{
	struct hs_chunk *h = heap_model_find(&f->m, c);

	return h ? (enum chunk_kind)h->kind : CK__N;
}

static bool
has_problem(struct fake *f, const char *word)
{
	for (size_t i = 0; i < f->m.nproblems; i++)
		if (strstr(f->m.problems[i].what, word))
			return true;
	return false;
}

/* One heap with a chunk on every kind of list. */
static struct fake *
build_all_kinds(void)
{
	struct fake *f = calloc(1, sizeof(*f));
	uint64_t T, c[12];

	fake_init(f);
	T = f->lay->tc_bins ? tcache_struct(f, 100) : 0;
	for (int i = 0; i < 12; i++)
		c[i] = chunk(f, i == 6 || i == 8 ? 0x110 : i == 10 ? 0x500 : 0x30);
	set_top(f, ARENA, f->p, HEAP + HEAPLEN);
	if (T) {
		tcache_push(f, T, 1, c[1]); /* 0x30 -> tcache bin 1 */
		tcache_push(f, T, 1, c[3]);
	}
	fastbin_push(f, ARENA, 1, c[5]); /* 0x30 -> fastbin 1 */
	bin_push(f, ARENA, 17, c[6], 0x110); /* small bin of 0x110 */
	bin_push(f, ARENA, 1, c[8], 0x110);  /* unsorted */
	bin_push(f, ARENA, 64, c[10], 0x500); /* a large bin */
	return f;
}

UNIT_TEST(glibc_walk_every_kind)
{
	struct fake *f = build_all_kinds();

	CHECK(walk(f) == 0);
	CHECK_EQ_U64(f->m.narenas, 1);
	CHECK_EQ_U64(f->m.count[CK_TCACHE], 2);
	CHECK_EQ_U64(f->m.count[CK_FASTBIN], 1);
	CHECK_EQ_U64(f->m.count[CK_SMALLBIN], 1);
	CHECK_EQ_U64(f->m.count[CK_UNSORTED], 1);
	CHECK_EQ_U64(f->m.count[CK_LARGEBIN], 1);
	CHECK_EQ_U64(f->m.count[CK_TOP], 1);
	/* tcache struct + 12 chunks - 6 free */
	CHECK_EQ_U64(f->m.count[CK_INUSE], 7);
	CHECK_EQ_U64(f->m.bytes[CK_INUSE], 0x290 + 6 * 0x30);
	CHECK_EQ_U64(f->m.tcaches, 1);
	CHECK_EQ_U64(f->m.nproblems, 0);
	CHECK(kind_at(f, HEAP + 0x290 + 0x30) == CK_TCACHE);
	done(f);
}

/* Every layout of the table on the same heap: safe-linking or not, char or
 * uint16_t counts or 2.42's num_slots, no tcache before 2.26. */
UNIT_TEST(glibc_walk_every_layout)
{
	static const int minors[] = { 12, 14, 15, 17, 22, 23, 24, 26, 27, 28, 29, 30, 31,
				      32, 33, 34, 35, 36, 41, 42 };

	for (size_t k = 0; k < sizeof(minors) / sizeof(minors[0]); k++) {
		struct fake *f;
		bool tc;

		fake_minor = minors[k];
		f = build_all_kinds();
		tc = f->lay->tc_bins != 0;
		CHECK(f->lay->minor_min <= minors[k] && minors[k] <= f->lay->minor_max);
		CHECK(walk(f) == 0);
		CHECK_EQ_U64(f->m.nproblems, 0);
		CHECK_EQ_U64(f->m.count[CK_TCACHE], tc ? 2 : 0);
		CHECK_EQ_U64(f->m.count[CK_FASTBIN], 1);
		CHECK_EQ_U64(f->m.count[CK_SMALLBIN], 1);
		CHECK_EQ_U64(f->m.count[CK_UNSORTED], 1);
		CHECK_EQ_U64(f->m.count[CK_LARGEBIN], 1);
		CHECK_EQ_U64(f->m.count[CK_INUSE], tc ? 7 : 8);
		CHECK_EQ_U64(f->m.tcaches, tc ? 1 : 0);
		done(f);
	}
	fake_minor = 36;
}

/* 2.42: the large tcache bins (64-75) hold a range of sizes in ascending
 * order; a chunk of the wrong range, or out of order, is a problem. */
UNIT_TEST(glibc_walk_242_large_tcache)
{
	struct fake *f;
	uint64_t T, a, b, c;

	fake_minor = 42;
	f = calloc(1, sizeof(*f));
	fake_init(f);
	T = tcache_struct(f, 100);
	a = chunk(f, 0x420); /* [1056, 2048): bin 64 */
	b = chunk(f, 0x7f0);
	c = chunk(f, 0x900); /* [2048, 4096): bin 65 */
	(void)chunk(f, 0x30);
	set_top(f, ARENA, f->p, HEAP + HEAPLEN);
	tcache_push(f, T, 64, b); /* pushed at the front: a then b */
	tcache_push(f, T, 64, a);
	tcache_push(f, T, 65, c);
	CHECK(walk(f) == 0);
	CHECK_EQ_U64(f->m.nproblems, 0);
	CHECK_EQ_U64(f->m.count[CK_TCACHE], 3);
	CHECK(kind_at(f, c) == CK_TCACHE);
	heap_model_free(&f->m);
	image_free(&f->img);

	/* out of order: b before a */
	put(f, T + f->lay->tc_entries + 8 * 64, b + 16);
	put(f, b + 16, (a + 16) ^ ((b + 16) >> 12));
	put(f, a + 16, (a + 16) >> 12);
	CHECK(walk(f) == 0);
	CHECK(has_problem(f, "tcache bin 64"));
	done(f);
	fake_minor = 36;
}

UNIT_TEST(glibc_walk_corrupt_header_stops_arena_cleanly)
{
	struct fake *f = build_all_kinds();
	uint64_t bad = HEAP + 0x290 + 4 * 0x30;

	put(f, bad + 8, 0x13370); /* runs past the heap */
	CHECK(walk(f) == 0);
	CHECK(has_problem(f, "corrupt chunk header"));
	CHECK(f->m.problems[0].addr == bad);
	CHECK(f->m.arenas[0].unaccounted > 0);
	/* the chunks before it are still counted */
	CHECK(kind_at(f, HEAP + 0x290 + 0x30) == CK_TCACHE);
	CHECK(heap_model_find(&f->m, bad) == NULL);
	done(f);
}

UNIT_TEST(glibc_walk_tiny_size_is_corruption_not_a_loop)
{
	struct fake *f = build_all_kinds();

	put(f, HEAP + 0x290 + 8, 0x1); /* size 0 would loop forever */
	CHECK(walk(f) == 0);
	CHECK(has_problem(f, "corrupt chunk header"));
	done(f);
}

UNIT_TEST(glibc_walk_fastbin_cycle_is_bounded)
{
	struct fake *f = build_all_kinds();
	uint64_t c = HEAP + 0x290 + 5 * 0x30;

	put(f, c + 16, c ^ ((c + 16) >> 12)); /* fd points to itself */
	CHECK(walk(f) == 0);
	CHECK(has_problem(f, "already on a fastbin list"));
	CHECK_EQ_U64(f->m.count[CK_FASTBIN], 1);
	done(f);
}

UNIT_TEST(glibc_walk_bin_cycle_is_bounded)
{
	struct fake *f = build_all_kinds();
	uint64_t c = HEAP + 0x290 + 6 * 0x30;

	put(f, c + 16, c); /* small-bin chunk's fd to itself, never back to the head */
	CHECK(walk(f) == 0);
	CHECK(has_problem(f, "already on a smallbin list"));
	done(f);
}

UNIT_TEST(glibc_walk_bin_pointer_outside_image)
{
	struct fake *f = build_all_kinds();
	uint64_t c = HEAP + 0x290 + 6 * 0x30;

	put(f, c + 16, 0xdead0000beef0000ULL);
	CHECK(walk(f) == 0);
	CHECK(has_problem(f, "not a chunk"));
	done(f);
}

UNIT_TEST(glibc_walk_tcache_count_mismatch)
{
	struct fake *f = build_all_kinds();
	uint64_t T = HEAP + 16;
	uint16_t big = 5;

	memcpy(at(f, T + 2), &big, 2); /* says 5, chain has 2 */
	CHECK(walk(f) == 0);
	CHECK(has_problem(f, "count 5 but 2 chunks linked"));
	CHECK_EQ_U64(f->m.count[CK_TCACHE], 2);
	done(f);
}

UNIT_TEST(glibc_walk_tcache_entry_misaligned)
{
	struct fake *f = build_all_kinds();
	uint64_t T = HEAP + 16;

	put(f, T + f->lay->tc_entries + 8, HEAP + 0x2c8); /* not a chunk boundary */
	CHECK(walk(f) == 0);
	CHECK(has_problem(f, "tcache"));
	CHECK_EQ_U64(f->m.count[CK_TCACHE], 0);
	done(f);
}

UNIT_TEST(glibc_walk_double_free_tcache_and_fastbin)
{
	struct fake *f = build_all_kinds();
	uint64_t T = HEAP + 16, c5 = HEAP + 0x290 + 5 * 0x30;

	tcache_push(f, T, 1, c5); /* c5 is also in fastbin 1 */
	CHECK(walk(f) == 0);
	CHECK(has_problem(f, "double free"));
	done(f);
}

UNIT_TEST(glibc_walk_arena_ring_not_closing)
{
	struct fake *f = build_all_kinds();

	put(f, ARENA + f->lay->ms_next, LIBC + 0x3000); /* to a zeroed "arena" whose next is 0 */
	CHECK(walk(f) == 0);
	CHECK(has_problem(f, "arena ring"));
	done(f);
}

UNIT_TEST(glibc_walk_main_arena_unreadable)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct glibc_target t;
	char why[128];

	fake_init(f);
	image_init(&f->img);
	image_add_copy(&f->img, HEAP, f->heap, HEAPLEN, 3, "[heap]");
	t = (struct glibc_target){ .img = &f->img, .lay = f->lay, .main_arena = ARENA, .mp = MP };
	CHECK(glibc_walk(&t, &f->m, why, sizeof(why)) == -1);
	CHECK(strstr(why, "main_arena") != NULL);
	done(f);
}

/* A thread arena: heap_info at a 64 MiB boundary, malloc_state after it. */
UNIT_TEST(glibc_walk_thread_arena_and_mmapped)
{
	struct fake *f = build_all_kinds();
	uint64_t ta = TARENA_HEAP + f->lay->hi_sizeof, first, c1, c2, top;

	init_arena(f, ta, ARENA);
	put(f, ARENA + f->lay->ms_next, ta);
	put(f, TARENA_HEAP + f->lay->hi_ar_ptr, ta);
	put(f, TARENA_HEAP + f->lay->hi_size, sizeof(f->theap));
	first = (ta + f->lay->ms_size + 15) & ~15ULL;
	c1 = first;
	put(f, c1 + 8, 0x40 | 5);
	c2 = c1 + 0x40;
	put(f, c2 + 8, 0x60 | 5);
	top = c2 + 0x60;
	set_top(f, ta, top, TARENA_HEAP + sizeof(f->theap));
	fastbin_push(f, ta, 2, c1); /* 0x40 -> fastbin 2 */
	/* an mmapped chunk of 2 pages at ANON + 0x1000 */
	put(f, ANON + 0x1000, 0);
	put(f, ANON + 0x1000 + 8, 0x2000 | 2);
	memcpy(at(f, MP + f->lay->mp_n_mmaps), &(uint32_t){ 1 }, 4);
	CHECK(walk(f) == 0);
	CHECK_EQ_U64(f->m.narenas, 2);
	CHECK_EQ_U64(f->m.arenas[1].count[CK_INUSE], 1);
	CHECK_EQ_U64(f->m.arenas[1].count[CK_FASTBIN], 1);
	CHECK_EQ_U64(f->m.arenas[1].count[CK_TOP], 1);
	CHECK_EQ_U64(f->m.count[CK_MMAPPED], 1);
	CHECK_EQ_U64(f->m.bytes[CK_MMAPPED], 0x2000);
	CHECK(kind_at(f, ANON + 0x1000) == CK_MMAPPED);
	CHECK_EQ_U64(f->m.nproblems, 0);
	for (size_t i = 0; i < f->m.nproblems; i++)
		fprintf(stderr, "  problem 0x%lx: %s\n", (unsigned long)f->m.problems[i].addr,
			f->m.problems[i].what);
	/* sorted by address across heaps */
	for (size_t i = 1; i < f->m.nchunks; i++)
		CHECK(f->m.chunks[i - 1].addr < f->m.chunks[i].addr);
	done(f);
}

/* Random bytes over the heap: never crash, never overlap, never exceed it. */
UNIT_TEST(glibc_walk_random_heaps_hold_invariants)
{
	uint64_t seed = 0x12345678;

	for (int round = 0; round < 300; round++) {
		struct fake *f = build_all_kinds();
		int flips = 1 + round % 40;

		for (int k = 0; k < flips; k++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			uint64_t off = (seed >> 33) % (HEAPLEN - 8) & ~7ULL;
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			uint64_t val = round % 3 == 0 ? seed : (seed >> 48) & 0x7ff;

			put(f, HEAP + off, val);
			if (k % 5 == 0) /* and the arena's lists */
				put(f, ARENA + 0x10 + ((seed >> 20) % 0x860 & ~7ULL), seed);
		}
		CHECK(walk(f) == 0);
		uint64_t sum = 0;
		for (size_t i = 0; i < f->m.nchunks; i++) {
			const struct hs_chunk *c = &f->m.chunks[i];

			if (c->addr >= HEAP && c->addr < HEAP + HEAPLEN)
				sum += c->size;
			if (i)
				CHECK(f->m.chunks[i - 1].addr + f->m.chunks[i - 1].size <= c->addr ||
				      f->m.chunks[i - 1].kind == CK_MMAPPED);
		}
		CHECK(sum <= HEAPLEN);
		done(f);
	}
}

/* A thread arena with two heaps.  mp_.hp_pagesize = 8 KiB makes glibc's
 * heap_max 32 KiB, so both heaps fit the fake: the first (retired) ends in a
 * fencepost, long form (0x10 chunk + zero header) or short form (old top kept
 * in use, then a zero header; glibc makes it when 0x30 bytes are left: a
 * 0x20 remnant that is not counted); the second holds top. */
static void
two_heap_arena(int short_fence)
{
	struct fake *f = build_all_kinds();
	uint64_t ta = TARENA_HEAP + f->lay->hi_sizeof, h2 = TARENA_HEAP + 0x8000;
	uint64_t end = TARENA_HEAP + 0x8000, c, c2;

	put(f, MP + f->lay->mp_hp_pagesize, 0x2000);
	init_arena(f, ta, ARENA);
	put(f, ARENA + f->lay->ms_next, ta);
	put(f, TARENA_HEAP + f->lay->hi_ar_ptr, ta);
	put(f, TARENA_HEAP + f->lay->hi_size, 0x8000);
	c = (ta + f->lay->ms_size + 15) & ~15ULL;
	put(f, c + 8, 0x100 | 5);
	c += 0x100;
	if (short_fence == 2) { /* glibc's real short form: a 0x20 remnant */
		put(f, c + 8, (end - 48 - c) | 5);
		put(f, end - 48 + 8, 0x20 | 1);
	} else if (short_fence) {
		put(f, c + 8, (end - 16 - c) | 5);
	} else {
		put(f, c + 8, (end - 32 - c) | 5);
		put(f, end - 32 + 8, 0x10 | 1);
	}
	put(f, end - 16 + 8, 0 | 1);
	put(f, h2 + f->lay->hi_ar_ptr, ta);
	put(f, h2 + f->lay->hi_prev, TARENA_HEAP);
	put(f, h2 + f->lay->hi_size, 0x8000);
	c2 = h2 + f->lay->hi_sizeof;
	put(f, c2 + 8, 0x200 | 5);
	set_top(f, ta, c2 + 0x200, h2 + 0x8000);
	CHECK(walk(f) == 0);
	CHECK_EQ_U64(f->m.narenas, 2);
	CHECK_EQ_U64(f->m.arenas[1].nheaps, 2);
	/* 0x100, old top, 0x200; a 0x20 remnant is glibc's, not a chunk */
	CHECK_EQ_U64(f->m.arenas[1].count[CK_INUSE], 3);
	CHECK_EQ_U64(f->m.arenas[1].count[CK_TOP], 1);
	CHECK_EQ_U64(f->m.nproblems, 0);
	for (size_t i = 0; i < f->m.nproblems; i++)
		fprintf(stderr, "  problem: %s\n", f->m.problems[i].what);
	done(f);
}

UNIT_TEST(glibc_walk_retired_heap_fenceposts)
{
	two_heap_arena(0);
	two_heap_arena(1);
	two_heap_arena(2);
}

/* ---- two-thread walk, followed free lists: against one-by-one walks ---- */

struct walk_result {
	struct hs_chunk *ch;
	size_t n, np, dropped;
	struct heap_problem *prob;
	uint64_t unaccounted[4];
};

static void
keep_result(struct fake *f, struct walk_result *r)
{
	r->n = f->m.nchunks;
	r->ch = malloc((r->n + 1) * sizeof(*r->ch));
	memcpy(r->ch, f->m.chunks, r->n * sizeof(*r->ch));
	r->np = f->m.nproblems;
	r->dropped = f->m.problems_dropped;
	r->prob = malloc((r->np + 1) * sizeof(*r->prob));
	memcpy(r->prob, f->m.problems, r->np * sizeof(*r->prob));
	for (size_t a = 0; a < 4; a++)
		r->unaccounted[a] = a < f->m.narenas ? f->m.arenas[a].unaccounted : 0;
	heap_model_free(&f->m);
	image_free(&f->img);
}

/* What the split walks of a test did, summed. */
static struct glibc_split_stats split_sum;
static unsigned split_full[8]; /* walks cut in exactly n parts, by n */
static unsigned cross_seen[3]; /* problems of lists leading into another arena, by kind */

/* Walk f in one thread, then cut in 2, 3 and 7 parts (whatever its size);
 * the chunks, problems and unwalked bytes must be the same, entry by entry,
 * in the same order. */
static void
check_split_walk(struct fake *f)
{
	static const int jobs[] = { 1, 2, 3, 7 };
	struct walk_result r[4];

	for (int v = 0; v < 4; v++) {
		par_set_jobs(jobs[v]);
		glibc_walk_split_for_tests = v > 0;
		CHECK(walk(f) == 0);
		if (v) {
			split_sum.parts += glibc_walk_last_split.parts;
			split_sum.guessed += glibc_walk_last_split.guessed;
			split_sum.wrong += glibc_walk_last_split.wrong;
			if (glibc_walk_last_split.parts == (unsigned)jobs[v])
				split_full[jobs[v]]++;
		}
		keep_result(f, &r[v]);
	}
	glibc_walk_split_for_tests = false;
	par_set_jobs(0);
	for (size_t k = 0; k < r[0].np; k++) {
		cross_seen[0] += strstr(r[0].prob[k].what, "belongs to another arena") != NULL;
		cross_seen[1] += strstr(r[0].prob[k].what, "is already on a") != NULL;
		cross_seen[2] += strstr(r[0].prob[k].what, "is not a chunk of any heap") != NULL;
	}
	for (int v = 1; v < 4; v++) {
		CHECK_EQ_U64(r[v].n, r[0].n);
		for (size_t k = 0; k < r[0].n && k < r[v].n; k++)
			if (memcmp(&r[0].ch[k], &r[v].ch[k], sizeof(r[0].ch[k]))) {
				fprintf(stderr, "  %d parts: chunk %zu at 0x%lx, one thread 0x%lx\n",
					jobs[v], k, (unsigned long)r[v].ch[k].addr,
					(unsigned long)r[0].ch[k].addr);
				CHECK(!"the same chunk entry");
				break;
			}
		CHECK_EQ_U64(r[v].np, r[0].np);
		CHECK_EQ_U64(r[v].dropped, r[0].dropped);
		for (size_t k = 0; k < r[0].np && k < r[v].np; k++) {
			CHECK(r[0].prob[k].addr == r[v].prob[k].addr);
			CHECK(!strcmp(r[0].prob[k].what, r[v].prob[k].what));
		}
		for (size_t a = 0; a < 4; a++)
			CHECK(r[0].unaccounted[a] == r[v].unaccounted[a]);
	}
	for (int v = 0; v < 4; v++) {
		free(r[v].ch);
		free(r[v].prob);
	}
}

static uint64_t
lcg(uint64_t *seed)
{
	*seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
	return *seed >> 33;
}

/* Chunks of random sizes from c to end, the last one sized to end there;
 * now and then one whose PREV_INUSE is clear, with the prev_size glibc
 * would have written or with a wrong one. */
static void
random_chunks(struct fake *f, uint64_t c, uint64_t end, uint64_t flags, uint64_t *seed)
{
	uint64_t before = 0;

	while (c < end) {
		uint64_t size = 0x20 + 0x10 * (lcg(seed) % 12), bits = flags | 1;

		if (end - c < size + 0x20)
			size = end - c;
		if (before && lcg(seed) % 23 == 0) {
			bits &= ~1ULL;
			put(f, c, lcg(seed) % 2 ? before : before + 0x10);
		}
		put(f, c + 8, size | bits);
		before = size;
		c += size;
	}
}

/* Three arenas, four heaps, an mmapped chunk: the main heap; arena 1 in
 * two heaps of 32 KiB (mp_.hp_pagesize 8 KiB: heap_max 32 KiB), the first
 * retired with a fencepost, the second holding top; arena 2 in one heap of
 * 32 KiB; random chunks in all, a few fastbin entries. */
static struct fake *
build_many_heaps(uint64_t *seed)
{
	struct fake *f = calloc(1, sizeof(*f));
	const struct glibc_layout *lay;
	uint64_t ta, tb, h2 = TARENA_HEAP + 0x8000, c, top, mm;

	fake_init(f);
	lay = f->lay;
	f->t2 = true;
	put(f, MP + lay->mp_hp_pagesize, 0x2000);
	random_chunks(f, HEAP, HEAP + HEAPLEN - 0x1000, 0, seed);
	set_top(f, ARENA, HEAP + HEAPLEN - 0x1000, HEAP + HEAPLEN);
	/* arena 1: heap 1 (retired) at TARENA_HEAP, heap 2 at h2 */
	ta = TARENA_HEAP + lay->hi_sizeof;
	tb = TARENA2_HEAP + lay->hi_sizeof;
	init_arena(f, ta, tb);
	init_arena(f, tb, ARENA);
	put(f, ARENA + lay->ms_next, ta);
	put(f, TARENA_HEAP + lay->hi_ar_ptr, ta);
	put(f, TARENA_HEAP + lay->hi_size, 0x8000);
	c = (ta + lay->ms_size + 15) & ~15ULL;
	random_chunks(f, c, h2 - 32, 4, seed);
	put(f, h2 - 32 + 8, 0x10 | 1);
	put(f, h2 - 16 + 8, 0 | 1);
	put(f, h2 + lay->hi_ar_ptr, ta);
	put(f, h2 + lay->hi_prev, TARENA_HEAP);
	put(f, h2 + lay->hi_size, 0x8000);
	top = TARENA_HEAP + 0x10000 - 0x800;
	random_chunks(f, h2 + lay->hi_sizeof, top, 4, seed);
	set_top(f, ta, top, TARENA_HEAP + 0x10000);
	/* arena 2: one heap of 32 KiB (the rest of theap2 is no heap) */
	put(f, TARENA2_HEAP + lay->hi_ar_ptr, tb);
	put(f, TARENA2_HEAP + lay->hi_size, 0x8000);
	c = (tb + lay->ms_size + 15) & ~15ULL;
	top = TARENA2_HEAP + 0x8000 - 0x800;
	random_chunks(f, c, top, 4, seed);
	set_top(f, tb, top, TARENA2_HEAP + 0x8000);
	/* an mmapped chunk of two pages */
	mm = ANON;
	put(f, mm + 8, 0x2000 | 2);
	/* free lists: a few chunks of the main heap and arena 2 */
	for (int k = 0; k < 3; k++) {
		uint64_t p = HEAP;

		for (uint64_t n = lcg(seed) % 200; n > 0; n--)
			p += get(f, p + 8) & ~7ULL;
		if ((get(f, p + 8) & ~7ULL) == 0x30)
			fastbin_push(f, ARENA, 1, p);
	}
	return f;
}

/* Free lists that lead into another arena (build_many_heaps' arenas):
 * what one thread says of such an entry depends on whether that arena's
 * lists were followed first, which the parallel walk of the lists must
 * reproduce. */
static void
cross_arena_lists(struct fake *f, int how)
{
	const struct glibc_layout *lay = f->lay;
	uint64_t ta = TARENA_HEAP + lay->hi_sizeof, tb = TARENA2_HEAP + lay->hi_sizeof;
	uint64_t c1 = (ta + lay->ms_size + 15) & ~15ULL, c2 = (tb + lay->ms_size + 15) & ~15ULL;

	switch (how) {
	case 1: /* a main-heap chunk on arena 1's fastbin and on the main one's */
		fastbin_push(f, ta, 1, HEAP);
		fastbin_push(f, ARENA, 1, HEAP);
		break;
	case 2: /* an arena 2 chunk on a main-arena bin, then on its own */
		bin_push(f, ARENA, 17, c2, get(f, c2 + 8) & ~7ULL);
		bin_push(f, tb, 17, c2, get(f, c2 + 8) & ~7ULL);
		break;
	case 3: /* arena 1's top on arena 2's fastbin */
		fastbin_push(f, tb, 2, get(f, ta + lay->ms_top));
		break;
	case 4: /* the mmapped chunk on a bin of arena 1 */
		bin_push(f, ta, 20, ANON, 0x2000);
		break;
	case 5: /* an arena 1 chunk on arena 2's fastbin, then on its own */
		fastbin_push(f, tb, 1, c1);
		fastbin_push(f, ta, 1, c1);
		break;
	}
}

/* A main heap and a thread heap of many chunks, then random words of
 * either overwritten: every cut, wherever the corruption falls. */
UNIT_TEST(glibc_walk_in_parts_is_the_one_thread_walk)
{
	uint64_t seed = 0xfeedbeef;

	for (int round = 0; round < 200; round++) {
		struct fake *f = calloc(1, sizeof(*f));
		uint64_t ta, c;

		fake_init(f);
		ta = TARENA_HEAP + f->lay->hi_sizeof;
		while (f->p < HEAP + HEAPLEN - 0x1000)
			chunk(f, 0x20 + 0x10 * (lcg(&seed) % 12));
		set_top(f, ARENA, f->p, HEAP + HEAPLEN);
		init_arena(f, ta, ARENA);
		put(f, ARENA + f->lay->ms_next, ta);
		put(f, TARENA_HEAP + f->lay->hi_ar_ptr, ta);
		put(f, TARENA_HEAP + f->lay->hi_size, sizeof(f->theap));
		c = (ta + f->lay->ms_size + 15) & ~15ULL;
		while (c < TARENA_HEAP + sizeof(f->theap) - 0x1000) {
			uint64_t size = 0x20 + 0x10 * (lcg(&seed) % 12);

			put(f, c + 8, size | 5);
			c += size;
		}
		set_top(f, ta, c, TARENA_HEAP + sizeof(f->theap));
		for (int k = round % 4; k > 0; k--) { /* 0 to 3 corrupt words */
			uint64_t heap = lcg(&seed) % 2 ? HEAP : TARENA_HEAP + 0x1000;
			uint64_t off = lcg(&seed) % 0xe000 & ~7ULL;

			put(f, heap + off, lcg(&seed) % 3 ? lcg(&seed) << 4 : lcg(&seed) % 0x400);
		}
		check_split_walk(f);
		free(f);
	}
}

/* Three arenas and four heaps cut in 2, 3 and 7 parts, with a corrupt
 * chunk header in one heap in most rounds (its problem, the unwalked rest
 * and the problems after it must come in the one-thread walk's order); the
 * cuts must fall inside heaps, and some guesses must be found wrong. */
UNIT_TEST(glibc_walk_in_parts_many_heaps_and_arenas)
{
	uint64_t seed = 0xc0ffee;

	memset(&split_sum, 0, sizeof(split_sum));
	memset(split_full, 0, sizeof(split_full));
	memset(cross_seen, 0, sizeof(cross_seen));
	for (int round = 0; round < 150; round++) {
		struct fake *f = build_many_heaps(&seed);
		static const uint64_t heaps[] = { HEAP, TARENA_HEAP + 0x1000, TARENA_HEAP + 0x9000,
						  TARENA2_HEAP + 0x1000 };

		cross_arena_lists(f, round % 6);
		for (int k = round % 3; k > 0; k--) {
			uint64_t at = heaps[lcg(&seed) % 4] + (lcg(&seed) % 0x6000 & ~15ULL);

			/* a header: an impossible size, or a plausible one that
			 * runs the walk off the chain */
			put(f, at + 8, lcg(&seed) % 2 ? 0x7 : (0x20 + 0x10 * (lcg(&seed) % 40)) | 1);
		}
		check_split_walk(f);
		free(f);
	}
	fprintf(stderr, "  split walks: %u parts, %u cuts inside a heap, %u found wrong; "
		"full cuts: %u in 2, %u in 3, %u in 7\n", split_sum.parts, split_sum.guessed,
		split_sum.wrong, split_full[2], split_full[3], split_full[7]);
	fprintf(stderr, "  lists into another arena: %u 'another arena', %u 'already on', "
		"%u 'not a chunk'\n", cross_seen[0], cross_seen[1], cross_seen[2]);
	CHECK(cross_seen[0] > 0 && cross_seen[1] > 0 && cross_seen[2] > 0);
	CHECK(split_sum.guessed > 100);
	CHECK(split_sum.wrong > 0);
	CHECK(split_full[2] > 0 && split_full[3] > 0 && split_full[7] > 0);
}

UNIT_TEST(glibc_walk_in_parts_fixed_heaps)
{
	struct fake *f = build_all_kinds();

	check_split_walk(f);
	done(f);
}

/* ---- the free lists, against marking them one entry after another ---- */

struct ref_walk {
	struct fake *f;
	struct hs_chunk *ch; /* the walked chunks, free kinds undone */
	size_t n;
	uint64_t paddr[64];
	char pword[64][24];
	size_t np;
};

static void
ref_problem(struct ref_walk *r, uint64_t addr, const char *word)
{
	if (r->np < 64) {
		r->paddr[r->np] = addr;
		snprintf(r->pword[r->np], sizeof(r->pword[0]), "%s", word);
	}
	r->np++;
}

static bool
ref_find(struct ref_walk *r, uint64_t addr)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->ch[i].addr == addr)
			return true;
	return false;
}

static struct hs_chunk *
ref_mark(struct ref_walk *r, uint64_t addr, enum chunk_kind kind)
{
	struct hs_chunk *c = NULL;

	for (size_t i = 0; i < r->n; i++)
		if (r->ch[i].addr == addr)
			c = &r->ch[i];
	if (!c || c->kind == CK_MMAPPED || c->kind == CK_TOP) {
		ref_problem(r, addr, "not a chunk");
		return NULL;
	}
	if (chunk_kind_is_free(c->kind)) {
		ref_problem(r, addr, "already on a");
		return NULL;
	}
	c->kind = kind;
	return c;
}

/* glibc's checks on a chunk of a doubly linked bin, one by one. */
static void
ref_check_bin(struct ref_walk *r, const struct hs_chunk *c, uint64_t from)
{
	const struct image *img = &r->f->img;
	uint64_t v, fdn, bkn;

	if (image_u64(img, c->addr + 24, &v) && v != from)
		ref_problem(r, c->addr, "double-linked");
	if (image_u64(img, c->addr + c->size, &v) && v != c->size)
		ref_problem(r, c->addr, "prev_size");
	if (image_u64(img, c->addr + c->size + 8, &v) && (v & 1))
		ref_problem(r, c->addr, "prev_inuse");
	if (c->kind == CK_LARGEBIN && image_u64(img, c->addr + 32, &fdn) &&
	    image_u64(img, c->addr + 40, &bkn) && fdn &&
	    !(image_u64(img, fdn + 40, &v) && v == c->addr && image_u64(img, bkn + 32, &v) &&
	      v == c->addr))
		ref_problem(r, c->addr, "nextsize");
}

/* Then each chunk whose PREV_INUSE is clear after a chunk that no bin holds. */
static void
ref_prev_free(struct ref_walk *r)
{
	for (size_t i = 1; i < r->n; i++) {
		const struct hs_chunk *c = &r->ch[i], *prev = &r->ch[i - 1];
		uint64_t hdr;

		if (c->kind == CK_MMAPPED || !image_u64(&r->f->img, c->addr + 8, &hdr) || (hdr & 1))
			continue;
		if (prev->addr + prev->size == c->addr && prev->kind != CK_UNSORTED &&
		    prev->kind != CK_SMALLBIN && prev->kind != CK_LARGEBIN)
			ref_problem(r, prev->addr, "(!prev)");
	}
}

/* The main arena's fastbins, then its bins, each walked to its end. */
static void
ref_lists(struct ref_walk *r)
{
	const struct image *img = &r->f->img;
	const struct glibc_layout *lay = r->f->lay;

	for (int i = 0; i < 10; i++) {
		uint64_t p, next, n = 0;

		if (!image_u64(img, ARENA + lay->ms_fastbins + 8 * (uint64_t)i, &p))
			continue;
		uint64_t holder = ARENA + lay->ms_fastbins + 8 * (uint64_t)i, held = 0;

		while (p && n++ <= r->n) {
			bool more = image_u64(img, p + 16, &next);
			struct hs_chunk *c;

			if (p & 15) {
				ref_problem(r, holder, "unaligned fastbin");
				break;
			}
			if (n > 1 && !ref_find(r, p) && !(held & 15) && ref_find(r, held)) {
				ref_problem(r, holder, "is raw");
				break;
			}
			if (!(c = ref_mark(r, p, CK_FASTBIN)))
				break;
			if (c->size != (uint64_t)(i + 2) * 16)
				ref_problem(r, p, "has size");
			if (!more)
				break;
			holder = p;
			held = next;
			p = next ^ ((p + 16) >> 12);
		}
	}
	for (int i = 1; i < 127; i++) {
		uint64_t head = bin_head(r->f, ARENA, i), p, next;
		enum chunk_kind kind = i == 1 ? CK_UNSORTED : i < 64 ? CK_SMALLBIN : CK_LARGEBIN;

		if (!image_u64(img, head + 16, &p))
			continue;
		uint64_t from = head;

		while (p != head) {
			bool more = image_u64(img, p + 16, &next);
			struct hs_chunk *c = ref_mark(r, p, kind);

			if (!c)
				break;
			ref_check_bin(r, c, from);
			if (!more)
				break;
			from = p;
			p = next;
		}
	}
}

/* Dozens of lists over a heap of small chunks, then some links pointed
 * elsewhere: at chunks of other lists (a chunk on two lists), back into
 * their own list (cycles), at chunks in use, between chunks, out of the
 * heap.  The kinds and the problems, in order, must be the reference's. */
UNIT_TEST(glibc_walk_free_lists_as_one_by_one)
{
	uint64_t seed = 0x5eed, shared = 0, rounds_with_problems = 0;

	for (int round = 0; round < 300; round++) {
		struct fake *f = calloc(1, sizeof(*f));
		uint64_t c[400];
		int nc = 0, nfree = 0, free_idx[400];
		struct ref_walk r = { .f = f };

		fake_init(f);
		while (f->p < HEAP + HEAPLEN - 0x1000 && nc < 400) {
			uint64_t size = lcg(&seed) % 4 ? 0x20 + 0x10 * (lcg(&seed) % 7) : 0x110;

			c[nc++] = chunk(f, size);
		}
		set_top(f, ARENA, f->p, HEAP + HEAPLEN);
		for (int i = 0; i < nc; i++) {
			uint64_t size = get(f, c[i] + 8) & ~7ULL;
			int bin;

			if (lcg(&seed) % 3 == 0)
				continue;
			if (size <= 0x80 && lcg(&seed) % 4) {
				fastbin_push(f, ARENA, (int)(size / 16) - 2, c[i]);
			} else {
				bin = lcg(&seed) % 5 == 0 ? 1 : 2 + (int)(lcg(&seed) % 120);
				bin_push(f, ARENA, bin, c[i], size);
			}
			free_idx[nfree++] = i;
		}
		for (int k = lcg(&seed) % 6; k > 0 && nfree; k--) {
			uint64_t x = c[free_idx[lcg(&seed) % nfree]], y;
			int how = (int)(lcg(&seed) % 8);

			y = how == 0 ? x + 8 : how == 1 ? 0x1234567890ULL : c[lcg(&seed) % nc];
			if ((get(f, x + 8) & ~7ULL) <= 0x80 && lcg(&seed) % 2)
				put(f, x + 16, y ^ ((x + 16) >> 12)); /* as a fastbin link */
			else
				put(f, x + 16, y);
		}
		CHECK(walk(f) == 0);
		r.n = f->m.nchunks;
		r.ch = malloc((r.n + 1) * sizeof(*r.ch));
		memcpy(r.ch, f->m.chunks, r.n * sizeof(*r.ch));
		for (size_t i = 0; i < r.n; i++)
			if (r.ch[i].kind == CK_FASTBIN || r.ch[i].kind == CK_UNSORTED ||
			    r.ch[i].kind == CK_SMALLBIN || r.ch[i].kind == CK_LARGEBIN)
				r.ch[i].kind = CK_INUSE;
		ref_lists(&r);
		ref_prev_free(&r);
		for (size_t i = 0; i < r.n; i++)
			CHECK(f->m.chunks[i].kind == r.ch[i].kind);
		CHECK_EQ_U64(f->m.nproblems, r.np);
		rounds_with_problems += r.np > 0;
		for (size_t k = 0; k < r.np && k < 64; k++)
			shared += strstr(r.pword[k], "already") != NULL;
		for (size_t k = 0; k < f->m.nproblems && k < r.np && k < 64; k++) {
			CHECK(f->m.problems[k].addr == r.paddr[k]);
			CHECK(strstr(f->m.problems[k].what, r.pword[k]) != NULL);
		}
		free(r.ch);
		done(f);
	}
	/* the corpus has what the test is for */
	CHECK(rounds_with_problems > 50);
	CHECK(shared > 20);
}

/* ---- glibc's own integrity checks (malloc_printerr in malloc.c) ---- */

/* The problem at addr whose text has word, or NULL. */
static const struct heap_problem *
problem_at(struct fake *f, uint64_t addr, const char *word)
{
	for (size_t i = 0; i < f->m.nproblems; i++)
		if (f->m.problems[i].addr == addr && strstr(f->m.problems[i].what, word))
			return &f->m.problems[i];
	return NULL;
}

/* A raw (not safe-linked) pointer in a fastbin chunk's fd decodes to a
 * misaligned address: a problem at that chunk, not a silent end of the list. */
UNIT_TEST(glibc_check_fastbin_raw_pointer_is_unaligned_fastbin_chunk)
{
	struct fake *f = build_all_kinds();
	uint64_t c5 = HEAP + 0x290 + 5 * 0x30, c7 = HEAP + 0x290 + 6 * 0x30 + 0x110;

	fastbin_push(f, ARENA, 1, c7); /* fastbin 1: c7 -> c5 */
	put(f, c7 + 16, c5);           /* raw, as if safe-linking were not there */
	CHECK(walk(f) == 0);
	CHECK(problem_at(f, c7, "is raw 0x") != NULL);
	CHECK(kind_at(f, c7) == CK_FASTBIN);
	CHECK_EQ_U64(f->m.nproblems, 1);
	heap_model_free(&f->m);
	image_free(&f->img);
	put(f, c7 + 16, c5 + 8); /* raw and misaligned */
	CHECK(walk(f) == 0);
	CHECK(problem_at(f, c7, "malloc(): unaligned fastbin chunk detected") != NULL);
	CHECK_EQ_U64(f->m.nproblems, 1);
	done(f);
}

UNIT_TEST(glibc_check_tcache_raw_pointer)
{
	struct fake *f = build_all_kinds();
	uint64_t c1 = HEAP + 0x290 + 1 * 0x30, c3 = HEAP + 0x290 + 3 * 0x30;

	put(f, c3 + 16, c1 + 16); /* tcache bin 1: c3 -> c1, written raw */
	CHECK(walk(f) == 0);
	CHECK(problem_at(f, c3, "is raw 0x") != NULL);
	CHECK(kind_at(f, c1) == CK_INUSE);
	done(f);
}

UNIT_TEST(glibc_check_fastbin_slot_unaligned)
{
	struct fake *f = build_all_kinds();
	uint64_t slot = ARENA + f->lay->ms_fastbins + 8;

	put(f, slot, HEAP + 0x298);
	CHECK(walk(f) == 0);
	CHECK(problem_at(f, slot, "unaligned fastbin chunk detected") != NULL);
	done(f);
}

UNIT_TEST(glibc_check_tcache_next_unaligned)
{
	struct fake *f = build_all_kinds();
	uint64_t c3 = HEAP + 0x290 + 3 * 0x30; /* first in tcache bin 1 */

	put(f, c3 + 16, (HEAP + 0x2c8) ^ ((c3 + 16) >> 12));
	CHECK(walk(f) == 0);
	CHECK(problem_at(f, c3, "malloc(): unaligned tcache chunk detected") != NULL);
	CHECK_EQ_U64(f->m.count[CK_TCACHE], 1);
	done(f);
}

UNIT_TEST(glibc_check_fastbin_chunk_of_the_wrong_size)
{
	struct fake *f = build_all_kinds();
	uint64_t c5 = HEAP + 0x290 + 5 * 0x30, slot = ARENA + f->lay->ms_fastbins;

	put(f, slot + 8, 0);
	put(f, slot + 16, c5); /* a 0x30 chunk in the 0x40 bin */
	CHECK(walk(f) == 0);
	CHECK(problem_at(f, c5, "malloc(): memory corruption (fast)") != NULL);
	done(f);
}

/* Top's size overwritten with 0x21: the bytes after it belong to no chunk. */
UNIT_TEST(glibc_check_top_size_overwritten_small)
{
	struct fake *f = build_all_kinds();
	uint64_t top = get(f, ARENA + f->lay->ms_top);

	put(f, top + 8, 0x21);
	CHECK(walk(f) == 0);
	CHECK(problem_at(f, top, "malloc(): corrupted top size") != NULL);
	CHECK_EQ_U64(f->m.arenas[0].unaccounted, HEAP + HEAPLEN - (top + 0x20));
	CHECK_EQ_U64(f->m.count[CK_TOP], 1);
	CHECK_EQ_U64(f->m.bytes[CK_TOP], 0x20);
	done(f);
}

UNIT_TEST(glibc_check_top_larger_than_the_arena)
{
	struct fake *f = build_all_kinds();
	uint64_t top = get(f, ARENA + f->lay->ms_top);

	put(f, ARENA + f->lay->ms_system_mem, 0x1000); /* top alone is bigger */
	CHECK(walk(f) == 0);
	CHECK(problem_at(f, top, "malloc(): corrupted top size") != NULL);
	CHECK_EQ_U64(f->m.arenas[0].unaccounted, 0);
	done(f);
}

UNIT_TEST(glibc_check_healthy_top_is_no_problem)
{
	struct fake *f = build_all_kinds();

	put(f, ARENA + f->lay->ms_system_mem, HEAPLEN);
	CHECK(walk(f) == 0);
	CHECK_EQ_U64(f->m.nproblems, 0);
	done(f);
}

UNIT_TEST(glibc_check_bin_bk_does_not_lead_back)
{
	struct fake *f = build_all_kinds();
	uint64_t c6 = HEAP + 0x290 + 6 * 0x30; /* alone in small bin 17 */

	put(f, c6 + 24, c6 + 0x1000);
	CHECK(walk(f) == 0);
	CHECK(problem_at(f, c6, "(corrupted double-linked list)") != NULL);
	CHECK(kind_at(f, c6) == CK_SMALLBIN);
	done(f);
}

UNIT_TEST(glibc_check_bin_chunk_next_prev_size)
{
	struct fake *f = build_all_kinds();
	uint64_t c8 = HEAP + 0x290 + 6 * 0x30 + 0x110 + 0x30; /* unsorted, 0x110 */

	put(f, c8 + 0x110, 0x120);
	CHECK(walk(f) == 0);
	CHECK(problem_at(f, c8, "(corrupted size vs. prev_size)") != NULL);
	done(f);
}

UNIT_TEST(glibc_check_bin_chunk_next_prev_inuse)
{
	struct fake *f = build_all_kinds();
	uint64_t c8 = HEAP + 0x290 + 6 * 0x30 + 0x110 + 0x30;

	put(f, c8 + 0x110 + 8, get(f, c8 + 0x110 + 8) | 1);
	CHECK(walk(f) == 0);
	CHECK(problem_at(f, c8, "malloc(): invalid next->prev_inuse (unsorted)") != NULL);
	done(f);
}

UNIT_TEST(glibc_check_bin_chunk_larger_than_the_arena)
{
	struct fake *f = build_all_kinds();
	uint64_t c8 = HEAP + 0x290 + 6 * 0x30 + 0x110 + 0x30;

	put(f, ARENA + f->lay->ms_system_mem, 0x100);
	CHECK(walk(f) == 0);
	CHECK(problem_at(f, c8, "malloc(): invalid size (unsorted)") != NULL);
	done(f);
}

UNIT_TEST(glibc_check_largebin_nextsize_links)
{
	struct fake *f = build_all_kinds();
	uint64_t c10 = HEAP + 0x290 + 8 * 0x30 + 2 * 0x110; /* large bin, 0x500 */

	CHECK_EQ_U64(get(f, c10 + 8) & ~7ULL, 0x500);
	put(f, c10 + 32, c10); /* alone: its nextsize links are itself */
	put(f, c10 + 40, c10);
	CHECK(walk(f) == 0);
	CHECK(problem_at(f, c10, "not small") == NULL);
	heap_model_free(&f->m);
	image_free(&f->img);
	put(f, c10 + 40, HEAP + 0x290); /* bk_nextsize elsewhere */
	CHECK(walk(f) == 0);
	CHECK(problem_at(f, c10, "(corrupted double-linked list (not small))") != NULL);
	done(f);
}

/* An in-use chunk whose next chunk's PREV_INUSE is clear: free() of it
 * aborts with "double free or corruption (!prev)". */
UNIT_TEST(glibc_check_prev_inuse_clear_after_a_chunk_on_no_bin)
{
	struct fake *f = build_all_kinds();
	uint64_t c2 = HEAP + 0x290 + 2 * 0x30, c3 = c2 + 0x30;

	put(f, c3 + 8, get(f, c3 + 8) & ~1ULL);
	CHECK(walk(f) == 0);
	CHECK(problem_at(f, c2, "(double free or corruption (!prev))") != NULL);
	CHECK_EQ_U64(f->m.nproblems, 1);
	done(f);
}

/* In a healthy heap every clear PREV_INUSE follows a bin chunk: no problem
 * (build_all_kinds has three bin chunks, each with its next's bit clear). */
UNIT_TEST(glibc_check_prev_inuse_clear_after_bin_chunks_is_no_problem)
{
	struct fake *f = build_all_kinds();

	CHECK(walk(f) == 0);
	CHECK_EQ_U64(f->m.nproblems, 0);
	done(f);
}
