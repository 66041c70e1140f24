/*
 * test_cluster.c - content and shape clusters, and the address map, on
 * hand-built heaps.
 *
 * A fake process: a [heap] region where each test lays out chunks back to
 * back (a chunk's last user word is the next chunk's prev_size, as in glibc),
 * a module "/usr/lib/libfake.so" with a code and a data mapping, and a
 * heap_model filled in by hand with the chunks in address order.
 */
#include <stdlib.h>
#include <string.h>

#include "addrmap.h"
#include "cluster.h"
#include "maps.h"
#include "par.h"
#include "unit.h"

#define HEAP 0x555500000000ULL
#define HEAPLEN 0x40000ULL
#define LIBFAKE 0x7f0000000000ULL
#define LIB_CODE (LIBFAKE + 0x1000)
#define LIB_DATA (LIBFAKE + 0x2000)
#define MAXCH 8192

/* defined in src/analysis/cluster.c */
extern uint64_t (*cluster_hash_for_tests)(const void *p, size_t len);
extern int cluster_sig_for_tests;

static const char fake_maps[] =
	"555500000000-555500040000 rw-p 00000000 00:00 0          [heap]\n"
	"7f0000000000-7f0000001000 r--p 00000000 08:01 7          /usr/lib/libfake.so\n"
	"7f0000001000-7f0000002000 r-xp 00001000 08:01 7          /usr/lib/libfake.so\n"
	"7f0000002000-7f0000003000 rw-p 00002000 08:01 7          /usr/lib/libfake.so\n";

struct fix {
	unsigned char heap[HEAPLEN];
	uint64_t p; /* next chunk address */
	struct hs_chunk ch[MAXCH];
	bool typed[MAXCH];
	size_t n;
	struct image img;
	struct maps maps;
	struct addrmap am;
	struct heap_model m;
	struct cluster_set cs;
};

static struct fix *
fix_new(void)
{
	struct fix *f = calloc(1, sizeof(*f));

	f->p = HEAP;
	return f;
}

/* Append an arena chunk of size holding data at its user pointer; returns
 * the user pointer (what malloc would have returned). */
static uint64_t
add_kind(struct fix *f, uint64_t size, enum chunk_kind k, const void *data, size_t len)
{
	uint64_t c = f->p, sz = size | 1;

	memcpy(f->heap + (c - HEAP) + 8, &sz, 8);
	if (len)
		memcpy(f->heap + (c - HEAP) + 16, data, len);
	f->ch[f->n++] = (struct hs_chunk){ .addr = c, .size = size, .kind = k, .arena = 0 };
	f->p += size;
	return c + 16;
}

static uint64_t
add(struct fix *f, uint64_t size, const void *data, size_t len)
{
	return add_kind(f, size, CK_INUSE, data, len);
}

static uint64_t
add_str(struct fix *f, uint64_t size, const char *s)
{
	return add(f, size, s, strlen(s) + 1);
}

/* Clustering in the caller's array (what types.c does) gives the same
 * clusters, leaves typed chunks' entries alone and marks the others.  Its
 * loops over the chunks are cut in two threads however few the chunks
 * (par.h), so this also checks the parts add up to one loop. */
static void
same_in_place_jobs(struct fix *f, int jobs)
{
	uint32_t *of = malloc((f->n ? f->n : 1) * sizeof(*of));
	struct cluster_input in = { .img = &f->img, .am = &f->am, .heap = &f->m, .of_chunk = of };
	struct cluster_set cs;

	for (size_t i = 0; i < f->n; i++)
		of[i] = f->typed[i] ? (uint32_t)(i % 1000) : UINT32_MAX;
	par_min_for_tests = 2;
	par_set_jobs(jobs);
	cluster_build(&in, &cs);
	par_set_jobs(0);
	par_min_for_tests = 0;
	CHECK(cs.of_chunk == NULL);
	CHECK_EQ_U64(cs.n, f->cs.n);
	for (size_t k = 0; k < cs.n && k < f->cs.n; k++)
		CHECK(cs.v[k].count == f->cs.v[k].count && cs.v[k].sample == f->cs.v[k].sample &&
		      !strcmp(cs.v[k].desc, f->cs.v[k].desc));
	for (size_t i = 0; i < f->n; i++) {
		uint32_t c = f->cs.of_chunk ? f->cs.of_chunk[i] : CLUSTER_NONE;

		if (f->typed[i])
			CHECK_EQ_U64(of[i], i % 1000);
		else if (of[i] != UINT32_MAX)
			CHECK_EQ_U64(cluster_of_entry(&cs, of[i]), c);
		else
			CHECK_EQ_U64(c, CLUSTER_NONE);
	}
	cluster_set_free(&cs);
	free(of);
}

