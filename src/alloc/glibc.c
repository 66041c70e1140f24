/*
 * glibc.c - walking glibc malloc's arenas, heaps and free lists in an image.
 *
 * The order of work:
 *   1. the arena ring, from main_arena through ->next (bounded);
 *   2. every heap of every arena as an address range:
 *        main arena:   [first chunk after mp_.sbrk_base, end of top)
 *        thread arena: heap_info headers at 64 MiB-aligned addresses,
 *                      linked by ->prev from the heap holding top;
 *                      the first heap holds the malloc_state after heap_info
 *          +-----------+--------------+--------- ... ----+-----------+
 *          | heap_info | malloc_state | chunks           | fencepost |
 *          +-----------+--------------+--------- ... ----+-----------+
 *   3. the anonymous memory outside those ranges, page by page, for mmapped
 *      chunks (size field with only IS_MMAPPED set; prev_size holds the
 *      offset from the start of the mapping);
 *   4. all ranges in address order, so the chunk array comes out sorted
 *      (a big heap in two parts on two threads: walk_all_ranges);
 *   5. the free lists, each entry looked up in that array: it must be a
 *      chunk boundary, of a size its list allows, on no other list.
 *
 * Every word comes from image_u64() and friends, which refuse reads outside
 * the image; every loop is bounded by what glibc allows (64 tcache bins,
 * counts, the number of chunks in the arena).
 *
 * Safe-linking (glibc >= 2.32): tcache entry->next and fastbin fd are stored
 * as (address_of_the_field >> 12) ^ pointer.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"
#include "glibc.h"
#include "par.h"
#include "xmalloc.h"

#define MINSIZE 32
#define ALIGN_MASK 15ULL
#define MAX_ARENAS 1024
#define MAX_HEAPS_PER_ARENA 4096
#define MAX_PROBLEMS 1000
#define NFASTBINS 10
#define NBINS 128
#define DEFAULT_HEAP_MAX (64ULL << 20)
#define PAGE 4096ULL

#define PREV_INUSE 1ULL
#define IS_MMAPPED 2ULL
#define NON_MAIN_ARENA 4ULL

/*
 * The layouts of glibc 2.12 to 2.42 on x86-64, read from malloc/malloc.c and
 * malloc/arena.c at each release tag and checked with gdb against built
 * libcs (`p &((struct malloc_state *)0)->next`, see README "glibc versions").
 * What changes, release by release:
 *
 *   2.12-2.14  malloc_state {mutex, flags, fastbinsY[10] @0x8, top @0x58, bins @0x68,
 *              next @0x868, next_free, system_mem @0x878}; FASTCHUNKS_BIT in flags.
 *              mp_ in .bss, set up at run time, with `unsigned pagesize` after
 *              no_dyn_threshold.  next_free and mp_.arena_test/arena_max exist only
 *              with PER_THREAD (--enable-experimental-malloc, as RHEL 6 builds it):
 *              two rows, PER_THREAD first (glibc_layout_for's answer); which one a
 *              process uses is decided in memory (glibc_find.c).
 *   2.15       PER_THREAD always; mp_.pagesize gone; mp_ statically initialised.
 *   2.23       malloc_state.attached_threads (system_mem @0x880).
 *   2.24       mp_.max_total_mem gone (sbrk_base @72).
 *   2.26       tcache: tcache_perthread_struct {char counts[64]; entries[64]} (0x250
 *              chunk), the thread's pointer in TLS `tcache`; mp_.tcache_* after sbrk_base.
 *   2.27       malloc_state.have_fastchunks (an int after flags: fastbinsY @0x10).
 *   2.29       tcache_entry.key (= the owning tcache's address) beside next.
 *   2.30       counts are uint16_t (0x290 chunk).
 *   2.32       safe-linking: tcache next and fastbin fd hold (&field >> 12) ^ ptr.
 *   2.34       tcache_entry.key is the random tcache_key.
 *   2.35       mp_.thp_pagesize/hp_pagesize/hp_flags (arena heaps may be sized by huge
 *              pages: HEAP_MAX = 4 * hp_pagesize); heap_info.pagesize (sizeof 48).
 *   2.42       tcache reworked: 76 bins, uint16_t num_slots[] (room left, counting
 *              down from mp_.tcache_count) then entries[] (0x300 chunk); bins 64-75 hold
 *              chunks of [1056, 2048), [2048, 4096) ... [2 MiB, 4 MiB) sorted by size,
 *              used only when the tunable glibc.malloc.tcache_max raises tcache_max_bytes;
 *              mp_.tcache_bins renamed tcache_small_bins.
 *
 * malloc_state is the same from 2.27 to 2.42, heap_info from 2.12 to 2.34.
 * Not covered: 2.26+ built without tcache
 * (--disable-experimental-malloc) or 2.35-2.37 without tunables.
 */
#define MS_OLD(attached) /* 2.12-2.26: no have_fastchunks */                         \
	.ms_flags = 4, .ms_fastbins = 0x8, .ms_top = 0x58, .ms_bins = 0x68, .ms_next = 0x868, \
	.ms_next_free = 0x870, .ms_attached_threads = (attached) ? 0x878 : 0,                 \
	.ms_system_mem = (attached) ? 0x880 : 0x878, .ms_size = (attached) ? 0x890 : 0x888
#define MS_NEW /* 2.27-2.42 */                                                           \
	.ms_flags = 4, .ms_have_fastchunks = 8, .ms_fastbins = 0x10, .ms_top = 0x60,          \
	.ms_bins = 0x70, .ms_next = 0x870, .ms_next_free = 0x878, .ms_attached_threads = 0x880, \
	.ms_system_mem = 0x888, .ms_size = 0x898
#define HI_OLD .hi_ar_ptr = 0, .hi_prev = 8, .hi_size = 16, .hi_sizeof = 32
#define HI_NEW .hi_ar_ptr = 0, .hi_prev = 8, .hi_size = 16, .hi_pagesize = 32, .hi_sizeof = 48
#define MP_TC(bins) /* tcache fields after sbrk_base */                                 \
	.mp_tcache_bins = (bins), .mp_tcache_max_bytes = (bins) + 8, .mp_tcache_count = (bins) + 16, \
	.mp_size = (bins) + 32
#define TC_CHAR .tc_bins = 64, .tc_small_bins = 64, .tc_count_size = 1, .tc_entries = 64, .tc_size = 0x250
#define TC_U16 .tc_bins = 64, .tc_small_bins = 64, .tc_count_size = 2, .tc_entries = 128, .tc_size = 0x290

static const struct glibc_layout layouts[] = {
	{ .minor_min = 12, .minor_max = 14, MS_OLD(0), HI_OLD, .mp_arena_test = 24,
	  .mp_n_mmaps = 40, .mp_mmapped_mem = 64, .mp_sbrk_base = 88, .mp_size = 96 },
	/* the same built without PER_THREAD: no next_free, no arena_test/arena_max */
	{ .minor_min = 12, .minor_max = 14, .ms_flags = 4, .ms_fastbins = 0x8, .ms_top = 0x58,
	  .ms_bins = 0x68, .ms_next = 0x868, .ms_system_mem = 0x870, .ms_size = 0x880, HI_OLD,
	  .mp_n_mmaps = 24, .mp_mmapped_mem = 48, .mp_sbrk_base = 72, .mp_size = 80 },
	{ .minor_min = 15, .minor_max = 22, MS_OLD(0), HI_OLD, .mp_arena_test = 24,
	  .mp_n_mmaps = 40, .mp_mmapped_mem = 56, .mp_sbrk_base = 80, .mp_size = 88 },
	{ .minor_min = 23, .minor_max = 23, MS_OLD(1), HI_OLD, .mp_arena_test = 24,
	  .mp_n_mmaps = 40, .mp_mmapped_mem = 56, .mp_sbrk_base = 80, .mp_size = 88 },
	{ .minor_min = 24, .minor_max = 25, MS_OLD(1), HI_OLD, .mp_arena_test = 24,
	  .mp_n_mmaps = 40, .mp_mmapped_mem = 56, .mp_sbrk_base = 72, .mp_size = 80 },
	{ .minor_min = 26, .minor_max = 26, MS_OLD(1), HI_OLD, .mp_arena_test = 24,
	  .mp_n_mmaps = 40, .mp_mmapped_mem = 56, .mp_sbrk_base = 72, MP_TC(80), TC_CHAR },
	{ .minor_min = 27, .minor_max = 28, MS_NEW, HI_OLD, .mp_arena_test = 24,
	  .mp_n_mmaps = 40, .mp_mmapped_mem = 56, .mp_sbrk_base = 72, MP_TC(80), TC_CHAR },
	{ .minor_min = 29, .minor_max = 29, MS_NEW, HI_OLD, .mp_arena_test = 24,
	  .mp_n_mmaps = 40, .mp_mmapped_mem = 56, .mp_sbrk_base = 72, MP_TC(80), TC_CHAR,
	  .tc_entry_key = true },
	{ .minor_min = 30, .minor_max = 31, MS_NEW, HI_OLD, .mp_arena_test = 24,
	  .mp_n_mmaps = 40, .mp_mmapped_mem = 56, .mp_sbrk_base = 72, MP_TC(80), TC_U16,
	  .tc_entry_key = true },
	{ .minor_min = 32, .minor_max = 33, MS_NEW, HI_OLD, .mp_arena_test = 24,
	  .mp_n_mmaps = 40, .mp_mmapped_mem = 56, .mp_sbrk_base = 72, MP_TC(80), TC_U16,
	  .tc_entry_key = true, .safe_linking = true },
	{ .minor_min = 34, .minor_max = 34, MS_NEW, HI_OLD, .mp_arena_test = 24,
	  .mp_n_mmaps = 40, .mp_mmapped_mem = 56, .mp_sbrk_base = 72, MP_TC(80), TC_U16,
	  .tc_entry_key = true, .tc_key_random = true, .safe_linking = true },
	{ .minor_min = 35, .minor_max = 41, MS_NEW, HI_NEW, .mp_arena_test = 24,
	  .mp_hp_pagesize = 48, .mp_n_mmaps = 60, .mp_mmapped_mem = 80, .mp_sbrk_base = 96,
	  MP_TC(104), TC_U16, .tc_entry_key = true, .tc_key_random = true, .safe_linking = true },
	{ .minor_min = 42, .minor_max = 42, MS_NEW, HI_NEW, .mp_arena_test = 24,
	  .mp_hp_pagesize = 48, .mp_n_mmaps = 60, .mp_mmapped_mem = 80, .mp_sbrk_base = 96,
	  MP_TC(104), .tc_bins = 76, .tc_small_bins = 64, .tc_count_size = 2,
	  .tc_counts_free_slots = true, .tc_entries = 152, .tc_size = 0x300,
	  .tc_entry_key = true, .tc_key_random = true, .safe_linking = true },
};

const struct glibc_layout *
glibc_layout_for(int minor)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (minor >= layouts[i].minor_min && minor <= layouts[i].minor_max)
			return &layouts[i];
	return NULL;
}

const struct glibc_layout *
glibc_layout_last(void)
{
	return &layouts[sizeof(layouts) / sizeof(layouts[0]) - 1];
}

const struct glibc_layout *
glibc_layout_at(size_t i)
{
	return i < sizeof(layouts) / sizeof(layouts[0]) ? &layouts[i] : NULL;
}

