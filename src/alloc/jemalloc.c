/*
 * jemalloc.c - walk jemalloc 5.x's extents, slabs and thread caches in a
 * memory image (see jemalloc.h for how its state is recognised).
 *
 * The layouts below are jemalloc 5.3's for x86-64 (LG_VADDR 48, LG_PAGE
 * 12, LG_QUANTUM 4), read from its headers:
 *
 *   edata_t (128-byte aligned): e_bits @0, e_addr @8, e_size_esn @16
 *     (size & ~4095), e_slab_data.bitmap[8] @64.  e_bits: arena 0..11,
 *     slab 12, state 17..19 (0 active), szind 20..27, nfree 28..37.
 *   rtree leaf word: edata | szind << 48 | state << 2 | is_head << 1 | slab.
 *   tcache_t: tcache_slow @0, cache_bin_t bins[73] @8 (24 bytes each:
 *     stack_head @0, low_bits_full @18, low_bits_empty @20; the bin holds
 *     (low_bits_empty - (uint16)stack_head) / 8 pointers from stack_head up).
 *   tcache_slow_t: cache_bin_array_descriptor.bins @32 (= &tcache->bins),
 *     tcache @168 (= the tcache).
 *
 * Everything read is hostile: every count is bounded, every address is
 * checked against the image, and what does not add up is a heap problem.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jemalloc.h"
#include "xmalloc.h"

#define LG_PAGE 12
#define PAGE (1ULL << LG_PAGE)
#define RT_BITS 18                   /* bits per rtree level */
#define RT_N (1ULL << RT_BITS)       /* slots per root / leaf */
#define RT_BYTES (RT_N * 8)
#define EDATA_ALIGN 128
#define NSIZES 232                   /* SC_NSIZES for 48-bit addresses */
#define SLAB_MAXREGS 512
#define TCACHE_NBINS 73              /* TCACHE_NBINS_MAX */
#define TC_SLOW_BINS 32
#define TC_SLOW_DYN 160              /* dyn_alloc: the bins' stacks */
#define TC_SLOW_TCACHE 168
#define TC_BIN_SIZE 24
#define TC_BIN_MAX 8192              /* no bin caches more (cache_bin_sz_t bound) */
#define MAX_EXTENTS (1ULL << 26)

uint64_t
jemalloc_class_size(unsigned szind)
{
	/* 8, 16, then 32 48 64, then four classes per doubling:
	 * 2^k + i * 2^(k-2), i = 1..4, for k = 6, 7, ... */
	if (szind == 0)
		return 8;
	if (szind == 1)
		return 16;
	if (szind <= 4)
		return 16 * szind;
	szind -= 5;
	if (szind / 4 + 6 > 61 || szind >= NSIZES)
		return 0;
	return (1ULL << (szind / 4 + 6)) + (uint64_t)(szind % 4 + 1) * (1ULL << (szind / 4 + 4));
}

static uint64_t
edata_of(uint64_t bits)
{
	return (uint64_t)((int64_t)(bits << 16) >> 16) & ~(uint64_t)(EDATA_ALIGN - 1);
}

/* The root slot a leaf at slot `slot` would be, judged by its first
 * non-zero word: the page it stands for lies in the extent it names.
 * Returns the root index, or -1. */
static int64_t
leaf_index(const struct image *img, uint64_t leaf)
{
	const uint64_t *w = image_ptr(img, leaf, RT_BYTES);
	uint64_t e[3], base, size;

	if (!w)
		return -1;
	for (uint64_t j = 0; j < RT_N; j++) {
		const uint64_t *ed;

		if (!w[j] || !edata_of(w[j]))
			continue;
		ed = image_ptr(img, edata_of(w[j]), sizeof(e));
		if (!ed || ((w[j] >> 2) & 7) > 5)
			return -1;
		memcpy(e, ed, sizeof(e));
		base = e[1] & ~(PAGE - 1);
		size = e[2] & ~(PAGE - 1);
		if (!size || base + size < base || (base >> 48))
			return -1;
		for (uint64_t hi = base >> 30; hi <= (base + size - 1) >> 30 && hi <= (base >> 30) + 1;
		     hi++) {
			uint64_t page = hi << 30 | j << LG_PAGE;

			if (page >= base && page < base + size)
				return (int64_t)hi;
		}
		return -1;
	}
	return -1;
}