/* ... with the CPUs' count of parts (two here at least), and with 3 and 7:
 * the content pass cut in that many parts, merged, gives one loop's clusters. */
static void
same_in_place(struct fix *f)
{
	same_in_place_jobs(f, 0);
	same_in_place_jobs(f, 3);
	same_in_place_jobs(f, 7);
	/* shape signatures word by word, as on a CPU without AVX2, and four
	 * words at a time give the same clusters as the most the CPU has
	 * (which run() took: eight at a time with AVX-512) */
	cluster_sig_for_tests = 1;
	same_in_place_jobs(f, 0);
	cluster_sig_for_tests = 2;
	same_in_place_jobs(f, 0);
	cluster_sig_for_tests = 0;
}

/* The image, the maps and the model; then cluster.  hole_at (page aligned,
 * 0 for none) is a page of [heap] that could not be read. */
static void
run_hole(struct fix *f, uint64_t hole_at)
{
	size_t bad = 0;
	struct cluster_input in;

	image_init(&f->img);
	CHECK(image_add_copy(&f->img, HEAP, f->heap, HEAPLEN, 3, "[heap]") == 0);
	if (hole_at) {
		f->img.r[0].holes = calloc(1, sizeof(*f->img.r[0].holes));
		f->img.r[0].holes[0] = (struct image_hole){ hole_at, hole_at + 0x1000 };
		f->img.r[0].nholes = 1;
		memset(f->img.r[0].data + (hole_at - HEAP), 0, 0x1000);
	}
	CHECK(maps_parse(fake_maps, sizeof(fake_maps) - 1, &f->maps, &bad) == 0);
	addrmap_build(&f->am, &f->maps);
	f->m.chunks = f->ch;
	f->m.nchunks = f->n;
	in = (struct cluster_input){ .img = &f->img, .am = &f->am, .heap = &f->m,
				     .typed = f->typed };
	cluster_build(&in, &f->cs);
	same_in_place(f);
}

static void
run(struct fix *f)
{
	run_hole(f, 0);
}

static void
done(struct fix *f)
{
	cluster_set_free(&f->cs);
	addrmap_free(&f->am);
	maps_free(&f->maps);
	image_free(&f->img);
	free(f);
}

static size_t
count_kind(const struct fix *f, enum cluster_kind k)
{
	size_t n = 0;

	for (size_t i = 0; i < f->cs.n; i++)
		n += f->cs.v[i].kind == k;
	return n;
}

static const struct cluster *
by_desc(const struct fix *f, const char *desc)
{
	const struct cluster *found = NULL;

	for (size_t i = 0; i < f->cs.n; i++) {
		if (strcmp(f->cs.v[i].desc, desc))
			continue;
		CHECK(found == NULL); /* exactly one */
		found = &f->cs.v[i];
	}
	return found;
}

static uint32_t
cluster_of(const struct fix *f, size_t chunk)
{
	return f->cs.of_chunk[chunk];
}

UNIT_TEST(cluster_identical_strings)
{
	struct fix *f = fix_new();
	const struct cluster *c;

	add(f, 0x40, "\x01\x02", 2); /* unrelated */
	for (int i = 0; i < 10; i++)
		add_str(f, 0x20, "test_memory");
	run(f);
	CHECK_EQ_U64(count_kind(f, CL_CONTENT), 1);
	c = by_desc(f, "\"test_memory\"");
	CHECK(c != NULL);
	if (c) {
		CHECK(c->kind == CL_CONTENT);
		CHECK_EQ_U64(c->count, 10);
		CHECK_EQ_U64(c->size, 0); /* a string: its chunks may be of several sizes */
		CHECK_EQ_U64(c->bytes, 10 * 0x20);
		CHECK_EQ_U64(c->sample, HEAP + 0x40);
		for (size_t i = 1; i <= 10; i++)
			CHECK_EQ_U64(cluster_of(f, i), (uint32_t)(c - f->cs.v));
	}
	CHECK_EQ_U64(cluster_of(f, 0), CLUSTER_NONE); /* alone */
	done(f);
}

UNIT_TEST(cluster_two_contents_same_size)
{
	struct fix *f = fix_new();

	for (int i = 0; i < 3; i++) {
		add_str(f, 0x30, "alpha");
		add_str(f, 0x30, "bravo");
	}
	run(f);
	CHECK_EQ_U64(count_kind(f, CL_CONTENT), 2);
	CHECK(by_desc(f, "\"alpha\"") && by_desc(f, "\"alpha\"")->count == 3);
	CHECK(by_desc(f, "\"bravo\"") && by_desc(f, "\"bravo\"")->count == 3);
	CHECK(cluster_of(f, 0) != cluster_of(f, 1));
	CHECK(cluster_of(f, 0) == cluster_of(f, 2));
	done(f);

	/* one of each: no content cluster; both are left to shapes */
	f = fix_new();
	add_str(f, 0x30, "alpha");
	add_str(f, 0x30, "bravo");
	run(f);
	CHECK_EQ_U64(count_kind(f, CL_CONTENT), 0);
	CHECK(by_desc(f, "text, zero x4") != NULL);
	done(f);
}

