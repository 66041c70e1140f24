/*
 * tcmalloc.c - walk gperftools tcmalloc's spans, central free lists and
 * thread caches in a memory image (see tcmalloc.h for how its state is
 * recognised).
 *
 * The layouts, x86-64, read from gperftools' headers at gperftools-2.10
 * (Debian 12's libtcmalloc-minimal4):
 *
 *   Span (48 bytes): start (page number) @0, length (pages) @8, next @16,
 *     prev @24, objects (free list of the span's objects, linked through
 *     their first word) @32, then bit fields in the word @40: refcount
 *     0..15 (objects handed out), sizeclass 16..23, location 24..25
 *     (0 in use, 1 normal free list, 2 returned), sample 26.
 *   PageMap2<48 - kPageShift>: root_[2^ROOT_BITS] of leaves, each leaf
 *     2^LEAF_BITS Span pointers, LEAF_BITS = (BITS + 1) / 2.  In-use small
 *     spans name every page; other spans their first and last (interior
 *     slots may be stale), so a span counts only at its start page.
 *   SizeMap: class_array_[2169], num_objects_to_move_[128] int,
 *     class_to_size_[128] int32, class_to_pages_[128] size_t, ...
 *   CentralFreeListPadded (1216 bytes): lock @0, size_class_ @8, empty_
 *     span @16, nonempty_ @64, num_spans_ @112, counter_ @120,
 *     tc_slots_[64] {head, tail} @128 (chains of freed objects, tail's
 *     next NULL), used_slots_ @1152.
 *   ThreadCache: list_[128] FreeList of 32 bytes (list_ @0, length_ u32 @8,
 *     lowater_ @12, max_length_ @16, length_overages_ @20, size_ i32 @24).
 *
 * What differs across 2.x (gperftools-2.0 .. 2.18 read): Span's fields
 * are the same in every release (2.0-2.7 add history fields only under
 * SPAN_HISTORY, a debug build); kPageShift is 13 unless configured
 * (--with-tcmalloc-pagesize: 12..18; the page map's shape follows, and the
 * walker tries each); the class count bound is kNumClasses (86, or
 * kBaseClasses + 79 in 2.5) before 2.6, kClassSizesMax 96 in 2.6-2.7, 128
 * from 2.8 (this walker reads 128: the central list array and the thread
 * cache's free lists are indexed up to it); CentralFreeList became
 * CACHELINE_ALIGNED in 2.16 instead of padded, the same 1216 bytes;
 * ThreadCache::FreeList has held size_ since 2.1.  TCMALLOC_SMALL_BUT_SLOW
 * builds (no transfer cache, PageMap3) are not read.
 *
 * Everything read is hostile: every count is bounded, every address is
 * checked against the image, and what does not add up is a heap problem.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcmalloc.h"
#include "xmalloc.h"

#define ADDR_BITS 48
#define SPAN_SIZE 48
#define NCLASSES_MAX 128     /* kClassSizesMax */
#define MAX_SIZE (256 * 1024) /* kMaxSize: the largest small class */
#define CFL_STRIDE 1216      /* sizeof (CentralFreeListPadded) */
#define CFL_SIZE_CLASS 8
#define CFL_EMPTY 16
#define CFL_NONEMPTY 64
#define CFL_SLOTS 128
#define CFL_USED 1152
#define CFL_NSLOTS 64        /* kMaxNumTransferEntries */
#define FL_SIZE 32           /* sizeof (ThreadCache::FreeList) */
#define FL_LENGTH 8
#define FL_OBJSIZE 24
#define TC_BYTES (NCLASSES_MAX * FL_SIZE)
#define MAX_CHAIN 65536      /* no free list is longer (kMaxDynamicFreeListLength 8192) */
#define MAX_SPANS (1ULL << 26)
#define MAX_SMALL_PAGES 1024 /* a small-object span is class_to_pages_ long: <= 128 */

