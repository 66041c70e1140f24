/*
 * test_glibc_find.c - finding main_arena, mp_ and the tcache offset in
 * hand-built memory images (glibc_find.h).
 *
 * A fake process: libc's data (main_arena, mp_), a [heap], two thread heaps
 * at 64 MiB boundaries, an anonymous region with one mmapped chunk, and a
 * region holding three threads' TLS (fs_base - 72 = &tcache).  Tests build
 * what they need of it: an arena with nothing allocated, a ring of three,
 * decoys, and hostile rings and garbage that must end in a refusal, bounded.
 */
#include <stdlib.h>
#include <string.h>

#include "glibc.h"
#include "glibc_find.h"
#include "image.h"
#include "libc.h"
#include "maps.h"
#include "unit.h"

#define LIBC 0x7f0000000000ULL
#define LIBCLEN 0x4000ULL
#define BSS (LIBC + LIBCLEN) /* libc's .bss past its file: anonymous */
#define BSSLEN 0x1000ULL
#define ARENA (LIBC + 0x1c60)
#define MP (LIBC + 0x1340)
#define HEAP 0x555500000000ULL
#define HEAPLEN 0x10000ULL
#define TH1 0x7e0004000000ULL /* 64 MiB aligned */
#define TH2 0x7e0008000000ULL
#define THLEN 0x10000ULL
#define ANON 0x7d0000000000ULL
#define ANONLEN 0x3000ULL
#define TLS 0x7c0000000000ULL   /* thread i's TLS: TLS + i * TLSGAP, TLSONE bytes */
#define TLSGAP 0x10000ULL
#define TLSONE 0x1000ULL
#define TLSLEN (3 * TLSONE)
#define TPOFF (-72)

struct ff {
	unsigned char libc[LIBCLEN], bss[BSSLEN], heap[HEAPLEN], th1[THLEN], th2[THLEN], anon[ANONLEN],
		tls[TLSLEN];
	const struct glibc_layout *lay;
	uint64_t mp_at; /* where init_mp puts mp_: MP unless a test moves it */
	uint64_t fs[3];
	size_t nthreads;
	struct image img;
};