UNIT_TEST(cluster_same_bytes_other_size_is_other_content)
{
	struct fix *f = fix_new();

	uint64_t w[2] = { 7, 0x1234567890ULL };

	for (int i = 0; i < 2; i++) {
		add(f, 0x20, w, sizeof(w));
		add(f, 0x30, w, sizeof(w));
	}
	run(f);
	CHECK_EQ_U64(count_kind(f, CL_CONTENT), 2);
	CHECK(cluster_of(f, 0) != cluster_of(f, 1));
	done(f);
}

/* A C string is one content whatever its chunk's size (malloc hands out a
 * larger chunk when the remainder would be too small to split off), and
 * whatever stale bytes follow its NUL; the cluster's size is then 0. */
UNIT_TEST(cluster_string_is_one_content_whatever_follows)
{
	struct fix *f = fix_new();
	const struct cluster *c;
	uint64_t sz[4] = { 0x20, 0x30, 0x20, 0x30 };

	for (int i = 0; i < 4; i++) {
		char buf[40];

		memset(buf, 'A' + i, sizeof(buf)); /* stale bytes, different in each */
		memcpy(buf, "same", 5);
		add(f, sz[i], buf, (size_t)sz[i] - 8);
	}
	run(f);
	CHECK_EQ_U64(count_kind(f, CL_CONTENT), 1);
	c = by_desc(f, "\"same\"");
	CHECK(c && c->count == 4 && c->size == 0);
	done(f);
}

static uint64_t
colliding_hash(const void *p, size_t len)
{
	return 42;
}

/* Every content hashes alike: memcmp alone must keep them apart. */
UNIT_TEST(cluster_hash_collision_keeps_contents_apart)
{
	struct fix *f = fix_new();

	for (int i = 0; i < 3; i++)
		add_str(f, 0x20, "alpha");
	for (int i = 0; i < 2; i++)
		add_str(f, 0x20, "bravo");
	add_str(f, 0x20, "charlie");
	cluster_hash_for_tests = colliding_hash;
	run(f);
	cluster_hash_for_tests = NULL;
	CHECK_EQ_U64(count_kind(f, CL_CONTENT), 2);
	CHECK(by_desc(f, "\"alpha\"") && by_desc(f, "\"alpha\"")->count == 3);
	CHECK(by_desc(f, "\"bravo\"") && by_desc(f, "\"bravo\"")->count == 2);
	CHECK(f->cs.v[0].count == 3); /* sorted by bytes */
	CHECK(cluster_of(f, 5) != cluster_of(f, 0) || cluster_of(f, 5) == CLUSTER_NONE);
	done(f);
}

struct node {
	int id;
	char *name;
	struct node *next;
};

/* A list built the way a program would: name string, then node, each from
 * malloc; ids 0..49, the last next is NULL.  Id 0 and the NULL make two
 * nodes differ from the other 48 by a zero word; they must join them. */
UNIT_TEST(cluster_linked_list_is_one_shape)
{
	struct fix *f = fix_new();
	uint64_t nodes[50];
	const struct cluster *c;

	_Static_assert(sizeof(struct node) == 24, "LP64");
	for (int i = 0; i < 50; i++) {
		char name[16];
		struct node nd;

		snprintf(name, sizeof(name), "item%d", i);
		memset(&nd, 0, sizeof(nd)); /* the padding after id too */
		nd.id = i;
		nd.name = (char *)(uintptr_t)add_str(f, 0x20, name);
		nd.next = NULL;
		nodes[i] = add(f, 0x20, &nd, sizeof(nd));
	}
	for (int i = 0; i < 49; i++) /* link */
		memcpy(f->heap + (nodes[i] - HEAP) + 16, &nodes[i + 1], 8);
	run(f);
	c = by_desc(f, "int, heap ptr, heap ptr");
	CHECK(c != NULL);
	if (c) {
		CHECK(c->kind == CL_SHAPE);
		CHECK_EQ_U64(c->count, 50);
		CHECK_EQ_U64(c->size, 0x20);
		for (size_t i = 1; i < 100; i += 2)
			CHECK_EQ_U64(cluster_of(f, i), (uint32_t)(c - f->cs.v));
	}
	/* the names are another shape, none a content cluster */
	CHECK(by_desc(f, "text, zero, zero") && by_desc(f, "text, zero, zero")->count == 50);
	CHECK_EQ_U64(f->cs.n, 2);
	done(f);
}