struct tc {
	const struct image *img;
	struct heap_model *m;
	size_t cap, ocap;
	unsigned shift;              /* kPageShift */
	unsigned leaf_bits, root_bits;
	uint64_t root;               /* &pagemap_.root_ */
	int32_t size[NCLASSES_MAX];  /* class_to_size_ */
	unsigned nclasses;
};

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
add_chunk(struct tc *t, uint64_t user, uint64_t size)
{
	struct heap_model *m = t->m;

	m->chunks = xgrow(m->chunks, &t->cap, m->nchunks + 1, sizeof(*m->chunks));
	m->chunks[m->nchunks++] = (struct hs_chunk){
		.addr = user - 16, .size = size + 16, .kind = CK_MMAPPED, .arena = 0,
	};
}

/* ---- the size map ------------------------------------------------------- */

/* class_to_size_ at a: 0, 8, 16, then rising by multiples of 8 up to
 * kMaxSize at the last class, zero after it.  The class count, or 0. */
static unsigned
size_map_at(const struct image *img, uint64_t a, int32_t *out)
{
	const int32_t *v = image_ptr(img, a, NCLASSES_MAX * 4);
	unsigned n = 0;

	if (!v || v[0] != 0 || v[1] != 8 || v[2] != 16)
		return 0;
	for (unsigned i = 1; i < NCLASSES_MAX; i++) {
		if (v[i] <= v[i - 1] || v[i] % 8 || v[i] > MAX_SIZE)
			break;
		n = i + 1;
		if (v[i] == MAX_SIZE)
			break;
	}
	if (n < 16 || v[n - 1] != MAX_SIZE)
		return 0;
	for (unsigned i = n; i < NCLASSES_MAX; i++)
		if (v[i])
			return 0;
	memcpy(out, v, NCLASSES_MAX * 4);
	return n;
}

static bool
find_size_map(const struct tcmalloc_target *tt, struct tc *t)
{
	for (size_t d = 0; d < tt->ndata; d++)
		for (uint64_t a = (tt->data[d].start + 3) & ~3ULL; a + NCLASSES_MAX * 4 <= tt->data[d].end;
		     a += 4)
			if ((t->nclasses = size_map_at(t->img, a, t->size)))
				return true;
	return false;
}

/* ---- the page map ------------------------------------------------------- */

struct span {
	uint64_t addr, start, length, objects;
	unsigned refcount, sizeclass, location, sample;
};

static bool
read_span(const struct image *img, uint64_t a, struct span *s)
{
	const uint64_t *w = (a & 7) ? NULL : image_ptr(img, a, SPAN_SIZE);

	if (!w)
		return false;
	s->addr = a;
	s->start = w[0];
	s->length = w[1];
	s->objects = w[4];
	s->refcount = w[5] & 0xffff;
	s->sizeclass = (w[5] >> 16) & 0xff;
	s->location = (w[5] >> 24) & 3;
	s->sample = (w[5] >> 26) & 1;
	return true;
}

/* The root slot a leaf belongs at, judged by its first non-zero slot: the
 * span it names covers the slot's page.  -1 when it is no leaf. */
static int64_t
leaf_index(const struct tc *t, uint64_t leaf)
{
	uint64_t n = 1ULL << t->leaf_bits;
	const uint64_t *w = image_ptr(t->img, leaf, n * 8);
	struct span s;

	if (!w)
		return -1;
	for (uint64_t j = 0; j < n; j++) {
		uint64_t bits = ADDR_BITS - t->shift;

		if (!w[j])
			continue;
		if (!read_span(t->img, w[j], &s) || !s.length || s.start >> bits ||
		    s.length > (1ULL << bits) - s.start)
			return -1;
		/* the slot's page: (i << leaf_bits) | j, inside the span */
		for (uint64_t i = s.start >> t->leaf_bits;
		     i <= (s.start + s.length - 1) >> t->leaf_bits && i >> t->root_bits == 0; i++) {
			uint64_t page = i << t->leaf_bits | j;

			if (page >= s.start && page < s.start + s.length)
				return (int64_t)i;
		}
		return -1;
	}
	return -1;
}