const char *
chunk_kind_name(enum chunk_kind k)
{
	static const char *const names[CK__N] = {
		[CK_INUSE] = "inuse", [CK_MMAPPED] = "mmapped", [CK_TCACHE] = "tcache",
		[CK_FASTBIN] = "fastbin", [CK_UNSORTED] = "unsorted", [CK_SMALLBIN] = "smallbin",
		[CK_LARGEBIN] = "largebin", [CK_TOP] = "top",
	};
	return (unsigned)k < CK__N ? names[k] : "?";
}

/* ---- the walk's working state ------------------------------------------ */

struct heap_range {
	uint64_t base;    /* where the heap's memory begins (heap_info, sbrk base) */
	uint64_t start;   /* first chunk */
	uint64_t limit;   /* no chunk may extend past this */
	uint64_t top;     /* the arena's top chunk when it lies in this range, else 0 */
	unsigned arena;   /* index, or CHUNK_ARENA_NONE for an mmapped-chunk scan range */
	bool fencepost;   /* a retired thread heap: ends with a fencepost */
};

struct page_span;

struct walk {
	const struct region *cur; /* last region read: most reads fall in it again */
	const struct glibc_target *t;
	const struct glibc_layout *lay;
	struct heap_model *m;
	uint64_t heap_max;
	struct heap_range *ranges;
	size_t nranges, cap;
	struct page_span *spans; /* for find_chunk: the ranges, */
	size_t nspans;
	size_t *pg;        /* and per page of theirs its first chunk's index */
	bool mixed_spans;  /* ranges overlap: a span's chunks may be of two arenas */
	int lists_arena;   /* -1, or the arena whose lists this walk follows alone */
	struct foreign *foreign; /* its entries in another arena (see walk_arena_lists) */
	size_t nforeign, capforeign;
	bool bounded;      /* a part's walk: its chunk array never grows */
	bool overflow;     /* ... and it was full (cannot happen: see plan_parts) */
	uint64_t *pclear;  /* chunks whose PREV_INUSE is clear (see check_prev_free) */
	size_t npclear, cappclear;
	uint32_t tick;     /* chunks since the progress line was last told */
};

#define PROGRESS_TICK 65536

#define WALK_DONE UINT64_MAX

/* A new problem entry, or NULL (counted as dropped) past MAX_PROBLEMS. */
static struct heap_problem *
new_problem(struct heap_model *m)
{
	size_t cap = m->nproblems;

	if (m->nproblems >= MAX_PROBLEMS) {
		m->problems_dropped++;
		return NULL;
	}
	m->problems = xgrow(m->problems, &cap, m->nproblems + 1, sizeof(*m->problems));
	return &m->problems[m->nproblems++];
}

static void __attribute__((format(printf, 3, 4)))
problem(struct heap_model *m, uint64_t addr, const char *fmt, ...)
{
	va_list ap;
	struct heap_problem *p = new_problem(m);

	if (!p)
		return;
	p->addr = addr;
	va_start(ap, fmt);
	vsnprintf(p->what, sizeof(p->what), fmt, ap);
	va_end(ap);
}

/* A problem of the walk, in the model it fills (a part's, in a split walk). */
#define wproblem(w, ...) problem((w)->m, __VA_ARGS__)

/* Where the len bytes at addr are in the image, through a one-region
 * cache (a heap walk reads millions of words from the same region, and the
 * binary search was most of its time); NULL if not wholly in one region
 * without holes. */
static const unsigned char *
host_of(struct walk *w, uint64_t addr, uint64_t len)
{
	const struct region *r = w->cur;

	if (!r || addr - r->start >= r->end - r->start || r->nholes) {
		r = image_region(w->t->img, addr);
		if (!r || r->nholes)
			return NULL;
		w->cur = r;
	}
	return len <= r->end - addr ? r->data + (addr - r->start) : NULL;
}

/* image_u64, through host_of's cache. */
static bool
rd(struct walk *w, uint64_t addr, uint64_t *v)
{
	const unsigned char *h = host_of(w, addr, 8);

	if (!h)
		return image_u64(w->t->img, addr, v);
	memcpy(v, h, 8);
	return true;
}

static void
add_range(struct walk *w, uint64_t base, uint64_t start, uint64_t limit, uint64_t top,
	  unsigned arena, bool fencepost)
{
	struct heap_range *r;

	w->ranges = xgrow(w->ranges, &w->cap, w->nranges + 1, sizeof(*w->ranges));
	r = &w->ranges[w->nranges++];
	r->base = base;
	r->start = start;
	r->limit = limit;
	r->top = top;
	r->arena = arena;
	r->fencepost = fencepost;
}

static uint64_t
align_chunk(uint64_t p)
{
	/* chunk2mem(p) = p + 16 must be 16-aligned */
	return (p + ALIGN_MASK) & ~ALIGN_MASK;
}

/* ---- 1. the arena ring ------------------------------------------------- */

static int
read_arenas(struct walk *w)
{
	struct heap_model *m = w->m;
	uint64_t a = w->t->main_arena;

	m->arenas = xcalloc(MAX_ARENAS, sizeof(*m->arenas));
	do {
		struct arena_info *ai = &m->arenas[m->narenas];
		uint32_t mutex;
		uint64_t next;

		if (!image_u32(w->t->img, a, &mutex) || !rd(w, a + w->lay->ms_next, &next)) {
			if (m->narenas == 0)
				return -1;
			problem(m, a, "arena ring broken: arena 0x%lx is not in readable memory",
				(unsigned long)a);
			break;
		}
		for (size_t i = 0; i < m->narenas; i++)
			if (m->arenas[i].addr == a) {
				problem(m, a, "arena ring loops back to 0x%lx, not to main_arena",
					(unsigned long)a);
				return 0;
			}
		ai->addr = a;
		ai->main = m->narenas == 0;
		ai->busy = mutex != 0;
		rd(w, a + w->lay->ms_system_mem, &ai->system_mem);
		m->narenas++;
		a = next;
	} while (a != w->t->main_arena && m->narenas < MAX_ARENAS);
	if (a != w->t->main_arena)
		problem(m, a, "arena ring does not close within %d arenas", MAX_ARENAS);
	return 0;
}

/* ---- 2. heap ranges ---------------------------------------------------- */

static bool
top_is_initial(const struct walk *w, uint64_t arena, uint64_t top)
{
	/* Before the first allocation, top points at the unsorted bin head. */
	return top == arena + w->lay->ms_bins - 16;
}

/* Where a heap's top chunk ends: top + its size, but never past end (the
 * heap's own end).  A corrupt top size must not stretch the heap over its
 * neighbours, nor size the chunk table by it. */
static uint64_t
top_end(struct walk *w, uint64_t top, uint64_t topsize, uint64_t end)
{
	uint64_t size = topsize & ~7ULL;

	if (top < end && size > end - top) {
		problem(w->m, top, "top chunk at 0x%lx: size 0x%lx runs past its heap's end 0x%lx",
			(unsigned long)top, (unsigned long)size, (unsigned long)end);
		return end;
	}
	return top + size;
}

/* glibc's own checks on top (sysmalloc's assert, "malloc(): corrupted top
 * size"): top ends where its heap ends, on a page boundary, is at least
 * MINSIZE and no larger than the arena's memory.  A top that ends early
 * leaves the bytes after it counted nowhere: they are the arena's
 * unaccounted bytes.  end is the heap's end, 0 when it is not known. */
static void
check_top(struct walk *w, unsigned ai, uint64_t top, uint64_t topsize, uint64_t end)
{
	struct arena_info *a = &w->m->arenas[ai];
	uint64_t size = topsize & ~7ULL;

	if (end && (top >= end || size > end - top))
		return; /* top_end's problem */
	if (size < MINSIZE || ((top + size) & (PAGE - 1)) ||
	    (a->system_mem && size > a->system_mem) || (end && top + size != end)) {
		problem(w->m, top, "top chunk at 0x%lx: size field 0x%lx ends it at 0x%lx, not at its "
			"heap's end 0x%lx (malloc(): corrupted top size)", (unsigned long)top,
			(unsigned long)topsize, (unsigned long)(top + size), (unsigned long)end);
		if (end > top + size)
			a->unaccounted += end - (top + size);
	}
}

static void
main_heap_range(struct walk *w)
{
	const struct glibc_layout *lay = w->lay;
	uint64_t a = w->t->main_arena, top, topsize, base = 0;
	const struct region *r;

	if (!rd(w, a + lay->ms_top, &top) || top_is_initial(w, a, top))
		return;
	if (!rd(w, top + 8, &topsize)) {
		problem(w->m, top, "main arena: top chunk at 0x%lx is not in copied memory",
			(unsigned long)top);
		return;
	}
	r = image_region(w->t->img, top);
	if (w->t->mp && rd(w, w->t->mp + lay->mp_sbrk_base, &base) && base && r &&
	    base >= r->start && base < r->end) {
		/* the heap starts at sbrk_base, within the mapping that holds top */
	} else {
		/* mp_ unknown or inconsistent: the [heap] mapping holding top */
		base = r ? r->start : top;
	}
	add_range(w, base, align_chunk(base), top_end(w, top, topsize, r ? r->end : top), top, 0,
		  false);
	/* the [heap] mapping ends where brk, and top, end */
	check_top(w, 0, top, topsize, r && !strcmp(r->name, "[heap]") ? r->end : 0);
	w->m->arenas[0].nheaps = 1;
}

static void
thread_heap_ranges(struct walk *w, unsigned ai)
{
	const struct glibc_layout *lay = w->lay;
	struct heap_model *m = w->m;
	uint64_t a = m->arenas[ai].addr, top, topsize, h;
	int n = 0;

	if (!rd(w, a + lay->ms_top, &top) || !rd(w, top + 8, &topsize)) {
		problem(m, a, "arena 0x%lx: top chunk not in copied memory", (unsigned long)a);
		return;
	}
	for (h = top & ~(w->heap_max - 1); h && n < MAX_HEAPS_PER_ARENA; n++) {
		uint64_t ar_ptr, prev, size, first;
		bool first_heap = a == h + lay->hi_sizeof;

		if (!rd(w, h + lay->hi_ar_ptr, &ar_ptr) || !rd(w, h + lay->hi_prev, &prev) ||
		    !rd(w, h + lay->hi_size, &size) || ar_ptr != a || size > w->heap_max ||
		    size < lay->hi_sizeof) {
			problem(m, h, "arena 0x%lx: bad heap_info at 0x%lx", (unsigned long)a,
				(unsigned long)h);
			break;
		}
		first = first_heap ? align_chunk(a + lay->ms_size) : align_chunk(h + lay->hi_sizeof);
		if (top >= h && top < h + size) {
			add_range(w, h, first, top_end(w, top, topsize, h + size), top, ai, false);
			check_top(w, ai, top, topsize, h + size);
		} else
			add_range(w, h, first, h + size, 0, ai, true);
		if (first_heap) {
			if (prev)
				problem(m, h, "arena 0x%lx: first heap has prev 0x%lx",
					(unsigned long)a, (unsigned long)prev);
			break;
		}
		h = prev;
	}
	m->arenas[ai].nheaps = n + 1;
}

static bool
range_overlaps(const struct walk *w, uint64_t s, uint64_t e, uint64_t *next)
{
	for (size_t i = 0; i < w->nranges; i++) {
		const struct heap_range *r = &w->ranges[i];

		if (r->arena != CHUNK_ARENA_NONE && s < r->limit && e > r->base) {
			*next = r->limit;
			return true;
		}
	}
	return false;
}