/* A shape with more than ZERO_MERGE_MAX zero words stays as it is. */
UNIT_TEST(cluster_zero_merge_limit)
{
	struct fix *f = fix_new();
	uint64_t full[7] = { 1, HEAP, HEAP, HEAP, HEAP, HEAP, HEAP };
	uint64_t sparse[7] = { 1, 0, 0, 0, 0, 0, HEAP };
	uint64_t few[7] = { 1, HEAP, HEAP, 0, HEAP, HEAP, HEAP };

	for (int i = 0; i < 3; i++)
		add(f, 0x40, full, sizeof(full));
	for (int i = 0; i < 2; i++) {
		sparse[0] = (uint64_t)(10 + i);
		add(f, 0x40, sparse, sizeof(sparse));
	}
	few[0] = 99;
	add(f, 0x40, few, sizeof(few));
	/* make the three "full" chunks differ too */
	memcpy(f->heap + (f->ch[1].addr - HEAP) + 16, &(uint64_t){ 5 }, 8);
	memcpy(f->heap + (f->ch[2].addr - HEAP) + 16, &(uint64_t){ 6 }, 8);
	run(f);
	CHECK_EQ_U64(count_kind(f, CL_CONTENT), 0);
	CHECK(by_desc(f, "int, heap ptr x6") && by_desc(f, "int, heap ptr x6")->count == 4);
	CHECK(by_desc(f, "int, zero x5, heap ptr") &&
	      by_desc(f, "int, zero x5, heap ptr")->count == 2);
	done(f);
}

/* A cluster of chunks of this size with this description. */
static bool
by_size_desc(const struct fix *f, uint64_t size, const char *desc)
{
	for (size_t i = 0; i < f->cs.n; i++)
		if (f->cs.v[i].size == size && !strcmp(f->cs.v[i].desc, desc))
			return true;
	return false;
}

UNIT_TEST(cluster_word_kinds)
{
	struct fix *f = fix_new();
	uint64_t w[7] = { 0, HEAP + 0x100, LIB_CODE + 0x10, LIB_DATA + 8, (uint64_t)-5,
			  0x6f6c6c6568ULL /* "hello" */, 0x1234567890abcdefULL };

	for (int i = 0; i < 2; i++) {
		w[6] += (uint64_t)i; /* not identical */
		add(f, 0x40, w, sizeof(w));
	}
	run(f);
	CHECK(by_desc(f, "zero, heap ptr, code ptr, data ptr, int, text, other") != NULL);
	done(f);

	/* the edges of int and text */
	f = fix_new();
	uint64_t e[11];
	/* (the chunk does not start with text and a NUL: that would be a C
	 * string, keyed and shaped by the string alone) */
	memcpy(&e[0], "abcdefgh", 8);             /* text: 8 printable */
	memcpy(&e[1], "\x01b\0cdefg", 8);        /* other: printable after a NUL */
	memcpy(&e[2], "abcdefg\x7f", 8);          /* other: DEL */
	memcpy(&e[3], "hello \xe9\0", 8);        /* other: not ASCII */
	e[4] = (uint64_t)INT64_C(-2147483648);    /* int: -2^31 */
	e[5] = (uint64_t)INT64_C(-2147483649);    /* other */
	e[6] = 0xffffffffULL;                     /* int: 2^32 - 1 */
	e[7] = 0x100000000ULL;                    /* other: 2^32 */
	e[8] = HEAP + HEAPLEN;                    /* other: just past [heap] */
	e[9] = LIB_CODE - 1;                      /* data ptr: last byte of rodata */
	memcpy(&e[10], "~ abc\0\0", 8);              /* text (2 chars would be an int) */
	for (int i = 0; i < 2; i++) {
		e[6] -= (uint64_t)i;
		add(f, 0x60, e, sizeof(e));
	}
	run(f);
	CHECK(by_desc(f, "text, other x3, int, other, int, other, other, data ptr, text") != NULL);
	done(f);

	/* every kind at every place of a four-word group, in chunks of every
	 * length up to past SHAPE_WORDS (the last group partial): run()
	 * checks that word by word gives what four at a time does */
	uint64_t k[14];

	memcpy(k, e, sizeof(e));
	k[11] = 0;
	k[12] = HEAP + 0x100;
	k[13] = LIB_CODE + 0x10;
	f = fix_new();
	for (uint64_t size = 0x20; size <= 0xa0 + 8 * SHAPE_WORDS; size += 0x10)
		for (int r = 0; r < 28; r++) { /* two of each: a shape has two chunks at least */
			uint64_t u[SHAPE_WORDS + 16];

			for (size_t j = 0; j < sizeof(u) / sizeof(u[0]); j++)
				u[j] = k[(j + (size_t)r / 2) % 14] + /* "\x01b\0..." or "\x01c\0...": other */
				       ((j + (size_t)r / 2) % 14 == 1 ? (uint64_t)(r % 2) << 8 : 0);
			if (r / 2 == 3) /* text and then a NUL at the start is a string */
				u[0] = 7;
			add(f, size, u, size - 8); /* and the next chunk's prev_size */
		}
	run(f);
	CHECK(f->cs.n > 14);
	CHECK(by_size_desc(f, 0x30, "text, other x3, int")); /* 5 words, from k[0] */
	CHECK(by_size_desc(f, 0x120, "zero, heap ptr, code ptr, text, other x3, int, other, int, "
				     "other, other, data ptr, text, zero, heap ptr, ...")); /* from k[11] */
	done(f);
}