/* The page map's root for the page shift in t: the address whose slots all
 * hold leaves at their own index (most of them wins).  0 when none. */
static uint64_t
find_root(const struct tcmalloc_target *tt, struct tc *t)
{
	uint64_t best = 0, rootlen = 1ULL << t->root_bits;
	unsigned best_votes = 0;

	for (size_t d = 0; d < tt->ndata; d++) {
		for (uint64_t a = (tt->data[d].start + 7) & ~7ULL; a + 8 <= tt->data[d].end; a += 8) {
			uint64_t v, root;
			int64_t i;
			unsigned votes = 0, bad = 0;

			if (!image_u64(t->img, a, &v) || !v || (v & 7) || (v >> 47))
				continue;
			i = leaf_index(t, v);
			if (i < 0 || (uint64_t)i * 8 > a - tt->data[d].start)
				continue;
			root = a - (uint64_t)i * 8;
			if (root == best || root + rootlen * 8 > tt->data[d].end ||
			    !image_ptr(t->img, root, rootlen * 8))
				continue;
			for (uint64_t k = 0; k < rootlen && bad == 0; k++) {
				uint64_t l;

				image_u64(t->img, root + 8 * k, &l);
				if (!l)
					continue;
				if (leaf_index(t, l) == (int64_t)k)
					votes++;
				else
					bad++;
			}
			if (!bad && votes > best_votes) {
				best = root;
				best_votes = votes;
			}
			if (best)
				return best; /* one page map per process */
		}
	}
	return best;
}

/* Every span the page map names at its first page, sorted by address of
 * its descriptor, no duplicates. */
static uint64_t *
all_spans(struct tc *t, size_t *n)
{
	uint64_t *v = NULL, rootlen = 1ULL << t->root_bits, leaflen = 1ULL << t->leaf_bits;
	size_t cap = 0, k = 0;

	for (uint64_t i = 0; i < rootlen; i++) {
		uint64_t leaf;
		const uint64_t *w;

		if (!image_u64(t->img, t->root + 8 * i, &leaf) || !leaf)
			continue;
		w = image_ptr(t->img, leaf, leaflen * 8);
		if (!w) {
			heap_model_problem(t->m, leaf, "page map leaf 0x%lx is not in the copy", (unsigned long)leaf);
			continue;
		}
		heap_model_own(t->m, &t->ocap, leaf, leaf + leaflen * 8);
		for (uint64_t j = 0; j < leaflen; j++) {
			uint64_t start;

			if (!w[j] || (w[j] & 7) || !image_u64(t->img, w[j], &start) ||
			    start != (i << t->leaf_bits | j) || k >= MAX_SPANS)
				continue;
			v = xgrow(v, &cap, k + 1, sizeof(*v));
			v[k++] = w[j];
		}
	}
	if (k)
		qsort(v, k, sizeof(*v), cmp_u64);
	*n = 0;
	for (size_t i = 0; i < k; i++)
		if (!*n || v[*n - 1] != v[i])
			v[(*n)++] = v[i];
	return v;
}

/* ---- spans -------------------------------------------------------------- */