/* Anonymous memory not covered by an arena heap may hold mmapped chunks. */
static void
mmap_scan_ranges(struct walk *w)
{
	const struct image *img = w->t->img;
	size_t arena_ranges = w->nranges;

	for (size_t i = 0; i < img->n; i++) {
		const struct region *r = &img->r[i];
		uint64_t s = r->start;

		if (r->name[0] && strncmp(r->name, "[anon:", 6))
			continue; /* file-backed, [heap], [stack] */
		while (s < r->end) {
			uint64_t e = r->end, skip;
			bool in_hole = false;

			/* holes hold no bytes (a core's unwritten pages): walk
			 * around them */
			for (size_t h = 0; h < r->nholes && !in_hole; h++) {
				if (s >= r->holes[h].start && s < r->holes[h].end) {
					s = r->holes[h].end;
					in_hole = true;
				} else if (r->holes[h].start > s && r->holes[h].start < e) {
					e = r->holes[h].start;
				}
			}
			if (in_hole)
				continue;
			/* cut at the next arena heap inside this region */
			for (size_t j = 0; j < arena_ranges; j++) {
				uint64_t hs = w->ranges[j].base & ~(PAGE - 1);

				if (hs > s && hs < e)
					e = hs;
			}
			if (range_overlaps(w, s, s + 1, &skip)) {
				s = (skip + PAGE - 1) & ~(PAGE - 1);
				continue;
			}
			add_range(w, s, s, e, 0, CHUNK_ARENA_NONE, false);
			s = e;
		}
	}
}