UNIT_TEST(cluster_typed_and_free_chunks_are_left_alone)
{
	struct fix *f = fix_new();
	const struct cluster *c;

	for (int i = 0; i < 5; i++)
		add_str(f, 0x20, "same");
	f->typed[1] = f->typed[3] = true;
	add_kind(f, 0x20, CK_TCACHE, "same", 5);
	add_kind(f, 0x20, CK_FASTBIN, "same", 5);
	add_kind(f, 0x20, CK_SMALLBIN, "same", 5);
	add_kind(f, 0x20, CK_TOP, "same", 5);
	for (int i = 0; i < 3; i++) /* free, identical and shaped alike: still nothing */
		add_kind(f, 0x30, CK_TCACHE, "other", 6);
	run(f);
	CHECK_EQ_U64(f->cs.n, 1);
	c = by_desc(f, "\"same\"");
	CHECK(c && c->count == 3);
	CHECK_EQ_U64(cluster_of(f, 1), CLUSTER_NONE);
	CHECK_EQ_U64(cluster_of(f, 3), CLUSTER_NONE);
	for (size_t i = 5; i < f->n; i++)
		CHECK_EQ_U64(cluster_of(f, i), CLUSTER_NONE);
	done(f);
}

UNIT_TEST(cluster_chunks_outside_image_are_skipped)
{
	struct fix *f = fix_new();

	add_str(f, 0x20, "same");
	add_str(f, 0x20, "same");
	/* runs past the end of [heap] */
	f->ch[f->n++] = (struct hs_chunk){ .addr = HEAP + HEAPLEN - 0x20, .size = 0x40,
					  .kind = CK_INUSE };
	/* nowhere near the image, and one that would wrap */
	f->ch[f->n++] = (struct hs_chunk){ .addr = 0x900000000000ULL, .size = 0x20,
					  .kind = CK_INUSE };
	f->ch[f->n++] = (struct hs_chunk){ .addr = UINT64_MAX - 0x1f, .size = 0xffffffffff00ULL,
					  .kind = CK_MMAPPED };
	f->ch[f->n++] = (struct hs_chunk){ .addr = UINT64_MAX - 8, .size = 0x20,
					  .kind = CK_INUSE };
	run(f);
	CHECK_EQ_U64(f->cs.n, 1);
	for (size_t i = 2; i < f->n; i++)
		CHECK_EQ_U64(cluster_of(f, i), CLUSTER_NONE);
	done(f);
}

/* Enough chunks for two threads, each grouping half of them: contents that
 * appear in both halves must come out as one cluster whose sample is the
 * lower chunk, exactly as one thread would have it. */
static void
two_halves(int n)
{
	struct fix *f = fix_new();
	int pairs = 10;
	const struct cluster *same, *shape;

	for (int i = 0; i < n; i++) {
		char s[16];

		if (i % 3 == 0)
			snprintf(s, sizeof(s), "same");
		else if (i % 3 == 1 && (i / 3 < pairs || (i >= n / 2 && (i - n / 2) / 3 < pairs)))
			snprintf(s, sizeof(s), "pair%d", i < n / 2 ? i / 3 : (i - n / 2) / 3);
		else
			snprintf(s, sizeof(s), "u%05d", i);
		add_str(f, 0x20, s);
	}
	run(f);
	same = by_desc(f, "\"same\"");
	CHECK(same && same->count == (uint64_t)(n + 2) / 3 && same->sample == HEAP);
	for (int k = 0; k < pairs; k++) {
		char d[16];
		const struct cluster *c;

		snprintf(d, sizeof(d), "\"pair%d\"", k);
		c = by_desc(f, d);
		CHECK(c && c->count == 2 && c->sample == HEAP + 0x20 * (uint64_t)(3 * k + 1));
		if (c)
			CHECK_EQ_U64(cluster_of(f, (size_t)(3 * k + 1)),
				     cluster_of(f, (size_t)(n / 2 + 3 * k + 1)));
	}
	shape = by_desc(f, "text, zero, zero");
	CHECK(shape && shape->count == (uint64_t)(n - (n + 2) / 3 - 2 * pairs));
	CHECK_EQ_U64(f->cs.n, 2 + (uint64_t)pairs);
	for (int i = 0; i < n; i++)
		CHECK(cluster_of(f, (size_t)i) != CLUSTER_NONE);
	done(f);
}