static void
walk_span(struct tc *t, uint64_t sa)
{
	struct span s;
	uint64_t base, bytes, size, nobj, nfree = 0, p;
	unsigned char *freed;

	if (!read_span(t->img, sa, &s))
		return;
	heap_model_own(t->m, &t->ocap, sa, sa + SPAN_SIZE); /* the descriptor: tcmalloc's own */
	if (!s.length || s.length > (1ULL << (ADDR_BITS - t->shift)) - s.start ||
	    (s.location == 0 && s.sizeclass && s.length > MAX_SMALL_PAGES)) {
		heap_model_problem(t->m, sa, "span 0x%lx: %lu pages at page 0x%lx, size class %u",
			(unsigned long)sa, (unsigned long)s.length, (unsigned long)s.start, s.sizeclass);
		return;
	}
	base = s.start << t->shift;
	bytes = s.length << t->shift;
	if (s.location != 0) { /* on a page heap free list: stale bytes */
		heap_model_own(t->m, &t->ocap, base, base + bytes);
		return;
	}
	if (s.sizeclass == 0) { /* a large (or sampled) allocation: one object */
		add_chunk(t, base, bytes);
		return;
	}
	if (s.sizeclass >= t->nclasses) {
		heap_model_problem(t->m, base, "span 0x%lx: size class %u of %u", (unsigned long)sa, s.sizeclass,
			t->nclasses);
		heap_model_own(t->m, &t->ocap, base, base + bytes);
		return;
	}
	size = (uint64_t)t->size[s.sizeclass];
	nobj = bytes / size;
	/* free objects and the tail; chunks cut the rest */
	heap_model_own(t->m, &t->ocap, base, base + bytes);
	freed = xcalloc(nobj ? nobj : 1, 1);
	p = s.objects;
	while (p && nfree <= nobj) {
		if (p < base || p >= base + nobj * size || (p - base) % size || freed[(p - base) / size]) {
			heap_model_problem(t->m, p, "span at 0x%lx: free list holds 0x%lx, not a free %lu-byte object",
				(unsigned long)base, (unsigned long)p, (unsigned long)size);
			break;
		}
		freed[(p - base) / size] = 1;
		nfree++;
		if (!image_u64(t->img, p, &p)) {
			heap_model_problem(t->m, base, "span at 0x%lx: free list leaves the copy", (unsigned long)base);
			break;
		}
	}
	for (uint64_t i = 0; i < nobj; i++)
		if (!freed[i])
			add_chunk(t, base + i * size, size);
	free(freed);
	if (nobj - nfree != s.refcount)
		heap_model_problem(t->m, base, "span of %lu-byte objects at 0x%lx: %lu not free, span says %u",
			(unsigned long)size, (unsigned long)base, (unsigned long)(nobj - nfree), s.refcount);
}

/* ---- caches ------------------------------------------------------------- */

/* Mark object p, freed into a cache of class cl, as free to the program. */
static bool
cached(struct tc *t, uint64_t p, unsigned cl, const char *where)
{
	struct hs_chunk *c = heap_model_find(t->m, p - 16);

	if (!c || c->size != (uint64_t)t->size[cl] + 16 || c->kind != CK_MMAPPED) {
		heap_model_problem(t->m, p, "%s of class %u holds 0x%lx, not a %d-byte object handed out",
				   where, cl, (unsigned long)p, t->size[cl]);
		return false;
	}
	c->kind = CK_TCACHE;
	return true;
}

/* A chain of objects linked through their first word: at most max of them,
 * the last one `tail` when tail is not 0.  Returns how many. */
static uint64_t
walk_chain(struct tc *t, uint64_t p, uint64_t tail, uint64_t max, unsigned cl, const char *where)
{
	uint64_t n = 0;

	while (p && n < max) {
		if (!cached(t, p, cl, where))
			break;
		n++;
		if (p == tail)
			break;
		if (!image_u64(t->img, p, &p)) {
			heap_model_problem(t->m, p, "%s of class %u leaves the copy", where, cl);
			break;
		}
	}
	return n;
}

/* The central free lists: CFL_STRIDE-byte entries whose size_class_ is
 * their index and whose two span lists are rings (non-NULL links). */