static int
by_start(const void *a, const void *b)
{
	const struct heap_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* ---- 3/4. walking ranges ---------------------------------------------- */

/* The model's totals as the walk goes (heap_model_tally's, without a pass
 * over every chunk): n chunks of kind and bytes in all, in arena. */
static void
tally_add(struct heap_model *m, unsigned arena, enum chunk_kind kind, int64_t n, int64_t bytes)
{
	m->count[kind] += (uint64_t)n;
	m->bytes[kind] += (uint64_t)bytes;
	if (arena < m->narenas) {
		m->arenas[arena].count[kind] += (uint64_t)n;
		m->arenas[arena].bytes[kind] += (uint64_t)bytes;
	}
}

static void
push_chunk(struct walk *w, uint64_t addr, uint64_t size, enum chunk_kind kind, unsigned arena)
{
	struct heap_model *m = w->m;
	struct hs_chunk *c;

	if (m->nchunks == m->cap) { /* past reserve_chunks' bound: cannot happen */
		if (w->bounded) {
			w->overflow = true;
			return;
		}
		m->cap = m->cap * 2 + 1024;
		m->chunks = bigmem_grow(m->chunks, m->cap, sizeof(*m->chunks));
	}
	c = &m->chunks[m->nchunks++];
	c->addr = addr;
	c->size = size;
	c->kind = kind;
	c->arena = arena;
	tally_add(m, arena, kind, 1, size);
}

static void
note_prev_free(struct walk *w, uint64_t p)
{
	w->pclear = xgrow(w->pclear, &w->cappclear, w->npclear + 1, sizeof(*w->pclear));
	w->pclear[w->npclear++] = p;
}

#define FAST_SPAN ((uint64_t)8 << 20) /* bytes of a run between progress reports */

/* The common chunks from p on, in a tight loop (most of a walk's time): a
 * header in the region's bytes [lo, hi) at base, in use (the next header's
 * PREV_INUSE aside), of a size glibc could have made, before stop, the top
 * and a retired heap's last 48 bytes.  Returns where it stopped: the end,
 * or the first chunk that needs walk_arena_range's every check. */
static uint64_t
walk_run(struct walk *w, const struct heap_range *r, uint64_t p, uint64_t stop,
	 const unsigned char *base, uint64_t lo, uint64_t hi)
{
	struct heap_model *m = w->m;
	uint64_t end = stop < r->limit ? stop : r->limit;
	uint64_t odd = IS_MMAPPED | (r->arena == 0 ? NON_MAIN_ARENA : 0);
	struct hs_chunk *c, *c0;
	uint64_t from;

	if (r->top >= p && r->top < end)
		end = r->top;
	if (r->fencepost)
		end = r->limit - p > 48 && end > r->limit - 48 ? r->limit - 48 : end;
	if (hi - p < 16)
		return p;
	if (end > hi - 15) /* its header, p + 8 .. p + 16, in [lo, hi) */
		end = hi - 15;
	if (end > p && end - p > FAST_SPAN)
		end = p + FAST_SPAN;
	if (end <= p || m->cap - m->nchunks <= (end - p) / MINSIZE + 1)
		return p; /* no room for a chunk every MINSIZE bytes: cannot happen */
	c = c0 = m->chunks + m->nchunks;
	from = p;
	while (p < end) {
		uint64_t hdr, size;

		/* the next headers are a few lines on: fetch ahead, since the
		 * hardware does not across pages and each step waits for the
		 * one before */
		__builtin_prefetch(base + (p - lo) + 1024);
		memcpy(&hdr, base + (p - lo) + 8, 8);
		size = hdr & ~7ULL;
		if (!(hdr & PREV_INUSE) || (hdr & odd) || size < MINSIZE || (size & ALIGN_MASK) ||
		    size > r->limit - p)
			break;
		*c++ = (struct hs_chunk){ .addr = p, .size = size, .kind = CK_INUSE,
					  .arena = r->arena & 0xfff };
		p += size;
	}
	m->nchunks += (size_t)(c - c0);
	tally_add(m, r->arena, CK_INUSE, c - c0, (int64_t)(p - from));
	return p;
}

/* Chunks of the range from p (its start, or where an earlier call stopped)
 * on; stops at the first chunk at or past stop and returns its address, or
 * returns WALK_DONE when the range ends first. */
static uint64_t
walk_arena_range(struct walk *w, const struct heap_range *r, uint64_t p, uint64_t stop)
{
	struct heap_model *m = w->m;
	struct arena_info *ai = &m->arenas[r->arena];
	uint64_t lo = 0, hi = 0;
	const struct region *reg = image_region(w->t->img, p);
	const unsigned char *base = NULL;

	/* Headers straight from the region that holds the range (the common
	 * case, without holes): rd()'s checks per chunk were a fifth of the
	 * walk.  Offsets are compared, never pointers formed first. */
	if (reg && !reg->nholes) {
		lo = reg->start;
		hi = reg->end;
		base = reg->data;
	}
	uint64_t told = p;

	while (p < r->limit) {
		uint64_t hdr, size, flags;

		if (base && p - lo < hi - lo) {
			p = walk_run(w, r, p, stop, base, lo, hi);
			if (p - told >= FAST_SPAN) {
				progress_add(p - told);
				told = p;
			}
			if (p >= r->limit)
				break;
		}
		if (p >= stop)
			return p;
		if (++w->tick == PROGRESS_TICK) {
			w->tick = 0;
			progress_add(p - told);
			told = p;
		}
		if (base && p - lo < hi - lo && hi - p >= 16)
			memcpy(&hdr, base + (p - lo) + 8, 8);
		else if (!rd(w, p + 8, &hdr)) {
			wproblem(w, p, "arena 0x%lx: chunk at 0x%lx is outside copied memory",
				(unsigned long)ai->addr, (unsigned long)p);
			break;
		}
		size = hdr & ~7ULL;
		flags = hdr & 7ULL;
		/* A retired heap ends with a header of size 0 in its last 16
		 * bytes, after a 0x10 chunk when the old top had room for one
		 * (glibc's sysmalloc, "fencepost"). */
		if (r->fencepost && size == 0 && p + 16 == r->limit)
			return WALK_DONE;
		if (r->fencepost && size == 16) {
			uint64_t next;

			if (rd(w, p + 16 + 8, &next) && (next & ~7ULL) == 0 && p + 32 == r->limit)
				return WALK_DONE;
		}
		/* When the old top had no room for that chunk (0x30 bytes left),
		 * sysmalloc marks a 0x20 remnant in use before the size-0 header
		 * instead: glibc's, not the program's, so not a chunk here. */
		if (r->fencepost && size == 32 && p + 48 == r->limit) {
			uint64_t next;

			if (rd(w, p + 32 + 8, &next) && (next & ~7ULL) == 0)
				return WALK_DONE;
		}
		if (!(flags & PREV_INUSE))
			note_prev_free(w, p);
		if (p == r->top) {
			/* a corrupt size is reported below; the model keeps the heap's extent */
			push_chunk(w, p, size > r->limit - p ? r->limit - p : size, CK_TOP, r->arena);
			if (p + size != r->limit)
				wproblem(w, p, "top chunk size 0x%lx does not end the heap",
					(unsigned long)size);
			return WALK_DONE;
		}
		if (size < MINSIZE || (size & ALIGN_MASK) || size > r->limit - p ||
		    (flags & IS_MMAPPED)) {
			wproblem(w, p, "corrupt chunk header at 0x%lx: size field 0x%lx (arena 0x%lx); "
				"rest of this heap (%lu bytes) not walked", (unsigned long)p,
				(unsigned long)hdr, (unsigned long)ai->addr,
				(unsigned long)(r->limit - p));
			ai->unaccounted += r->limit - p;
			return WALK_DONE;
		}
		/* Thread arenas' free chunks may lack NON_MAIN_ARENA, so only the
		 * main arena's chunks can be checked for a stray one. */
		if (r->arena == 0 && (flags & NON_MAIN_ARENA))
			wproblem(w, p, "chunk at 0x%lx in the main arena has NON_MAIN_ARENA set",
				(unsigned long)p);
		push_chunk(w, p, size, CK_INUSE, r->arena);
		p += size;
	}
	if (r->top)
		wproblem(w, r->top, "arena 0x%lx: walk did not reach the top chunk",
			(unsigned long)ai->addr);
	return WALK_DONE;
}

/* Page-aligned mapping start + prev_size = chunk; size has IS_MMAPPED only. */
static void
scan_mmapped(struct walk *w, const struct heap_range *r)
{
	uint64_t p = r->start;

	while (p + 16 <= r->limit) {
		uint64_t prev, hdr, size;

		if (rd(w, p, &prev) && rd(w, p + 8, &hdr) && prev < PAGE && !(prev & ALIGN_MASK) &&
		    (hdr & 7) == IS_MMAPPED) {
			size = hdr & ~7ULL;
			if (size >= PAGE - prev && ((prev + size) & (PAGE - 1)) == 0 &&
			    size <= r->limit - p - prev && rd(w, p + prev + 8, &hdr) &&
			    (hdr & ~7ULL) == size) {
				/* prev_size > 0 (memalign): the chunk starts prev bytes in */
				push_chunk(w, p + prev, size, CK_MMAPPED, CHUNK_ARENA_NONE);
				p += prev + size;
				continue;
			}
		}
		p += PAGE;
	}
}

/* Range i from p (its start, or where an earlier call stopped) until the
 * first chunk at or past stop: that chunk's address, or WALK_DONE when the
 * range ends first.  Only arena heaps stop part way. */
static uint64_t
walk_range(struct walk *w, size_t i, uint64_t p, uint64_t stop)
{
	const struct heap_range *r = &w->ranges[i];

	if (i && r->start < w->ranges[i - 1].limit && r->arena != CHUNK_ARENA_NONE) {
		wproblem(w, r->start, "heap 0x%lx overlaps another heap; skipped",
			 (unsigned long)r->start);
		return WALK_DONE;
	}
	if (r->arena == CHUNK_ARENA_NONE) {
		scan_mmapped(w, r);
		progress_add(r->limit - r->start);
		return WALK_DONE;
	}
	return walk_arena_range(w, r, p, stop);
}

/* Ranges from (i, p) on, up to the first chunk at or past x in range end
 * (end == nranges: to the last).  Returns where range end stopped, as
 * walk_range does. */
static uint64_t
walk_ranges(struct walk *w, size_t i, uint64_t p, size_t end, uint64_t x)
{
	for (; i < w->nranges && i <= end; i++, p = 0) {
		uint64_t at = walk_range(w, i, p ? p : w->ranges[i].start,
					 i == end ? x : WALK_DONE);

		if (i == end)
			return at;
	}
	return WALK_DONE;
}

/*
 * A big walk is cut in par_jobs() parts, one thread each.  Heaps (ranges)
 * are independent, and most cuts fall between them; a cut inside a heap
 * (the main arena's sbrk heap of a single-threaded server can be GBs)
 * needs a chunk boundary there, which only a walk from the heap's start can
 * tell for sure.  So the part after it starts at a guess: the first address
 * past the cut where a run of chunk headers reads like glibc's (sizes that
 * fit, flags that agree, prev_size equal to the size before where
 * PREV_INUSE is clear).  The part before stops at its first chunk at or
 * past the guess; when that is the guess, both parts walked one chain, and
 * the result is the one-thread walk's.  When it is not (a header that only
 * looked right, or corruption before the cut that ended the heap there),
 * the join drops what the part found in that heap and walks it again from
 * where the part before stopped:
 *
 *   part 0:  walk [start, g1) ------>| stopped at g1? -+
 *   part 1:       guess g1, walk [g1, g2) ---->|       |-- join, in order
 *   part 2:            guess g2, walk [g2, end) --->|  |
 *
 * Every part fills a model of its own: its chunks (part 0's in place at
 * the front of the chunk array, the others' in arrays of their own, copied
 * into place by every thread once all are joined), problems, prev-free
 * notes and unwalked bytes.  The join appends them in part order, as one
 * thread would have found them.
 */
#define WALK_SPLIT_MIN ((uint64_t)64 << 20) /* bytes of arena heaps */
#define GUESS_SPAN ((uint64_t)64 << 10)     /* looked at past a cut for a boundary */
#define GUESS_RUN 32                        /* chunks that must read right */

bool glibc_walk_split_for_tests;
struct glibc_split_stats glibc_walk_last_split;
bool glibc_walk_stats_for_tests;

struct walk_part {
	struct walk w;
	struct heap_model m;
	size_t first, last; /* ranges walked: first (from `from`) .. last (to `to`) */
	uint64_t from;      /* where it starts in range first: its start or a guess */
	uint64_t to;        /* stops at the first chunk at or past it in range last */
	bool guessed;       /* from is a guess, checked by the join */
	uint64_t at;        /* where range last stopped (walk_range's answer) */
	/* what it had found when it left range first (a wrong guess drops it) */
	size_t head_chunks, head_problems, head_dropped, head_pclear;
	uint64_t head_unaccounted;
	struct arena_info head_arena; /* its counts in range first's arena */
	uint64_t head_count[CK__N], head_bytes[CK__N]; /* its totals */
};

/* Is there a chunk at p?  GUESS_RUN headers from p on read like a chain of
 * glibc's, or the chain ends on the range's top or its end. */
static bool
plausible_chain(struct walk *w, const struct heap_range *r, uint64_t p)
{
	uint64_t before = 0;

	for (int k = 0; k < GUESS_RUN; k++) {
		uint64_t hdr, size, prev_size;

		if (p == r->top || p == r->limit)
			return k > 0;
		if (!rd(w, p + 8, &hdr))
			return false;
		size = hdr & ~7ULL;
		if (size < MINSIZE || (size & ALIGN_MASK) || size > r->limit - p ||
		    (hdr & IS_MMAPPED) || (r->arena == 0 && (hdr & NON_MAIN_ARENA)))
			return false;
		if (k && !(hdr & PREV_INUSE) && (!rd(w, p, &prev_size) || prev_size != before))
			return false;
		before = size;
		p += size;
	}
	return true;
}

/* A likely chunk boundary in (x, x + GUESS_SPAN); 0 when none reads right. */
static uint64_t
guess_boundary(struct walk *w, const struct heap_range *r, uint64_t x)
{
	for (uint64_t p = align_chunk(x + 1); p < r->limit && p - x < GUESS_SPAN; p += 16)
		if (plausible_chain(w, r, p))
			return p;
	return 0;
}

/* What a range weighs in the cut: an arena heap its bytes up to its top
 * (the top chunk is one header), an mmapped-chunk scan (two words, one
 * cache line, a page where a heap has ~32 headers) a 64th of its bytes;
 * nothing in the tests' split, so that its cuts fall inside the small
 * heaps of the fixtures, not among their threads' stacks. */
static uint64_t
range_weight(const struct heap_range *r)
{
	uint64_t end = r->top > r->start && r->top < r->limit ? r->top : r->limit;

	if (end <= r->start)
		return 0;
	if (r->arena == CHUNK_ARENA_NONE)
		return glibc_walk_split_for_tests ? 0 : (end - r->start) / 64;
	return end - r->start;
}

/* Cut k of n: where the part k begins, as (range, address); address is the
 * range's start for a cut between ranges.  Cuts near a range's start (or
 * end) move there: within snap, a 64th of a part's weight.  (An 8th, which
 * was more than a whole 64 MiB heap of the bench's 1 GB, moved the cut to
 * a heap's edge every time: the parts held 4.5 and 5.5M chunks, and one
 * thread waited 12 ms for the other.) */
static void
place_cut(struct walk *w, uint64_t want, uint64_t snap, size_t *ri, uint64_t *at)
{
	uint64_t acc = 0;

	for (size_t i = 0; i < w->nranges; i++) {
		const struct heap_range *r = &w->ranges[i];
		uint64_t wt = range_weight(r), off = want - acc, g;

		if (acc + wt <= want) {
			acc += wt;
			continue;
		}
		*ri = i;
		*at = r->start;
		if (off < snap || r->arena == CHUNK_ARENA_NONE)
			return;
		if (wt - off < snap || (i && r->start < w->ranges[i - 1].limit) ||
		    !(g = guess_boundary(w, r, r->start + off))) {
			*ri = i + 1; /* the next range's start (nranges: none) */
			*at = i + 1 < w->nranges ? w->ranges[i + 1].start : 0;
			return;
		}
		*at = g;
		return;
	}
	*ri = w->nranges;
	*at = 0;
}

/* Upper bound of the chunks in [a, b) of range r. */
static uint64_t
chunks_bound(const struct heap_range *r, uint64_t a, uint64_t b)
{
	return b > a ? (b - a) / (r->arena == CHUNK_ARENA_NONE ? PAGE : MINSIZE) + 2 : 2;
}

/* The parts: up to jobs of them, fewer when cuts fall together. */
static size_t
plan_parts(struct walk *w, struct walk_part *part, unsigned jobs)
{
	uint64_t total = 0, snap;
	size_t n = 0, ci[PAR_MAX_JOBS + 1];
	uint64_t ca[PAR_MAX_JOBS + 1];

	for (size_t i = 0; i < w->nranges; i++)
		total += range_weight(&w->ranges[i]);
	snap = total / jobs / 64;
	ci[0] = 0;
	ca[0] = w->ranges[0].start;
	n = 1;
	for (unsigned k = 1; k < jobs; k++) {
		size_t i;
		uint64_t a;

		place_cut(w, (uint64_t)((unsigned __int128)total * k / jobs), snap, &i, &a);
		if (i >= w->nranges)
			break;
		if (i < ci[n - 1] || (i == ci[n - 1] && a <= ca[n - 1]))
			continue;
		ci[n] = i;
		ca[n++] = a;
	}
	for (size_t k = 0; k < n; k++) {
		struct walk_part *P = &part[k];
		bool next_mid = k + 1 < n && ca[k + 1] != w->ranges[ci[k + 1]].start;

		P->first = ci[k];
		P->from = ca[k];
		P->guessed = ca[k] != w->ranges[ci[k]].start;
		P->last = k + 1 == n ? w->nranges - 1 : next_mid ? ci[k + 1] : ci[k + 1] - 1;
		P->to = next_mid ? ca[k + 1] : WALK_DONE;
	}
	return n;
}

/* Room for part P's chunks: every portion of a range it walks bounded as
 * reserve_chunks bounds a whole range. */
static uint64_t
part_bound(const struct walk *w, const struct walk_part *P)
{
	uint64_t bound = 16;

	for (size_t i = P->first; i <= P->last; i++) {
		const struct heap_range *r = &w->ranges[i];
		uint64_t a = i == P->first ? P->from : r->start;
		uint64_t b = i == P->last && P->to != WALK_DONE ? P->to : r->limit;

		bound += chunks_bound(r, a, b);
	}
	return bound;
}

static void
walk_part_main(void *arg, size_t begin, size_t end, unsigned k)
{
	struct walk_part *P = (struct walk_part *)arg + begin;
	struct walk *w = &P->w;

	(void)end;
	(void)k;
	for (size_t i = P->first; i <= P->last; i++) {
		uint64_t at = walk_range(w, i, i == P->first ? P->from : w->ranges[i].start,
					 i == P->last ? P->to : WALK_DONE);

		if (i == P->first) {
			P->head_chunks = P->m.nchunks;
			P->head_problems = P->m.nproblems;
			P->head_dropped = P->m.problems_dropped;
			P->head_pclear = w->npclear;
			if (w->ranges[i].arena < P->m.narenas)
				P->head_unaccounted = P->m.arenas[w->ranges[i].arena].unaccounted;
			if (w->ranges[i].arena < P->m.narenas)
				P->head_arena = P->m.arenas[w->ranges[i].arena];
			memcpy(P->head_count, P->m.count, sizeof(P->head_count));
			memcpy(P->head_bytes, P->m.bytes, sizeof(P->head_bytes));
		}
		if (i == P->last)
			P->at = at;
	}
}

/* Part P's problems, prev-free notes and unwalked bytes after what is in w
 * already, from its head's end when skip_head. */
static void
join_findings(struct walk *w, struct walk_part *P, bool skip_head)
{
	struct heap_model *m = w->m;
	size_t np = skip_head ? P->head_problems : 0, nc = skip_head ? P->head_pclear : 0;

	for (size_t k = np; k < P->m.nproblems; k++) {
		struct heap_problem *p = new_problem(m);

		if (p)
			*p = P->m.problems[k];
	}
	m->problems_dropped += P->m.problems_dropped - (skip_head ? P->head_dropped : 0);
	for (size_t a = 0; a < m->narenas; a++) {
		m->arenas[a].unaccounted += P->m.arenas[a].unaccounted;
		for (int k = 0; k < CK__N; k++) {
			m->arenas[a].count[k] += P->m.arenas[a].count[k];
			m->arenas[a].bytes[k] += P->m.arenas[a].bytes[k];
		}
	}
	for (int k = 0; k < CK__N; k++) {
		m->count[k] += P->m.count[k] - (skip_head ? P->head_count[k] : 0);
		m->bytes[k] += P->m.bytes[k] - (skip_head ? P->head_bytes[k] : 0);
	}
	if (skip_head && w->ranges[P->first].arena < m->narenas) {
		struct arena_info *a = &m->arenas[w->ranges[P->first].arena];

		a->unaccounted -= P->head_unaccounted;
		for (int k = 0; k < CK__N; k++) {
			a->count[k] -= P->head_arena.count[k];
			a->bytes[k] -= P->head_arena.bytes[k];
		}
	}
	if (P->w.npclear > nc) {
		w->pclear = xgrow(w->pclear, &w->cappclear, w->npclear + P->w.npclear - nc,
				  sizeof(*w->pclear));
		memcpy(w->pclear + w->npclear, P->w.pclear + nc, (P->w.npclear - nc) * sizeof(*w->pclear));
		w->npclear += P->w.npclear - nc;
	}
}

/* A copy of a part's chunks into their place in the array. */
struct chunk_copy {
	size_t dst; /* index in the model's array (which a walk again may move) */
	const struct hs_chunk *src;
	size_t n;
};

struct copy_job {
	struct hs_chunk *chunks;
	struct chunk_copy *c;
	size_t nc;
};

/* Entries [begin, end) of all the copies, counted in copy order. */
static void
copy_part(void *arg, size_t begin, size_t end, unsigned k)
{
	const struct copy_job *j = arg;
	size_t base = 0;

	(void)k;
	for (size_t i = 0; i < j->nc && base < end; base += j->c[i++].n) {
		size_t lo = begin > base ? begin - base : 0;
		size_t hi = end - base < j->c[i].n ? end - base : j->c[i].n;

		if (lo < hi)
			memcpy(j->chunks + j->c[i].dst + lo, j->c[i].src + lo,
			       (hi - lo) * sizeof(*j->chunks));
	}
}

/* Join the parts in order into w (whose chunk array part 0 filled in place). */
static void
join_parts(struct walk *w, struct walk_part *part, size_t n)
{
	struct heap_model *m = w->m;
	struct copy_job j = { .c = xcalloc(n, sizeof(*j.c)) };
	uint64_t at = WALK_DONE;
	size_t moved = 0;

	m->nchunks = 0;
	glibc_walk_last_split = (struct glibc_split_stats){ .parts = (unsigned)n };
	for (size_t k = 0; k < n; k++) {
		struct walk_part *P = &part[k];
		bool skip_head = P->guessed && at != P->from;
		size_t from = skip_head ? P->head_chunks : 0;

		glibc_walk_last_split.guessed += P->guessed;
		glibc_walk_last_split.wrong += skip_head || P->w.overflow;

		if (P->w.overflow) { /* cannot happen: walk it all again here */
			uint64_t p = P->guessed ? at : w->ranges[P->first].start;
			size_t i = P->first;

			if (p == WALK_DONE) {
				i++;
				p = 0;
			}
			at = i <= P->last ? walk_ranges(w, i, p, P->last, P->to) : WALK_DONE;
			continue;
		}
		if (skip_head) {
			/* the part before did not stop on the guess: its chain is
			 * the right one; walk on from where it stopped */
			uint64_t stop = P->first == P->last ? P->to : WALK_DONE;
			uint64_t a2 = at == WALK_DONE ? WALK_DONE :
				      walk_range(w, P->first, at, stop);

			if (P->first == P->last)
				P->at = a2;
		}
		if (P->m.chunks == m->chunks + m->nchunks) { /* part 0: in place */
			m->nchunks += P->m.nchunks;
		} else if (P->m.nchunks > from) {
			j.c[j.nc++] = (struct chunk_copy){ m->nchunks, P->m.chunks + from,
							   P->m.nchunks - from };
			m->nchunks += P->m.nchunks - from;
			moved += P->m.nchunks - from;
		}
		join_findings(w, P, skip_head);
		at = P->at;
	}
	j.chunks = m->chunks;
	par_run(moved, moved ? par_parts(moved) : 1, copy_part, &j);
	free(j.c);
}

static void
walk_all_ranges(struct walk *w)
{
	struct heap_model *m = w->m;
	uint64_t total = 0, arena_bytes = 0;
	unsigned jobs = (unsigned)par_jobs();
	struct walk_part *part;
	size_t n, *cut;

	for (size_t i = 0; i < w->nranges; i++) {
		total += w->ranges[i].limit - w->ranges[i].start;
		if (w->ranges[i].arena != CHUNK_ARENA_NONE)
			arena_bytes += w->ranges[i].limit - w->ranges[i].start;
	}
	progress_phase("walking", total);
	glibc_walk_last_split = (struct glibc_split_stats){ .parts = 1 };
	/* An image read in windows (--max-memory) is walked by one thread: the
	 * parts' own chunk arrays (half the chunks' 16 bytes for two) would be
	 * outside the budget, and two threads faulting windows in two places
	 * wait on one pager. */
	if (!w->nranges || jobs < 2 || w->t->img->pager ||
	    (!glibc_walk_split_for_tests && arena_bytes < WALK_SPLIT_MIN)) {
		walk_ranges(w, 0, 0, w->nranges, 0);
		return;
	}
	part = xcalloc(jobs, sizeof(*part));
	n = plan_parts(w, part, jobs);
	for (size_t k = 0; k < n; k++) {
		struct walk_part *P = &part[k];

		P->w = *w;
		P->w.cur = NULL;
		P->w.pclear = NULL;
		P->w.npclear = P->w.cappclear = 0;
		P->w.bounded = true;
		P->w.m = &P->m;
		P->m.cap = k ? part_bound(w, P) : m->cap;
		P->m.chunks = k ? bigmem_reserve(P->m.cap, sizeof(*P->m.chunks)) : m->chunks;
		P->m.narenas = m->narenas;
		P->m.arenas = xcalloc(m->narenas ? m->narenas : 1, sizeof(*P->m.arenas));
		for (size_t a = 0; a < m->narenas; a++)
			P->m.arenas[a].addr = m->arenas[a].addr; /* for its problems' text */
	}
	cut = xmalloc((n + 1) * sizeof(*cut));
	for (size_t k = 0; k <= n; k++)
		cut[k] = k;
	par_run_cuts(cut, (unsigned)n, walk_part_main, part);
	free(cut);
	join_parts(w, part, n);
	for (size_t k = 0; k < n; k++) {
		if (k)
			bigmem_free(part[k].m.chunks);
		free(part[k].w.pclear);
		free(part[k].m.problems);
		free(part[k].m.arenas);
	}
	free(part);
}

/* ---- 5. free lists ----------------------------------------------------- */

struct hs_chunk *
heap_model_find(const struct heap_model *m, uint64_t addr)
{
	size_t lo = 0, hi = m->nchunks;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->chunks[mid].addr < addr)
			lo = mid + 1;
		else if (m->chunks[mid].addr > addr)
			hi = mid;
		else
			return &m->chunks[mid];
	}
	return NULL;
}