UNIT_TEST(cluster_two_halves_merge)
{
	two_halves(6000);
	cluster_hash_for_tests = colliding_hash; /* merging must memcmp too */
	two_halves(4500);
	cluster_hash_for_tests = NULL;
}

/* A content met once in one half and twice in the other, either way round,
 * or once in each: one cluster of all its chunks, sampled at the lowest;
 * the lone chunks that found a twin leave the shape cluster's count. */
static void
twins_across_halves(int n)
{
	static const struct {
		const char *s;
		int at[3]; /* chunk indices; >= 10000: n / 2 + (at - 10000) */
		int count;
	} want[] = {
		{ "a", { 1, 10001, 10004 }, 3 }, /* lone below, a group above */
		{ "b", { 2, 5, 10002 }, 3 },     /* a group below, lone above */
		{ "c", { 10003, 10006 }, 2 },    /* above only */
		{ "d", { 3, 10005 }, 2 },        /* lone in each */
	};
	struct fix *f = fix_new();

	for (int i = 0; i < n; i++) {
		const char *s = NULL;
		char u[16];

		for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++)
			for (int k = 0; k < want[w].count; k++)
				if (i == (want[w].at[k] >= 10000 ? n / 2 + want[w].at[k] - 10000
								 : want[w].at[k]))
					s = want[w].s;
		snprintf(u, sizeof(u), "u%05d", i);
		add_str(f, 0x20, s ? s : u);
	}
	run(f);
	for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
		char d[8];
		const struct cluster *c;
		size_t first = (size_t)(want[w].at[0] >= 10000 ? n / 2 + want[w].at[0] - 10000
							      : want[w].at[0]);

		snprintf(d, sizeof(d), "\"%s\"", want[w].s);
		c = by_desc(f, d);
		CHECK(c && c->count == (uint64_t)want[w].count &&
		      c->sample == HEAP + 0x20 * (uint64_t)first);
		for (int k = 1; k < want[w].count; k++) {
			int at = want[w].at[k];

			CHECK_EQ_U64(cluster_of(f, first),
				     cluster_of(f, (size_t)(at >= 10000 ? n / 2 + at - 10000 : at)));
		}
	}
	CHECK(by_desc(f, "text, zero, zero") && by_desc(f, "text, zero, zero")->count == (uint64_t)n - 10);
	CHECK_EQ_U64(f->cs.n, 5);
	done(f);
}

UNIT_TEST(cluster_twins_across_halves)
{
	twins_across_halves(6000);
	cluster_hash_for_tests = colliding_hash;
	twins_across_halves(4500);
	cluster_hash_for_tests = NULL;
}

/* A page that could not be copied: the chunks touching it are skipped, the
 * others clustered as usual. */
UNIT_TEST(cluster_chunks_in_a_hole_are_skipped)
{
	struct fix *f = fix_new();
	size_t before = 0;

	while (f->p + 0x40 <= HEAP + 0x3000) {
		add_str(f, 0x40, "same");
		before++;
	}
	run_hole(f, HEAP + 0x1000);
	CHECK_EQ_U64(f->cs.n, 1);
	for (size_t i = 0; i < f->n; i++) {
		bool touches = f->ch[i].addr + 0x48 > HEAP + 0x1000 && f->ch[i].addr < HEAP + 0x2000;

		CHECK((cluster_of(f, i) == CLUSTER_NONE) == touches);
	}
	CHECK(f->cs.n && f->cs.v[0].count == before - 0x1000 / 0x40 - 1);
	done(f);
}

/* Many distinct contents: the working arrays grow several times, past the
 * size where they get huge pages (their mappings must stay growable). */
UNIT_TEST(cluster_many_groups)
{
	size_t n = 300000, len = n * 0x20;
	unsigned char *buf = calloc(1, len + 16);
	struct hs_chunk *ch = calloc(n, sizeof(*ch));
	struct heap_model m = { .chunks = ch, .nchunks = n };
	struct image img;
	struct cluster_set cs;
	struct cluster_input in = { .img = &img, .heap = &m };

	for (size_t i = 0; i < n; i++) {
		uint64_t id = i + 1, sz = 0x21;

		memcpy(buf + i * 0x20 + 8, &sz, 8);
		memcpy(buf + i * 0x20 + 16, &id, 8);
		ch[i] = (struct hs_chunk){ .addr = HEAP + i * 0x20, .size = 0x20, .kind = CK_INUSE };
	}
	image_init(&img);
	CHECK(image_add_copy(&img, HEAP, buf, len + 16, 3, "[heap]") == 0);
	cluster_build(&in, &cs);
	/* all different: one shape */
	CHECK_EQ_U64(cs.n, 1);
	CHECK(cs.n == 1 && cs.v[0].count == n && !strcmp(cs.v[0].desc, "int, zero, zero"));
	cluster_set_free(&cs);
	image_free(&img);
	free(ch);
	free(buf);
}