/* The extent map's root: the slot address whose leaves all sit at their
 * own index.  0 when none. */
static uint64_t
find_root(const struct jemalloc_target *t)
{
	uint64_t best = 0;
	unsigned best_votes = 0;

	for (size_t d = 0; d < t->ndata; d++) {
		for (uint64_t a = (t->data[d].start + 7) & ~7ULL; a + 8 <= t->data[d].end; a += 8) {
			uint64_t v, root;
			int64_t i;
			unsigned votes = 0, bad = 0;

			if (!image_u64(t->img, a, &v) || !v || (v & 63) || (v >> 47))
				continue;
			i = leaf_index(t->img, v);
			if (i < 0 || (uint64_t)i * 8 > a - t->data[d].start)
				continue;
			root = a - (uint64_t)i * 8;
			if (root == best || root + RT_BYTES > t->data[d].end ||
			    !image_ptr(t->img, root, RT_BYTES))
				continue;
			/* every non-zero slot of this root must be a leaf at its index */
			for (uint64_t k = 0; k < RT_N && bad == 0; k++) {
				uint64_t l;

				image_u64(t->img, root + 8 * k, &l);
				if (!l)
					continue;
				if (leaf_index(t->img, l) == (int64_t)k)
					votes++;
				else
					bad++;
			}
			if (!bad && votes > best_votes) {
				best = root;
				best_votes = votes;
			}
		}
	}
	return best;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Every distinct edata the map names (not those mid-transition), sorted. */
static uint64_t *
active_extents(const struct image *img, uint64_t root, size_t *n)
{
	uint64_t *v = NULL;
	size_t cap = 0, k = 0;

	for (uint64_t i = 0; i < RT_N; i++) {
		uint64_t leaf, last = 0;
		const uint64_t *w;

		if (!image_u64(img, root + 8 * i, &leaf) || !leaf)
			continue;
		w = image_ptr(img, leaf, RT_BYTES);
		if (!w)
			continue;
		for (uint64_t j = 0; j < RT_N; j++) {
			uint64_t e;

			if (!w[j] || ((w[j] >> 2) & 7) > 3) /* active, dirty, muzzy, retained */
				continue;
			e = edata_of(w[j]);
			/* a cleared slot: no edata, szind SC_NSIZES */
			if (!e || e == last || k >= MAX_EXTENTS)
				continue;
			last = e;
			v = xgrow(v, &cap, k + 1, sizeof(*v));
			v[k++] = e;
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

struct out {
	struct heap_model *m;
	size_t cap, acap, ocap;
	int arena_of[4096]; /* jemalloc arena index -> model index + 1 */
};

static void
add_chunk(struct out *o, uint64_t user, uint64_t size, unsigned arena)
{
	struct heap_model *m = o->m;

	if (!o->arena_of[arena]) {
		m->arenas = xgrow(m->arenas, &o->acap, m->narenas + 1, sizeof(*m->arenas));
		memset(&m->arenas[m->narenas], 0, sizeof(*m->arenas));
		m->arenas[m->narenas].main = arena == 0;
		o->arena_of[arena] = (int)++m->narenas;
	}
	m->chunks = xgrow(m->chunks, &o->cap, m->nchunks + 1, sizeof(*m->chunks));
	m->chunks[m->nchunks++] = (struct hs_chunk){
		.addr = user - 16, .size = size + 16, .kind = CK_MMAPPED,
		.arena = (unsigned)(o->arena_of[arena] - 1),
	};
}

static void
walk_extent(struct out *o, const struct image *img, uint64_t ea)
{
	const uint64_t *e = image_ptr(img, ea, 128);
	uint64_t bits, addr, size, reg, nregs, nfree = 0;
	unsigned szind, arena;

	if (!e) {
		heap_model_problem(o->m, ea, "extent descriptor 0x%lx is not in the copy", (unsigned long)ea);
		return;
	}
	heap_model_own(o->m, &o->ocap, ea, ea + 128); /* its e_addr is a region's pointer: no root */
	bits = e[0];
	addr = e[1];
	size = e[2] & ~(PAGE - 1);
	arena = bits & 0xfff;
	szind = (bits >> 20) & 0xff;
	if (((bits >> 17) & 7) != 0) { /* not in use: stale bytes */
		if (size && !(addr >> 47) && addr + size > addr)
			heap_model_own(o->m, &o->ocap, addr & ~(PAGE - 1), (addr & ~(PAGE - 1)) + size);
		return;
	}
	reg = jemalloc_class_size(szind);
	if (!reg || !size || addr >> 47 || addr + size < addr) {
		heap_model_problem(o->m, ea, "extent 0x%lx: size class %u, size %lu", (unsigned long)ea, szind,
			(unsigned long)size);
		return;
	}
	if (!((bits >> 12) & 1)) { /* large: one region at e_addr */
		if (szind < JEMALLOC_NBINS || (size != reg && size != reg + PAGE)) {
			heap_model_problem(o->m, ea, "large extent 0x%lx: %lu bytes for class %lu",
				(unsigned long)ea, (unsigned long)size, (unsigned long)reg);
			return;
		}
		add_chunk(o, addr, reg, arena);
		return;
	}
	nregs = size / reg;
	if (szind >= JEMALLOC_NBINS || addr & (PAGE - 1) || nregs == 0 || nregs > SLAB_MAXREGS) {
		heap_model_problem(o->m, ea, "slab 0x%lx: class %lu, %lu bytes", (unsigned long)ea,
			(unsigned long)reg, (unsigned long)size);
		return;
	}
	for (uint64_t r = 0; r < nregs; r++) {
		if ((e[8 + r / 64] >> (r % 64)) & 1) { /* set: free */
			nfree++;
			heap_model_own(o->m, &o->ocap, addr + r * reg, addr + (r + 1) * reg);
		} else
			add_chunk(o, addr + r * reg, reg, arena);
	}
	if (nfree != ((bits >> 28) & 0x3ff))
		heap_model_problem(o->m, addr, "slab of %lu-byte regions: bitmap has %lu free, extent says %lu",
			(unsigned long)reg, (unsigned long)nfree, (unsigned long)((bits >> 28) & 0x3ff));
}

/* Mark the regions thread caches hold as free to the program. */
static void
walk_tcache(struct heap_model *m, const struct image *img, uint64_t tc)
{
	for (unsigned b = 0; b < TCACHE_NBINS; b++) {
		const unsigned char *bin = image_ptr(img, tc + 8 + (uint64_t)b * TC_BIN_SIZE, TC_BIN_SIZE);
		uint64_t head, size = jemalloc_class_size(b);
		uint16_t full, empty, n;

		if (!bin)
			return;
		memcpy(&head, bin, 8);
		memcpy(&full, bin + 18, 2);
		memcpy(&empty, bin + 20, 2);
		n = (uint16_t)(empty - (uint16_t)head);
		if (!head || n == 0)
			continue;
		if (n % 8 || n / 8 > TC_BIN_MAX || (uint16_t)(empty - full) < n) {
			heap_model_problem(m, tc, "thread cache bin %u: stack at 0x%lx does not add up", b,
				(unsigned long)head);
			continue;
		}
		for (unsigned k = 0; k < n / 8u; k++) {
			uint64_t p;
			struct hs_chunk *c;

			if (!image_u64(img, head + 8ULL * k, &p)) {
				heap_model_problem(m, head, "thread cache bin %u: stack not in the copy", b);
				break;
			}
			c = heap_model_find(m, p - 16);
			if (!c || c->size != size + 16 || c->kind != CK_MMAPPED) {
				heap_model_problem(m, p, "thread cache bin %u holds 0x%lx, not a %lu-byte region in use",
					b, (unsigned long)p, (unsigned long)size);
				continue;
			}
			c->kind = CK_TCACHE;
		}
	}
}

/* The region holding a thread cache's stacks is jemalloc's own (it keeps
 * stale pointers below each stack's head): a chunk of kind CK_TOP. */
static void
own_stacks(struct heap_model *m, const struct image *img, uint64_t slow)
{
	uint64_t dyn;
	struct hs_chunk *c;

	if (!image_u64(img, slow + TC_SLOW_DYN, &dyn) || !dyn)
		return;
	c = heap_model_find(m, dyn - 16);
	if (c && c->kind == CK_MMAPPED)
		c->kind = CK_TOP;
	else
		heap_model_problem(m, dyn, "thread cache stacks at 0x%lx are not a region in use",
			(unsigned long)dyn);
}

/* Thread caches: a tcache_t whose tcache_slow_t points back at it twice. */
static int
find_tcaches(struct heap_model *m, const struct image *img)
{
	int found = 0;

	for (size_t r = 0; r < img->n; r++) {
		const struct region *rg = &img->r[r];

		for (uint64_t a = (rg->start + 7) & ~7ULL; a + 8 <= rg->end; a += 8) {
			uint64_t s, back, bins;

			memcpy(&s, rg->data + (a - rg->start), 8);
			if (!s || (s & 7) || s >> 47)
				continue;
			if (!image_u64(img, s + TC_SLOW_TCACHE, &back) || back != a ||
			    !image_u64(img, s + TC_SLOW_BINS, &bins) || bins != a + 8)
				continue;
			walk_tcache(m, img, a);
			own_stacks(m, img, s);
			found++;
		}
	}
	return found;
}

int
jemalloc_walk(const struct jemalloc_target *t, struct heap_model *m, char *why, size_t len)
{
	struct out *o = xcalloc(1, sizeof(*o));
	uint64_t root, *ext;
	size_t n;

	memset(m, 0, sizeof(*m));
	root = find_root(t);
	if (!root) {
		snprintf(why, len, "no jemalloc extent map in the module's data");
		free(o);
		return -1;
	}
	o->m = m;
	ext = active_extents(t->img, root, &n);
	for (size_t i = 0; i < n; i++)
		walk_extent(o, t->img, ext[i]);
	heap_model_owned_finish(m);
	free(ext);
	heap_model_sort_chunks(m);
	for (size_t i = 1; i < m->nchunks; i++)
		if (m->chunks[i].addr < m->chunks[i - 1].addr + m->chunks[i - 1].size - 16)
			heap_model_problem(m, m->chunks[i].addr + 16, "region overlaps the one before it");
	m->tcaches = find_tcaches(m, t->img);
	m->pad = 16; /* sizes shown: the size class */
	heap_model_tally(m);
	free(o);
	return 0;
}

bool
jemalloc_version(const struct elfmod *mod, char *buf, size_t len)
{
	size_t n;
	const unsigned char *d = elfmod_file(mod, &n);

	/* "5.N.N-N-g" followed by 40 hex digits and a NUL: at most 63 bytes */
	for (size_t i = 0; i + 63 <= n; i++) {
		size_t k = i, dots = 0, g;
		bool ok = true;

		if (d[i] != '5' || (i && d[i - 1] >= 0x20 && d[i - 1] < 0x7f))
			continue;
		while (k < i + 12 && ((d[k] >= '0' && d[k] <= '9') || d[k] == '.'))
			dots += d[k++] == '.';
		if (dots != 2 || d[k] != '-')
			continue;
		g = k + 1;
		while (g < k + 8 && d[g] >= '0' && d[g] <= '9')
			g++;
		if (g == k + 1 || d[g] != '-' || d[g + 1] != 'g')
			continue;
		for (size_t h = g + 2; h < g + 42; h++)
			ok = ok && ((d[h] >= '0' && d[h] <= '9') || (d[h] >= 'a' && d[h] <= 'f'));
		if (ok && d[g + 42] == 0) {
			snprintf(buf, len, "%.*s", (int)(k - i), (const char *)d + i);
			return true;
		}
	}
	return false;
}