size_t
heap_model_first_at(const struct heap_model *m, size_t i, uint64_t addr)
{
	size_t hi = m->nchunks;

	while (i < hi) {
		size_t mid = i + (hi - i) / 2;

		if (m->chunks[mid].addr < addr)
			i = mid + 1;
		else
			hi = mid;
	}
	return i;
}

/*
 * Finding a free-list entry's chunk: per page of every heap (range), the
 * index of its first chunk at or past the page's start.  A lookup is a
 * search among the few ranges, one read of that table and a binary search
 * among the chunks of one page.  Searching every 64th chunk's address
 * first, then 64 chunks, took 17 + 6 dependent steps that missed the cache
 * (0.1 s of CPU on the 10M-chunk bench heap).
 */
struct page_span {
	uint64_t start, end; /* a range, or ranges that overlap, joined */
	size_t first;        /* its pages' entries in pg: ceil(len / PAGE) + 1 */
	unsigned arena;      /* its chunks' (ranges joined: see mixed_spans) */
};

/* Entries [begin, end) of the table. */
static void
fill_pages(void *arg, size_t begin, size_t end, unsigned part)
{
	struct walk *w = arg;
	const struct heap_model *m = w->m;
	size_t si = 0, lo = 0;

	(void)part;
	while (si + 1 < w->nspans && w->spans[si + 1].first <= begin)
		si++;
	for (size_t t = begin; t < end; t++) {
		const struct page_span *sp;
		uint64_t pstart;

		while (si + 1 < w->nspans && w->spans[si + 1].first <= t)
			si++;
		sp = &w->spans[si];
		pstart = sp->start + (uint64_t)(t - sp->first) * PAGE;
		if (pstart > sp->end)
			pstart = sp->end;
		if (t == begin) /* the first chunk at or past pstart */
			lo = heap_model_first_at(m, lo, pstart);
		while (lo < m->nchunks && m->chunks[lo].addr < pstart)
			lo++;
		w->pg[t] = lo;
	}
}

static void
build_pages(struct walk *w)
{
	size_t total = 0;

	w->spans = xmalloc((w->nranges ? w->nranges : 1) * sizeof(*w->spans));
	w->nspans = 0;
	for (size_t i = 0; i < w->nranges; i++) { /* sorted by start */
		const struct heap_range *r = &w->ranges[i];
		struct page_span *last = w->nspans ? &w->spans[w->nspans - 1] : NULL;

		if (r->limit <= r->start)
			continue;
		if (last && r->start < last->end) {
			if (r->limit > last->end)
				last->end = r->limit;
			w->mixed_spans = true;
			continue;
		}
		w->spans[w->nspans++] = (struct page_span){ r->start, r->limit, 0, r->arena };
	}
	for (size_t k = 0; k < w->nspans; k++) {
		w->spans[k].first = total;
		total += (w->spans[k].end - w->spans[k].start + PAGE - 1) / PAGE + 1;
	}
	w->pg = xmalloc((total ? total : 1) * sizeof(*w->pg));
	par_for(total, fill_pages, w);
}