UNIT_TEST(cluster_empty_heap)
{
	struct fix *f = fix_new();

	run(f);
	CHECK_EQ_U64(f->cs.n, 0);
	done(f);
}

UNIT_TEST(cluster_user_bytes_span)
{
	struct fix *f = fix_new();
	struct hs_chunk mm = { .addr = HEAP + 0x1000, .size = 0x1000, .kind = CK_MMAPPED };
	const unsigned char *p;
	size_t len = 0;

	add_str(f, 0x20, "x");
	run(f);
	p = chunk_user_bytes(&f->img, &f->ch[0], &len);
	CHECK(p == f->img.r[0].data + 16);
	CHECK_EQ_U64(len, 0x18); /* takes the next chunk's prev_size */
	p = chunk_user_bytes(&f->img, &mm, &len);
	CHECK(p != NULL);
	CHECK_EQ_U64(len, 0x1000 - 16);
	mm.addr = HEAP + HEAPLEN - 0x800;
	CHECK(chunk_user_bytes(&f->img, &mm, &len) == NULL);
	done(f);
}

UNIT_TEST(cluster_content_previews)
{
	struct fix *f = fix_new();
	unsigned char bin[24] = { 0x04, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef };
	char longs[300];

	memset(longs, 'a', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	for (int i = 0; i < 2; i++) {
		add(f, 0x20, bin, sizeof(bin));
		add_str(f, 0x20, "say \"hi\"\\\n");
		add_str(f, 0x140, longs);
		add_str(f, 0x20, "\x01not text");
	}
	run(f);
	CHECK_EQ_U64(count_kind(f, CL_CONTENT), 4);
	CHECK(by_desc(f, "04 00 00 00 de ad be ef 00 00 00 00 00 00 00 00 ...") != NULL);
	CHECK(by_desc(f, "\"say \\\"hi\\\"\\\\\\n\"") != NULL);
	CHECK(by_desc(f, "01 6e 6f 74 20 74 65 78 74 00 00 00 00 00 00 00 ...") != NULL);
	for (size_t i = 0; i < f->cs.n; i++) {
		const char *d = f->cs.v[i].desc;
		size_t l = strnlen(d, sizeof(f->cs.v[i].desc));

		CHECK(l < sizeof(f->cs.v[i].desc));
		if (f->cs.v[i].size == 0x140) { /* a short preview, never a dump */
			CHECK(l <= 35 && l >= 30);
			CHECK(d[0] == '"' && !strcmp(d + l - 4, "...\""));
		}
	}
	done(f);
}

UNIT_TEST(cluster_shape_desc_of_long_chunks)
{
	struct fix *f = fix_new();
	uint64_t w[40];

	for (int i = 0; i < 40; i++)
		w[i] = HEAP + 0x10 * (uint64_t)i;
	for (int i = 0; i < 2; i++) {
		w[0] = (uint64_t)i + 1;
		add(f, 0x150, w, sizeof(w));
	}
	run(f);
	CHECK_EQ_U64(f->cs.n, 1);
	if (f->cs.n) {
		const char *d = f->cs.v[0].desc;
		size_t l = strlen(d);

		CHECK(!strncmp(d, "int, heap ptr x", 15));
		CHECK(l >= 5 && !strcmp(d + l - 5, ", ..."));
		CHECK(l < sizeof(f->cs.v[0].desc));
	}
	done(f);
}

UNIT_TEST(cluster_sorted_by_bytes)
{
	struct fix *f = fix_new();

	for (int i = 0; i < 4; i++)
		add_str(f, 0x20, "small");
	for (int i = 0; i < 2; i++)
		add_str(f, 0x100, "big");
	for (int i = 0; i < 3; i++)
		add_str(f, 0x30, "mid");
	run(f);
	CHECK_EQ_U64(f->cs.n, 3);
	for (size_t i = 1; i < f->cs.n; i++)
		CHECK(f->cs.v[i - 1].bytes >= f->cs.v[i].bytes);
	CHECK(!strcmp(f->cs.v[0].desc, "\"big\""));
	CHECK_EQ_U64(cluster_of(f, 4), 0);
	CHECK_EQ_U64(cluster_of(f, 0), 2);
	done(f);
}

UNIT_TEST(addrmap_kinds_and_merging)
{
	static const char text[] =
		"555500000000-555500021000 rw-p 00000000 00:00 0    [heap]\n"
		"555500021000-555500022000 rw-p 00000000 00:00 0 \n"
		"7e0000000000-7e0000001000 ---p 00000000 00:00 0 \n"
		"7e0000001000-7e0000002000 r--p 00000000 00:00 0 \n"
		"7e0000002000-7e0000003000 rw-s 00000000 00:05 9    /dev/shm/x\n"
		"7f0000000000-7f0000001000 r--p 00000000 08:01 7    /usr/lib/liba.so\n"
		"7f0000001000-7f0000002000 r-xp 00001000 08:01 7    /usr/lib/liba.so\n"
		"7f0000002000-7f0000003000 r--p 00002000 08:01 7    /usr/lib/liba.so\n"
		"7f0000003000-7f0000004000 rw-p 00003000 08:01 7    /usr/lib/liba.so\n"
		"7f0000004000-7f0000005000 ---p 00004000 08:01 8    /usr/lib/libb.so\n"
		"7f0000005000-7f0000006000 rw-p 00005000 08:01 8    /usr/lib/libb.so\n"
		"7f0000006000-7f0000007000 rw-p 00000000 00:00 0 \n"
		"7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0    [stack]\n"
		"7ffc00100000-7ffc00104000 r--p 00000000 00:00 0    [vvar]\n"
		"7ffc00104000-7ffc00106000 r-xp 00000000 00:00 0    [vdso]\n";
	struct maps m;
	struct addrmap am;
	size_t bad = 0;
	const struct addr_range *r;

	CHECK(maps_parse(text, sizeof(text) - 1, &m, &bad) == 0);
	addrmap_build(&am, &m);
	CHECK(addrmap_kind(&am, 0x555500000000ULL) == AK_ANON);
	r = addrmap_find(&am, 0x555500021800ULL); /* heap + anon next to it: one range */
	CHECK(r && r->start == 0x555500000000ULL && r->end == 0x555500022000ULL);
	CHECK(addrmap_kind(&am, 0x555500022000ULL) == AK_NONE);
	CHECK(addrmap_kind(&am, 0x7e0000000800ULL) == AK_NONE); /* guard */
	CHECK(addrmap_kind(&am, 0x7e0000001800ULL) == AK_NONE); /* read-only anon */
	CHECK(addrmap_kind(&am, 0x7e0000002800ULL) == AK_NONE); /* shared */
	CHECK(addrmap_kind(&am, 0x7f0000000000ULL) == AK_DATA);
	CHECK(addrmap_kind(&am, 0x7f0000001000ULL) == AK_CODE);
	CHECK(addrmap_kind(&am, 0x7f0000001fffULL) == AK_CODE);
	r = addrmap_find(&am, 0x7f0000002000ULL); /* rodata + data of one module merge */
	CHECK(r && r->kind == AK_DATA && r->end == 0x7f0000004000ULL);
	CHECK(r && !strcmp(am.modules[r->module], "/usr/lib/liba.so"));
	CHECK(addrmap_kind(&am, 0x7f0000004800ULL) == AK_NONE); /* module's PROT_NONE gap */
	r = addrmap_find(&am, 0x7f0000005800ULL);
	CHECK(r && r->kind == AK_DATA && !strcmp(am.modules[r->module], "/usr/lib/libb.so"));
	CHECK(r && r->end == 0x7f0000006000ULL); /* not merged with the anon bss after it */
	CHECK(addrmap_kind(&am, 0x7f0000006800ULL) == AK_ANON);
	CHECK(addrmap_kind(&am, 0x7ffc00020000ULL) == AK_ANON);
	CHECK(addrmap_kind(&am, 0x7ffc00100000ULL) == AK_NONE); /* vvar */
	CHECK(addrmap_kind(&am, 0x7ffc00105000ULL) == AK_CODE); /* vdso */
	CHECK_EQ_U64(am.nmodules, 3);
	CHECK_EQ_U64(am.lo, 0x555500000000ULL);
	CHECK_EQ_U64(am.hi, 0x7ffc00106000ULL);
	CHECK(addrmap_kind(&am, 0) == AK_NONE);
	CHECK(addrmap_kind(&am, UINT64_MAX) == AK_NONE);
	CHECK(addrmap_find(&am, 0x7ffc00106000ULL) == NULL);
	for (size_t i = 1; i < am.n; i++)
		CHECK(am.v[i - 1].end <= am.v[i].start);
	addrmap_free(&am);
	maps_free(&m);

	/* nothing of interest */
	memset(&m, 0, sizeof(m));
	addrmap_build(&am, &m);
	CHECK(am.n == 0 && addrmap_kind(&am, 0x1000) == AK_NONE);
	addrmap_free(&am);
}