static unsigned char *
at(struct ff *f, uint64_t a)
{
	static const struct { uint64_t start, len; size_t off; } map[] = {
		{ LIBC, LIBCLEN, offsetof(struct ff, libc) },
		{ BSS, BSSLEN, offsetof(struct ff, bss) },
		{ HEAP, HEAPLEN, offsetof(struct ff, heap) },
		{ TH1, THLEN, offsetof(struct ff, th1) },
		{ TH2, THLEN, offsetof(struct ff, th2) },
		{ ANON, ANONLEN, offsetof(struct ff, anon) },
		{ TLS, TLSONE, offsetof(struct ff, tls) },
		{ TLS + TLSGAP, TLSONE, offsetof(struct ff, tls) + TLSONE },
		{ TLS + 2 * TLSGAP, TLSONE, offsetof(struct ff, tls) + 2 * TLSONE },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (a >= map[i].start && a < map[i].start + map[i].len)
			return (unsigned char *)f + map[i].off + (a - map[i].start);
	abort();
}

static void
put(struct ff *f, uint64_t a, uint64_t v)
{
	memcpy(at(f, a), &v, 8);
}

static void
put32(struct ff *f, uint64_t a, uint32_t v)
{
	memcpy(at(f, a), &v, 4);
}

static uint64_t
bin_head(struct ff *f, uint64_t arena, int i)
{
	return arena + f->lay->ms_bins + (uint64_t)(i - 1) * 16 - 16;
}

/* malloc_init_state: every bin empty, top the unsorted header. */
static void
init_arena(struct ff *f, uint64_t arena, uint64_t next)
{
	for (int i = 1; i < 128; i++) {
		uint64_t h = bin_head(f, arena, i);

		put(f, h + 16, h);
		put(f, h + 24, h);
	}
	put(f, arena + f->lay->ms_next, next);
	put(f, arena + f->lay->ms_top, bin_head(f, arena, 1));
}

/* mp_ as glibc initialises it, with the heap and mmapped chunks given. */
static void
init_mp(struct ff *f, uint64_t sbrk, uint32_t n_mmaps, uint64_t mmapped)
{
	uint64_t mp = f->mp_at;

	put(f, mp, 128 << 10);       /* trim_threshold */
	put(f, mp + 16, 128 << 10);  /* mmap_threshold */
	put(f, mp + 24, 8);          /* arena_test */
	put32(f, mp + f->lay->mp_n_mmaps, n_mmaps);
	put32(f, mp + f->lay->mp_n_mmaps + 4, 65536);
	put32(f, mp + f->lay->mp_n_mmaps + 8, n_mmaps);
	put(f, mp + f->lay->mp_mmapped_mem, mmapped);
	put(f, mp + f->lay->mp_mmapped_mem + 8, mmapped);
	put(f, mp + f->lay->mp_sbrk_base, sbrk);
	if (f->lay->tc_size) {
		put(f, mp + f->lay->mp_tcache_bins, 64);
		put(f, mp + f->lay->mp_tcache_bins + 8, 1032);
		put(f, mp + f->lay->mp_tcache_bins + 16, 7);
	}
	if (f->lay->minor_max <= 14) /* unsigned pagesize after no_dyn_threshold */
		put32(f, mp + f->lay->mp_n_mmaps + 16, 4096);
}

static struct ff *
ff_new_in(const struct glibc_layout *lay)
{
	struct ff *f = calloc(1, sizeof(*f));

	f->lay = lay;
	f->mp_at = MP;
	init_arena(f, ARENA, ARENA);
	init_mp(f, 0, 0, 0);
	return f;
}

static struct ff *
ff_new(void)
{
	return ff_new_in(glibc_layout_for(36));
}

/* A heap from start to end: a tcache struct first (its user address in
 * *tc), a 0x100 chunk put in small bin 16 of arena, a guard, then top. */
static void
fill_heap(struct ff *f, uint64_t arena, uint64_t start, uint64_t end, uint64_t *tc)
{
	uint64_t p = start, free_c, h = bin_head(f, arena, 16);

	/* a glibc without tcache (tc_size 0): an ordinary chunk in its place */
	put(f, p + 8, (f->lay->tc_size ? f->lay->tc_size : 0x290) | 1);
	*tc = f->lay->tc_size ? p + 16 : 0;
	p += f->lay->tc_size ? f->lay->tc_size : 0x290;
	free_c = p;
	put(f, p + 8, 0x100 | 1);
	put(f, p + 16, h);
	put(f, p + 24, h);
	put(f, h + 16, free_c);
	put(f, h + 24, free_c);
	p += 0x100;
	put(f, p, 0x100);
	put(f, p + 8, 0x40); /* guard: P clear, the chunk before is free */
	p += 0x40;
	put(f, arena + f->lay->ms_top, p);
	put(f, p + 8, (end - p) | 1);
	put(f, arena + f->lay->ms_system_mem, end - (start & ~0xfffULL));
	put(f, arena + f->lay->ms_system_mem + 8, end - (start & ~0xfffULL));
}

static void
set_tls(struct ff *f, size_t i, uint64_t tcache)
{
	f->fs[i] = TLS + TLSGAP * i + TLSONE - 0x200;
	put(f, f->fs[i], f->fs[i]); /* the TCB points at itself */
	put(f, f->fs[i] + TPOFF, tcache);
	put(f, f->fs[i] + TPOFF - 8, 0x1234); /* other TLS words */
	put(f, f->fs[i] + TPOFF + 8, 1);
	if (i + 1 > f->nthreads)
		f->nthreads = i + 1;
}

/* A thread arena in the heap at h, in the ring before next. */
static uint64_t
thread_arena(struct ff *f, uint64_t h, uint64_t next, uint64_t *tc)
{
	uint64_t a = h + f->lay->hi_sizeof;

	put(f, h + f->lay->hi_ar_ptr, a);
	put(f, h + f->lay->hi_size, THLEN);
	put(f, h + f->lay->hi_size + 8, THLEN);
	init_arena(f, a, next);
	fill_heap(f, a, (a + f->lay->ms_size + 15) & ~15ULL, h + THLEN, tc);
	return a;
}

/* The full process: main + two thread arenas, an mmapped chunk, 3 threads. */
static struct ff *
ff_ring_of_three_in(const struct glibc_layout *lay)
{
	struct ff *f = ff_new_in(lay);
	uint64_t tc0, tc1, tc2, a1, a2;

	fill_heap(f, ARENA, HEAP, HEAP + HEAPLEN, &tc0);
	a2 = thread_arena(f, TH2, ARENA, &tc2);
	a1 = thread_arena(f, TH1, a2, &tc1);
	put(f, ARENA + f->lay->ms_next, a1);
	put(f, ANON + 8, 0x2000 | 2); /* mmapped, prev_size 0 */
	init_mp(f, HEAP, 1, 0x2000);
	set_tls(f, 0, tc0);
	set_tls(f, 1, tc1);
	set_tls(f, 2, tc2);
	return f;
}

static struct ff *
ff_ring_of_three(void)
{
	return ff_ring_of_three_in(glibc_layout_for(36));
}

static int
find(struct ff *f, int minor, struct glibc_found *out, char *why, size_t len)
{
	struct map_range data[2] = { { LIBC, LIBC + LIBCLEN }, { BSS, BSS + BSSLEN } };
	struct glibc_find_input in = { .img = &f->img, .data = data, .ndata = 2,
				       .fs_base = f->fs, .nthreads = f->nthreads, .minor = minor };

	image_free(&f->img);
	image_init(&f->img);
	image_add_copy(&f->img, LIBC, f->libc, LIBCLEN, 3, "/lib/libc.so.6");
	image_add_copy(&f->img, BSS, f->bss, BSSLEN, 3, "");
	image_add_copy(&f->img, HEAP, f->heap, HEAPLEN, 3, "[heap]");
	image_add_copy(&f->img, TH1, f->th1, THLEN, 3, "");
	image_add_copy(&f->img, TH2, f->th2, THLEN, 3, "");
	image_add_copy(&f->img, ANON, f->anon, ANONLEN, 3, "");
	for (int i = 0; i < 3; i++)
		image_add_copy(&f->img, TLS + TLSGAP * i, f->tls + TLSONE * i, TLSONE, 3, "");
	why[0] = '\0';
	return glibc_find(&in, out, why, len);
}

static void
ff_free(struct ff *f)
{
	image_free(&f->img);
	free(f);
}

UNIT_TEST(glibc_find_empty_arena)
{
	struct ff *f = ff_new();
	struct glibc_found g;
	char why[256];

	CHECK(find(f, 36, &g, why, sizeof(why)) == 0);
	CHECK_EQ_U64(g.main_arena, ARENA);
	CHECK_EQ_U64(g.mp, MP);
	CHECK(!g.have_tpoff);
	CHECK(!g.inferred && g.minor_min == 36 && g.minor_max == 36);
	/* no version string: every layout tried, the fitting one's range */
	if (find(f, 0, &g, why, sizeof(why)) != 0)
		fprintf(stderr, "  %s\n", why);
	CHECK_EQ_U64(g.main_arena, ARENA);
	CHECK(g.inferred && g.minor_min <= 36 && g.minor_max >= 36);
	ff_free(f);
}

UNIT_TEST(glibc_find_ring_of_three)
{
	struct ff *f = ff_ring_of_three();
	struct glibc_found g;
	char why[256];

	CHECK(find(f, 36, &g, why, sizeof(why)) == 0);
	if (why[0])
		fprintf(stderr, "  why: %s\n", why);
	CHECK_EQ_U64(g.main_arena, ARENA);
	CHECK_EQ_U64(g.mp, MP);
	CHECK(g.have_tpoff);
	CHECK_EQ_U64(g.tcache_tpoff, TPOFF);
	CHECK(g.note[0] == '\0');
	CHECK(find(f, 0, &g, why, sizeof(why)) == 0);
	CHECK(g.inferred && g.minor_min <= 36 && g.minor_max >= 36);
	CHECK_EQ_U64(g.main_arena, ARENA);
	CHECK_EQ_U64(g.tcache_tpoff, TPOFF);
	/* a version heapscan has no layout for is refused, not guessed */
	CHECK(find(f, 99, &g, why, sizeof(why)) < 0);
	CHECK(strstr(why, "2.99") != NULL);
	ff_free(f);
}

/* Every layout of the table, with no version string: the finder infers
 * that layout (or one that reads memory the same way), not another. */
UNIT_TEST(glibc_find_infers_every_layout)
{
	const struct glibc_layout *lay;

	for (size_t i = 0; (lay = glibc_layout_at(i)); i++) {
		struct ff *f = ff_ring_of_three_in(lay);
		struct glibc_found g;
		char why[256];
		int ret = find(f, 0, &g, why, sizeof(why));

		if (ret < 0)
			fprintf(stderr, "  layout 2.%d-2.%d: %s\n", lay->minor_min, lay->minor_max, why);
		CHECK(ret == 0);
		if (ret == 0) {
			struct glibc_layout a = *lay, b = *g.lay;

			a.minor_min = a.minor_max = b.minor_min = b.minor_max = 0;
			/* these images hold no free-list link: the list encoding
			 * cannot be told from them, and does not matter to the walk */
			a.safe_linking = b.safe_linking = false;
			a.tc_entry_key = b.tc_entry_key = false;
			a.tc_key_random = b.tc_key_random = false;
			CHECK(!memcmp(&a, &b, sizeof(a)));
			CHECK(g.inferred && g.minor_min <= lay->minor_min &&
			      g.minor_max >= lay->minor_max);
			CHECK_EQ_U64(g.main_arena, ARENA);
			CHECK_EQ_U64(g.mp, MP);
			CHECK(g.have_tpoff == (lay->tc_size != 0));
			if (g.have_tpoff)
				CHECK_EQ_U64(g.tcache_tpoff, TPOFF);
		}
		/* and with its version string: that layout (of the rows for that
		 * version: 2.12-2.14 with and without PER_THREAD) */
		CHECK(find(f, lay->minor_max, &g, why, sizeof(why)) == 0 && !g.inferred &&
		      g.minor_min == lay->minor_max);
		CHECK(g.lay == lay);
		ff_free(f);
	}
}

/* The walker, given what the finder found, walks all three arenas. */
UNIT_TEST(glibc_find_then_walk)
{
	struct ff *f = ff_ring_of_three();
	struct glibc_found g;
	struct glibc_thread th[3];
	struct heap_model m;
	char why[256];

	CHECK(find(f, 36, &g, why, sizeof(why)) == 0);
	for (int i = 0; i < 3; i++) {
		th[i].tid = 100 + i;
		th[i].tcache = 0;
		image_u64(&f->img, f->fs[i] + (uint64_t)g.tcache_tpoff, &th[i].tcache);
	}
	CHECK(glibc_walk(&(struct glibc_target){ .img = &f->img, .lay = g.lay,
						 .main_arena = g.main_arena, .mp = g.mp,
						 .threads = th, .nthreads = 3 },
			 &m, why, sizeof(why)) == 0);
	CHECK_EQ_U64(m.narenas, 3);
	CHECK_EQ_U64(m.tcaches, 3);
	CHECK_EQ_U64(m.count[CK_SMALLBIN], 3);
	CHECK_EQ_U64(m.count[CK_MMAPPED], 1);
	CHECK_EQ_U64(m.nproblems, 0);
	heap_model_free(&m);
	ff_free(f);
}

/* Threads disagree: one has a stray word where the others keep tcache. */
UNIT_TEST(glibc_find_tcache_offset_refused)
{
	struct ff *f = ff_ring_of_three();
	struct glibc_found g;
	char why[256];

	put(f, f->fs[2] + TPOFF, HEAP + 0x40); /* not a tcache struct */
	CHECK(find(f, 36, &g, why, sizeof(why)) == 0);
	CHECK_EQ_U64(g.main_arena, ARENA);
	CHECK(!g.have_tpoff);
	CHECK(strstr(g.note, "tcache") != NULL);
	ff_free(f);
}

/* Two offsets that hold every thread's tcache alike (a stale copy on each
 * stack, say): not decided, and said so, rather than guessed. */
UNIT_TEST(glibc_find_tcache_offset_tie)
{
	struct ff *f = ff_ring_of_three();
	struct glibc_found g;
	char why[256];
	uint64_t v;

	for (int i = 0; i < 3; i++) {
		memcpy(&v, at(f, f->fs[i] + TPOFF), 8);
		put(f, f->fs[i] + TPOFF - 0x100, v);
	}
	CHECK(find(f, 36, &g, why, sizeof(why)) == 0);
	CHECK(!g.have_tpoff);
	CHECK(strstr(g.note, "tcache offset not decided: 2 offsets fit 3 threads each") != NULL);
	/* one thread's copy is gone: the real offset has more votes */
	put(f, f->fs[1] + TPOFF - 0x100, 0);
	CHECK(find(f, 36, &g, why, sizeof(why)) == 0);
	CHECK(g.have_tpoff && g.tcache_tpoff == TPOFF);
	ff_free(f);
}

/* A decoy: an arena-shaped struct whose top does not end its heap. */
UNIT_TEST(glibc_find_decoy_top_wrong)
{
	struct ff *f = ff_ring_of_three();
	struct glibc_found g;
	uint64_t decoy = LIBC + 0x2800, t = HEAP + 0x1000;
	char why[256];

	init_arena(f, decoy, decoy);
	put(f, decoy + f->lay->ms_top, t);
	put(f, t + 8, 0x2001); /* ends at HEAP + 0x3000, not at the heap's end */
	CHECK(find(f, 36, &g, why, sizeof(why)) == 0);
	CHECK_EQ_U64(g.main_arena, ARENA); /* the decoy is not a candidate */
	/* alone, the decoy is refused */
	put(f, ARENA + f->lay->ms_top, HEAP + 0x10); /* the real top broken too */
	CHECK(find(f, 36, &g, why, sizeof(why)) < 0);
	CHECK(strstr(why, "no malloc_state") != NULL);
	ff_free(f);
}

/* Two arenas that both fit: refused, with both addresses. */
UNIT_TEST(glibc_find_two_fit_refused)
{
	struct ff *f = ff_new();
	struct glibc_found g;
	char why[256];

	init_arena(f, LIBC + 0x2800, LIBC + 0x2800);
	CHECK(find(f, 36, &g, why, sizeof(why)) < 0);
	CHECK(strstr(why, "two places fit main_arena") != NULL);
	CHECK(strstr(why, "0x7f0000002800") != NULL);
	ff_free(f);
}

/* Rings that never come back to main_arena: cycles, self-loops, a long
 * ring out of the image.  All refused, all bounded. */
UNIT_TEST(glibc_find_hostile_rings)
{
	struct ff *f = ff_ring_of_three();
	struct glibc_found g;
	uint64_t a1 = TH1 + f->lay->hi_sizeof, a2 = TH2 + f->lay->hi_sizeof;
	char why[256];

	put(f, a2 + f->lay->ms_next, a1); /* a1 -> a2 -> a1 -> ... */
	CHECK(find(f, 36, &g, why, sizeof(why)) < 0);
	put(f, a2 + f->lay->ms_next, a2); /* a2 -> a2 */
	CHECK(find(f, 36, &g, why, sizeof(why)) < 0);
	put(f, a2 + f->lay->ms_next, 0xdead0000); /* out of the image */
	CHECK(find(f, 36, &g, why, sizeof(why)) < 0);
	put(f, a2 + f->lay->ms_next, ARENA); /* mended: found again */
	CHECK(find(f, 36, &g, why, sizeof(why)) == 0);
	/* a heap_info that does not point back */
	put(f, TH1 + f->lay->hi_ar_ptr, a2);
	CHECK(find(f, 36, &g, why, sizeof(why)) < 0);
	ff_free(f);
}

/* Bins pointing at themselves through chunks, loops, wild pointers; fs
 * bases at the edges of memory; then plain garbage.  Nothing crashes. */
UNIT_TEST(glibc_find_hostile_garbage)
{
	struct ff *f = ff_ring_of_three();
	struct glibc_found g;
	uint64_t h = bin_head(f, ARENA, 20), c = HEAP + 0x800, x = 88172645463325252ULL;
	char why[256];
	int found = 0;

	put(f, h + 16, c); /* bin 20 -> c -> c -> ... */
	put(f, h + 24, c);
	put(f, c + 8, 20 * 16 | 1);
	put(f, c + 16, c);
	put(f, c + 24, c);
	f->fs[0] = 8;
	f->fs[1] = TLS + 16;
	f->fs[2] = UINT64_MAX & ~7ULL;
	find(f, 36, &g, why, sizeof(why));
	for (int round = 0; round < 20; round++) {
		const uint64_t bases[] = { LIBC, HEAP, TH1, TH2, ANON, TLS, 0 };

		for (uint64_t *w = (uint64_t *)f->libc; w < (uint64_t *)(f->tls + TLSLEN); w++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* mostly pointers into the image, some self-referencing */
			*w = (x & 3) == 0 ? x : (x & 3) == 1 ? bases[x % 7] + ((x >> 8) & 0xff0) : 0;
		}
		f->fs[0] = TLS + 0x800 + (x & 0x7f8);
		f->nthreads = 1;
		found += find(f, round % 2 ? 36 : 0, &g, why, sizeof(why)) == 0;
	}
	CHECK(found == 0);
	ff_free(f);
}

/* mp_ alone, given main_arena (what libc's code gives), in the image that
 * find() last built. */
static uint64_t
find_mp_only(struct ff *f, const struct glibc_layout *lay, uint64_t arena, char *note, size_t len)
{
	struct map_range data[2] = { { LIBC, LIBC + LIBCLEN }, { BSS, BSS + BSSLEN } };
	struct glibc_find_input in = { .img = &f->img, .data = data, .ndata = 2 };

	return glibc_find_mp(&in, lay, arena, note, len);
}

/* glibc_find_mp_libc as a source calls it after libc's code gave
 * main_arena and the row lay (version 2.12), in the image find() last
 * built; libc's maps: its data file-backed, .bss anonymous after it. */
static bool
mp_beside_code(struct ff *f, const struct glibc_layout *lay, struct libc_info *li)
{
	static const char text[] =
		"7f0000000000-7f0000004000 rw-p 00000000 fe:00 42 /lib/libc.so.6\n"
		"7f0000004000-7f0000005000 rw-p 00000000 00:00 0 \n";
	struct maps m;
	size_t bad;

	memset(li, 0, sizeof(*li));
	li->minor = 12;
	li->lay = lay;
	li->main_arena = ARENA;
	li->found_by = FOUND_CODE;
	if (maps_parse(text, sizeof(text) - 1, &m, &bad) != 0)
		return false;
	glibc_find_mp_libc(&f->img, &m, &m.v[0], li);
	maps_free(&m);
	return li->main_arena == ARENA && li->found_by == FOUND_CODE;
}

/* glibc 2.12-2.14: mp_ in .bss (an anonymous mapping past libc's file),
 * with `unsigned pagesize` after no_dyn_threshold, all zero until malloc's
 * first call.  Found in memory, both with main_arena (libc's code way) and
 * without (the memory way); not made up when it is still zero.  Both rows
 * of 2.12-2.14 (with PER_THREAD, as RHEL 6, and without): the version string
 * names both, memory tells them apart, and the other row's reading of mp_
 * finds none. */
UNIT_TEST(glibc_find_mp_in_bss_2_12)
{
	const struct glibc_layout *lay, *other;

	for (size_t i = 0; (lay = glibc_layout_at(i)); i++) {
		struct ff *f;
		struct glibc_found g;
		struct libc_info li;
		char why[256], note[128];

		if (lay->minor_min != 12)
			continue;
		other = glibc_layout_at(i ^ 1); /* rows 0 and 1 */
		CHECK(other->minor_min == 12 && other != lay && !lay->tc_size);
		f = ff_ring_of_three_in(lay);
		memset(at(f, MP), 0, lay->mp_size); /* not in .data */
		f->mp_at = BSS + 0x48;
		init_mp(f, HEAP, 1, 0x2000);
		CHECK(find(f, 12, &g, why, sizeof(why)) == 0);
		CHECK(g.lay == lay);
		CHECK_EQ_U64(g.main_arena, ARENA);
		CHECK_EQ_U64(g.mp, BSS + 0x48);
		CHECK(!g.have_tpoff);
		CHECK(find(f, 0, &g, why, sizeof(why)) == 0); /* no version string */
		CHECK(g.inferred && g.minor_min == 12 && g.minor_max == 14 && g.lay == lay);
		CHECK_EQ_U64(g.mp, BSS + 0x48);
		CHECK_EQ_U64(find_mp_only(f, lay, ARENA, note, sizeof(note)), BSS + 0x48);
		CHECK(note[0] == '\0');
		/* libc's code gave main_arena and the PER_THREAD row (it cannot
		 * tell the builds apart): memory settles the row and mp_ */
		CHECK(mp_beside_code(f, glibc_layout_for(12), &li) && li.lay == lay);
		CHECK_EQ_U64(li.mp, BSS + 0x48);
		CHECK(mp_beside_code(f, other, &li) && li.lay == lay);
		CHECK_EQ_U64(li.mp, BSS + 0x48);
		/* mp_'s counts disagree with the mmapped chunk in memory: still mp_
		 * (sbrk_base, thresholds, n_mmaps_max), the walk then reports it */
		put32(f, BSS + 0x48 + lay->mp_n_mmaps, 0);
		CHECK(find(f, 12, &g, why, sizeof(why)) == 0);
		CHECK_EQ_U64(find_mp_only(f, lay, ARENA, note, sizeof(note)), BSS + 0x48);
		/* a second copy, as good: a tie, said, not guessed */
		memcpy(at(f, BSS + 0x200), at(f, BSS + 0x48), lay->mp_size);
		CHECK(find(f, 12, &g, why, sizeof(why)) == 0);
		CHECK_EQ_U64(find_mp_only(f, lay, ARENA, note, sizeof(note)), 0);
		CHECK(strstr(note, "not decided") != NULL);
		/* before malloc's first call: mp_ all zero, nothing found */
		memset(at(f, BSS), 0, BSSLEN);
		CHECK(find(f, 12, &g, why, sizeof(why)) == 0);
		CHECK_EQ_U64(g.main_arena, ARENA);
		CHECK_EQ_U64(g.mp, 0);
		CHECK_EQ_U64(find_mp_only(f, lay, ARENA, note, sizeof(note)), 0);
		CHECK(strstr(note, "no mp_") != NULL);
		/* a main_arena that is not one: nothing to check mp_ against */
		CHECK_EQ_U64(find_mp_only(f, lay, ARENA + 8, note, sizeof(note)), 0);
		CHECK(strstr(note, "main_arena") != NULL);
		ff_free(f);
	}
}

/* libc's writable data: its rw mappings and the anonymous one right after
 * (.bss); everything it maps, for the version string. */
UNIT_TEST(glibc_find_ranges_from_maps)
{
	static const char text[] =
		"7f0000000000-7f0000026000 r--p 00000000 fe:00 42 /usr/lib/libc.so.6\n"
		"7f0000026000-7f000017c000 r-xp 00026000 fe:00 42 /usr/lib/libc.so.6\n"
		"7f000017c000-7f00001d0000 r--p 0017c000 fe:00 42 /usr/lib/libc.so.6\n"
		"7f00001d0000-7f00001d4000 r--p 001d0000 fe:00 42 /usr/lib/libc.so.6\n"
		"7f00001d4000-7f00001d6000 rw-p 001d4000 fe:00 42 /usr/lib/libc.so.6\n"
		"7f00001d6000-7f00001e3000 rw-p 00000000 00:00 0 \n"
		"7f00001e3000-7f00001e5000 rw-p 00000000 00:00 0 \n"
		"7f0000200000-7f0000201000 rw-p 00000000 fe:00 43 /usr/lib/libother.so\n"
		"7f0000300000-7f0000326000 r--p 00000000 fe:00 42 /usr/lib/libc.so.6\n"
		"7f0000326000-7f0000328000 rw-p 001d4000 fe:00 42 /usr/lib/libc.so.6\n";
	struct maps m;
	struct map_range r[GLIBC_FIND_MAX_RANGES];
	uint64_t lo, hi;
	size_t bad, n;

	CHECK(maps_parse(text, sizeof(text) - 1, &m, &bad) == 0);
	n = glibc_find_ranges(&m, &m.v[0], r, GLIBC_FIND_MAX_RANGES, &lo, &hi);
	CHECK_EQ_U64(n, 2);
	CHECK_EQ_U64(r[0].start, 0x7f00001d4000);
	CHECK_EQ_U64(r[0].end, 0x7f00001d6000);
	CHECK_EQ_U64(r[1].start, 0x7f00001d6000);
	CHECK_EQ_U64(r[1].end, 0x7f00001e3000);
	CHECK_EQ_U64(lo, 0x7f0000000000);
	CHECK_EQ_U64(hi, 0x7f00001d6000);
	CHECK_EQ_U64(glibc_find_ranges(&m, &m.v[0], r, 1, &lo, &hi), 1); /* bounded by max */
	maps_free(&m);
}

UNIT_TEST(glibc_find_version_string)
{
	static const char ro[] = "....GNU C Library (Debian GLIBC 2.36-9) stable release version "
				 "2.36.\nCopyright";
	static const char bad[] = "release version 2.1234";
	struct image img;
	int minor = 0;

	image_init(&img);
	image_add_copy(&img, LIBC, ro, sizeof(ro), 1, "/lib/libc.so.6");
	CHECK(glibc_find_version(&img, LIBC, LIBC + 0x1000, &minor) && minor == 36);
	CHECK(!glibc_find_version(&img, LIBC + 0x10, LIBC + 0x1000, &minor)); /* outside */
	image_add_copy(&img, HEAP, bad, sizeof(bad) - 1, 1, "/lib/libc.so.6");
	CHECK(!glibc_find_version(&img, HEAP, HEAP + 0x1000, &minor));
	image_free(&img);
}