/* The span that holds addr, or NULL. */
static const struct page_span *
span_of(const struct walk *w, uint64_t addr)
{
	size_t lo = 0, hi = w->nspans;

	while (lo < hi) { /* the last span starting at or below addr */
		size_t mid = lo + (hi - lo) / 2;

		if (w->spans[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= w->spans[lo - 1].end)
		return NULL;
	return &w->spans[lo - 1];
}

static struct hs_chunk *
find_chunk(const struct walk *w, uint64_t addr)
{
	const struct heap_model *m = w->m;
	const struct page_span *sp = span_of(w, addr);
	size_t lo, hi, q, g;

	if (!sp)
		return NULL;
	q = sp->first + (size_t)((addr - sp->start) / PAGE);
	lo = w->pg[q];
	hi = w->pg[q + 1];
	if (lo >= hi)
		return NULL;
	/* The page's chunks [lo, hi) are in address order, spread over it
	 * about evenly: start where addr's place in the page says, and step
	 * to it.  Each step of a binary search was a wait for memory (the
	 * chunk table is far out of cache), one after the other; the steps
	 * here are mostly in the line of the guess.  At most hi - lo steps. */
	g = lo + (size_t)((addr - sp->start) % PAGE * (hi - lo) / PAGE);
	if (m->chunks[g].addr < addr) {
		while (++g < hi && m->chunks[g].addr < addr)
			;
	} else {
		while (g > lo && m->chunks[g - 1].addr >= addr)
			g--;
	}
	return g < hi && m->chunks[g].addr == addr ? &m->chunks[g] : NULL;
}

/*
 * The arenas' free lists are followed by as many threads as there are
 * arenas (up to --jobs), each arena's alone.  A list of arena a can only
 * mark chunks of arena a, so the threads never write the same chunk; but
 * a corrupt list may lead to another arena's chunk, whose kind another
 * thread may be writing, and what one thread says of it (already free?)
 * depends on whether that arena's lists were followed first.  Such an
 * entry is not read: its problem is left blank, the list ends, and the
 * join (in arena order) writes what one thread would have found then: the
 * chunk as its arena's lists left it when that arena comes before a, as
 * the walk found it when it comes after.
 */
struct foreign {
	size_t problem;        /* index in the part's problems */
	const struct hs_chunk *c;
	char list[64];
};

static void
defer_foreign(struct walk *w, const struct hs_chunk *c, uint64_t addr, const char *list)
{
	struct heap_problem *p = new_problem(w->m);
	struct foreign *f;

	if (!p)
		return; /* dropped: counted */
	p->addr = addr;
	p->what[0] = '\0';
	w->foreign = xgrow(w->foreign, &w->capforeign, w->nforeign + 1, sizeof(*w->foreign));
	f = &w->foreign[w->nforeign++];
	f->problem = (size_t)(p - w->m->problems);
	f->c = c;
	snprintf(f->list, sizeof(f->list), "%s", list);
}

/* What mark_free would have said of f, a list of arena a's entry, after
 * the lists of arenas 0 .. a - 1. */
static void
resolve_foreign(const struct foreign *f, unsigned a, struct heap_problem *p)
{
	enum chunk_kind k = (enum chunk_kind)f->c->kind;

	if (k != CK_MMAPPED && k != CK_TOP && f->c->arena > a)
		k = CK_INUSE; /* its arena's lists come later */
	if (k == CK_MMAPPED || k == CK_TOP)
		snprintf(p->what, sizeof(p->what), "%s: entry 0x%lx is not a chunk of any heap",
			 f->list, (unsigned long)p->addr);
	else if (chunk_kind_is_free(k))
		snprintf(p->what, sizeof(p->what), "%s: chunk at 0x%lx is already on a %s list "
			 "(double free or cycle)", f->list, (unsigned long)p->addr, chunk_kind_name(k));
	else
		snprintf(p->what, sizeof(p->what), "%s: chunk at 0x%lx belongs to another arena",
			 f->list, (unsigned long)p->addr);
}

static void walk_arena(struct walk *w, unsigned ai);

struct list_part {
	struct walk w;
	struct heap_model m; /* the chunks shared; its own problems and totals */
};

/* Arenas taken one at a time by whichever thread is free, the biggest
 * first (an arena's lists are long as it has chunks, and the main arena of
 * a threaded program has few). */
struct list_job {
	struct list_part *L;
	size_t *order;
	size_t n;
	size_t next; /* atomic */
};

static int
by_chunks_desc(const void *a, const void *b, void *arg)
{
	const struct heap_model *m = arg;
	uint64_t x = m->arenas[*(const size_t *)a].count[CK_INUSE];
	uint64_t y = m->arenas[*(const size_t *)b].count[CK_INUSE];

	if (x != y)
		return x > y ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static void
lists_part(void *arg, size_t begin, size_t end, unsigned k)
{
	struct list_job *j = arg;
	size_t i;

	(void)begin;
	(void)end;
	(void)k;
	while ((i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < j->n) {
		size_t a = j->order[i];

		walk_arena(&j->L[a].w, (unsigned)a);
	}
}

static void
walk_arena_lists(struct walk *w)
{
	struct heap_model *m = w->m;
	unsigned jobs = (unsigned)par_jobs(), parts;
	struct list_part *L;
	struct list_job j;

	parts = jobs < m->narenas ? jobs : (unsigned)m->narenas;
	/* in windows (--max-memory), one thread: lists jump all over the heap,
	 * and two threads doing so dropped each other's windows (10M chunks:
	 * 38K windows read for --vtables against 23K) */
	if (parts < 2 || w->mixed_spans || w->t->img->pager ||
	    (!glibc_walk_split_for_tests && m->nchunks < PAR_MIN)) {
		for (unsigned i = 0; i < m->narenas; i++)
			walk_arena(w, i);
		return;
	}
	L = xcalloc(m->narenas, sizeof(*L));
	for (size_t a = 0; a < m->narenas; a++) {
		L[a].w = *w;
		L[a].w.cur = NULL;
		L[a].w.m = &L[a].m;
		L[a].w.lists_arena = (int)a;
		L[a].m.chunks = m->chunks;
		L[a].m.nchunks = m->nchunks;
		L[a].m.narenas = m->narenas;
		L[a].m.arenas = xcalloc(m->narenas, sizeof(*L[a].m.arenas));
		for (size_t b = 0; b < m->narenas; b++) {
			L[a].m.arenas[b].addr = m->arenas[b].addr;
			L[a].m.arenas[b].system_mem = m->arenas[b].system_mem;
		}
	}
	j = (struct list_job){ .L = L, .order = xmalloc(m->narenas * sizeof(size_t)),
			       .n = m->narenas };
	for (size_t a = 0; a < m->narenas; a++)
		j.order[a] = a;
	qsort_r(j.order, m->narenas, sizeof(size_t), by_chunks_desc, m);
	par_run(parts, parts, lists_part, &j);
	free(j.order);
	for (size_t a = 0; a < m->narenas; a++) {
		struct list_part *P = &L[a];

		for (size_t f = 0; f < P->w.nforeign; f++)
			resolve_foreign(&P->w.foreign[f], (unsigned)a, &P->m.problems[P->w.foreign[f].problem]);
		for (size_t k = 0; k < P->m.nproblems; k++) {
			struct heap_problem *p = new_problem(m);

			if (p)
				*p = P->m.problems[k];
		}
		m->problems_dropped += P->m.problems_dropped;
		for (int k = 0; k < CK__N; k++) {
			m->count[k] += P->m.count[k];
			m->bytes[k] += P->m.bytes[k];
			for (size_t b = 0; b < m->narenas; b++) {
				m->arenas[b].count[k] += P->m.arenas[b].count[k];
				m->arenas[b].bytes[k] += P->m.arenas[b].bytes[k];
			}
		}
		free(P->w.foreign);
		free(P->m.problems);
		free(P->m.arenas);
	}
	free(L);
}

/* Mark c, the chunk at addr (find_chunk's answer), as kind and return it.
 * NULL ends the list walk (with a problem recorded): not a chunk, wrong
 * arena, on another list, or a cycle. */
static struct hs_chunk *
mark_free(struct walk *w, struct hs_chunk *c, uint64_t addr, enum chunk_kind kind, int arena,
	  const char *list)
{
	if (c && w->lists_arena >= 0 && span_of(w, addr)->arena != (unsigned)w->lists_arena) {
		defer_foreign(w, c, addr, list);
		return NULL;
	}
	if (!c || c->kind == CK_MMAPPED || c->kind == CK_TOP) {
		problem(w->m, addr, "%s: entry 0x%lx is not a chunk of any heap", list,
			(unsigned long)addr);
		return NULL;
	}
	if (chunk_kind_is_free(c->kind)) {
		problem(w->m, addr, "%s: chunk at 0x%lx is already on a %s list (double free or cycle)",
			list, (unsigned long)addr, chunk_kind_name(c->kind));
		return NULL;
	}
	if (arena >= 0 && c->arena != (unsigned)arena) {
		problem(w->m, addr, "%s: chunk at 0x%lx belongs to another arena", list,
			(unsigned long)addr);
		return NULL;
	}
	tally_add(w->m, c->arena, c->kind, -1, -(int64_t)c->size);
	tally_add(w->m, c->arena, kind, 1, (int64_t)c->size);
	c->kind = kind;
	return c;
}

/* A link that leads to an address malloc could never have stored: glibc
 * aborts with "malloc(): unaligned <what> chunk detected".  holder is the
 * chunk whose link it is (or the arena or tcache slot); when the stored
 * word itself is an aligned address, the link was written raw, without
 * safe-linking's mangling. */
static void
unaligned_link(struct walk *w, const char *list, uint64_t holder, uint64_t to, uint64_t stored,
	       bool mangled, const char *what)
{
	if (mangled && stored && !(stored & ALIGN_MASK))
		problem(w->m, holder, "%s: link in 0x%lx is raw 0x%lx, not safe-linked "
			"(malloc(): unaligned %s chunk detected)", list, (unsigned long)holder,
			(unsigned long)stored, what);
	else
		problem(w->m, holder, "%s: link in 0x%lx leads to 0x%lx (malloc(): unaligned %s "
			"chunk detected)", list, (unsigned long)holder, (unsigned long)to, what);
}

/* A safe-linked link whose decoded value is no chunk (c, find_chunk's
 * answer for to) but whose stored value is one: written raw (a
 * use-after-free write of a plain pointer). */
static bool
raw_link(struct walk *w, const struct hs_chunk *c, const char *list, uint64_t holder, uint64_t to,
	 uint64_t stored)
{
	if (c || (stored & ALIGN_MASK) || !find_chunk(w, stored))
		return false;
	problem(w->m, holder, "%s: link in 0x%lx is raw 0x%lx, not safe-linked (it decodes to "
		"0x%lx, no chunk)", list, (unsigned long)holder, (unsigned long)stored,
		(unsigned long)to);
	return true;
}

/*
 * An arena's lists are read ahead of their walk (walk_arena).  Following a
 * list is a wait for memory at every entry, one after the other: its link,
 * then find_chunk's page and chunk entry, then (for a bin) the next chunk's
 * header.  So the entries' addresses are first read by following every
 * list of the arena a step at a time in turn, each step's next entry
 * fetched as it is learnt, so that the lists' waits overlap; the walk then
 * fetches each entry's memory AHEAD_DIST entries before it gets there.
 * The addresses are only hints: the walk reads and checks every link
 * itself, and a hint that is wrong or missing costs time, not results.
 */
#define AHEAD_FAST 0                 /* list[]: the fastbins, */
#define AHEAD_BIN NFASTBINS          /* then the bins (1 .. NBINS - 2) */
#define AHEAD_LISTS (NFASTBINS + NBINS)
#define AHEAD_DIST 8                 /* entries: an entry's memory fetched this far ahead */

struct ahead_list {
	uint64_t *p; /* the entries' chunk addresses, in list order */
	size_t n, cap;
};

struct ahead {
	struct ahead_list list[AHEAD_LISTS];
};

/* Fetch find_chunk's chunk entry for the chunk at p (where find_chunk
 * guesses it is). */
static void
fetch_chunk_entry(const struct walk *w, uint64_t p)
{
	const struct page_span *sp = span_of(w, p);
	size_t q, lo, hi;

	if (!sp)
		return;
	q = sp->first + (size_t)((p - sp->start) / PAGE);
	lo = w->pg[q];
	hi = w->pg[q + 1];
	if (lo < hi)
		__builtin_prefetch(&w->m->chunks[lo + (size_t)((p - sp->start) % PAGE * (hi - lo) / PAGE)],
				   1);
}

/* Fetch what walking the entry at chunk address p will read: its link and
 * its chunk entry. */
static void
fetch_entry(struct walk *w, uint64_t p)
{
	const unsigned char *h = host_of(w, p + 16, 1);

	if (h)
		__builtin_prefetch(h);
	fetch_chunk_entry(w, p);
}

/* The walk is at entry n of list l: fetch entry n + AHEAD_DIST's memory,
 * and for a bin (next), the header after entry n + AHEAD_DIST / 2 (whose
 * size is in cache by then), which check_bin_chunk reads. */
static inline void
ahead_fetch(struct walk *w, const struct ahead_list *l, uint64_t n, bool next)
{
	const unsigned char *h;
	uint64_t size;

	if (n + AHEAD_DIST < l->n)
		fetch_entry(w, l->p[n + AHEAD_DIST]);
	if (next && n + AHEAD_DIST / 2 < l->n && (h = host_of(w, l->p[n + AHEAD_DIST / 2] + 8, 8))) {
		memcpy(&size, h, 8);
		if ((h = host_of(w, l->p[n + AHEAD_DIST / 2] + (size & ~ALIGN_MASK), 1)))
			__builtin_prefetch(h);
	}
}

/* Follow every list of arena ai a step at a time in turn, noting each
 * entry's address in ah; a list stops where its walk surely would (no
 * next entry, an unaligned one, the bin's head), at max entries in all. */
static void
read_ahead(struct walk *w, unsigned ai, struct ahead *ah, size_t max)
{
	const struct glibc_layout *lay = w->lay;
	uint64_t a = w->m->arenas[ai].addr, cur[AHEAD_LISTS], head[AHEAD_LISTS];
	unsigned live[AHEAD_LISTS], nlive = 0;
	size_t total = 0;

	memset(ah, 0, sizeof(*ah));
	for (unsigned l = 0; l < AHEAD_LISTS; l++) {
		uint64_t p;

		if (l >= AHEAD_BIN && (l == AHEAD_BIN || l == AHEAD_LISTS - 1))
			continue; /* bins 1 .. NBINS - 2, as walk_bins */
		head[l] = l < AHEAD_BIN ? 0 : a + lay->ms_bins + (uint64_t)(l - AHEAD_BIN - 1) * 16 - 16;
		if (!rd(w, l < AHEAD_BIN ? a + lay->ms_fastbins + 8 * (uint64_t)l : head[l] + 16, &p) ||
		    p == head[l] || (p & ALIGN_MASK))
			continue;
		cur[l] = p;
		live[nlive++] = l;
	}
	while (nlive && total < max) {
		unsigned k = 0;

		for (unsigned i = 0; i < nlive && total < max; i++) {
			unsigned l = live[i];
			struct ahead_list *hl = &ah->list[l];
			uint64_t p = cur[l], next;
			const unsigned char *h;

			hl->p = xgrow(hl->p, &hl->cap, hl->n + 1, sizeof(*hl->p));
			hl->p[hl->n++] = p;
			total++;
			if (!rd(w, p + 16, &next))
				continue;
			if (l < AHEAD_BIN && lay->safe_linking)
				next ^= (p + 16) >> 12;
			if (next == head[l] || (next & ALIGN_MASK))
				continue;
			if ((h = host_of(w, next + 16, 1)))
				__builtin_prefetch(h);
			cur[l] = next;
			live[k++] = l;
		}
		nlive = k;
	}
}

static void
ahead_free(struct ahead *ah)
{
	for (unsigned l = 0; l < AHEAD_LISTS; l++)
		free(ah->list[l].p);
}

static void
walk_fastbins(struct walk *w, unsigned ai, const struct ahead *ah)
{
	uint64_t a = w->m->arenas[ai].addr;
	char list[64];

	for (int i = 0; i < NFASTBINS; i++) {
		const struct ahead_list *hl = &ah->list[AHEAD_FAST + i];
		uint64_t p, n = 0;

		snprintf(list, sizeof(list), "arena 0x%lx fastbin %d", (unsigned long)a, i);
		if (!rd(w, a + w->lay->ms_fastbins + 8 * (uint64_t)i, &p))
			continue;
		uint64_t holder = a + w->lay->ms_fastbins + 8 * (uint64_t)i, held = p;

		while (p && n++ <= w->m->nchunks) {
			uint64_t stored;
			struct hs_chunk *c;
			/* the next link first: its cache miss then overlaps
			 * find_chunk's instead of following them */
			bool more;

			ahead_fetch(w, hl, n - 1, false);
			more = rd(w, p + 16, &stored);

			if (p & ALIGN_MASK) {
				unaligned_link(w, list, holder, p, held, n > 1 && w->lay->safe_linking,
					       "fastbin");
				break;
			}
			c = find_chunk(w, p);
			if (n > 1 && w->lay->safe_linking && raw_link(w, c, list, holder, p, held))
				break;
			if (!(c = mark_free(w, c, p, CK_FASTBIN, (int)ai, list)))
				break;
			if (c->size != (uint64_t)(i + 2) * 16)
				problem(w->m, p, "%s: chunk at 0x%lx has size 0x%lx (malloc(): memory "
					"corruption (fast))", list, (unsigned long)p,
					(unsigned long)c->size);
			if (!more)
				break;
			holder = p;
			held = stored;
			p = w->lay->safe_linking ? stored ^ ((p + 16) >> 12) : stored;
		}
	}
}

/* glibc's checks on a chunk of a doubly linked bin (unlink_chunk, the
 * unsorted and small/large bin takes in _int_malloc): its bk leads back to
 * where the walk came from, the next chunk's prev_size is its size and the
 * next chunk's PREV_INUSE is clear, its size fits in the arena; for a large
 * chunk heading a run of one size, the nextsize links lead back to it. */
static void
check_bin_chunk(struct walk *w, const char *list, const struct hs_chunk *c, uint64_t from,
		uint64_t system_mem)
{
	uint64_t p = c->addr, bk, prev_size, next_hdr, fdn, bkn, back;

	if (rd(w, p + 24, &bk) && bk != from)
		problem(w->m, p, "%s: chunk at 0x%lx: bk 0x%lx, not 0x%lx that links to it "
			"(corrupted double-linked list)", list, (unsigned long)p,
			(unsigned long)bk, (unsigned long)from);
	if (system_mem && c->size > system_mem)
		problem(w->m, p, "%s: chunk at 0x%lx: size 0x%lx is more than its arena's memory "
			"(malloc(): invalid size (unsorted))", list, (unsigned long)p,
			(unsigned long)c->size);
	if (rd(w, p + c->size, &prev_size) && prev_size != c->size)
		problem(w->m, p, "%s: chunk at 0x%lx: size 0x%lx but the next chunk's prev_size 0x%lx "
			"(corrupted size vs. prev_size)", list, (unsigned long)p,
			(unsigned long)c->size, (unsigned long)prev_size);
	if (rd(w, p + c->size + 8, &next_hdr) && (next_hdr & PREV_INUSE))
		problem(w->m, p, "%s: chunk at 0x%lx is free but the next chunk says it is in use "
			"(malloc(): invalid next->prev_inuse (unsorted))", list, (unsigned long)p);
	if (c->kind != CK_LARGEBIN || !rd(w, p + 32, &fdn) || !rd(w, p + 40, &bkn) || !fdn)
		return;
	if (!rd(w, fdn + 40, &back) || back != p || !rd(w, bkn + 32, &back) || back != p)
		problem(w->m, p, "%s: chunk at 0x%lx: nextsize links 0x%lx, 0x%lx do not lead back "
			"(corrupted double-linked list (not small))", list, (unsigned long)p,
			(unsigned long)fdn, (unsigned long)bkn);
}

static void
walk_bins(struct walk *w, unsigned ai, const struct ahead *ah)
{
	uint64_t a = w->m->arenas[ai].addr;
	char list[64];

	for (int i = 1; i < NBINS - 1; i++) {
		const struct ahead_list *hl = &ah->list[AHEAD_BIN + i];
		uint64_t head = a + w->lay->ms_bins + (uint64_t)(i - 1) * 16 - 16, p, n = 0;
		enum chunk_kind kind = i == 1 ? CK_UNSORTED : i < 64 ? CK_SMALLBIN : CK_LARGEBIN;

		snprintf(list, sizeof(list), "arena 0x%lx bin %d", (unsigned long)a, i);
		if (!rd(w, head + 16, &p))
			continue;
		uint64_t from = head;

		while (p != head) {
			uint64_t next;
			const struct hs_chunk *c;
			bool more;

			if (n++ > w->m->nchunks) {
				problem(w->m, p, "%s: list does not return to its head", list);
				break;
			}
			ahead_fetch(w, hl, n - 1, true);
			more = rd(w, p + 16, &next); /* first, as in walk_fastbins */
			if (!(c = mark_free(w, find_chunk(w, p), p, kind, (int)ai, list)))
				break;
			check_bin_chunk(w, list, c, from, w->m->arenas[ai].system_mem);
			if (!more)
				break;
			from = p;
			p = next;
		}
	}
}

/* Arena ai's fastbins, then its bins, their entries read ahead (see
 * read_ahead) unless in windows (--max-memory), where reading the lists
 * twice would read their windows twice. */
static void
walk_arena(struct walk *w, unsigned ai)
{
	struct ahead ah;

	memset(&ah, 0, sizeof(ah));
	if (!w->t->img->pager)
		read_ahead(w, ai, &ah, w->m->nchunks / 4 + 4096);
	walk_fastbins(w, ai, &ah);
	walk_bins(w, ai, &ah);
	ahead_free(&ah);
}

/* A tcache bin's size rule: bins below tc_small_bins hold one chunk size;
 * 2.42's larger bins hold [lo, hi) in ascending order of size. */
static void
tcache_bin_sizes(const struct glibc_layout *lay, uint64_t i, uint64_t *lo, uint64_t *hi)
{
	if (i < lay->tc_small_bins) {
		*lo = (i + 2) * 16;
		*hi = *lo + 1;
		return;
	}
	/* large_csize2tidx: 64 + clz32(1032) - clz32(nb), clz32(1032) = 21 */
	*lo = 1ULL << (i - lay->tc_small_bins + 10);
	*hi = *lo * 2;
	if (*lo < (lay->tc_small_bins + 2) * 16)
		*lo = (lay->tc_small_bins + 2) * 16;
}

/* How many chunks bin i holds by the counts array: counts[i], or in 2.42
 * mp_.tcache_count - num_slots[i].  -1 when that cannot be known. */
static int64_t
tcache_bin_count(struct walk *w, uint64_t T, uint64_t i, int64_t fill)
{
	const struct glibc_layout *lay = w->lay;
	uint16_t c16;
	const uint8_t *c8;

	if (lay->tc_count_size == 1) {
		if (!(c8 = image_ptr(w->t->img, T + i, 1)))
			return -1;
		return *c8;
	}
	if (!image_u16(w->t->img, T + 2 * i, &c16))
		return -1;
	if (!lay->tc_counts_free_slots)
		return c16;
	return fill >= c16 ? fill - c16 : -1;
}

static void
walk_tcache_bin(struct walk *w, const struct glibc_thread *th, uint64_t T, uint64_t i, int64_t count)
{
	const struct glibc_layout *lay = w->lay;
	uint64_t e, k, lo, hi, prev = 0, holder, held;
	uint64_t bound = count >= 0 ? (uint64_t)count : 65535; /* MAX_TCACHE_COUNT */
	char list[64];

	snprintf(list, sizeof(list), "thread %d tcache bin %lu", (int)th->tid, (unsigned long)i);
	if (!rd(w, T + lay->tc_entries + 8 * i, &e))
		return;
	tcache_bin_sizes(lay, i, &lo, &hi);
	holder = T;
	held = e;
	for (k = 0; k < bound && e; k++) {
		uint64_t stored;
		struct hs_chunk *c;

		if (e & ALIGN_MASK) {
			unaligned_link(w, list, holder, e, held, k > 0 && lay->safe_linking, "tcache");
			break;
		}
		c = find_chunk(w, e - 16);
		if (k > 0 && lay->safe_linking && raw_link(w, c, list, holder, e - 16, held - 16))
			break;
		if (!(c = mark_free(w, c, e - 16, CK_TCACHE, -1, list)))
			break;
		if (c->size < lo || c->size >= hi || c->size < prev)
			problem(w->m, e - 16, "%s: chunk at 0x%lx has size 0x%lx", list,
				(unsigned long)(e - 16), (unsigned long)c->size);
		prev = c->size;
		if (!rd(w, e, &stored))
			break;
		holder = e - 16;
		held = stored;
		e = lay->safe_linking ? stored ^ (e >> 12) : stored;
	}
	if (count < 0)
		return;
	if (k < (uint64_t)count)
		problem(w->m, T, "%s: count %ld but %lu chunks linked", list, (long)count,
			(unsigned long)k);
	else if (e)
		problem(w->m, T, "%s: more chunks linked than its count %ld", list, (long)count);
}

/* nbins: the small bins in use (mp_.tcache_bins, or all); fill: 2.42's
 * mp_.tcache_count, -1 when mp_ is unknown. */
static void
walk_tcache(struct walk *w, const struct glibc_thread *th, uint64_t nbins, int64_t fill)
{
	const struct glibc_layout *lay = w->lay;
	uint64_t T = th->tcache;
	struct hs_chunk *self = find_chunk(w, T - 16);

	/* _int_malloc hands out 16 bytes more than asked when the rest of the
	 * chunk it splits would be below MINSIZE: tcache_init may get 16 more */
	if (!self || (self->size != lay->tc_size && self->size != lay->tc_size + 16) ||
	    chunk_kind_is_free(self->kind)) {
		problem(w->m, T, "thread %d: tcache pointer 0x%lx is not an in-use 0x%x-byte chunk",
			(int)th->tid, (unsigned long)T, lay->tc_size);
		return;
	}
	w->m->tcaches++;
	for (uint64_t i = 0; i < lay->tc_bins; i++) {
		if (i >= nbins && i < lay->tc_small_bins)
			continue;
		walk_tcache_bin(w, th, T, i, tcache_bin_count(w, T, i, fill));
	}
}

/* glibc's free() of a chunk whose next chunk says it is free ("double free or
 * corruption (!prev)"): a chunk with PREV_INUSE clear has a free chunk
 * before it, on a doubly linked bin (tcache and fastbin chunks keep the bit
 * set).  The bin chunks' own side (prev_size, the bit) is check_bin_chunk's;
 * here, a clear bit after a chunk that no bin holds. */
struct prev_free_job {
	const struct walk *w;
	size_t **bad; /* per part: the chunks (indices) whose chunk before is on no bin */
	size_t *nbad, *cap;
};

static void
prev_free_part(void *arg, size_t begin, size_t end, unsigned part)
{
	struct prev_free_job *j = arg;
	const struct walk *w = j->w;
	const struct heap_model *m = w->m;

	for (size_t k = begin; k < end; k++) {
		const struct hs_chunk *c, *prev;

		if (k + AHEAD_DIST < end) /* each a wait for memory, else */
			fetch_chunk_entry(w, w->pclear[k + AHEAD_DIST]);
		c = find_chunk(w, w->pclear[k]);
		if (!c || c == m->chunks)
			continue;
		prev = c - 1;
		if (prev->addr + prev->size != c->addr || prev->arena != c->arena ||
		    prev->kind == CK_UNSORTED || prev->kind == CK_SMALLBIN ||
		    prev->kind == CK_LARGEBIN)
			continue;
		j->bad[part] = xgrow(j->bad[part], &j->cap[part], j->nbad[part] + 1,
				     sizeof(**j->bad));
		j->bad[part][j->nbad[part]++] = (size_t)(c - m->chunks);
	}
}

/* The chunks are looked up in parts, one a thread (8 ms of one thread on
 * the 10M-chunk bench heap); the problems are noted after, in order. */
static void
check_prev_free(struct walk *w)
{
	const struct heap_model *m = w->m;
	unsigned parts = par_parts(w->npclear);
	struct prev_free_job j = { .w = w, .bad = xcalloc(parts, sizeof(*j.bad)),
				   .nbad = xcalloc(parts, sizeof(*j.nbad)),
				   .cap = xcalloc(parts, sizeof(*j.cap)) };

	par_run(w->npclear, parts, prev_free_part, &j);
	for (unsigned p = 0; p < parts; p++) {
		for (size_t k = 0; k < j.nbad[p]; k++) {
			const struct hs_chunk *c = &m->chunks[j.bad[p][k]], *prev = c - 1;

			problem(w->m, prev->addr, "chunk at 0x%lx (%s) is on no bin, but the next "
				"chunk 0x%lx says it is free (double free or corruption (!prev))",
				(unsigned long)prev->addr, chunk_kind_name(prev->kind),
				(unsigned long)c->addr);
		}
		free(j.bad[p]);
	}
	free(j.bad);
	free(j.nbad);
	free(j.cap);
}

/* ---- totals -------------------------------------------------------------- */

/* One part's totals: [0] the heap's, [1 + arena] each arena's. */
struct tally_job {
	const struct heap_model *m;
	struct tally_sums {
		uint64_t count[CK__N], bytes[CK__N];
	} **sums; /* per part */
};

static void
tally_half(void *arg, size_t begin, size_t end, unsigned half)
{
	struct tally_job *j = arg;
	const struct heap_model *m = j->m;
	struct tally_sums *s = j->sums[half];

	for (size_t i = begin; i < end; i++) {
		const struct hs_chunk *c = &m->chunks[i];

		s[0].count[c->kind]++;
		s[0].bytes[c->kind] += chunk_shown_size(m, c);
		if (c->arena != CHUNK_ARENA_NONE && c->arena < m->narenas) {
			s[1 + c->arena].count[c->kind]++;
			s[1 + c->arena].bytes[c->kind] += chunk_shown_size(m, c);
		}
	}
}

void
heap_model_tally(struct heap_model *m)
{
	unsigned parts = par_parts(m->nchunks);
	struct tally_job j = { .m = m, .sums = xcalloc(parts, sizeof(*j.sums)) };

	for (unsigned p = 0; p < parts; p++)
		j.sums[p] = xcalloc(1 + m->narenas, sizeof(*j.sums[p]));
	par_run(m->nchunks, parts, tally_half, &j);
	for (size_t a = 0; a <= m->narenas; a++) {
		uint64_t *count = a ? m->arenas[a - 1].count : m->count;
		uint64_t *bytes = a ? m->arenas[a - 1].bytes : m->bytes;

		for (int k = 0; k < CK__N; k++) {
			count[k] = bytes[k] = 0;
			for (unsigned p = 0; p < parts; p++) {
				count[k] += j.sums[p][a].count[k];
				bytes[k] += j.sums[p][a].bytes[k];
			}
		}
	}
	for (unsigned p = 0; p < parts; p++)
		free(j.sums[p]);
	free(j.sums);
}

static void
read_mp(struct walk *w)
{
	uint32_t n;
	uint64_t mem, hp;

	w->heap_max = DEFAULT_HEAP_MAX;
	if (!w->t->mp)
		return;
	if (w->lay->mp_hp_pagesize && rd(w, w->t->mp + w->lay->mp_hp_pagesize, &hp) && hp && hp <= (1ULL << 30) &&
	    !(hp & (hp - 1)))
		w->heap_max = 4 * hp;
	if (image_u32(w->t->img, w->t->mp + w->lay->mp_n_mmaps, &n) &&
	    rd(w, w->t->mp + w->lay->mp_mmapped_mem, &mem)) {
		w->m->mp_valid = true;
		w->m->mp_n_mmaps = (int32_t)n;
		w->m->mp_mmapped_mem = mem;
	}
}

/* The chunk array, reserved once for as many chunks as the ranges could
 * hold (every chunk is at least MINSIZE bytes, an mmapped one a page): only
 * the part used becomes resident, in huge pages.  Growing it by doubling
 * faulted in 160 MiB 4 KiB at a time for 10M chunks (a third of the walk). */
static void
reserve_chunks(struct walk *w)
{
	uint64_t bound = 1024;

	for (size_t i = 0; i < w->nranges; i++) {
		const struct heap_range *r = &w->ranges[i];

		if (r->limit > r->start)
			bound += (r->limit - r->start) /
				 (r->arena == CHUNK_ARENA_NONE ? PAGE : MINSIZE) + 1;
	}
	w->m->chunks = bigmem_reserve(bound, sizeof(*w->m->chunks));
	w->m->cap = bound;
	w->m->chunks_big = true;
}

int
glibc_walk(const struct glibc_target *t, struct heap_model *m, char *why, size_t len)
{
	struct walk w = { .t = t, .lay = t->lay, .m = m, .lists_arena = -1 };
	uint64_t nbins = t->lay->tc_small_bins;
	int64_t fill = -1;

	memset(m, 0, sizeof(*m));
	if (read_arenas(&w) < 0) {
		snprintf(why, len, "main_arena (0x%lx) is not in the copied memory",
			 (unsigned long)t->main_arena);
		heap_model_free(m); /* the arena table read_arenas allocated */
		return -1;
	}
	read_mp(&w);
	main_heap_range(&w);
	for (unsigned i = 1; i < m->narenas; i++)
		thread_heap_ranges(&w, i);
	mmap_scan_ranges(&w);
	if (w.nranges) /* no heap at all: ranges is NULL, which qsort may not take */
		qsort(w.ranges, w.nranges, sizeof(*w.ranges), by_start);
	reserve_chunks(&w);
	walk_all_ranges(&w);
	build_pages(&w);
	free(w.ranges);

	walk_arena_lists(&w);
	if (t->mp && t->lay->mp_tcache_bins) {
		uint64_t b;

		if (rd(&w, t->mp + t->lay->mp_tcache_bins, &b) && b <= t->lay->tc_small_bins)
			nbins = b;
		if (t->lay->tc_counts_free_slots && rd(&w, t->mp + t->lay->mp_tcache_count, &b) &&
		    b <= 65535)
			fill = (int64_t)b;
	}
	for (size_t i = 0; i < t->nthreads && t->lay->tc_bins; i++) {
		bool dup = false;

		for (size_t j = 0; j < i; j++)
			dup |= t->threads[j].tcache == t->threads[i].tcache;
		if (t->threads[i].tcache && !dup)
			walk_tcache(&w, &t->threads[i], nbins, fill);
	}
	check_prev_free(&w);
	free(w.pclear);
	free(w.spans);
	free(w.pg);
	if (glibc_walk_stats_for_tests)
		fprintf(stderr, "heapscan: test: walk in %u parts, %u cut inside a heap, %u guessed "
			"wrong\n", glibc_walk_last_split.parts, glibc_walk_last_split.guessed,
			glibc_walk_last_split.wrong);
	/* the totals were kept as the walk went: no heap_model_tally */
	if (m->mp_valid && ((uint64_t)m->mp_n_mmaps != m->count[CK_MMAPPED]))
		problem(m, t->mp, "found %lu mmapped chunks, glibc counts %ld",
			(unsigned long)m->count[CK_MMAPPED], (long)m->mp_n_mmaps);
	return 0;
}

void
heap_model_free(struct heap_model *m)
{
	if (m->chunks_big)
		bigmem_free(m->chunks);
	else
		free(m->chunks);
	free(m->arenas);
	free(m->problems);
	free(m->owned);
	free(m->py_pre);
	free(m->py_span);
	free(m->py_dead);
	memset(m, 0, sizeof(*m));
}

int
glibc_busy_arenas(const struct image *img, const struct glibc_layout *lay, uint64_t main_arena,
		  uint64_t *busy, int max)
{
	uint64_t a = main_arena;
	int n = 0, k = 0;

	do {
		uint32_t mutex;
		uint64_t cur = a;

		if (!image_u32(img, cur, &mutex) || !image_u64(img, cur + lay->ms_next, &a))
			return -1;
		if (mutex) {
			if (n < max)
				busy[n] = cur;
			n++;
		}
	} while (a != main_arena && ++k < MAX_ARENAS);
	return n;
}