static uint64_t
find_central(const struct tcmalloc_target *tt, struct tc *t)
{
	for (size_t d = 0; d < tt->ndata; d++) {
		uint64_t len = (uint64_t)t->nclasses * CFL_STRIDE;

		for (uint64_t a = (tt->data[d].start + 7) & ~7ULL; a + len <= tt->data[d].end; a += 8) {
			const uint64_t *w = image_ptr(t->img, a, len);
			unsigned cl;

			if (!w || w[(CFL_STRIDE + CFL_SIZE_CLASS) / 8] != 1 ||
			    w[(2 * CFL_STRIDE + CFL_SIZE_CLASS) / 8] != 2)
				continue;
			for (cl = 1; cl < t->nclasses; cl++) {
				const uint64_t *e = w + (uint64_t)cl * CFL_STRIDE / 8;

				if (e[CFL_SIZE_CLASS / 8] != cl || !e[(CFL_EMPTY + 16) / 8] ||
				    !e[(CFL_EMPTY + 24) / 8] || !e[(CFL_NONEMPTY + 16) / 8] ||
				    !e[(CFL_NONEMPTY + 24) / 8])
					break;
			}
			if (cl == t->nclasses)
				return a;
		}
	}
	return 0;
}

static void
walk_central(struct tc *t, uint64_t cc)
{
	for (unsigned cl = 1; cl < t->nclasses; cl++) {
		uint64_t e = cc + (uint64_t)cl * CFL_STRIDE;
		uint32_t used;

		if (!image_u32(t->img, e + CFL_USED, &used))
			return;
		if (used > CFL_NSLOTS) {
			heap_model_problem(t->m, e, "central free list of class %u: %u transfer slots used", cl, used);
			continue;
		}
		for (uint32_t s = 0; s < used; s++) {
			uint64_t head, tail;

			if (!image_u64(t->img, e + CFL_SLOTS + 16ULL * s, &head) ||
			    !image_u64(t->img, e + CFL_SLOTS + 16ULL * s + 8, &tail))
				break;
			walk_chain(t, head, tail, MAX_CHAIN, cl, "transfer cache");
		}
	}
}

/* A thread cache at a: every class's free list knows its object size. */
static bool
is_thread_cache(const struct tc *t, uint64_t a)
{
	const unsigned char *w = image_ptr(t->img, a, TC_BYTES);

	if (!w)
		return false;
	for (unsigned cl = 1; cl < t->nclasses; cl++) {
		int32_t sz;

		memcpy(&sz, w + cl * FL_SIZE + FL_OBJSIZE, 4);
		if (sz != t->size[cl])
			return false;
	}
	return true;
}

static void
walk_thread_cache(struct tc *t, uint64_t a)
{
	for (unsigned cl = 1; cl < t->nclasses; cl++) {
		uint64_t head, got;
		uint32_t len;

		image_u64(t->img, a + cl * FL_SIZE, &head);
		image_u32(t->img, a + cl * FL_SIZE + FL_LENGTH, &len);
		if (!head && !len)
			continue;
		if (len > MAX_CHAIN) {
			heap_model_problem(t->m, a, "thread cache 0x%lx: class %u list of %u objects",
				(unsigned long)a, cl, len);
			continue;
		}
		got = walk_chain(t, head, 0, len, cl, "thread cache");
		if (got != len)
			heap_model_problem(t->m, a, "thread cache 0x%lx: class %u list holds %lu objects, says %u",
				(unsigned long)a, cl, (unsigned long)got, len);
	}
	heap_model_own(t->m, &t->ocap, a, a + TC_BYTES);
}

/* Thread caches live in tcmalloc's metadata, never in spans: the ranges
 * the page map owns (m->owned, sorted) are skipped. */
static int
find_thread_caches(struct tc *t)
{
	const struct heap_model *m = t->m;
	uint64_t *found = NULL;
	size_t nfound = 0, cap = 0, o = 0;

	for (size_t r = 0; r < t->img->n; r++) {
		const struct region *rg = &t->img->r[r];

		for (uint64_t a = (rg->start + 7) & ~7ULL; a + TC_BYTES <= rg->end; a += 8) {
			int32_t s1, s2;

			while (o < m->nowned && m->owned[o].end <= a)
				o++;
			if (o < m->nowned && m->owned[o].start <= a) {
				a = ((m->owned[o].end + 7) & ~7ULL) - 8;
				continue;
			}
			/* cheap first: classes 1 and 2 are 8 and 16 bytes */
			memcpy(&s1, rg->data + (a - rg->start) + FL_SIZE + FL_OBJSIZE, 4);
			if (s1 != 8)
				continue;
			memcpy(&s2, rg->data + (a - rg->start) + 2 * FL_SIZE + FL_OBJSIZE, 4);
			if (s2 != 16 || !is_thread_cache(t, a))
				continue;
			found = xgrow(found, &cap, nfound + 1, sizeof(*found));
			found[nfound++] = a;
			a += TC_BYTES - 8;
		}
	}
	for (size_t i = 0; i < nfound; i++)
		walk_thread_cache(t, found[i]);
	free(found);
	return (int)nfound;
}

/* ---- the walk ----------------------------------------------------------- */

static const unsigned shifts[] = { 13, 12, 14, 15, 16, 17, 18 };

int
tcmalloc_walk(const struct tcmalloc_target *tt, struct heap_model *m, char *why, size_t len)
{
	struct tc *t = xcalloc(1, sizeof(*t));
	uint64_t *spans, cc;
	size_t n;

	memset(m, 0, sizeof(*m));
	t->img = tt->img;
	t->m = m;
	if (!find_size_map(tt, t)) {
		snprintf(why, len, "no tcmalloc size map in the module's data");
		free(t);
		return -1;
	}
	for (size_t i = 0; i < sizeof(shifts) / sizeof(shifts[0]) && !t->root; i++) {
		unsigned bits = ADDR_BITS - shifts[i];

		t->shift = shifts[i];
		t->leaf_bits = (bits + 1) / 2;
		t->root_bits = bits - t->leaf_bits;
		t->root = find_root(tt, t);
	}
	if (!t->root) {
		snprintf(why, len, "no tcmalloc page map in the module's data");
		free(t);
		return -1;
	}
	m->arenas = xcalloc(1, sizeof(*m->arenas));
	m->arenas[0].main = true;
	m->arenas[0].addr = t->root;
	m->narenas = 1;
	spans = all_spans(t, &n);
	for (size_t i = 0; i < n; i++)
		walk_span(t, spans[i]);
	free(spans);
	heap_model_sort_chunks(m);
	for (size_t i = 1; i < m->nchunks; i++)
		if (m->chunks[i].addr < m->chunks[i - 1].addr + m->chunks[i - 1].size - 16)
			heap_model_problem(m, m->chunks[i].addr + 16, "object overlaps the one before it");
	cc = find_central(tt, t);
	if (cc) {
		heap_model_own(t->m, &t->ocap, cc, cc + (uint64_t)t->nclasses * CFL_STRIDE);
		walk_central(t, cc);
	} else {
		heap_model_problem(m, 0, "no central free lists found: objects in transfer caches "
				   "count as in use");
	}
	heap_model_owned_finish(m);
	m->tcaches = find_thread_caches(t);
	heap_model_owned_finish(m); /* the thread caches' own ranges */
	m->pad = 16; /* sizes shown: the size class */
	heap_model_tally(m);
	free(t);
	return 0;
}

bool
tcmalloc_version(const struct elfmod *mod, char *buf, size_t len)
{
	static const char tag[] = "gperftools ";
	size_t n;
	const unsigned char *d = elfmod_file(mod, &n);

	/* NUL "gperftools 2.N[.N]" NUL */
	for (size_t i = 1; i + sizeof(tag) + 12 < n; i++) {
		size_t k = i + sizeof(tag) - 1, dots = 0;

		if (d[i - 1] || memcmp(d + i, tag, sizeof(tag) - 1) || d[k] != '2' || d[k + 1] != '.')
			continue;
		while (k < i + sizeof(tag) + 10 && ((d[k] >= '0' && d[k] <= '9') || d[k] == '.'))
			dots += d[k++] == '.';
		if (d[k] || dots < 1 || dots > 2 || d[k - 1] == '.')
			continue;
		snprintf(buf, len, "%.*s", (int)(k - i - (sizeof(tag) - 1)),
			 (const char *)d + i + sizeof(tag) - 1);
		return true;
	}
	return false;
}
